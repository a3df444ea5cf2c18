/**
 * The chat protocol over a TestClient: connect and wait for the welcome push, send a
 * command and wait for the reply that echoes its request_id, and an ordering barrier
 * (a ping and its pong) to check that a frame did NOT arrive without sleeping.
 */
import assert from 'node:assert/strict';
import type { LocalRuntime } from '../../local/runtime.ts';
import { pollUntil } from './http.ts';
import { type FrameJson, type OpenOptions, TestClient } from './local-runtime.ts';
import { runtimeTables } from './runtime-tables.ts';

export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const CONNECTION_ID = /^[A-Za-z0-9+/]{15}=$/;

/** An open connection whose welcome push has arrived. */
export interface ChatConnection {
  readonly client: TestClient;
  readonly userId: string;
  readonly connectionId: string;
  readonly welcome: FrameJson;
}

/** Waits for the welcome push on a client that has just opened. */
export async function welcomed(client: TestClient, timeoutMs?: number): Promise<ChatConnection> {
  const welcome = (await client.waitForType('welcome', timeoutMs)).json as FrameJson;
  const data = welcome.data ?? {};
  return {
    client,
    userId: String(data.user_id),
    connectionId: String(data.connection_id),
    welcome,
  };
}

/** Connects as `userId` (token in `?token=`) and waits for the welcome push. */
export async function connectWelcomed(
  runtime: LocalRuntime,
  userId: string,
  options: OpenOptions & { readonly role?: string; readonly path?: string } = {},
): Promise<ChatConnection> {
  return welcomed(await TestClient.connectAs(runtime, userId, options));
}

let requestCounter = 0;

function nextRequestId(): string {
  return `req-${++requestCounter}`;
}

/**
 * Sends `{cmd, data, request_id}` and resolves with the reply frame (the one echoing the
 * request id). `data` is left out of the frame when it is undefined.
 */
export async function sendCommand(
  client: TestClient,
  cmd: string,
  data?: unknown,
  requestId: string | number = nextRequestId(),
  /** For commands whose work grows with their input (a 500-member group); default DEFAULT_WAIT_MS. */
  waitMs?: number,
): Promise<FrameJson> {
  client.send(data === undefined ? { cmd, request_id: requestId } : { cmd, data, request_id: requestId });
  const reply = await client.waitFor(
    (frame) => frame.json?.request_id === requestId,
    waitMs,
    `the reply to ${cmd} (${requestId})`,
  );
  return reply.json as FrameJson;
}

/**
 * Asserts an error reply: the code, `data: null` and a message. (sendCommand already
 * proved the request id was echoed: it matches the reply on it.)
 */
export function assertErrorReply(reply: FrameJson, code: number, description = ''): void {
  const where = description ? ` (${description})` : '';
  assert.equal(reply.code, code, `code${where}: ${JSON.stringify(reply)}`);
  assert.equal(reply.data, null, `data${where}`);
  assert.equal(typeof reply.message, 'string', `message${where}`);
  assert.notEqual(reply.message, '', `message${where}`);
}

/**
 * Ordering barrier: a ping from this client and its pong. Frames the server wrote to this
 * connection before it answered the ping have arrived once this resolves.
 */
export async function settle(client: TestClient): Promise<void> {
  const pong = await sendCommand(client, 'ping');
  assert.equal(pong.data?.type, 'pong');
}

export type PushData = NonNullable<FrameJson['data']>;

/** The `data` of every push of `type` this client received so far. */
export function pushesOf(client: TestClient, type: string): PushData[] {
  return client.frames.flatMap((frame) => {
    const data = frame.json?.data;
    return data && data.type === type && frame.json?.request_id === undefined ? [data] : [];
  });
}

/** None of `connections` received a push of `type` about `messageId` (checked after a barrier on each). */
export async function assertNotTold(
  type: string,
  messageId: unknown,
  ...connections: ChatConnection[]
): Promise<void> {
  await Promise.all(connections.map((c) => settle(c.client)));
  for (const connection of connections) {
    const told = pushesOf(connection.client, type).filter((p) => p.message_id === messageId);
    assert.deepEqual(told, [], `${connection.userId} ${connection.connectionId} was told`);
  }
}

/** A `where` for nextPush: the push about the message `messageId`. */
export function withMessageId(messageId: unknown): (data: PushData) => boolean {
  return (data) => data.message_id === messageId;
}

/** The `data` of the next push of `type` (and matching `where`), checked to be a success push. */
export async function nextPush(
  client: TestClient,
  type: string,
  where: (data: PushData) => boolean = () => true,
): Promise<PushData> {
  const frame = await client.waitFor(
    (f) => f.json?.data?.type === type && f.json.request_id === undefined && where(f.json.data),
    undefined,
    `a "${type}" push`,
  );
  assert.equal(frame.json?.code, 0);
  assert.equal(frame.json?.message, 'success');
  return frame.json?.data as PushData;
}

/**
 * Closes the connections and waits until `$disconnect` has deleted their rows, so later
 * counts (online users, broadcast recipients) no longer include them.
 */
export async function disconnect(runtime: LocalRuntime, ...connections: ChatConnection[]): Promise<void> {
  await Promise.all(connections.map((connection) => connection.client.close()));
  const tables = runtimeTables(runtime);
  try {
    for (const { connectionId } of connections) {
      await pollUntil(
        () => tables.connectionRow(connectionId),
        (row) => row === undefined,
        `the row of ${connectionId} to be deleted by $disconnect`,
      );
    }
  } finally {
    tables.destroy();
  }
}

/** Asserts an ISO-8601 UTC timestamp, as every `time` field is. */
export function assertIsoTime(value: unknown, description = 'time'): void {
  assert.equal(typeof value, 'string', `${description} is a string`);
  assert.equal(new Date(value as string).toISOString(), value, `${description} is ISO-8601 UTC`);
}
