/**
 * The `bundles` section of `npm run bench` (scripts/bench/bundles.ts) times each function's
 * import plus its first call, and a first call refused before it reaches the store (bad or
 * missing fields, an unknown id) would leave out the first request's cost. This runs every
 * function's first call once, in its deployed bundle and a fresh process, against the
 * bench's init runtime and its seed (scripts/bench/first-calls.ts), and checks what each
 * answered: a success, or for the commands about an unknown group the refusal that comes
 * after the group is read. No time is measured or asserted.
 * Run: npx tsx --test test/e2e/bench-first-calls.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { functionSpecs } from '../../lib/function-specs.ts';
import { checkFirstCalls } from '../../scripts/bench/bundles.ts';

describe('bench first calls', { timeout: 600_000 }, () => {
  test('every function first call is a valid request that reaches its usual path', async () => {
    const checks = await checkFirstCalls();
    assert.deepEqual(
      checks.map((check) => check.functionId),
      Object.keys(functionSpecs),
    );
    const refused = checks
      .filter((check) => check.refusal !== undefined)
      .map((check) => `${check.functionId}: ${check.event} answered "${check.outcome}" (${check.refusal})`);
    assert.deepEqual(refused, []);

    const outcomeOf = (id: string) => checks.find((check) => check.functionId === id)?.outcome;
    // The commands about the seeded message succeed (no error code), as does typing.
    for (const id of [
      'markRead',
      'deleteMessage',
      'editMessage',
      'react',
      'unreact',
      'typing',
      'history',
      'broadcast',
    ]) {
      assert.equal(outcomeOf(id)?.split(' ')[0], '200', id);
      assert.ok(!/ [1-9]\d*$/.test(outcomeOf(id) ?? ''), `${id} answered ${outcomeOf(id)}`);
    }
    assert.equal(outcomeOf('fanOutWorker'), 'done');
  });
});
