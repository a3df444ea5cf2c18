import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fanOut, type Recipient } from '../../functions/core/fan-out/fan-out.ts';
import {
  type ConnectionNotifier,
  DeliveryError,
  type DeliveryFailure,
} from '../../functions/core/shared/ports.ts';

/** A notifier that answers each connection from a script of outcomes and records what it saw. */
class ScriptedNotifier implements ConnectionNotifier {
  readonly delivered: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly script: Record<string, (DeliveryFailure | 'ok')[]> = {}) {}

  async post(connectionId: string): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    const outcome = this.script[connectionId]?.shift() ?? 'ok';
    if (outcome !== 'ok') throw new DeliveryError(outcome, outcome);
    this.delivered.push(connectionId);
  }
}

const recipients = (n: number): Recipient[] =>
  Array.from({ length: n }, (_, i) => ({ connectionId: `c${i}`, userId: `u${i}` }));
const instant = { sleep: async () => {}, random: () => 0.5 };

describe('fanOut', () => {
  it('delivers to everyone with at most `concurrency` posts in flight', async () => {
    const notifier = new ScriptedNotifier();
    const result = await fanOut(notifier, recipients(50), '{}', { concurrency: 7, ...instant });
    assert.equal(result.delivered, 50);
    assert.equal(notifier.maxInFlight, 7);
    assert.deepEqual(
      [...notifier.delivered].sort(),
      recipients(50)
        .map((r) => r.connectionId)
        .sort(),
    );
  });

  it('retries throttled and failing posts with growing backoff, then succeeds', async () => {
    const notifier = new ScriptedNotifier({ c1: ['retryable', 'retryable'] });
    const delays: number[] = [];
    const result = await fanOut(notifier, recipients(3), '{}', {
      concurrency: 2,
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 1,
      baseDelayMs: 10,
    });
    assert.equal(result.delivered, 3);
    assert.deepEqual(delays, [10, 20]);
  });

  it('reports 410 connections to onGone, once each, and keeps delivering to the rest', async () => {
    const notifier = new ScriptedNotifier({ c2: ['gone'] });
    const gone: Recipient[] = [];
    const result = await fanOut(notifier, recipients(4), '{}', {
      concurrency: 4,
      ...instant,
      onGone: async (recipient) => {
        gone.push(recipient);
      },
    });
    assert.deepEqual(gone, [{ connectionId: 'c2', userId: 'u2' }]);
    assert.equal(result.delivered, 3);
    assert.equal(result.gone, 1);
    assert.deepEqual(result.failed, []);
  });

  it('reports connections that keep failing or fail permanently, without failing the others', async () => {
    const notifier = new ScriptedNotifier({
      c0: ['retryable', 'retryable', 'retryable', 'retryable'],
      c1: ['permanent'],
    });
    const result = await fanOut(notifier, recipients(3), '{}', {
      concurrency: 3,
      maxAttempts: 4,
      ...instant,
    });
    assert.equal(result.delivered, 1);
    assert.deepEqual(result.failed.map((r) => r.connectionId).sort(), ['c0', 'c1']);
  });

  it('does not fail when a cleanup fails', async () => {
    const notifier = new ScriptedNotifier({ c0: ['gone'] });
    const result = await fanOut(notifier, recipients(2), '{}', {
      concurrency: 1,
      ...instant,
      onGone: async () => {
        throw new Error('cleanup failed');
      },
    });
    assert.equal(result.delivered, 1);
    assert.equal(result.gone, 1);
  });

  it('handles an empty audience', async () => {
    const result = await fanOut(new ScriptedNotifier(), [], '{}', { concurrency: 10 });
    assert.deepEqual(result, { delivered: 0, gone: 0, failed: [] });
  });
});
