import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPrivateRoomParticipant, newMessageId, privateRoomId } from '../../functions/core/shared/ids.ts';

describe('private room ids', () => {
  it('put the smaller id first in string order', () => {
    assert.equal(privateRoomId('2', '10'), 'private_10_2');
    assert.equal(privateRoomId('10', '2'), 'private_10_2');
  });

  it('recognise both participants, even when ids contain underscores', () => {
    const room = privateRoomId('a_b', 'c');
    assert.equal(room, 'private_a_b_c');
    assert.ok(isPrivateRoomParticipant(room, 'a_b'));
    assert.ok(isPrivateRoomParticipant(room, 'c'));
    assert.ok(!isPrivateRoomParticipant(room, 'b'));
    // The naming is ambiguous: a and b_c share this room id too, which is why private
    // history is also filtered by sender/recipient (see the chat service tests).
    assert.ok(isPrivateRoomParticipant(room, 'a'));
    assert.ok(isPrivateRoomParticipant(room, 'b_c'));
    assert.ok(!isPrivateRoomParticipant('private_x_y', 'z'));
    assert.ok(!isPrivateRoomParticipant('group_x', 'x'));
  });
});

describe('message ids', () => {
  it('sort in creation order, also within one millisecond', () => {
    const now = new Date();
    const ids = Array.from({ length: 50 }, () => newMessageId(now));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });
});
