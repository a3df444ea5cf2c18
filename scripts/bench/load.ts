/**
 * When a measurement may be called idle. The 1-minute load average counts the threads
 * that ran or waited for a core; the bench's own single-threaded work adds about 1. Above
 * `IDLE_LOAD_PER_CORE` per core (1.5 on 2 cores) something else, or the measurement's own
 * several processes, competed for the cores: the measurement is *loaded* and its times are
 * pessimistic. The page never calls loaded work idle.
 */
import type { LoadWindow } from './types.ts';

export const IDLE_LOAD_PER_CORE = 0.75;

/** The highest 1-minute load average at which a measurement on `cores` cores is idle. */
export function idleLoadLimit(cores: number): number {
  return Math.round(IDLE_LOAD_PER_CORE * Math.max(1, cores) * 100) / 100;
}

/** Loaded when the load average at the start or at any sample exceeded the limit. */
export function isLoaded(window: LoadWindow, cores: number): boolean {
  return Math.max(window.atStart, window.max) > idleLoadLimit(cores);
}

/** `**loaded** (up to 3.85)` or `idle (up to 0.9)`: what a timing row says. */
export function loadLabel(window: LoadWindow, cores: number): string {
  const highest = Math.max(window.atStart, window.max);
  return isLoaded(window, cores) ? `**loaded** (up to ${highest})` : `idle (up to ${highest})`;
}

/** The load window of the windows together (e.g. the repetitions of one figure). */
export function mergedWindow(windows: readonly LoadWindow[]): LoadWindow | undefined {
  if (windows.length === 0) return undefined;
  return {
    atStart: Math.max(...windows.map((w) => w.atStart)),
    max: Math.max(...windows.map((w) => w.max)),
  };
}
