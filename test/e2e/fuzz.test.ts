/**
 * Property-based fuzzing of every WebSocket route (and the HTTP POST bodies) with
 * thousands of hostile frames: arbitrary JSON, deep nesting, huge and odd numbers,
 * `__proto__` / `constructor` / `prototype` keys, lone surrogates, wrong types, long
 * strings under the 128 KB frame limit, non-JSON and binary frames.
 *
 * Every generated frame is invalid by construction (at least one required field is wrong,
 * or the sender is not allowed), so the outcome is predictable. Per frame: a reply with a
 * non-zero protocol code (`ping`: 0), never 5000; the connection still answers `ping`; and
 * after the run the tables that commands write are identical to before (no partial write).
 * Run: npx tsx --test test/e2e/fuzz.test.ts  (FUZZ_SEED=n reproduces a run)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { TableId } from '../../lib/table-definitions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, sendCommand, settle } from '../support/chat.ts';
import { callApi } from '../support/http.ts';
import type { FrameJson } from '../support/local-runtime.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const RUNS_PER_ROUTE = 200;
/** Frames in flight at once on the fuzzing connection. */
const CONCURRENCY = 8;
/** Tables a command can write; each must be unchanged by the run. */
const WRITTEN_TABLES: readonly TableId[] = ['messages', 'groups', 'rooms', 'readState', 'connections'];

// ---------------------------------------------------------------------------------------
// Generators. Values are rendered to JSON text by hand, so keys such as `__proto__` and
// number literals such as `1e400` reach the server exactly as written.

type Json = { readonly text: string };
const raw = (text: string): Json => ({ text });
const str = (value: string): Json => raw(JSON.stringify(value));

const LONE_SURROGATES = ['\ud800', '\udfff', 'a\ud83d', '\ude00b', 'x\udbff\udbffy'];
const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

const hostileKey = fc.oneof(fc.constantFrom(...POLLUTION_KEYS, '', ' ', '$', 'cmd', 'data'), fc.string());

const hostileStringValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    ...POLLUTION_KEYS,
    ...LONE_SURROGATES,
    '',
    ' ',
    '\u0000',
    '\u202e',
    '\ufeff',
    '1e308',
    'NaN',
    '-0',
    'Infinity',
    'null',
    '{}',
    "'; DROP TABLE x; --",
    '%00',
    '../../etc/passwd',
  ),
  fc.integer({ min: 1_000, max: 30_000 }).map((n) => 'x'.repeat(n)),
);

/** Number literals, including ones JSON.parse turns into Infinity, -0 or 0. */
const hostileNumber: fc.Arbitrary<Json> = fc
  .oneof(
    fc.constantFrom(
      '1e308',
      '-1e308',
      '1e400',
      '-1e400',
      '-0',
      '0',
      '5e-324',
      '1e-400',
      '9007199254740993',
      '-1',
      '1.5',
    ),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => String(n)),
    fc.integer().map(String),
    fc.constantFrom('123456789012345678901234567890123456789'),
  )
  .map(raw);

