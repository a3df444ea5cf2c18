/**
 * Which `typing` frames are worth sending: a `start` per room at most every `repeatMs`
 * (a key press sends one, the next ones only refresh the others' indicator), and a `stop`
 * only after a `start`, so a user who never typed sends nothing.
 */
import type { Timers } from './timers.ts';
import type { TypingState } from './types.ts';

export class TypingThrottle {
  /** Rooms where a `start` was sent and no `stop` since, with when it was sent. */
  private readonly started = new Map<string, number>();

  constructor(
    private readonly timers: Timers,
    private readonly repeatMs: number,
  ) {}

  /** True when this frame should go out (and notes it). */
  shouldSend(roomId: string, state: TypingState): boolean {
    const startedAt = this.started.get(roomId);
    if (state === 'stop') {
      this.started.delete(roomId);
      return startedAt !== undefined;
    }
    const now = this.timers.now();
    if (startedAt !== undefined && now - startedAt < this.repeatMs) return false;
    this.started.set(roomId, now);
    return true;
  }

  /** A `start` that did not go through: the next one is sent. */
  forget(roomId: string): void {
    this.started.delete(roomId);
  }

  /** After a reconnect the others expired the indicator anyway: the next `start` goes out. */
  reset(): void {
    this.started.clear();
  }
}
