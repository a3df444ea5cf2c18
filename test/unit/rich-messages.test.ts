/**
 * The pieces of replies, edits, reactions and typing that the e2e tests cannot reach at
 * will: the typing throttle's window and memory bound (with an explicit clock), and the
 * reaction store against a real dynalite when the message is recalled between the read
 * and the count (the user's row is taken back: nothing is counted).
 * Run: npx tsx --test test/unit/rich-messages.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import { privatePeer, TypingThrottle } from '../../functions/core/typing/typing.ts';
import { DynamoReactionStore, reactionPartition } from '../../functions/stores/reactions.ts';
import { startTestStores, type TestStores } from '../support/stores.ts';

describe('TypingThrottle', () => {
  test('drops a repeated state within the window, caps alternation, and opens again after the window', () => {
    const throttle = new TypingThrottle({ windowSeconds: 3, maxPerWindow: 4 });
    const at = (seconds: number) => seconds * 1000;
    assert.equal(throttle.admit('u', 'r', 'start', at(0)), true);
    assert.equal(throttle.admit('u', 'r', 'start', at(1)), false, 'repeat within 3 s');
    assert.equal(throttle.admit('u', 'r', 'stop', at(1)), true, 'a change of state');
    assert.equal(throttle.admit('u', 'r', 'start', at(1.5)), true);
    assert.equal(throttle.admit('u', 'r', 'stop', at(2)), true, 'the 4th in the window');
    assert.equal(throttle.admit('u', 'r', 'start', at(2.5)), false, 'a 5th is over the cap');
    assert.equal(throttle.admit('other', 'r', 'start', at(2.5)), true, 'another sender has its own count');
    assert.equal(throttle.admit('u', 'elsewhere', 'start', at(2.5)), true, 'another room too');
    assert.equal(throttle.admit('u', 'r', 'start', at(3)), true, 'a new window');
    assert.equal(
      throttle.admit('u', 'r', 'start', at(6.5)),
      true,
      'a repeat after the window: the client is still typing',
    );
  });

  test('allows() does not count; memory is bounded by evicting the least recently used', () => {
    const throttle = new TypingThrottle({ windowSeconds: 60, maxPerWindow: 1, maxEntries: 2 });
    assert.equal(throttle.allows('a', 'r', 'start', 0), true);
    assert.equal(throttle.allows('a', 'r', 'start', 0), true, 'asking again counts nothing');
    assert.equal(throttle.admit('a', 'r', 'start', 0), true);
    assert.equal(throttle.allows('a', 'r', 'stop', 1), false, 'the cap of 1');
    throttle.admit('b', 'r', 'start', 2);
    throttle.admit('c', 'r', 'start', 3);
    // a was evicted: it starts afresh.
    assert.equal(throttle.admit('a', 'r', 'stop', 4), true);
    assert.equal(throttle.admit('c', 'r', 'stop', 4), false, 'c is still remembered');
  });

  test('privatePeer splits a private room id from the sender’s side', () => {
    assert.equal(privatePeer('private_1_2', '1'), '2');
    assert.equal(privatePeer('private_1_2', '2'), '1');
    assert.equal(privatePeer('private_a_b_c', 'a'), 'b_c');
    assert.equal(privatePeer('private_a_b_c', 'c'), 'a_b');
    assert.equal(privatePeer('private_1_2', '3'), undefined);
    assert.equal(privatePeer('private_x_x', 'x'), 'x', 'a chat with oneself');
  });
});

describe('DynamoReactionStore', () => {
  let stores: TestStores;
  let reactions: DynamoReactionStore;
  const limits = { maxDistinct: 20, maxPerUser: 10 };

  before(async () => {
    stores = await startTestStores();
    reactions = new DynamoReactionStore(stores.dynamo.client, stores.dynamo.tables.messages);
  });
  after(() => stores.stop());

  async function stored(): Promise<StoredMessage> {
    const now = new Date();
    const message: StoredMessage = {
      roomId: 'private_a_b',
      messageId: newMessageId(now),
      kind: 'private',
      fromUserId: 'a',
      toUserId: 'b',
      content: 'hi',
      messageType: 1,
      createdAt: now.toISOString(),
    };
    await stores.messages.put(message);
    return message;
  }

  async function rowOf(message: StoredMessage, userId: string) {
    const { Item } = await stores.dynamo.client.send(
      new GetCommand({
        TableName: stores.dynamo.tables.messages,
        Key: { roomId: reactionPartition(message.roomId, message.messageId), messageId: userId },
        ConsistentRead: true,
      }),
    );
    return Item?.emoji as Set<string> | undefined;
  }

  test('a message recalled before the count: gone, and the user’s row is taken back', async () => {
    const message = await stored();
    await stores.messages.markDeleted({
      roomId: message.roomId,
      messageId: message.messageId,
      senderId: 'a',
      at: new Date(),
    });
    const target = { ...message, hasCounts: false };
    assert.deepEqual(await reactions.add(target, 'b', '👍', limits), { outcome: 'gone' });
    assert.equal((await rowOf(message, 'b'))?.has('👍') ?? false, false);
    assert.equal((await stores.messages.get(message.roomId, message.messageId))?.reactions, undefined);
  });

  test('a stale hint (the map exists after all) still counts once; concurrent first reactions both count', async () => {
    const message = await stored();
    const [x, y] = await Promise.all([
      reactions.add({ ...message, hasCounts: false }, 'a', '👍', limits),
      reactions.add({ ...message, hasCounts: false }, 'b', '👍', limits),
    ]);
    assert.equal(x.outcome, 'added');
    assert.equal(y.outcome, 'added');
    assert.deepEqual((await stores.messages.get(message.roomId, message.messageId))?.reactions, { '👍': 2 });
    assert.deepEqual(await reactions.add({ ...message, hasCounts: false }, 'a', '🎉', limits), {
      outcome: 'added',
      counts: { '👍': 2, '🎉': 1 },
    });
    assert.deepEqual(await reactions.add({ ...message, hasCounts: true }, 'a', '🎉', limits), {
      outcome: 'unchanged',
    });
    assert.deepEqual(await reactions.remove(message, 'b', '🎉'), { outcome: 'unchanged' });
    assert.deepEqual(await reactions.remove(message, 'a', '🎉'), { outcome: 'removed', counts: { '👍': 2 } });
    assert.deepEqual((await stores.messages.get(message.roomId, message.messageId))?.reactions, { '👍': 2 });
  });
});
