/**
 * docs/asyncapi.json and docs/openapi.json are generated from the code (`npm run specs`):
 * the checked-in files must equal a fresh generation, cover every route, and the
 * hand-written outbound frame schemas (scripts/specs/frames.ts) must accept real frames
 * captured from the local runtime.
 * Run: npx tsx --test test/unit/specs.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  broadcastSchema,
  createGroupSchema,
  MESSAGE_ID_PATTERN,
  messageIdSchema,
  NOT_BLANK_WELL_FORMED_PATTERN,
  USER_ID_PATTERN,
  userIdSchema,
  WELL_FORMED_PATTERN,
} from '../../functions/core/messaging/commands.ts';
import { NOTIFY_MAX_TYPE_LENGTH, notifySchema } from '../../functions/core/messaging/notify.ts';
import { deleteMessageSchema } from '../../functions/core/messaging/recall.ts';
import { ROOM_ID_PATTERN, roomTargetSchema } from '../../functions/core/rooms/rooms.ts';
import { GROUP_ID } from '../../functions/core/shared/ids.ts';
import { httpRoutes } from '../../lib/function-specs.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type JsonSchema, pushes, replies } from '../../scripts/specs/frames.ts';
import {
  ASYNCAPI_PATH,
  buildAsyncApi,
  buildOpenApi,
  commandRoutes,
  generateSpecs,
  OPENAPI_PATH,
} from '../../scripts/specs/generate.ts';
import { connectWelcomed, sendCommand, settle } from '../support/chat.ts';
import { callApi, getApi, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const root = new URL('../../', import.meta.url);
const readDoc = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** The subset of JSON Schema the specs use; returns the problems found (empty: valid). */
function validate(schema: JsonSchema, value: unknown, at = '$'): string[] {
  const typeOf = (v: unknown): string =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (schema.anyOf) {
    const options = schema.anyOf as JsonSchema[];
    return options.some((option) => validate(option, value, at).length === 0)
      ? []
      : [`${at}: matches none of anyOf`];
  }
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const actual = typeOf(value);
    const ok = schema.type === actual || (schema.type === 'number' && actual === 'integer');
    if (!ok) return [`${at}: expected ${String(schema.type)}, got ${actual}`];
  }
  if ('const' in schema && value !== schema.const) problems.push(`${at}: expected ${String(schema.const)}`);
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) problems.push(`${at}: not in enum`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${at}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${at}: above maximum`);
  }
  if (typeof value === 'string' && typeof schema.maxLength === 'number' && value.length > schema.maxLength)
    problems.push(`${at}: too long`);
  if (schema.format === 'date-time' && typeof value === 'string' && Number.isNaN(Date.parse(value)))
    problems.push(`${at}: not a date-time`);
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, index) => {
      problems.push(...validate(schema.items as JsonSchema, item, `${at}[${index}]`));
    });
  }
  if (typeOf(value) === 'object' && schema.properties) {
    const object = value as Record<string, unknown>;
    const properties = schema.properties as Record<string, JsonSchema>;
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in object)) problems.push(`${at}.${name}: missing`);
    }
    for (const [name, field] of Object.entries(object)) {
      const property = properties[name];
      if (!property) problems.push(`${at}.${name}: not in the schema`);
      else problems.push(...validate(property, field, `${at}.${name}`));
    }
  }
  return problems;
}

describe('generated specs', () => {
  test('the checked-in files equal a fresh generation (run `npm run specs` to update them)', () => {
    for (const [path, content] of Object.entries(generateSpecs())) {
      assert.ok(
        readDoc(path) === content,
        `${path} is out of date: run \`npm run specs\` and commit the result`,
      );
    }
  });

  test('AsyncAPI 3.0.0 with an operation per command and per push', () => {
    const doc = JSON.parse(readDoc(ASYNCAPI_PATH));
    assert.equal(doc.asyncapi, '3.0.0');
    const commands = commandRoutes();
    assert.ok(commands.includes('send_message') && !commands.includes('$default'));
    for (const cmd of commands) {
      const operation = doc.operations[cmd];
      assert.equal(operation?.action, 'send', `operation for ${cmd}`);
      assert.ok(operation.reply, `reply of ${cmd}`);
    }
    for (const type of Object.keys(pushes)) {
      assert.equal(doc.operations[`receive_${type}`]?.action, 'receive', `operation for push ${type}`);
    }
    assert.deepEqual(Object.keys(doc.servers).sort(), ['aws', 'local']);
    // Every $ref resolves.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) {
      const path = ref.slice('"$ref":"#/'.length, -1).split('/');
      assert.ok(
        path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc),
        `${ref} resolves`,
      );
    }
  });

  test('OpenAPI 3.1.0 with a path per HTTP route', () => {
    const doc = JSON.parse(readDoc(OPENAPI_PATH));
    assert.equal(doc.openapi, '3.1.0');
    for (const { method, path } of httpRoutes) {
      const operation = doc.paths[path]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${path}`);
      assert.ok(operation.responses['200'] && operation.responses['400'], `${method} ${path} responses`);
    }
    assert.equal(
      doc.paths['/api/ws/notify'].post.responses['403'].content['application/json'].schema.$ref,
      '#/components/schemas/ErrorEnvelope',
    );
  });

  test('OpenAPI: each method of a path answers its own schema (GET /api/ws/groups is the page)', () => {
    const doc = JSON.parse(readDoc(OPENAPI_PATH));
    const dataOf = (method: string, path: string) => {
      const ref: string =
        doc.paths[path][method].responses['200'].content['application/json'].schema.properties.data.$ref;
      return doc.components.schemas[ref.split('/').at(-1) as string];
    };
    assert.equal(dataOf('get', '/api/ws/groups').properties.type.const, 'groups');
    assert.equal(dataOf('post', '/api/ws/groups').properties.type.const, 'group_created');
    assert.equal(dataOf('get', '/api/ws/groups/{group_id}').properties.type.const, 'group_info');
    assert.equal(dataOf('delete', '/api/ws/groups/{group_id}').properties.type.const, 'group_deleted');
    assert.equal(dataOf('get', '/api/ws/blocks').properties.type.const, 'blocked_users');
  });

  test('inbound schemas are the zod input side', () => {
    const doc = buildAsyncApi() as { components: { schemas: Record<string, JsonSchema> } };
    const sendMessage = doc.components.schemas.SendMessageData as JsonSchema;
    assert.equal(sendMessage['x-source'], 'zod');
    assert.deepEqual(sendMessage.required, ['to_user_id', 'content']);
    const openApi = buildOpenApi() as { components: { schemas: Record<string, JsonSchema> } };
    assert.deepEqual(openApi.components.schemas.NotifyRequest?.required, ['user_ids', 'type']);
  });
});

describe('refinements appear in the specs and agree with the handlers', () => {
  type Schemas = { components: { schemas: Record<string, JsonSchema> } };
  const asyncApi = (buildAsyncApi() as Schemas).components.schemas;
  const openApi = (buildOpenApi() as Schemas).components.schemas;
  const property = (schema: JsonSchema | undefined, name: string): JsonSchema =>
    (schema?.properties as Record<string, JsonSchema> | undefined)?.[name] ?? {};
  const stringBranch = (schema: JsonSchema): JsonSchema =>
    ((schema.anyOf as JsonSchema[] | undefined) ?? [schema]).find((option) => option.type === 'string') ?? {};

  test('patterns and descriptions of ids, text fields and limits are in the generated schemas', () => {
    const expected: [JsonSchema, string][] = [
      [property(asyncApi.SendMessageData, 'to_user_id'), USER_ID_PATTERN],
      [property(asyncApi.CreateGroupData, 'member_ids').items as JsonSchema, USER_ID_PATTERN],
      [property(openApi.NotifyRequest, 'user_ids').items as JsonSchema, USER_ID_PATTERN],
      [property(asyncApi.SendMessageData, 'content'), NOT_BLANK_WELL_FORMED_PATTERN],
      [property(asyncApi.BroadcastData, 'message'), NOT_BLANK_WELL_FORMED_PATTERN],
      [property(openApi.SendMessageRequest, 'content'), NOT_BLANK_WELL_FORMED_PATTERN],
      [property(asyncApi.CreateGroupData, 'group_name'), NOT_BLANK_WELL_FORMED_PATTERN],
      [property(asyncApi.SendMessageData, 'client_msg_id'), WELL_FORMED_PATTERN],
      [property(asyncApi.SendGroupMessageData, 'group_id'), GROUP_ID.source],
      [property(asyncApi.JoinRoomData, 'room_id'), ROOM_ID_PATTERN],
      [property(asyncApi.SendRoomMessageData, 'room_id'), ROOM_ID_PATTERN],
      [property(asyncApi.MarkReadData, 'message_id'), MESSAGE_ID_PATTERN],
      [property(asyncApi.DeleteMessageData, 'message_id'), MESSAGE_ID_PATTERN],
    ];
    for (const [schema, pattern] of expected) {
      // User ids: the pattern is on the string branch, the description on the whole.
      assert.equal(stringBranch(schema).pattern, pattern, JSON.stringify(schema));
      assert.equal(typeof schema.description, 'string', `a description beside ${pattern}`);
    }
    assert.equal(stringBranch(property(asyncApi.SendMessageData, 'to_user_id')).maxLength, 128);
    assert.equal(property(openApi.NotifyRequest, 'type').maxLength, NOTIFY_MAX_TYPE_LENGTH);
    assert.match(String(property(asyncApi.SyncData, 'limit').description), /100/);
    assert.match(String(property(openApi.NotifyRequest, 'data').description), /8192 bytes/);
  });

  // Characters around every rule's edges: whitespace of trim()'s set, control characters,
  // lone surrogates, astral characters, reserved prefixes, ULID letters in both cases.
  const edgy = fc.constantFrom(
    ...[' ', '\t', '\n', '\u00a0', '\u2028', '\ufeff', '\u3000', '\u0000', '\u007f', '\u0085'],
    ...[
      '\ud800',
      '\udfff',
      '😀',
      'é',
      '#',
      '_',
      '-',
      'private_',
      'group_',
      'system_',
      'I',
      'l',
      'o',
      'U',
      'ſ',
    ],
  );
  const char = fc.oneof(
    edgy,
    fc.constantFrom(...'0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz'),
    fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  );
  const text = (maxLength: number) => fc.array(char, { maxLength }).map((chars) => chars.join(''));
  const matches = (pattern: string, value: string) => new RegExp(pattern, 'u').test(value);
  const accepts = (schema: { safeParse(value: unknown): { success: boolean } }, value: unknown) =>
    schema.safeParse(value).success;
  const agree = (arbitrary: fc.Arbitrary<string>, check: (value: string) => void) =>
    fc.assert(fc.property(arbitrary, check), { numRuns: 3000 });
  const ulid = fc
    .array(fc.constantFrom(...'0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzIiLlOoUu'), {
      minLength: 25,
      maxLength: 27,
    })
    .map((chars) => chars.join(''));

  test('each documented pattern accepts exactly what the refinement accepts', () => {
    agree(fc.oneof(text(140), fc.string({ minLength: 120, maxLength: 140 })), (value) => {
      assert.equal(matches(USER_ID_PATTERN, value), accepts(userIdSchema, value), JSON.stringify(value));
    });
    agree(fc.oneof(text(70), fc.stringMatching(/^[A-Za-z0-9_-]{60,70}$/)), (value) => {
      assert.equal(matches(ROOM_ID_PATTERN, value), accepts(roomTargetSchema, { room_id: value }), value);
    });
    agree(text(30), (value) => {
      assert.equal(
        matches(NOT_BLANK_WELL_FORMED_PATTERN, value),
        accepts(broadcastSchema, { message: value }),
        JSON.stringify(value),
      );
      // group_name: the same pattern (these strings are too short for its 100-character limit).
      const group = { group_name: value, member_ids: ['a'] };
      assert.equal(matches(NOT_BLANK_WELL_FORMED_PATTERN, value), accepts(createGroupSchema, group));
      const notify = { user_ids: ['a'], type: value };
      assert.equal(
        matches(String(property(openApi.NotifyRequest, 'type').pattern), value) &&
          value.length <= NOTIFY_MAX_TYPE_LENGTH,
        accepts(notifySchema, notify),
        JSON.stringify(value),
      );
      const recall = { room_id: value, message_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' };
      assert.equal(
        matches(String(property(asyncApi.DeleteMessageData, 'room_id').pattern), value) && value.length >= 1,
        accepts(deleteMessageSchema, recall),
        JSON.stringify(value),
      );
    });
    // Message ids: the same on ASCII; beyond it the pattern is never looser than the handler.
    agree(fc.oneof(ulid, text(27)), (value) => {
      if (matches(MESSAGE_ID_PATTERN, value)) assert.ok(accepts(messageIdSchema, value), value);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the point
      else if (/^[\x00-\x7f]*$/.test(value)) assert.ok(!accepts(messageIdSchema, value), value);
    });
  });
});

describe('outbound frame schemas accept real frames', () => {
  let runtime: LocalRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(async () => {
    await runtime.stop();
  });

  test('replies, pushes and errors from the local runtime', async () => {
    const amy = await connectWelcomed(runtime, 'spec-amy', { role: 'admin' });
    const bob = await connectWelcomed(runtime, 'spec-bob');
    const sent = await sendCommand(amy.client, 'send_message', { to_user_id: 'spec-bob', content: 'hi' });
    const messageId = sent.data?.message_id;
    const group = await sendCommand(bob.client, 'create_group', {
      group_name: 'g',
      member_ids: ['spec-amy'],
    });
    await sendCommand(bob.client, 'send_group_message', { group_id: group.data?.group_id, content: 'hey' });
    await sendCommand(amy.client, 'join_room', { room_id: 'spec-lobby' });
    await sendCommand(bob.client, 'join_room', { room_id: 'spec-lobby' });
    await sendCommand(amy.client, 'send_room_message', { room_id: 'spec-lobby', content: 'room hi' });
    await sendCommand(bob.client, 'history', { room_id: 'spec-lobby', limit: 1 });
    await sendCommand(bob.client, 'leave_room', { room_id: 'spec-lobby' });
    await sendCommand(bob.client, 'mark_read', { room_id: sent.data?.room_id, message_id: messageId });
    await sendCommand(amy.client, 'broadcast', { message: 'all' });
    const amyToken = await tokenFor(runtime, 'spec-amy', { role: 'admin' });
    await postApi(
      runtime,
      '/api/ws/notify',
      { user_ids: ['spec-bob'], type: 'spec.test', data: { n: 1 } },
      amyToken,
    );
    await sendCommand(bob.client, 'sync', {});
    await sendCommand(amy.client, 'delete_message', { room_id: sent.data?.room_id, message_id: messageId });
    await sendCommand(amy.client, 'send_message', {});
    await settle(amy.client);
    await settle(bob.client);

    const seen = new Set<string>();
    for (const client of [amy.client, bob.client]) {
      for (const frame of client.frames) {
        const json = frame.json as Record<string, unknown> | undefined;
        assert.ok(json, `a JSON frame: ${frame.raw}`);
        const data = json.data as { type?: string } | null;
        const isReply = json.request_id !== undefined;
        let schema: JsonSchema | undefined;
        if (data === null) {
          schema = {
            type: 'object',
            properties: {
              code: { type: 'integer' },
              message: { type: 'string' },
              data: { type: 'null' },
              request_id: { type: 'string' },
            },
            required: ['code', 'message', 'data'],
          };
          seen.add('error');
        } else {
          const type = String(data.type);
          const entry = isReply
            ? Object.values(replies).find(
                (reply) => (reply.schema.properties as Record<string, JsonSchema>).type?.const === type,
              )
            : pushes[type];
          assert.ok(entry, `a schema for ${isReply ? 'reply' : 'push'} ${type}`);
          schema = entry.schema;
          seen.add(`${isReply ? 'reply' : 'push'}:${type}`);
          assert.deepEqual(validate(schema, data), [], `${type}: ${frame.raw}`);
          continue;
        }
        assert.deepEqual(validate(schema, json), [], frame.raw);
      }
    }
    for (const expected of [
      'reply:message_sent',
      'reply:sync',
      'reply:history',
      'push:new_message',
      'push:system_notify',
      'push:message_deleted',
      'error',
    ]) {
      assert.ok(seen.has(expected), `captured ${expected} (seen: ${[...seen].join(', ')})`);
    }

    // HTTP responses against their schemas.
    const doc = buildOpenApi() as { components: { schemas: Record<string, JsonSchema> } };
    const bobToken = await tokenFor(runtime, 'spec-bob');
    const checks: [string, () => Promise<{ body: { data: unknown } }>][] = [
      ['OnlineCountResponse', () => getApi(runtime, '/api/ws/online-count')],
      ['OnlineUsersResponse', () => getApi(runtime, '/api/ws/online-users', bobToken)],
      ['OnlineCheckResponse', () => getApi(runtime, '/api/ws/online/check?user_id=spec-amy', bobToken)],
      ['MessagesResponse', () => getApi(runtime, `/api/ws/messages?room_id=${sent.data?.room_id}`, bobToken)],
      ['UnreadResponse', () => getApi(runtime, '/api/ws/unread', bobToken)],
      [
        'SendMessageResponse',
        () =>
          callApi(runtime, 'POST', '/api/ws/send-message', {
            token: bobToken,
            body: { to_user_id: 'spec-amy', content: 'x' },
          }),
      ],
      ['BroadcastResponse', () => postApi(runtime, '/api/ws/broadcast', { message: 'y' }, amyToken)],
    ];
    for (const [name, call] of checks) {
      const response = await call();
      const schema = doc.components.schemas[name];
      assert.ok(schema, name);
      assert.deepEqual(validate(schema, response.body.data), [], `${name}: ${JSON.stringify(response.body)}`);
    }
  });
});
