/**
 * The first call of each function in the `bundles` section (scripts/bench/bundles.ts): the
 * event its handler gets in a fresh process, and how that event is described in
 * docs/performance.md.
 */
import { type FunctionId, webSocketRoutes } from '../../lib/function-specs.ts';

export const BENCH_USER = 'bench-user';
const BENCH_PEER = 'bench-peer';
const BENCH_GROUP = 'group_bench';

/**
 * Each function's first call: the cheapest request that reaches its usual SDK path where
 * that takes no data set up (a message to a user who is offline, a list that is empty, a
 * token to verify), else its cheapest refused input (an unknown group). Described in
 * docs/performance.md by the outcome each function answered. Commands about one message
 * (mark_read, delete_message, edit_message, react, unreact) and typing are refused by
 * validation before any request: their first call omits the first request's cost.
 */
const COMMAND_DATA: Readonly<Record<string, unknown>> = {
  send_message: { to_user_id: BENCH_PEER, content: 'hello' },
  list_groups: {},
  list_group_invites: {},
  list_blocked: {},
  list_conversations: {},
  block_user: { user_id: BENCH_PEER },
  unblock_user: { user_id: BENCH_PEER },
  sync: {},
  ping: {},
  join_room: { room_id: 'bench-room' },
  leave_room: { room_id: 'bench-room' },
  send_room_message: { room_id: 'bench-room', content: 'hello' },
  history: { with_user_id: BENCH_PEER },
  typing: { to_user_id: BENCH_PEER },
  broadcast: { content: 'hello' },
  // A well-formed id of a group that does not exist: refused after the group is read, so
  // the first call sends its request (a malformed id would be refused before any).
  send_group_message: { group_id: BENCH_GROUP, content: 'hello' },
  // Creates a group (each process one more; the runtime is in memory).
  create_group: { group_name: 'bench', member_ids: [BENCH_PEER] },
  group_info: { group_id: BENCH_GROUP },
  leave_group: { group_id: BENCH_GROUP },
  delete_group: { group_id: BENCH_GROUP },
  accept_group_invite: { group_id: BENCH_GROUP },
  decline_group_invite: { group_id: BENCH_GROUP },
  add_group_members: { group_id: BENCH_GROUP, member_ids: [BENCH_PEER] },
  remove_group_member: { group_id: BENCH_GROUP, user_id: BENCH_PEER },
  update_group: { group_id: BENCH_GROUP, group_name: 'bench' },
  set_group_role: { group_id: BENCH_GROUP, user_id: BENCH_PEER, role: 'admin' },
};

function webSocketEvent(routeKey: string, body?: unknown) {
  return {
    requestContext: {
      connectionId: 'bench-connection',
      routeKey,
      eventType: routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE',
      requestId: 'bench-request',
      domainName: 'bench.invalid',
      stage: 'local',
      authorizer: {
        principalId: BENCH_USER,
        userId: BENCH_USER,
        roles: '[]',
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

export function firstCallEvent(id: FunctionId, token: string): unknown {
  switch (id) {
    case 'authorizer':
      return {
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:000000000000:bench/local/$connect',
        headers: {},
        queryStringParameters: { token },
        requestContext: {
          connectionId: 'bench-connection',
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
      // EventBridge's scheduled event: one sweep of every presence shard (empty here).
      return { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };
    case 'welcome':
    case 'fanOutWorker':
      // Asynchronous invocations whose real events need a live connection or a job: refused.
      return {};
    default: {
      const routeKey = Object.entries(webSocketRoutes).find(([, functionId]) => functionId === id)?.[0];
      if (!routeKey) throw new Error(`no first-call event for ${id}`);
      if (routeKey.startsWith('$')) return webSocketEvent(routeKey, routeKey === '$default' ? {} : undefined);
      return webSocketEvent(routeKey, {
        cmd: routeKey,
        data: COMMAND_DATA[routeKey] ?? { group_id: BENCH_GROUP },
        request_id: 'bench',
      });
    }
  }
}

/** `send_message {"to_user_id":…}`, `GET /api/ws/unread`, `$connect`: what the first call was. */
export function describeEvent(event: unknown): string {
  const e = event as {
    type?: string;
    routeKey?: string;
    body?: string;
    requestContext?: { routeKey?: string };
  };
  if (e.type === 'REQUEST') return 'REQUEST authorizer, valid token';
  if ((e as { source?: string }).source === 'aws.events') return 'scheduled event';
  if (e.routeKey) return e.routeKey;
  const routeKey = e.requestContext?.routeKey;
  if (!routeKey) return 'asynchronous invocation, empty event';
  const body = e.body ? (JSON.parse(e.body) as { data?: unknown }) : undefined;
  return body ? `${routeKey} ${JSON.stringify(body.data)}` : routeKey;
}
