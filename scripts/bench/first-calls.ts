/**
 * The first call of each function in the `bundles` section (scripts/bench/bundles.ts): the
 * event its handler gets in a fresh process, the data it needs (seeded before the first
 * process), whether what it answered measured its usual path (`firstCallRefusal`), and
 * how that event is described in docs/performance.md.
 */
import { ADMIN_ROLE } from '../../functions/core/auth/auth.ts';
import { ErrorCode } from '../../functions/core/shared/errors.ts';
import { privateRoomId } from '../../functions/core/shared/ids.ts';
import { type FunctionId, webSocketRoutes } from '../../lib/function-specs.ts';
import { ClientPool, expectSuccess } from './clients.ts';

export const BENCH_USER = 'bench-user';
const BENCH_PEER = 'bench-peer';
const BENCH_GROUP = 'group_bench';
const BENCH_ROOM = 'bench-room';
/** The private conversation of the seeded messages. */
const PRIVATE_ROOM = privateRoomId(BENCH_USER, BENCH_PEER);

/**
 * What the first calls need that exists before them (`seedFirstCalls`, run by
 * scripts/bench/init-runtime.ts against its runtime, with real sockets): a connection of
 * BENCH_USER that stays open (its id is the `connectionId` of every message route), two
 * messages it sent to BENCH_PEER and a room it joined.
 */
export interface FirstCallSeed {
  readonly connectionId: string;
  /** Edited, reacted to, un-reacted and marked read by the first calls. */
  readonly messageId: string;
  /** Deleted by the first `delete_message` (later ones find it deleted: the same success). */
  readonly deletableMessageId: string;
  /** A room the seeded connection joined, for `send_room_message`. */
  readonly memberRoomId: string;
  /** The Management API endpoint (WS_CALLBACK_URL), for the fan-out worker's job. */
  readonly callbackUrl: string;
}

/** What the first-call events are built from: a token of BENCH_USER and the seed. */
export interface FirstCallFixtures {
  readonly token: string;
  readonly seed: FirstCallSeed;
}

/** Placeholders for describing the events in docs/performance.md. */
export const DESCRIBED_FIXTURES: FirstCallFixtures = {
  token: '…',
  seed: {
    connectionId: '(seeded connection)',
    messageId: '(seeded message)',
    deletableMessageId: '(seeded message)',
    memberRoomId: 'bench-room-joined',
    callbackUrl: 'http://127.0.0.1/local',
  },
};

/**
 * How often the seeded connection sends a `ping`: API Gateway (and the local gateway) close a
 * connection after 10 minutes without a frame from its client, and the section runs longer.
 */
const KEEP_ALIVE_MS = 4 * 60_000;

/**
 * Opens BENCH_USER's connection and sends and joins what the first calls need; the
 * connection stays open, pinging as a client does, until `close`.
 */
export async function seedFirstCalls(
  wsUrl: string,
  secret: string,
  callbackUrl: string,
): Promise<{ seed: FirstCallSeed; close: () => Promise<void> }> {
  const clients = new ClientPool(wsUrl, secret);
  const [user] = await clients.open([{ userId: BENCH_USER }]);
  const index = user as number;
  const send = async (content: string) =>
    String(
      expectSuccess(
        await clients.request(index, 'send_message', { to_user_id: BENCH_PEER, content }),
        'seeding a message',
      ).message_id,
    );
  const memberRoomId = DESCRIBED_FIXTURES.seed.memberRoomId;
  expectSuccess(await clients.request(index, 'join_room', { room_id: memberRoomId }), 'seeding a room');
  const seed: FirstCallSeed = {
    connectionId: clients.connectionIdOf(index),
    messageId: await send('edited, reacted to and marked read by the first calls'),
    deletableMessageId: await send('deleted by the first call of delete_message'),
    memberRoomId,
    callbackUrl,
  };
  const keepAlive = setInterval(() => {
    clients.request(index, 'ping', {}).catch(() => {
      // A lost ping shows as the next first calls' 1401, which stops the section.
    });
  }, KEEP_ALIVE_MS);
  const close = async () => {
    clearInterval(keepAlive);
    await clients.closeAll();
  };
  return { seed, close };
}

/** A command's first-call data and, for those refused after their reads, the code they answer. */
interface CommandFixture {
  readonly data: unknown;
  /** The refusal this request gets once it has read the store (an unknown group); none: it succeeds. */
  readonly refusedAfterRead?: number;
}

