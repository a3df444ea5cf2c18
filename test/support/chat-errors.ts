/** The protocol code of the ChatError a call fails with. */
import assert from 'node:assert/strict';
import { ChatError } from '../../functions/core/shared/errors.ts';

/** The code of the ChatError `run` throws; fails the test when it throws nothing or something else. */
export function codeOfSync(run: () => unknown): number {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected a ChatError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a ChatError');
}

/** The code of the ChatError the promise rejects with (or `run` throws or rejects with). */
export async function codeOf(run: Promise<unknown> | (() => unknown)): Promise<number> {
  try {
    await (typeof run === 'function' ? run() : run);
  } catch (error) {
    assert.ok(error instanceof ChatError, `expected a ChatError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected a ChatError');
}