const deepNesting: fc.Arbitrary<Json> = fc
  .tuple(fc.integer({ min: 500, max: 10_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    raw(
      arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    ),
  );

const objectOf = (entries: readonly (readonly [string, Json])[]): Json =>
  raw(`{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value.text}`).join(',')}}`);

const { value: hostileValue } = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(raw('null'), raw('true'), raw('false')),
    hostileNumber,
    hostileStringValue.map(str),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => raw(`[${items.map((i) => i.text).join(',')}]`)),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectOf),
    deepNesting,
  ),
}));

/** Anything but a string. */
const notAString = hostileValue.filter((value) => !value.text.startsWith('"'));

const blank = fc.constantFrom('', ' ', '\t\n', '\u3000', '\ufeff').map(str);
const tooLong = fc.integer({ min: 4_001, max: 30_000 }).map((n) => str('y'.repeat(n)));
const loneSurrogate = fc.constantFrom(...LONE_SURROGATES).map((s) => str(`hi ${s}`));

const invalidContent = fc.oneof(notAString, blank, tooLong, loneSurrogate);
/** Whether JSON text is a number the server takes as a user id (a non-negative safe integer; `-0` is 0). */
const isUserIdNumber = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  } catch {
    return false;
  }
};

const invalidUserId = fc.oneof(
  notAString.filter((v) => !isUserIdNumber(v.text)),
  blank,
  fc.constantFrom('#x', '\u0001', 'a\u0000b', 'z'.repeat(129), ...LONE_SURROGATES).map(str),
  fc.constantFrom('-1', '1.5', '1e308', '9007199254740993').map(raw),
);
const invalidRoomId = fc.oneof(
  notAString,
  blank,
  fc
    .constantFrom(
      'private_x',
      'group_x',
      'system_x',
      'a b',
      'lobby!',
      'r'.repeat(65),
      'ä',
      ...LONE_SURROGATES,
    )
    .map(str),
);
const invalidGroupId = fc.oneof(
  notAString,
  blank,
  fc.constantFrom('group_', 'group_a b', 'x', '__proto__', 'GROUP_x', `group_${'a'.repeat(65)}`).map(str),
);
const invalidMessageId = fc.oneof(
  notAString,
  fc
    .constantFrom('', 'x', '0'.repeat(25), '0'.repeat(27), 'IIIIIIIIIIIIIIIIIIIIIIIIII', '__proto__')
    .map(str),
);
/** Never an upload of the fuzzer's: a text message with one, or an image with a bad or unknown one. */
const invalidAttachmentId = fc.oneof(
  notAString,
  fc
    .constantFrom('', '../x', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '0'.repeat(65), '__proto__', ...LONE_SURROGATES)
    .map(str),
);
const maybe = (arbitrary: fc.Arbitrary<Json>) => fc.option(arbitrary, { nil: undefined });

/** `data` as an object: hostile extra fields first, then the route's own (JSON keeps the last duplicate). */
function dataObject(fields: Record<string, fc.Arbitrary<Json | undefined>>): fc.Arbitrary<Json> {
  const names = Object.keys(fields);
  return fc
    .tuple(
      fc.array(
        fc.tuple(
          hostileKey.filter((key) => !names.includes(key)),
          hostileValue,
        ),
        { maxLength: 3 },
      ),
      fc.record(fields),
    )
    .map(([extras, own]) =>
      objectOf([
        ...extras,
        ...Object.entries(own).flatMap(([key, value]) => (value ? [[key, value] as const] : [])),
      ]),
    );
}

/** One field of `fields` is replaced by its invalid generator; the others may be valid or anything. */
function oneBroken(
  valid: Record<string, fc.Arbitrary<Json | undefined>>,
  broken: Record<string, fc.Arbitrary<Json | undefined>>,
): fc.Arbitrary<Json> {
  return fc.oneof(
    ...Object.entries(broken).map(([name, invalid]) => dataObject({ ...valid, [name]: invalid })),
  );
}

const GROUP_PLACEHOLDER = '@@GROUP@@';
const validUser = fc.constantFrom(str('buddy'), raw('42'));
const validContent = fc.constantFrom(str('hello'), str('\u{1f600}'), str('zwj\u200dtext'));
const validType = maybe(fc.constantFrom(raw('1'), raw('5')));

/** A message id that names nothing (well-formed, but no such message). */
const MISSING_MESSAGE = str('01ARZ3NDEKTSV4RRFFQ69G5FAV');
/** `reply_to`: malformed, or a message of no conversation. */
const invalidReplyTo = fc.oneof(invalidMessageId, fc.constant(MISSING_MESSAGE));
const conversations = fc.constantFrom(str('private_buddy_fuzzer'), str('lobby'), str(GROUP_PLACEHOLDER));
const invalidEmoji = fc.oneof(
  notAString,
  fc
    .constantFrom('', ' ', 'a b', 'x'.repeat(33), '\u{1f600}'.repeat(33), '\n', '\u0000', ...LONE_SURROGATES)
    .map(str),
);
/** `react` / `unreact`: a well-formed message id names nothing, so every frame is refused. */
const reactionData = oneBroken(
  { room_id: conversations, message_id: fc.constant(MISSING_MESSAGE), emoji: fc.constant(str('\u{1f44d}')) },
  { room_id: maybe(invalidRoomId), message_id: maybe(invalidMessageId), emoji: maybe(invalidEmoji) },
);

/**
 * Per route: data that must be refused, and the codes the refusal may carry. `data`
 * itself is sometimes not an object at all.
 */
const routes: Record<string, { data: fc.Arbitrary<Json>; ok?: true }> = {
  send_message: {
    data: oneBroken(
      {
        to_user_id: validUser,
        content: validContent,
        message_type: validType,
        client_msg_id: maybe(fc.constant(str('c1'))),
      },
      {
        to_user_id: maybe(invalidUserId),
        content: maybe(invalidContent),
        reply_to: invalidReplyTo,
        attachment_id: invalidAttachmentId,
      },
    ),
  },
  send_group_message: {
    data: oneBroken(
      { group_id: fc.constant(str(GROUP_PLACEHOLDER)), content: validContent, message_type: validType },
      {
        group_id: maybe(invalidGroupId),
        content: maybe(invalidContent),
        reply_to: invalidReplyTo,
        attachment_id: invalidAttachmentId,
      },
    ),
  },
  create_group: {
    data: oneBroken(
      { group_name: fc.constant(str('g')), member_ids: fc.constant(raw('["buddy"]')) },
      {
        group_name: maybe(
          fc.oneof(
            notAString,
            blank,
            fc.constantFrom('n'.repeat(101)).map(str),
            fc.constantFrom(...LONE_SURROGATES).map(str),
          ),
        ),
        member_ids: maybe(
          fc.oneof(
            notAString.filter((v) => !v.text.startsWith('[')),
            fc.constant(raw('[]')),
            fc
              .array(invalidUserId, { minLength: 1, maxLength: 3 })
              .map((ids) => raw(`[${ids.map((i) => i.text).join(',')}]`)),
          ),
        ),
      },
    ),
  },
  // The group life cycle: the fuzzer owns GROUP_PLACEHOLDER; one field is always broken.
  list_groups: {
    data: oneBroken(
      {},
      {
        limit: fc.constantFrom('0', '-1', '51', '1.5', '"10"', 'true', '[]', '{}', 'null').map(raw),
        cursor: fc.oneof(
          fc.constantFrom('', '!!!', 'x'.repeat(300), 'Z3JvdXBfIQ').map(str),
          fc.constantFrom('1', 'true', '[]', '{}', 'null').map(raw),
        ),
      },
    ),
  },
  group_info: { data: oneBroken({}, { group_id: maybe(invalidGroupId) }) },
  add_group_members: {
    data: oneBroken(
      { group_id: fc.constant(str(GROUP_PLACEHOLDER)), member_ids: fc.constant(raw('["newcomer"]')) },
      {
        group_id: maybe(invalidGroupId),
        member_ids: maybe(
          fc.oneof(
            notAString.filter((v) => !v.text.startsWith('[')),
            fc.constant(raw('[]')),
            fc
              .array(invalidUserId, { minLength: 1, maxLength: 3 })
              .map((ids) => raw(`[${ids.map((i) => i.text).join(',')}]`)),
          ),
        ),
      },
    ),
  },
  remove_group_member: {
    data: oneBroken(
      { group_id: fc.constant(str(GROUP_PLACEHOLDER)), user_id: validUser },
      { group_id: maybe(invalidGroupId), user_id: maybe(invalidUserId) },
    ),
  },
  leave_group: { data: oneBroken({}, { group_id: maybe(invalidGroupId) }) },
  update_group: {
    data: oneBroken(
      { group_id: fc.constant(str(GROUP_PLACEHOLDER)), group_name: fc.constant(str('renamed')) },
      {
        group_id: maybe(invalidGroupId),
        group_name: maybe(
          fc.oneof(
            notAString,
            blank,
            fc.constantFrom('n'.repeat(101)).map(str),
            fc.constantFrom(...LONE_SURROGATES).map(str),
          ),
        ),
      },
    ),
  },
  set_group_role: {
    data: oneBroken(
      { group_id: fc.constant(str(GROUP_PLACEHOLDER)), user_id: validUser, role: fc.constant(str('admin')) },
      {
        group_id: maybe(invalidGroupId),
        user_id: maybe(invalidUserId),
        role: maybe(fc.oneof(fc.constantFrom('owner', 'ADMIN', '', 'x').map(str), notAString)),
      },
    ),
  },
  delete_group: { data: oneBroken({}, { group_id: maybe(invalidGroupId) }) },
  // The fuzzer has no invitation: even a well-formed group id is refused (3010).
  accept_group_invite: { data: oneBroken({}, { group_id: maybe(invalidGroupId) }) },
  decline_group_invite: { data: oneBroken({}, { group_id: maybe(invalidGroupId) }) },
  list_group_invites: {
    data: oneBroken(
      {},
      {
        limit: fc.constantFrom('0', '-1', '51', '1.5', '"10"', 'true', '[]', '{}', 'null').map(raw),
        cursor: fc.oneof(
          fc.constantFrom('', '!!!', 'x'.repeat(300), 'Z3JvdXBfIQ').map(str),
          fc.constantFrom('1', 'true', '[]', '{}', 'null').map(raw),
        ),
      },
    ),
  },
  // The fuzzer is not an admin: even a valid message is refused (1403).
  broadcast: { data: dataObject({ message: maybe(fc.oneof(validContent, invalidContent)) }) },
  ping: { data: dataObject({}), ok: true },
  join_room: { data: oneBroken({}, { room_id: maybe(invalidRoomId) }) },
  leave_room: { data: oneBroken({}, { room_id: maybe(invalidRoomId) }) },
  send_room_message: {
    data: oneBroken(
      {
        room_id: fc.constantFrom(str('lobby'), str('nowhere')),
        content: validContent,
        message_type: validType,
      },
      {
        room_id: maybe(invalidRoomId),
        content: maybe(invalidContent),
        reply_to: invalidReplyTo,
        attachment_id: invalidAttachmentId,
      },
    ),
  },
  history: { data: oneBroken({ limit: maybe(hostileValue) }, { room_id: maybe(invalidRoomId) }) },
  sync: {
    data: oneBroken(
      { since: maybe(fc.constantFrom(str(''), raw('null'))) },
      {
        limit: fc.oneof(
          fc.constantFrom('0', '-1', '1.5', '"10"', '-0', '1e-400', 'true', '[]', '{}').map(raw),
          notAString.filter((v) => !/^\d/.test(v.text) && v.text !== 'null'),
        ),
      },
    ),
  },
  mark_read: {
    data: oneBroken(
      { room_id: fc.constantFrom(str('private_buddy_fuzzer'), str('lobby')) },
      { message_id: invalidMessageId },
    ),
  },
  delete_message: {
    data: oneBroken(
      { room_id: fc.constantFrom(str('private_buddy_fuzzer'), str('lobby')) },
      { message_id: invalidMessageId },
    ),
  },
  edit_message: {
    data: oneBroken(
      { room_id: conversations, message_id: fc.constant(MISSING_MESSAGE), content: validContent },
      {
        room_id: maybe(invalidRoomId),
        message_id: maybe(invalidMessageId),
        content: maybe(invalidContent),
      },
    ),
  },
  react: { data: reactionData },
  unreact: { data: reactionData },
  typing: {
    data: oneBroken(
      { room_id: conversations, state: fc.constantFrom(str('start'), str('stop')) },
      {
        room_id: maybe(invalidRoomId),
        state: maybe(fc.oneof(notAString, fc.constantFrom('', 'START', 'typing', ' start').map(str))),
      },
    ),
  },
};

/** `data` that is not an object: refused with the route's "required" or "invalid" code. */
const nonObjectData = fc.oneof(
  fc.constantFrom('[]', '"x"', '0', 'true', '1e400', '[{"content":"hi"}]').map(raw),
  deepNesting.filter((value) => value.text.startsWith('[')),
);

// ---------------------------------------------------------------------------------------

let runtime: LocalRuntime;
let tables: RuntimeTables;
let fuzzer: ChatConnection;
let groupId: string;
let snapshot: Record<string, unknown[]>;
let frameCount = 0;
let requestCounter = 0;

async function snapshotTables(): Promise<Record<string, unknown[]>> {
  const entries = await Promise.all(
    WRITTEN_TABLES.map(async (table) => [table, await tables.scan(table)] as const),
  );
  return Object.fromEntries(entries);
}

before(async () => {
  runtime = await startTestRuntime();
  tables = runtimeTables(runtime);
  fuzzer = await connectWelcomed(runtime, 'fuzzer');
  // State the fuzzed frames could reach: a group the fuzzer is in, a room it joined.
  const created = await sendCommand(fuzzer.client, 'create_group', {
    group_name: 'g',
    member_ids: ['buddy'],
  });
  assert.equal(created.code, 0, JSON.stringify(created));
  groupId = String(created.data?.group_id);
  assert.equal((await sendCommand(fuzzer.client, 'join_room', { room_id: 'lobby' })).code, 0);
  snapshot = await snapshotTables();
});

after(async () => {
  tables?.destroy();
  await runtime?.stop();
});

function assertRefused(reply: FrameJson, expectSuccess: boolean, frame: string): void {
  const shown = frame.length > 300 ? `${frame.slice(0, 300)}… (${frame.length} chars)` : frame;
  assert.equal(typeof reply.code, 'number', `reply has a code; frame ${shown}`);
  assert.notEqual(reply.code, 5000, `no internal error: ${JSON.stringify(reply)}; frame ${shown}`);
  // A refusal for what the frame is, never for load: a 1029 here is a command that never
  // answered (the in-flight bound filled up) or a limit an invalid frame should not reach.
  assert.notEqual(
    reply.code,
    1029,
    `refused for load, not for the frame: ${JSON.stringify(reply)}; frame ${shown}`,
  );
  assert.doesNotMatch(String(reply.message), /internal server error/i, `frame ${shown}`);
  if (expectSuccess) assert.equal(reply.code, 0, `${JSON.stringify(reply)}; frame ${shown}`);
  else assert.notEqual(reply.code, 0, `refused: ${JSON.stringify(reply).slice(0, 300)}; frame ${shown}`);
}

/** Sends a raw text frame with a request id and resolves with its reply. */
async function exchange(
  frameWithoutId: (requestId: string) => string,
  expectSuccess: boolean,
): Promise<void> {
  const requestId = `fz-${++requestCounter}`;
  const frame = frameWithoutId(requestId).replaceAll(GROUP_PLACEHOLDER, groupId);
  if (!fitsInFrame(frame)) return;
  frameCount++;
  fuzzer.client.send(frame);
  const reply = await fuzzer.client.waitFor(
    (f) => f.json?.request_id === requestId,
    10_000,
    `the reply to ${frame.slice(0, 120)}`,
  );
  assertRefused(reply.json as FrameJson, expectSuccess, frame);
}

/** Runs `frames` through `exchange` with bounded concurrency. */
async function runFrames(frames: readonly ((id: string) => string)[], expectSuccess: boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < frames.length) {
      const frame = frames[next++] as (id: string) => string;
      await exchange(frame, expectSuccess);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const sample = <T>(arbitrary: fc.Arbitrary<T>, runs: number): T[] =>
  fc.sample(arbitrary, { numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }) });

/** API Gateway closes the connection (1009) on messages over 128 KB: stay well under it (TestClient.send fragments at 32 KB). */
const MAX_FRAME_BYTES = 120 * 1024;
const fitsInFrame = (text: string) => Buffer.byteLength(text) <= MAX_FRAME_BYTES;

describe('fuzzing every WebSocket route', () => {
  for (const [cmd, route] of Object.entries(routes)) {
    test(`${cmd}: ${RUNS_PER_ROUTE} hostile frames are refused, never 5000`, async () => {
      const data = fc.oneof({ weight: 9, arbitrary: route.data }, { weight: 1, arbitrary: nonObjectData });
      const topLevelExtras = fc.array(
        fc.tuple(
          hostileKey.filter((k) => !['cmd', 'data', 'request_id'].includes(k)),
          hostileValue,
        ),
        { maxLength: 2 },
      );
      const frames = sample(fc.tuple(route.ok ? route.data : data, topLevelExtras), RUNS_PER_ROUTE).map(
        ([value, extras]) =>
          (id: string) =>
            objectOf([...extras, ['cmd', str(cmd)], ['data', value], ['request_id', str(id)]]).text,
      );
      await runFrames(frames, route.ok === true);
      await settle(fuzzer.client);
    });
  }

  test('unknown and malformed cmds answer 1000 / 1001', async () => {
    const known = new Set([...Object.keys(routes), '$connect', '$disconnect', '$default']);
    const cmd = fc.oneof(
      fc
        .string()
        .filter((c) => !known.has(c))
        .map(str),
      fc
        .constantFrom(
          '$default',
          '$connect',
          '$disconnect',
          '__proto__',
          'constructor',
          'SEND_MESSAGE',
          'ping ',
        )
        .map(str),
      notAString,
    );
    const frames = sample(fc.tuple(cmd, hostileValue), RUNS_PER_ROUTE).map(
      ([c, data]) =>
        (id: string) =>
          objectOf([
            ['cmd', c],
            ['data', data],
            ['request_id', str(id)],
          ]).text,
    );
    await runFrames(frames, false);
    await settle(fuzzer.client);
  });

  test('frames that are not a JSON object, and binary frames, answer 1001', async () => {
    const texts = sample(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.constantFrom(
          '',
          'null',
          '[]',
          '"cmd"',
          '{',
          '{"cmd":',
          '1e400',
          '{"cmd":"ping"}}',
          '\ufeff{"cmd":"ping"}',
        ),
        deepNesting.map((j) => j.text),
        hostileValue.filter((v) => !v.text.startsWith('{')).map((v) => v.text),
      ),
      150,
    ).filter((text) => {
      if (!fitsInFrame(text)) return false;
      try {
        const parsed: unknown = JSON.parse(text);
        return typeof parsed !== 'object' || parsed === null || Array.isArray(parsed);
      } catch {
        return true;
      }
    });
    const binaries = sample(fc.uint8Array({ maxLength: 2_000 }), 50).map((bytes) => Buffer.from(bytes));
    binaries.push(Buffer.from(JSON.stringify({ cmd: 'ping', request_id: 'bin' })));
    // Replies to these carry no request_id: one at a time, each followed by its reply.
    for (const message of [...texts, ...binaries]) {
      frameCount++;
      const before = fuzzer.client.frames.length;
      // Text in frames of at most 32 KB (API Gateway's frame limit); binaries are small.
      if (typeof message === 'string') fuzzer.client.send(message);
      else fuzzer.client.socket.send(message, { binary: true });
      const reply = await fuzzer.client.waitFor(
        (f, index = fuzzer.client.frames.indexOf(f)) => index >= before && f.json?.request_id === undefined,
        10_000,
        `the reply to ${String(message).slice(0, 80)}`,
      );
      assert.equal(
        reply.json?.code,
        1001,
        `${JSON.stringify(reply.json)} for ${String(message).slice(0, 80)}`,
      );
    }
    await settle(fuzzer.client);
  });

  test('room ids that are JavaScript property names work as ordinary rooms', async () => {
    for (const roomId of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty']) {
      assert.equal((await sendCommand(fuzzer.client, 'join_room', { room_id: roomId })).code, 0, roomId);
      assert.equal((await sendCommand(fuzzer.client, 'leave_room', { room_id: roomId })).code, 0, roomId);
    }
    snapshot = { ...snapshot, connections: await tables.scan('connections') };
  });
});

describe('fuzzing the HTTP POST bodies', () => {
  test('send-message, broadcast, notify and uploads refuse hostile bodies with 4xx, never 5xx', async () => {
    const token = await tokenFor(runtime, 'fuzzer');
    const upload = oneBroken(
      {
        file_name: fc.constantFrom(str('a.png'), str('\u{1f600}.jpg')),
        content_type: fc.constant(str('image/png')),
        size: fc.constant(raw('10')),
      },
      {
        file_name: maybe(
          fc.oneof(
            notAString,
            blank,
            fc.constantFrom('a/b', 'x'.repeat(256), '\u0000', ...LONE_SURROGATES).map(str),
          ),
        ),
        content_type: maybe(
          fc.oneof(notAString, fc.constantFrom('text/html', 'image/svg+xml', '', 'x'.repeat(300)).map(str)),
        ),
        size: maybe(fc.constantFrom('0', '-1', '1.5', '"10"', '1e400', '26214401', 'null', '[]').map(raw)),
      },
    );
    const body = fc.oneof(
      routes.send_message?.data ?? hostileValue,
      upload,
      dataObject({ message: maybe(fc.oneof(validContent, invalidContent)) }),
      nonObjectData,
      fc.string({ unit: 'binary', maxLength: 200 }).map(raw),
    );
    const paths = fc.constantFrom(
      '/api/ws/send-message',
      '/api/ws/broadcast',
      '/api/ws/notify',
      '/api/ws/uploads',
    );
    const cases = sample(fc.tuple(paths, body), 300);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const [path, json] = cases[next++] as [string, Json];
        const response = await callApi(runtime, 'POST', path, { token, body: json.text }).catch(
          (error: unknown) => {
            throw new Error(`${path} ${json.text.slice(0, 200)}`, { cause: error });
          },
        );
        frameCount++;
        assert.ok(
          response.status >= 400 && response.status < 500,
          `${path} answered ${response.status} ${JSON.stringify(response.body)} to ${json.text.slice(0, 200)}`,
        );
        assert.notEqual(response.body.code, 0);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  });
});

describe('fuzzing the HTTP edits and reactions', () => {
  test('PATCH /api/ws/messages/{id} and POST …/reactions refuse hostile bodies and ids with 4xx, never 5xx', async () => {
    const token = await tokenFor(runtime, 'fuzzer');
    const route = fc.oneof(
      fc.tuple(fc.constant('PATCH' as const), fc.constant(''), routes.edit_message?.data ?? hostileValue),
      fc.tuple(fc.constant('POST' as const), fc.constant('/reactions'), reactionData),
    );
    const messageId = fc.constantFrom(
      JSON.parse(MISSING_MESSAGE.text) as string,
      'x',
      '%F0%9F%98%80',
      '..',
      '%00',
      'a'.repeat(300),
    );
    const cases = sample(fc.tuple(route, messageId), 200);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const [[method, suffix, json], id] = cases[next++] as [['PATCH' | 'POST', string, Json], string];
        const path = `/api/ws/messages/${id}${suffix}`;
        const response = await callApi(runtime, method, path, { token, body: json.text });
        frameCount++;
        assert.ok(
          response.status >= 400 && response.status < 500,
          `${method} ${path} answered ${response.status} ${JSON.stringify(response.body)} to ${json.text.slice(0, 200)}`,
        );
        assert.notEqual(response.body.code, 0);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  });
});

describe('after the run', () => {
  test('the connection still works and nothing was written', async () => {
    await settle(fuzzer.client);
    assert.deepEqual(await snapshotTables(), snapshot);
    const ok = await sendCommand(fuzzer.client, 'send_message', {
      to_user_id: 'buddy',
      content: 'still here',
    });
    assert.equal(ok.code, 0, JSON.stringify(ok));
    assert.ok(frameCount >= 2_500, `${frameCount} frames sent`);
    // Every command answered before the next needed its slot: none was refused for load.
    assert.equal(runtime.webSocketStats().commandsRefused, 0);
  });
});