/**
 * Each command's first call: a valid request that reaches the store, on the seed where it
 * needs data (a message to edit, react to, delete or mark read; a joined room; the private
 * conversation), a message to a user who is offline, an empty list; the group commands
 * address a well-formed id of a group that does not exist, refused after the group is read
 * (so the first call sends its request; a malformed id would be refused before any).
 * `checkFirstCall` fails the bench when one is refused otherwise (by validation, say).
 */
function commandFixtures(seed: FirstCallSeed): Readonly<Record<string, CommandFixture>> {
  const message = { room_id: PRIVATE_ROOM, message_id: seed.messageId };
  const unknownGroup = (data: Record<string, unknown>, code = 1403): CommandFixture => ({
    data: { group_id: BENCH_GROUP, ...data },
    refusedAfterRead: code,
  });
  return {
    send_message: { data: { to_user_id: BENCH_PEER, content: 'hello' } },
    list_groups: { data: {} },
    list_group_invites: { data: {} },
    list_blocked: { data: {} },
    list_conversations: { data: {} },
    block_user: { data: { user_id: BENCH_PEER } },
    unblock_user: { data: { user_id: BENCH_PEER } },
    sync: { data: {} },
    ping: { data: {} },
    join_room: { data: { room_id: BENCH_ROOM } },
    leave_room: { data: { room_id: BENCH_ROOM } },
    send_room_message: { data: { room_id: seed.memberRoomId, content: 'hello' } },
    history: { data: { room_id: PRIVATE_ROOM } },
    typing: { data: { room_id: PRIVATE_ROOM, state: 'start' } },
    // As an admin (the event's authorizer context): to every online user, the seeded connection.
    broadcast: { data: { message: 'hello' } },
    mark_read: { data: message },
    edit_message: { data: { ...message, content: 'edited' } },
    react: { data: { ...message, emoji: '👍' } },
    unreact: { data: { ...message, emoji: '👍' } },
    delete_message: { data: { room_id: PRIVATE_ROOM, message_id: seed.deletableMessageId } },
    // Creates a group (each process one more; the runtime is in memory).
    create_group: { data: { group_name: 'bench', member_ids: [BENCH_PEER] } },
    send_group_message: unknownGroup({ content: 'hello' }),
    group_info: unknownGroup({}),
    leave_group: unknownGroup({}),
    delete_group: unknownGroup({}),
    accept_group_invite: unknownGroup({}, 3010),
    decline_group_invite: unknownGroup({}, 3010),
    add_group_members: unknownGroup({ member_ids: [BENCH_PEER] }),
    remove_group_member: unknownGroup({ user_id: BENCH_PEER }),
    update_group: unknownGroup({ group_name: 'bench' }),
    set_group_role: unknownGroup({ user_id: BENCH_PEER, role: 'admin' }),
  };
}

/** `$connect` and `$disconnect` use a connection of their own: the seeded one stays registered. */
const CONNECT_CONNECTION_ID = 'bench-connection';

