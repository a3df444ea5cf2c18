/**
 * The content filter end to end: blocked private, group, room and broadcast messages are
 * refused (10007 / 3008), neither stored nor delivered; `BLOCKED_WORDS` and
 * `MAX_CONTENT_LENGTH` come from the runtime's environment.
 * Run: npx tsx --test test/e2e/content-filter.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SHIPPED_BLOCKED_WORDS } from '../../functions/core/filter/blocked-words.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

/** Configured through the runtime's environment, as a deployment would. */
const CONFIGURED_WORD = 'zorblax';
const MAX_CONTENT_LENGTH = 500;
/** Ways of writing the configured word that the normalization sees through. */
const EVASIONS = [
  'ZORBLAX',
  'ｚｏｒｂｌａｘ',
  'zor\u200bblax',
  'zor\u00adblax',
  'z.o.r.b.l.a.x',
  'z o r b l a x',
];

let runtime: LocalRuntime;
let tables: RuntimeTables;
let ann: ChatConnection;
let ben: ChatConnection;
let admin: ChatConnection;
let groupId: string;

before(async () => {
  runtime = await startTestRuntime({
    env: { BLOCKED_WORDS: `${CONFIGURED_WORD}, some phrase`, MAX_CONTENT_LENGTH: String(MAX_CONTENT_LENGTH) },
  });
  tables = runtimeTables(runtime);
  [ann, ben] = await connectEach(runtime, ['ann', 'ben']);
  admin = await connectWelcomed(runtime, 'boss', { role: 'admin' });
  const created = await sendCommand(ann.client, 'create_group', { group_name: 'g', member_ids: ['ben'] });
  assert.equal(created.code, 0, JSON.stringify(created));
  groupId = String(created.data?.group_id);
  for (const connection of [ann, ben]) {
    const joined = await sendCommand(connection.client, 'join_room', { room_id: 'lobby' });
    assert.equal(joined.code, 0, JSON.stringify(joined));
  }
});
after(async () => {
  tables.destroy();
  await runtime.stop();
});

const PUSH_TYPES = ['new_message', 'group_message', 'room_message', 'broadcast'];

/** Pushes of every message kind each connection received so far (after a ping barrier). */
async function pushCounts(): Promise<number[]> {
  await Promise.all([ann, ben, admin].map((c) => settle(c.client)));
  return [ann, ben, admin].flatMap((c) => PUSH_TYPES.map((type) => pushesOf(c.client, type).length));
}

/** Runs `send`, expecting it refused with `code`, and checks nothing was stored or delivered. */
async function assertRefusedUnchanged(send: () => Promise<{ code?: number }>, code: number, what: string) {
  const messagesBefore = await tables.scan('messages');
  const pushesBefore = await pushCounts();
  const reply = await send();
  assert.equal(reply.code, code, `${what}: ${JSON.stringify(reply)}`);
  assert.deepEqual(await pushCounts(), pushesBefore, `${what}: nothing delivered`);
  assert.deepEqual(await tables.scan('messages'), messagesBefore, `${what}: nothing stored`);
}

describe('blocked content', () => {
  test('a private message with a configured word answers 10007, through the usual evasions', async () => {
    for (const evasion of EVASIONS) {
      const content = `hello ${evasion}!`;
      await assertRefusedUnchanged(
        () => sendCommand(ann.client, 'send_message', { to_user_id: 'ben', content }),
        10007,
        content,
      );
    }
    const reply = await sendCommand(ann.client, 'send_message', { to_user_id: 'ben', content: 'x' });
    assertErrorReply(
      await sendCommand(ann.client, 'send_message', { to_user_id: 'ben', content: 'some  PHRASE' }),
      10007,
    );
    assert.equal(reply.code, 0, 'ordinary text still goes through');
  });

  test('the shipped list stays active next to BLOCKED_WORDS', async () => {
    const shipped = String(SHIPPED_BLOCKED_WORDS.find((word) => !word.includes('*')));
    await assertRefusedUnchanged(
      () => sendCommand(ann.client, 'send_message', { to_user_id: 'ben', content: `you ${shipped}` }),
      10007,
      'shipped word',
    );
  });

  test('a group message answers 3008 (members only: a non-member still gets 1403)', async () => {
    await assertRefusedUnchanged(
      () => sendCommand(ann.client, 'send_group_message', { group_id: groupId, content: CONFIGURED_WORD }),
      3008,
      'group',
    );
    await assertRefusedUnchanged(
      () => sendCommand(admin.client, 'send_group_message', { group_id: groupId, content: CONFIGURED_WORD }),
      1403,
      'non-member',
    );
  });

  test('a room message answers 10007', async () => {
    await assertRefusedUnchanged(
      () =>
        sendCommand(ann.client, 'send_room_message', { room_id: 'lobby', content: `a ${CONFIGURED_WORD}` }),
      10007,
      'room',
    );
  });

  test('a broadcast answers 10007', async () => {
    await assertRefusedUnchanged(
      () => sendCommand(admin.client, 'broadcast', { message: CONFIGURED_WORD }),
      10007,
      'broadcast',
    );
  });

  test('POST /api/ws/send-message answers HTTP 400 with 10007', async () => {
    const token = await tokenFor(runtime, 'ann');
    await assertRefusedUnchanged(
      async () => {
        const response = await postApi(
          runtime,
          '/api/ws/send-message',
          { to_user_id: 'ben', content: CONFIGURED_WORD },
          token,
        );
        assert.equal(response.status, 400);
        return response.body;
      },
      10007,
      'HTTP send-message',
    );
  });

  test('ordinary messages of every kind are still stored and delivered', async () => {
    const before = (await tables.scan('messages')).length;
    const results = [
      await sendCommand(ann.client, 'send_message', { to_user_id: 'ben', content: 'a zorblaxian badge' }),
      await sendCommand(ann.client, 'send_group_message', { group_id: groupId, content: 'fine' }),
      await sendCommand(ann.client, 'send_room_message', { room_id: 'lobby', content: 'fine' }),
    ];
    for (const result of results) assert.equal(result.code, 0, JSON.stringify(result));
    assert.equal((await tables.scan('messages')).length, before + 3);
  });
});

describe('MAX_CONTENT_LENGTH', () => {
  test('content over the configured limit answers 1002 and is not stored', async () => {
    await assertRefusedUnchanged(
      () =>
        sendCommand(ann.client, 'send_message', {
          to_user_id: 'ben',
          content: 'x'.repeat(MAX_CONTENT_LENGTH + 1),
        }),
      1002,
      'too long',
    );
    const atLimit = await sendCommand(ann.client, 'send_message', {
      to_user_id: 'ben',
      content: 'x'.repeat(MAX_CONTENT_LENGTH),
    });
    assert.equal(atLimit.code, 0, JSON.stringify(atLimit));
  });
});
