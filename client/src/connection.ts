/**
 * One WebSocket connection of a chat session and what hangs on it: the replies it still
 * owes, its timers, and the messages pushed to it before its welcome.
 */
import { ChatError, type CloseReason } from './errors.ts';
import type { ChatClientState } from './events.ts';
import type { Incoming } from './incoming.ts';
import type { ChatClientOptions, TokenSource } from './options.ts';
import type { Timers } from './timers.ts';
import type { Envelope, Welcome } from './types.ts';
import type { WebSocketConstructor, WebSocketLike } from './websocket.ts';

/**
 * primary: the current connection. candidate: its replacement, until welcomed.
 * retiring: replaced, finishing its pending replies before it closes.
 */
export type Role = 'primary' | 'candidate' | 'retiring';

/** A reply the connection still owes. */
export interface Pending {
  readonly cmd: string;
  readonly onReply: (frame: Envelope) => void;
  readonly onLost: () => void;
}

export interface Connection {
  readonly socket: WebSocketLike;
  readonly createdAt: number;
  role: Role;
  opened: boolean;
  welcome: Welcome | undefined;
  /** Catch-up done (or given up once): the outbox may send on it. */
  ready: boolean;
  closed: boolean;
  status: number | undefined;
  readonly pending: Map<string, Pending>;
  readonly timers: Set<unknown>;
  /**
   * Messages pushed before the welcome (the connection is registered before the welcome
   * is posted): held for the catch-up, which must run first.
   */
  early: Incoming[];
}

/** What requests, the outbox and the catch-up may read about the session's connections. */
export interface Session {
  readonly state: ChatClientState;
  /** The primary connection, welcomed or not. */
  readonly current: Connection | undefined;
  /** Before connect() and after the client closed. */
  readonly stopped: boolean;
  readonly closeReason: CloseReason;
}

export function newConnection(socket: WebSocketLike, role: Role, createdAt: number): Connection {
  return {
    socket,
    createdAt,
    role,
    opened: false,
    welcome: undefined,
    ready: false,
    closed: false,
    status: undefined,
    pending: new Map(),
    timers: new Set(),
    early: [],
  };
}

/** The connection, if it can carry commands: open and welcomed. */
export function welcomed(conn: Connection | undefined): Connection | undefined {
  return conn && !conn.closed && conn.welcome ? conn : undefined;
}

/** A timer that dies with the connection. */
export function connTimer(timers: Timers, conn: Connection, callback: () => void, ms: number): void {
  const handle = timers.setTimeout(() => {
    conn.timers.delete(handle);
    if (!conn.closed) callback();
  }, ms);
  conn.timers.add(handle);
}

export function clearConnTimers(timers: Timers, conn: Connection): void {
  for (const handle of conn.timers) timers.clearTimeout(handle);
  conn.timers.clear();
}

/** A token function is called for every connection, so it can hand out a fresh token. */
export async function resolveToken(source: TokenSource): Promise<string> {
  const token = typeof source === 'function' ? await source() : source;
  if (typeof token !== 'string' || token === '') throw new ChatError('the token is empty');
  return token;
}

/** The token goes in the subprotocols (out of URLs and access logs) unless `auth: 'query'`. */
export function openSocket(
  Impl: WebSocketConstructor,
  options: Pick<ChatClientOptions, 'url' | 'auth'>,
  token: string,
): WebSocketLike {
  if (options.auth !== 'query') return new Impl(options.url, ['chat', `bearer.${token}`]);
  const url = new URL(options.url);
  url.searchParams.set('token', token);
  return new Impl(url.toString());
}
