/**
 * The hand-off of 410s to the sweep function (functions/runtime/gone-handoff.ts): the 410s
 * of one fan-out that meet in one turn of the event loop go in one Invoke, at most 500 a
 * payload; each caller learns whether its connection was handed over.
 * Run: npx tsx --test test/unit/gone-handoff.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_GONE_PER_HANDOFF } from '../../functions/core/connections/sweep.ts';
import { GoneHandoff } from '../../functions/runtime/gone-handoff.ts';

describe('GoneHandoff', () => {
  it('batches the 410s of one turn into one Invoke, 500 at most each', async () => {
    const payloads: number[] = [];
    const handoff = new GoneHandoff(async ({ gone }) => {
      payloads.push(gone.length);
    });
    const count = MAX_GONE_PER_HANDOFF + 20;
    await Promise.all(Array.from({ length: count }, (_, i) => handoff.closeGone(`c${i}`, 'u')));
    assert.deepEqual(payloads, [MAX_GONE_PER_HANDOFF, 20]);
    await handoff.closeGone('later', 'u');
    assert.deepEqual(payloads, [MAX_GONE_PER_HANDOFF, 20, 1], 'a later 410 goes in a new Invoke');
  });

  it('an Invoke that fails rejects the callers of its batch only', async () => {
    let calls = 0;
    const handoff = new GoneHandoff(async () => {
      calls++;
      if (calls === 1) throw new Error('TooManyRequestsException');
    });
    const first = Array.from({ length: MAX_GONE_PER_HANDOFF + 1 }, (_, i) =>
      handoff.closeGone(`c${i}`, 'u').then(
        () => 'handed',
        () => 'failed',
      ),
    );
    const outcomes = await Promise.all(first);
    assert.equal(outcomes.filter((o) => o === 'failed').length, MAX_GONE_PER_HANDOFF);
    assert.equal(outcomes.at(-1), 'handed');
  });
});
