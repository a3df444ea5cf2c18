/**
 * A clock for code that takes a `WorkerClock`: time moves only when the code under test
 * waits, to the moment it asked for, and every moment asked for is recorded. Tests check
 * the schedule the code chose (`requested`), never how long anything took.
 */
import type { WorkerClock } from '../../functions/core/fan-out/fan-out-worker.ts';

export class VirtualClock implements WorkerClock {
  /** Every `sleepUntil` moment, in the order asked. */
  readonly requested: number[] = [];

  constructor(private time = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  /** Time passing while the code under test works (a post taking `ms`), not a wait it asked for. */
  advance(ms: number): void {
    this.time += ms;
  }

  async sleepUntil(epochMs: number): Promise<void> {
    this.requested.push(epochMs);
    // Concurrent waiters never move time backwards.
    this.time = Math.max(this.time, epochMs);
  }
}
