import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  broadcastSchema,
  commandErrorCodes,
  createGroupSchema,
  parseCommand,
  sendGroupMessageSchema,
  sendMessageSchema,
} from '../../functions/core/messaging/commands.ts';
import { codeOfSync as codeOf } from '../support/chat-errors.ts';

const sendMessage = (data: unknown) => parseCommand(sendMessageSchema, data, commandErrorCodes.sendMessage);

describe('send_message data', () => {
  it('accepts numeric user ids as strings and defaults message_type to text', () => {
    assert.deepEqual(sendMessage({ to_user_id: 42, content: 'hi' }), {
      to_user_id: '42',
      content: 'hi',
      message_type: 1,
    });
  });

  it('ignores unknown fields', () => {
    assert.deepEqual(sendMessage({ to_user_id: 'b', content: 'x', extra: { deep: true } }), {
      to_user_id: 'b',
      content: 'x',
      message_type: 1,
    });
  });

  it('answers 10002 when the target or the content is missing or blank', () => {
    assert.equal(
      codeOf(() => sendMessage({ content: 'hi' })),
      10002,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '2' })),
      10002,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '2', content: '   ' })),
      10002,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '', content: 'x' })),
      10002,
    );
    assert.equal(
      codeOf(() => sendMessage(null)),
      10002,
    );
  });

  it('answers 1001 for values of the wrong shape', () => {
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '2', content: 'x', message_type: 9 })),
      1001,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '2', content: 7 })),
      1001,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: { id: 2 }, content: 'x' })),
      1001,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: '#stats', content: 'x' })),
      1001,
    );
    assert.equal(
      codeOf(() => sendMessage({ to_user_id: 1.5, content: 'x' })),
      1001,
    );
  });
});

describe('send_group_message data', () => {
  const parse = (data: unknown) =>
    parseCommand(sendGroupMessageSchema, data, commandErrorCodes.sendGroupMessage);
  it('answers 3005 when the group id or the content is missing', () => {
    assert.equal(
      codeOf(() => parse({ content: 'x' })),
      3005,
    );
    assert.equal(
      codeOf(() => parse({ group_id: 'group_a' })),
      3005,
    );
    assert.equal(
      codeOf(() => parse({ group_id: '', content: 'x' })),
      3005,
    );
  });
});

describe('create_group data', () => {
  const parse = (data: unknown) => parseCommand(createGroupSchema, data, commandErrorCodes.createGroup);
  it('trims the name and turns member ids into strings', () => {
    assert.deepEqual(parse({ group_name: '  team ', member_ids: [2, '3'] }), {
      group_name: 'team',
      member_ids: ['2', '3'],
    });
  });
  it('answers 3002 for an empty name, 3003 for no members, 3001 otherwise', () => {
    assert.equal(
      codeOf(() => parse({ group_name: ' ', member_ids: ['2'] })),
      3002,
    );
    assert.equal(
      codeOf(() => parse({ member_ids: ['2'] })),
      3002,
    );
    assert.equal(
      codeOf(() => parse({ group_name: 'x', member_ids: [] })),
      3003,
    );
    assert.equal(
      codeOf(() => parse({ group_name: 'x' })),
      3003,
    );
    assert.equal(
      codeOf(() => parse({ group_name: 'x', member_ids: 'not-a-list' })),
      3001,
    );
    assert.equal(
      codeOf(() => parse({ group_name: 'x', member_ids: [null] })),
      3001,
    );
    assert.equal(
      codeOf(() => parse({ group_name: 'x'.repeat(101), member_ids: ['2'] })),
      3001,
    );
  });
});

describe('broadcast data', () => {
  it('answers 10005 for an empty message', () => {
    const parse = (data: unknown) => parseCommand(broadcastSchema, data, commandErrorCodes.broadcast);
    assert.equal(
      codeOf(() => parse({ message: '' })),
      10005,
    );
    assert.equal(
      codeOf(() => parse({})),
      10005,
    );
    assert.deepEqual(parse({ message: 'hello all' }), { message: 'hello all' });
  });
});
