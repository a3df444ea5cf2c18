/**
 * The bench's estimate of index write units (scripts/bench/accounting.ts), which dynalite
 * does not report: an item's size counts, whether the request holds native values (what
 * the handlers' document clients pass the middleware) or low-level attribute values.
 * Run: npx tsx --test test/unit/bench-accounting.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DynamoDbRequestRecord } from '../../functions/runtime/capacity.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { estimateIndexWrites } from '../../scripts/bench/accounting.ts';

const messages = tableDefinitions.messages.localName;
const conversations = tableDefinitions.conversations.localName;

/** A private message as the messages store writes it: in `byInbox` and `byOutbox` (both ALL). */
const privateMessage = (content: string) => ({
  roomId: 'private_ann_ben',
  messageId: '01KBJ0000000000000000000AA',
  kind: 'private',
  fromUserId: 'ann',
  toUserId: 'ben',
  content,
  messageType: 1,
  createdAt: '2026-12-03T09:00:00.000Z',
  clientMsgId: 'c-1',
  inboxUserId: 'ben',
  outboxUserId: 'ann',
});

/** Low-level attribute values, as a raw client sends them (strings and numbers only here). */
const marshalled = (item: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(item).map(([name, value]) => [
      name,
      typeof value === 'number' ? { N: String(value) } : { S: String(value) },
    ]),
  );

const put = (item: Record<string, unknown>): DynamoDbRequestRecord => ({
  operation: 'PutItem',
  tables: [messages],
  readUnits: 0,
  writeUnits: 0,
  input: { TableName: messages, Item: item },
});

describe('bench: index write units', () => {
  it('a short private message: 1 unit in each of its two indexes', () => {
    assert.equal(estimateIndexWrites(put(privateMessage('hi'))), 2);
  });

  it('a 4,000-character private message: 5 units (over 4 KB) in each index, native or marshalled', () => {
    const item = privateMessage('x'.repeat(4_000));
    assert.equal(estimateIndexWrites(put(item)), 10);
    assert.equal(estimateIndexWrites(put(marshalled(item))), 10);
  });

  it('in a BatchWriteItem with the two conversation-list rows (keys and a few attributes in byActivity)', () => {
    const row = (userId: string, peerId: string) => ({
      PutRequest: {
        Item: { userId, roomId: 'private_ann_ben', peerId, lastMessageId: '01KBJ0000000000000000000AA' },
      },
    });
    const record: DynamoDbRequestRecord = {
      operation: 'BatchWriteItem',
      tables: [messages, conversations],
      readUnits: 0,
      writeUnits: 0,
      input: {
        RequestItems: {
          [messages]: [{ PutRequest: { Item: privateMessage('語'.repeat(1_400)) } }],
          [conversations]: [row('ann', 'ben'), row('ben', 'ann')],
        },
      },
    };
    // 1,400 three-byte characters: 4,200 bytes of content, 5 units per message index.
    assert.equal(estimateIndexWrites(record), 5 + 5 + 2);
  });
});
