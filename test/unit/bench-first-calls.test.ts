/**
 * `firstCallRefusal` (scripts/bench/first-calls.ts): how the `bundles` section of the bench
 * tells a first call that measured its usual path from one refused before it (and then
 * stops with the function named). The outcomes are those the bench prints.
 * Run: npx tsx --test test/unit/bench-first-calls.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstCallRefusal } from '../../scripts/bench/first-calls.ts';

describe('firstCallRefusal', () => {
  test('a success, and the documented refusals after a read, count', () => {
    assert.equal(firstCallRefusal('markRead', '200 0'), undefined);
    assert.equal(firstCallRefusal('connect', '200'), undefined);
    assert.equal(firstCallRefusal('authorizer', 'policy Allow'), undefined);
    assert.equal(firstCallRefusal('fanOutWorker', 'done'), undefined);
    assert.equal(firstCallRefusal('welcome', 'delivered=false'), undefined);
    assert.equal(firstCallRefusal('groupInfo', '200 1403'), undefined);
    assert.equal(firstCallRefusal('acceptGroupInvite', '200 3010'), undefined);
    assert.equal(firstCallRefusal('default', '200 1000'), undefined);
  });

  test('a validation error, another refusal or a rejected event does not', () => {
    // What mark_read, broadcast and history answered before their fixtures were fixed.
    assert.equal(firstCallRefusal('markRead', '200 1001'), 'error code 1001');
    assert.equal(firstCallRefusal('broadcast', '200 10005'), 'error code 10005');
    assert.equal(firstCallRefusal('history', '200 2002'), 'error code 2002');
    // 1403 counts only where the fixture expects it (an unknown group), not for broadcast.
    assert.equal(firstCallRefusal('broadcast', '200 1403'), 'error code 1403');
    assert.equal(firstCallRefusal('acceptGroupInvite', '200 1403'), 'error code 1403');
    assert.equal(firstCallRefusal('joinRoom', '200 1401'), 'error code 1401');
    assert.equal(firstCallRefusal('default', '200 1001'), 'error code 1001');
    assert.equal(firstCallRefusal('httpApi', '401 1401'), 'HTTP status 401');
    assert.equal(firstCallRefusal('authorizer', 'policy Deny'), 'the authorizer denied the token');
    assert.equal(firstCallRefusal('fanOutWorker', 'rejected'), 'the job was rejected');
    assert.equal(firstCallRefusal('sendMessage', 'threw TypeError'), 'it threw TypeError');
  });
});