function webSocketEvent(
  routeKey: string,
  connectionId: string,
  body?: unknown,
  roles: readonly string[] = [],
) {
  return {
    requestContext: {
      connectionId,
      routeKey,
      eventType: routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
      requestId: 'bench-request',
      domainName: 'bench.invalid',
      stage: 'local',
      authorizer: {
        principalId: BENCH_USER,
        userId: BENCH_USER,
        roles: JSON.stringify(roles),
        tokenExpiresAt: String(2 ** 31),
      },
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

function httpEvent(method: string, path: string, token: string, body?: unknown) {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    requestContext: { http: { method, path }, requestId: 'bench-request', stage: '$default' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
}

function routeKeyOf(id: FunctionId): string | undefined {
  return Object.entries(webSocketRoutes).find(([, functionId]) => functionId === id)?.[0];
}

function commandFixture(id: FunctionId, seed: FirstCallSeed): CommandFixture | undefined {
  const routeKey = routeKeyOf(id);
  if (!routeKey || routeKey.startsWith('$')) return undefined;
  const fixture = commandFixtures(seed)[routeKey];
  if (!fixture)
    throw new Error(`No first-call data for "${routeKey}": add it to scripts/bench/first-calls.ts.`);
  return fixture;
}

/**
 * The event of `id`'s first call. `sequence` numbers the processes, for what must differ
 * between them (the fan-out worker's job id: a part is posted once).
 */
export function firstCallEvent(id: FunctionId, { token, seed }: FirstCallFixtures, sequence = 0): unknown {
  switch (id) {
    case 'authorizer':
      return {
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:000000000000:bench/local/$connect',
        headers: {},
        queryStringParameters: { token },
        requestContext: {
          connectionId: CONNECT_CONNECTION_ID,
          requestId: 'bench-request',
          routeKey: '$connect',
        },
      };
    case 'httpApi':
      return httpEvent('GET', '/api/ws/unread', token);
    case 'createUpload':
      return httpEvent('POST', '/api/ws/uploads', token, {
        file_name: 'bench.png',
        content_type: 'image/png',
        size: 1024,
      });
    case 'sweepConnections':
      // EventBridge's scheduled event: one sweep of every presence shard.
      return { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    case 'welcome':
      // `$connect`'s invocation for the seeded connection, delivered again (as Lambda may):
      // the welcome was posted when it opened, so the claim is found taken.
      return { connectionId: seed.connectionId, userId: BENCH_USER, callbackUrl: seed.callbackUrl };
    case 'fanOutWorker':
      // A chunk job of one recipient, the seeded connection: claimed, then posted.
      return {
        kind: 'chunk',
        id: `bench-job-${sequence}`,
        part: 0,
        callbackUrl: seed.callbackUrl,
        frame: JSON.stringify({ code: 0, type: 'broadcast', data: { content: 'hello' } }),
        ratePerSecond: 100,
        startAt: 0,
        name: 'broadcast',
        recipients: [[seed.connectionId, BENCH_USER]],
      };
    default: {
      const routeKey = routeKeyOf(id);
      if (!routeKey)
        throw new Error(`No first-call event for ${id}: add one to scripts/bench/first-calls.ts.`);
      // `$default` gets a frame naming no route: what it exists to answer (1000).
      if (routeKey === '$default')
        return webSocketEvent(routeKey, seed.connectionId, {
          cmd: 'bench_no_such_command',
          request_id: 'bench',
        });
      if (routeKey.startsWith('$')) return webSocketEvent(routeKey, CONNECT_CONNECTION_ID);
      const fixture = commandFixture(id, seed) as CommandFixture;
      return webSocketEvent(
        routeKey,
        seed.connectionId,
        { cmd: routeKey, data: fixture.data, request_id: 'bench' },
        routeKey === 'broadcast' ? [ADMIN_ROLE] : [],
      );
    }
  }
}

/** The codes a first call may answer besides success: the route's own refusal after its reads. */
function allowedCodes(id: FunctionId): readonly number[] {
  if (routeKeyOf(id) === '$default') return [ErrorCode.unknownCommand];
  const refused = commandFixture(id, DESCRIBED_FIXTURES.seed)?.refusedAfterRead;
  return refused === undefined ? [] : [refused];
}

/**
 * Why `id`'s first call, answered `outcome` (as scripts/bench/bundles.ts prints it: the
 * status code or result, then the frame type and error code), does not measure its usual
 * path, e.g. a request refused by validation before any request to the store; undefined
 * when it does.
 */
export function firstCallRefusal(id: FunctionId, outcome: string): string | undefined {
  const parts = outcome.split(' ');
  if (parts[0] === 'threw') return `it threw ${parts.slice(1).join(' ')}`;
  if (outcome === 'policy Deny') return 'the authorizer denied the token';
  if (['rejected', 'abandoned', 'duplicate'].includes(outcome)) return `the job was ${outcome}`;
  const status = Number(parts[0]);
  if (Number.isInteger(status) && status >= 400) return `HTTP status ${status}`;
  const codes = parts
    .slice(1)
    .map(Number)
    .filter((code) => Number.isInteger(code) && code !== 0);
  const refused = codes.find((code) => !allowedCodes(id).includes(code));
  return refused === undefined ? undefined : `error code ${refused}`;
}

/** `send_message {"to_user_id":…}`, `GET /api/ws/unread`, `$connect`: what the first call was. */
export function describeEvent(event: unknown): string {
  const e = event as {
    type?: string;
    kind?: string;
    recipients?: unknown[];
    connectionId?: string;
    routeKey?: string;
    body?: string;
    requestContext?: { routeKey?: string };
  };
  if (e.type === 'REQUEST') return 'REQUEST authorizer, valid token';
  if ((e as { source?: string }).source === 'aws.events') return 'scheduled event';
  if (e.kind) return `asynchronous invocation: ${e.kind} job, ${e.recipients?.length ?? 0} recipient`;
  if (e.connectionId) return 'asynchronous invocation: welcome of the seeded connection, again';
  if (e.routeKey) return e.routeKey;
  const routeKey = e.requestContext?.routeKey;
  if (!routeKey) return 'asynchronous invocation, empty event';
  const body = e.body ? (JSON.parse(e.body) as { data?: unknown; cmd?: unknown }) : undefined;
  if (routeKey === '$default') return `$default ${JSON.stringify(body?.cmd)}`;
  return body ? `${routeKey} ${JSON.stringify(body.data)}` : routeKey;
}
