/**
 * ChatClient: one logical chat session over a series of WebSocket connections.
 *
 * - commands are correlated with their replies by `request_id` and time out;
 * - the connection is kept alive with `ping`, replaced before API Gateway's 2-hour limit
 *   (the new socket opens before the old one closes) and re-opened with full-jitter
 *   exponential backoff when it drops;
 * - after every (re)connect the client re-joins its rooms and catches up with `sync`
 *   (and `history` for rooms), so the application sees each message once, in order;
 * - sends carry a `client_msg_id` and wait in an outbox while offline; they are resent
 *   with the same id, so the server stores each once.
 *
 * No Node built-ins: runs in browsers and in Node (pass `WebSocket` from `ws` on Node 20).
 */
import { Backoff, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import {
  ChatClosedError,
  ChatConnectionLostError,
  ChatError,
  ChatHandshakeError,
  ChatOutboxFullError,
  ChatRequestError,
  ChatTimeoutError,
  type CloseReason,
} from './errors.ts';
import { normalizeId, randomId, ulidFloor } from './ids.ts';
import { LruSet } from './lru.ts';
import { systemTimers, type Timers } from './timers.ts';
import type {
  BroadcastInput,
  BroadcastPush,
  BroadcastSent,
  ChatMessage,
  CreateGroupInput,
  DeleteMessageInput,
  Envelope,
  GroupCreated,
  GroupMessagePush,
  GroupMessageSent,
  HistoryInput,
  HistoryMessage,
  HistoryPage,
  KickedPush,
  MarkReadInput,
  MessageDeletedPush,
  MessageDeletedReply,
  MessageReadPush,
  MessageSent,
  NewMessagePush,
  Pong,
  PresencePush,
  ReadMarked,
  RoomInput,
  RoomJoined,
  RoomLeft,
  RoomMessagePush,
  RoomMessageSent,
  SendGroupMessageInput,
  SendMessageInput,
  SendRoomMessageInput,
  SyncInput,
  SyncMessage,
  SyncPage,
  SystemNotification,
  SystemNotifyPush,
  UnreadCountPush,
  Welcome,
} from './types.ts';
import { handshakeStatus, OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket.ts';

export type ChatClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export type TokenSource = string | (() => string | Promise<string>);

export interface ReconnectOptions extends BackoffOptions {
  /** A connection that stays up this long resets the backoff; default 30 s. */
  readonly stableAfterMs?: number;
}

export interface OutboxOptions {
  /** Sends that may wait at once; more reject with ChatOutboxFullError. Default 100. */
  readonly maxSize?: number;
  /**
   * Attempts per send that time out or get a retryable error (5000, 10008, 3009, 1029)
   * before it rejects; attempts cut short by a dropped connection do not count. Default 5.
   */
  readonly maxAttempts?: number;
}

export interface ChatClientOptions {
  /** `ws://localhost:8009/` or `wss://{api-id}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly url: string;
  /** A function is called before every (re)connect, so it can hand out a fresh token. */
  readonly token: TokenSource;
  /** Default `subprotocol` (`['chat', 'bearer.<jwt>']`: keeps the token out of URLs and logs). */
  readonly auth?: 'subprotocol' | 'query';
  /** Default `globalThis.WebSocket`; on Node 20 pass `WebSocket` from the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  /** Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** From creating the socket to the welcome push; default 15 s. */
  readonly connectTimeoutMs?: number;
  /** Keep-alive `ping` interval; default 5 min (API Gateway closes idle connections after 10). 0: off. */
  readonly pingIntervalMs?: number;
  /** Replace the connection after this long; default 1 h 55 min (API Gateway's maximum is 2 h). 0: off. */
  readonly maxConnectionAgeMs?: number;
  /** How long a replaced connection may finish its pending requests; default 5 s. */
  readonly overlapGraceMs?: number;
  /** Backoff between reconnect attempts; `false`: never reconnect. */
  readonly reconnect?: false | ReconnectOptions;
  /** For tests: the jitter source (default Math.random). */
  readonly random?: () => number;
  /** For tests: the clock. */
  readonly timers?: Timers;
  /**
   * The sync position to resume from (the last `position` event of an earlier session,
   * persisted by the application); the first connection then catches up from it too.
   */
  readonly since?: string;
  /** Without `since`: catch up on the first connection from the very beginning. Default false. */
  readonly syncFromStart?: boolean;
  /** `sync` page size, 1–100; default 100. */
  readonly syncPageSize?: number;
  /**
   * A second `sync` this long after each catch-up picks up messages that reached the sync
   * index late (docs/architecture.md, known limits). Default 5 s; 0: off.
   */
  readonly resyncDelayMs?: number;
  /** Message ids remembered for de-duplication; default 10,000. */
  readonly dedupeCapacity?: number;
  /** Join rooms again after a reconnect and read what was missed with `history`; default true. */
  readonly rejoinRooms?: boolean;
  /** At most this many missed room messages per room are read after a reconnect; default 100. */
  readonly roomCatchUpLimit?: number;
  /**
   * `false`: no outbox. Sends are then plain requests: they still get a `client_msg_id` and
   * are resent with it when the connection drops before the reply, but they are not kept
   * in order and reject after `requestTimeoutMs` without a connection.
   */
  readonly outbox?: false | OutboxOptions;
}

export interface CatchUpSummary {
  /** The position the catch-up started from (undefined: the beginning). */
  readonly since: string | undefined;
  /** The position afterwards. */
  readonly position: string | undefined;
  /** Messages and notifications delivered by this catch-up (missed ones and live ones held back meanwhile). */
  readonly delivered: number;
}

export interface ChatEvents {
  state: ChatClientState;
  /** Every welcome push: the first connection and each reconnect. */
  welcome: Welcome;
  /** new_message | group_message | room_message, live and from catch-up: each once, in order. */
  message: ChatMessage;
  broadcast: BroadcastPush;
  presence: PresencePush;
  /** Live and from catch-up, each once. */
  system_notify: SystemNotification;
  message_deleted: MessageDeletedPush;
  message_read: MessageReadPush;
  unread_count: UnreadCountPush;
  /** Single-session deployments: signed in elsewhere. The client is closed and does not reconnect. */
  kicked: KickedPush;
  /** The `data` of every push frame of the current connection, raw. */
  push: unknown;
  /** Non-fatal problems: a failed catch-up, a refused reconnect attempt, a throwing listener. */
  error: Error;
  /** The sync position moved: persist it and pass it as `since` to resume after a restart. */
  position: string;
  /** A catch-up finished. */
  synced: CatchUpSummary;
}

export interface RequestOptions {
  /** Default `requestTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * Safe to send again: when the connection drops before the reply, it is resent on the
   * next connection instead of rejecting with ChatConnectionLostError. Default false.
   */
  readonly idempotent?: boolean;
}

export interface PendingSend {
  readonly cmd: SendCommand;
  readonly client_msg_id: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly attempts: number;
}

type SendCommand = 'send_message' | 'send_group_message' | 'send_room_message';
type SendReply = MessageSent | GroupMessageSent | RoomMessageSent;

const DEFAULTS = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 15_000,
  pingIntervalMs: 5 * 60_000,
  maxConnectionAgeMs: 115 * 60_000,
  overlapGraceMs: 5_000,
  stableAfterMs: 30_000,
  syncPageSize: 100,
  resyncDelayMs: 5_000,
  resyncWindowMs: 10_000,
  dedupeCapacity: 10_000,
  roomCatchUpLimit: 100,
  outboxMaxSize: 100,
  outboxMaxAttempts: 5,
  liveBufferLimit: 5_000,
} as const;

/** Error codes after which a send is retried (with the same client_msg_id). */
const RETRYABLE_SEND_CODES = new Set([5000, 10008, 3009, 1029]);
/** The connection is unknown or its token expired: reconnect, then resend. */
const RECONNECT_CODE = 1401;

interface Frame {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly data?: unknown;
  readonly request_id?: unknown;
}

interface Pending {
  readonly cmd: string;
  readonly onReply: (frame: Envelope) => void;
  readonly onLost: () => void;
}

type Role = 'primary' | 'candidate' | 'retiring';

interface Connection {
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

interface Call {
  readonly cmd: string;
  readonly data: unknown;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
  timer: unknown;
  /** Where it waits for its reply. */
  sentOn: { readonly conn: Connection; readonly requestId: string } | undefined;
}

interface OutboxEntry {
  readonly cmd: SendCommand;
  readonly data: Readonly<Record<string, unknown>> & { readonly client_msg_id: string };
  readonly resolve: (reply: SendReply) => void;
  readonly reject: (error: Error) => void;
  attempts: number;
  /** Sent at least once: the server may have stored it already. */
  sent: boolean;
  inFlight: { readonly conn: Connection; readonly requestId: string; readonly timer: unknown } | undefined;
}

/** A message or notification on its way to the application. */
type Incoming =
  | { readonly id: string; readonly event: 'message'; readonly payload: ChatMessage }
  | { readonly id: string; readonly event: 'system_notify'; readonly payload: SystemNotification };

interface CatchUpRun {
  readonly conn: Connection;
  /** Live messages held back while the catch-up runs. */
  buffer: Incoming[];
  /** The greatest position seen from live messages and replies meanwhile. */
  deferred: string | undefined;
  delivered: number;
  readonly since: string | undefined;
  retry: unknown;
}

class Abandoned extends Error {}

function maxId(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a >= b ? a : b;
}

const byId = (a: Incoming, b: Incoming) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `rate limited: … retry after 12 s` → 12,000. */
function retryAfterMs(message: string): number | undefined {
  const match = /retry after (\d+)\s*s/i.exec(message);
  return match?.[1] ? Number(match[1]) * 1000 : undefined;
}

export class ChatClient {
  private readonly options: ChatClientOptions;
  private readonly timers: Timers;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly emitter: Emitter<ChatEvents>;
  private readonly backoff: Backoff;
  private readonly retryBackoff: Backoff;
  private readonly seen: LruSet;
  private readonly requestTimeoutMs: number;
  private readonly reconnectEnabled: boolean;
  private readonly stableAfterMs: number;
  private readonly outboxEnabled: boolean;
  private readonly outboxMaxSize: number;
  private readonly outboxMaxAttempts: number;
  private readonly requestPrefix = randomId().slice(0, 8);

  private currentState: ChatClientState = 'idle';
  private currentUserId: string | undefined;
  private lastWelcome: Welcome | undefined;
  private everWelcomed = false;
  private stopped = true;
  /** Bumped by connect() and close(): async work of an earlier run stops. */
  private run = 0;
  private requestCounter = 0;
  private authFailures = 0;

  private current: Connection | undefined;
  private candidate: Connection | undefined;
  private readonly connections = new Set<Connection>();
  private opening = false;
  private reconnectTimer: unknown;
  private rotationTimer: unknown;
  private resyncTimer: unknown;
  private outboxTimer: unknown;
  private connectWaiter: { resolve: (welcome: Welcome) => void; reject: (error: Error) => void } | undefined;
  private connectPromise: Promise<Welcome> | undefined;

  private readonly waiting: Call[] = [];
  private readonly outbox: OutboxEntry[] = [];
  private outboxSettledWaiters: Array<() => void> = [];

  private position: string | undefined;
  private readonly rooms = new Set<string>();
  private readonly roomPositions = new Map<string, string>();
  private catchUp: CatchUpRun | undefined;

  constructor(options: ChatClientOptions) {
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.WebSocketImpl =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    this.emitter = new Emitter<ChatEvents>((error, event) => {
      if (event === 'error') return;
      this.emitter.emit('error', error instanceof Error ? error : new ChatError(String(error)));
    });
    const reconnect = options.reconnect;
    this.reconnectEnabled = reconnect !== false;
    const random = options.random ?? Math.random;
    this.backoff = new Backoff(reconnect === false ? {} : (reconnect ?? {}), random);
    this.retryBackoff = new Backoff(reconnect === false ? {} : (reconnect ?? {}), random);
    this.stableAfterMs =
      (reconnect === false ? undefined : reconnect?.stableAfterMs) ?? DEFAULTS.stableAfterMs;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.seen = new LruSet(options.dedupeCapacity ?? DEFAULTS.dedupeCapacity);
    this.outboxEnabled = options.outbox !== false;
    const outbox = options.outbox === false ? {} : (options.outbox ?? {});
    this.outboxMaxSize = outbox.maxSize ?? DEFAULTS.outboxMaxSize;
    this.outboxMaxAttempts = Math.max(1, outbox.maxAttempts ?? DEFAULTS.outboxMaxAttempts);
    this.position = options.since ? normalizeId(options.since) : undefined;
  }

  // ------------------------------------------------------------------ public surface

  get state(): ChatClientState {
    return this.currentState;
  }

  /** From the welcome push. */
  get userId(): string | undefined {
    return this.currentUserId;
  }

  /** The current connection's id (from its welcome push). */
  get connectionId(): string | undefined {
    return this.current?.welcome?.connection_id;
  }

  /** The sync position: the greatest private/group/system message id accounted for. Persist it. */
  get lastSeenId(): string | undefined {
    return this.position;
  }

  /** Rooms this client is in and re-joins after a reconnect. */
  get joinedRooms(): string[] {
    return [...this.rooms];
  }

  /** Sends waiting in the outbox (not yet answered), oldest first. */
  get pendingSends(): PendingSend[] {
    return this.outbox.map((entry) => ({
      cmd: entry.cmd,
      client_msg_id: entry.data.client_msg_id,
      data: entry.data,
      attempts: entry.attempts,
    }));
  }

  on<E extends keyof ChatEvents>(event: E, listener: (payload: ChatEvents[E]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Opens the connection; resolves on the welcome push. Failed attempts are retried with
   * backoff (each reported as an `error` event); rejects only when the client closes first
   * (`close()`, a refused token, `kicked`, or a failure with `reconnect: false`). Called
   * while open it returns the current welcome, while reconnecting the next one; after
   * `closed` it starts over, keeping the sync position and the de-duplication memory.
   * Not awaiting it is fine (no unhandled rejection).
   */
  connect(): Promise<Welcome> {
    if (this.currentState === 'open' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    if (this.currentState === 'connecting' || this.currentState === 'reconnecting') {
      // Already on its way: the next welcome.
      return this.connectWaiter && this.connectPromise ? this.connectPromise : this.nextWelcome();
    }
    this.stopped = false;
    this.run++;
    this.backoff.reset();
    this.authFailures = 0;
    const welcome = this.nextWelcome();
    this.setState(this.everWelcomed ? 'reconnecting' : 'connecting');
    void this.openConnection('primary');
    return welcome;
  }

  private nextWelcome(): Promise<Welcome> {
    const promise = new Promise<Welcome>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
    });
    // A fire-and-forget connect() must not end in an unhandled rejection: `state` tells too.
    promise.catch(() => {});
    this.connectPromise = promise;
    return promise;
  }

  /** Closes for good: no reconnect; pending requests and queued sends reject with ChatClosedError. */
  close(): void {
    this.shutdown('closed');
  }

  sendMessage(input: SendMessageInput): Promise<MessageSent> {
    return this.send('send_message', input) as Promise<MessageSent>;
  }

  sendGroupMessage(input: SendGroupMessageInput): Promise<GroupMessageSent> {
    return this.send('send_group_message', input) as Promise<GroupMessageSent>;
  }

  /** The connection must be in the room (`joinRoom`); rooms are re-joined before queued sends go out. */
  sendRoomMessage(input: SendRoomMessageInput): Promise<RoomMessageSent> {
    return this.send('send_room_message', input) as Promise<RoomMessageSent>;
  }

  createGroup(input: CreateGroupInput): Promise<GroupCreated> {
    return this.request<GroupCreated>('create_group', input);
  }

  /** Joins and remembers the room: it is joined again after every reconnect. */
  async joinRoom(input: RoomInput): Promise<RoomJoined> {
    const joined = await this.request<RoomJoined>('join_room', input, { idempotent: true });
    this.rooms.add(joined.room_id);
    if (!this.roomPositions.has(joined.room_id))
      this.roomPositions.set(joined.room_id, ulidFloor(Date.parse(joined.time) || this.timers.now()));
    return joined;
  }

  async leaveRoom(input: RoomInput): Promise<RoomLeft> {
    this.rooms.delete(input.room_id);
    this.roomPositions.delete(input.room_id);
    return this.request<RoomLeft>('leave_room', input, { idempotent: true });
  }

  broadcast(input: BroadcastInput): Promise<BroadcastSent> {
    return this.request<BroadcastSent>('broadcast', input);
  }

  ping(): Promise<Pong> {
    return this.request<Pong>('ping', {}, { idempotent: true });
  }

  /** One page of a conversation, newest first (`next_cursor` for the next older page). */
  history(input: HistoryInput): Promise<HistoryPage> {
    return this.request<HistoryPage>('history', input, { idempotent: true });
  }

  /** One `sync` page. The client already runs sync after every reconnect; this is for custom use. */
  sync(input: SyncInput = {}): Promise<SyncPage> {
    return this.request<SyncPage>('sync', input, { idempotent: true });
  }

  markRead(input: MarkReadInput): Promise<ReadMarked> {
    return this.request<ReadMarked>('mark_read', input, { idempotent: true });
  }

  deleteMessage(input: DeleteMessageInput): Promise<MessageDeletedReply> {
    return this.request<MessageDeletedReply>('delete_message', input, { idempotent: true });
  }

  /**
   * Any command: resolves with the reply's `data`, rejects with ChatRequestError (the
   * server refused it), ChatTimeoutError, ChatConnectionLostError (not `idempotent`, and the
   * connection dropped before the reply) or ChatClosedError. While (re)connecting it waits
   * for the connection, within its timeout.
   */
  request<T = unknown>(cmd: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.currentState === 'closed') {
        reject(new ChatClosedError('closed'));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const call: Call = {
        cmd,
        data,
        idempotent: options.idempotent ?? false,
        timeoutMs,
        resolve: resolve as (data: unknown) => void,
        reject,
        settled: false,
        timer: undefined,
        sentOn: undefined,
      };
      call.timer = this.timers.setTimeout(() => this.timeOutCall(call), timeoutMs);
      const conn = this.readyForCalls();
      if (conn) this.dispatchCall(conn, call);
      else this.waiting.push(call);
    });
  }

  // ------------------------------------------------------------------ calls

  private readyForCalls(): Connection | undefined {
    const conn = this.current;
    return conn && !conn.closed && conn.welcome ? conn : undefined;
  }

  private dispatchCall(conn: Connection, call: Call): void {
    const requestId = this.nextRequestId();
    call.sentOn = { conn, requestId };
    this.sendFrame(conn, call.cmd, call.data, requestId, {
      cmd: call.cmd,
      onReply: (frame) => {
        call.sentOn = undefined;
        if (frame.code === 0) this.settleCall(call, undefined, frame.data);
        else this.settleCall(call, new ChatRequestError(frame.code, frame.message, requestId, call.cmd));
      },
      onLost: () => {
        call.sentOn = undefined;
        if (call.settled) return;
        if (this.stopped) return this.settleCall(call, new ChatClosedError(this.closeReason));
        if (!call.idempotent) return this.settleCall(call, new ChatConnectionLostError(call.cmd, requestId));
        const next = this.readyForCalls();
        if (next && next !== conn) this.dispatchCall(next, call);
        else this.waiting.push(call);
      },
    });
  }

  private settleCall(call: Call, error: Error | undefined, data?: unknown): void {
    if (call.settled) return;
    call.settled = true;
    this.timers.clearTimeout(call.timer);
    if (error) call.reject(error);
    else call.resolve(data);
  }

  private timeOutCall(call: Call): void {
    if (call.settled) return;
    const index = this.waiting.indexOf(call);
    if (index >= 0) this.waiting.splice(index, 1);
    const sent = call.sentOn;
    if (sent) sent.conn.pending.delete(sent.requestId);
    this.settleCall(call, new ChatTimeoutError(call.cmd, call.timeoutMs, sent?.requestId));
  }

  private flushWaiting(conn: Connection): void {
    const calls = this.waiting.splice(0);
    for (const call of calls) if (!call.settled) this.dispatchCall(conn, call);
  }

  /** A request on one connection (catch-up, keep-alive): rejects when that connection drops. */
  private requestOn<T>(conn: Connection, cmd: string, data: unknown, timeoutMs = this.requestTimeoutMs) {
    return new Promise<T>((resolve, reject) => {
      const requestId = this.nextRequestId();
      let settled = false;
      const timer = this.timers.setTimeout(() => {
        if (settled) return;
        settled = true;
        conn.pending.delete(requestId);
        reject(new ChatTimeoutError(cmd, timeoutMs, requestId));
      }, timeoutMs);
      this.sendFrame(conn, cmd, data, requestId, {
        cmd,
        onReply: (frame) => {
          if (settled) return;
          settled = true;
          this.timers.clearTimeout(timer);
          if (frame.code === 0) resolve(frame.data as T);
          else reject(new ChatRequestError(frame.code, frame.message, requestId, cmd));
        },
        onLost: () => {
          if (settled) return;
          settled = true;
          this.timers.clearTimeout(timer);
          reject(new ChatConnectionLostError(cmd, requestId));
        },
      });
    });
  }

  private nextRequestId(): string {
    return `${this.requestPrefix}-${++this.requestCounter}`;
  }

  /** Registers the pending reply, then writes the frame; a failed write drops the connection. */
  private sendFrame(conn: Connection, cmd: string, data: unknown, requestId: string, pending: Pending): void {
    if (conn.closed) {
      pending.onLost();
      return;
    }
    conn.pending.set(requestId, pending);
    const frame = data === undefined ? { cmd, request_id: requestId } : { cmd, data, request_id: requestId };
    try {
      if (conn.socket.readyState !== OPEN) throw new ChatError('the socket is not open');
      conn.socket.send(JSON.stringify(frame));
    } catch (error) {
      this.emitError(new ChatError(`could not send ${cmd}`, { cause: error }));
      this.dropConnection(conn);
    }
  }

  // ------------------------------------------------------------------ outbox

  private send(cmd: SendCommand, input: object): Promise<SendReply> {
    const given = (input as { client_msg_id?: unknown }).client_msg_id;
    const data = {
      ...input,
      client_msg_id: typeof given === 'string' && given !== '' ? given : randomId(),
    };
    if (!this.outboxEnabled)
      return this.request<SendReply>(cmd, data, { idempotent: true }).then((reply) => {
        this.noteSent(reply);
        return reply;
      });
    return new Promise<SendReply>((resolve, reject) => {
      if (this.currentState === 'closed') return reject(new ChatClosedError('closed'));
      if (this.outbox.length >= this.outboxMaxSize)
        return reject(new ChatOutboxFullError(this.outboxMaxSize));
      this.outbox.push({
        cmd,
        data,
        resolve: (reply) => {
          this.noteSent(reply);
          resolve(reply);
        },
        reject,
        attempts: 0,
        sent: false,
        inFlight: undefined,
      });
      this.pumpOutbox();
    });
  }

  /**
   * Sends the head of the outbox when a ready connection is there; one send at a time, in
   * order. `uncertainOnly`: before a catch-up, only a head that was sent before (and may be
   * stored already) goes out, so its reply marks it as ours before `sync` lists it.
   */
  private pumpOutbox(uncertainOnly = false): void {
    const head = this.outbox[0];
    if (!head || head.inFlight || this.outboxTimer !== undefined) return;
    const conn = this.current;
    if (!conn || conn.closed || !conn.welcome) return;
    if (!conn.ready && !(uncertainOnly && head.sent)) return;
    head.attempts++;
    head.sent = true;
    const requestId = this.nextRequestId();
    const timer = this.timers.setTimeout(() => this.outboxAttemptTimedOut(head), this.requestTimeoutMs);
    head.inFlight = { conn, requestId, timer };
    this.sendFrame(conn, head.cmd, head.data, requestId, {
      cmd: head.cmd,
      onReply: (frame) => this.outboxReply(head, frame),
      onLost: () => {
        if (head.inFlight?.requestId !== requestId) return;
        // A dropped connection is not the message's fault: the attempt does not count.
        head.attempts--;
        this.endAttempt(head);
        if (this.stopped) return;
        this.pumpOutbox();
      },
    });
  }

  private endAttempt(entry: OutboxEntry): void {
    if (entry.inFlight) this.timers.clearTimeout(entry.inFlight.timer);
    entry.inFlight = undefined;
    const waiters = this.outboxSettledWaiters;
    this.outboxSettledWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private finishEntry(entry: OutboxEntry, error: Error | undefined, reply?: SendReply): void {
    const index = this.outbox.indexOf(entry);
    if (index >= 0) this.outbox.splice(index, 1);
    if (error) entry.reject(error);
    else if (reply) entry.resolve(reply);
  }

  private outboxReply(entry: OutboxEntry, frame: Envelope): void {
    const conn = entry.inFlight?.conn;
    const requestId = entry.inFlight?.requestId;
    this.endAttempt(entry);
    if (frame.code === 0) {
      this.retryBackoff.reset();
      this.finishEntry(entry, undefined, frame.data as SendReply);
      this.pumpOutbox();
      return;
    }
    const error = new ChatRequestError(frame.code, frame.message, requestId, entry.cmd);
    if (frame.code === RECONNECT_CODE) {
      // The connection is unknown or its token expired: resend on a new connection.
      entry.attempts--;
      if (conn) this.dropConnection(conn);
      return;
    }
    if (RETRYABLE_SEND_CODES.has(frame.code) && entry.attempts < this.outboxMaxAttempts) {
      const delay = retryAfterMs(frame.message) ?? this.retryBackoff.next();
      this.outboxTimer = this.timers.setTimeout(() => {
        this.outboxTimer = undefined;
        this.pumpOutbox();
      }, delay);
      return;
    }
    this.finishEntry(entry, error);
    this.pumpOutbox();
  }

  private outboxAttemptTimedOut(entry: OutboxEntry): void {
    const inFlight = entry.inFlight;
    if (!inFlight) return;
    inFlight.conn.pending.delete(inFlight.requestId);
    this.endAttempt(entry);
    if (entry.attempts >= this.outboxMaxAttempts) {
      this.finishEntry(entry, new ChatTimeoutError(entry.cmd, this.requestTimeoutMs, inFlight.requestId));
    }
    // Otherwise the same client_msg_id goes out again: the server stores it once.
    this.pumpOutbox();
  }

  /** Resolves when no send is waiting for its reply (so its message cannot show up in a sync page unannounced). */
  private outboxSettled(): Promise<void> {
    if (!this.outbox.some((entry) => entry.inFlight)) return Promise.resolve();
    return new Promise((resolve) => this.outboxSettledWaiters.push(resolve));
  }

  /** The application has this message through the send's promise: never emit it as `message`. */
  private noteSent(reply: SendReply): void {
    if (!isObject(reply) || typeof reply.message_id !== 'string') return;
    const id = normalizeId(reply.message_id);
    this.seen.add(id);
    if (reply.type === 'room_message_sent') this.advanceRoom(reply.room_id, id);
    else this.notePosition(id);
  }

  // ------------------------------------------------------------------ connections

  private async openConnection(role: 'primary' | 'candidate'): Promise<void> {
    if (this.opening) return;
    this.opening = true;
    const run = this.run;
    let token: string;
    try {
      token = await this.resolveToken();
    } catch (error) {
      this.opening = false;
      if (run !== this.run || this.stopped) return;
      this.emitError(new ChatError('could not get a token', { cause: error }));
      if (role === 'candidate') this.scheduleRotation();
      else this.afterFailure(undefined);
      return;
    } finally {
      this.opening = false;
    }
    if (run !== this.run || this.stopped) return;
    if (role === 'candidate' && (!this.current || this.current.closed)) role = 'primary';
    if (role === 'primary' && this.current && !this.current.closed) return;

    const Impl = this.WebSocketImpl;
    if (!Impl) {
      this.emitError(
        new ChatError('no WebSocket implementation: pass `WebSocket` (e.g. from the ws package)'),
      );
      this.shutdown('failed');
      return;
    }
    let socket: WebSocketLike;
    try {
      socket =
        this.options.auth === 'query'
          ? new Impl(this.urlWithToken(token))
          : new Impl(this.options.url, ['chat', `bearer.${token}`]);
    } catch (error) {
      this.emitError(new ChatError('could not create the WebSocket', { cause: error }));
      if (role === 'candidate') this.scheduleRotation();
      else this.afterFailure(undefined);
      return;
    }
    const conn: Connection = {
      socket,
      createdAt: this.timers.now(),
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
    this.connections.add(conn);
    if (role === 'primary') this.current = conn;
    else this.candidate = conn;

    socket.addEventListener('open', () => {
      if (!conn.closed) conn.opened = true;
    });
    socket.addEventListener('message', (event) => {
      if (!conn.closed) this.onFrame(conn, event.data);
    });
    socket.addEventListener('error', (event) => {
      conn.status ??= handshakeStatus(event);
    });
    socket.addEventListener('close', () => this.connectionClosed(conn));
    this.connTimer(
      conn,
      () => {
        if (!conn.welcome) {
          this.emitError(new ChatError('no welcome push within the connect timeout'));
          this.dropConnection(conn);
        }
      },
      this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    );
  }

  private async resolveToken(): Promise<string> {
    const source = this.options.token;
    const token = typeof source === 'function' ? await source() : source;
    if (typeof token !== 'string' || token === '') throw new ChatError('the token is empty');
    return token;
  }

  private urlWithToken(token: string): string {
    const url = new URL(this.options.url);
    url.searchParams.set('token', token);
    return url.toString();
  }

  private connTimer(conn: Connection, callback: () => void, ms: number): void {
    const handle = this.timers.setTimeout(() => {
      conn.timers.delete(handle);
      if (!conn.closed) callback();
    }, ms);
    conn.timers.add(handle);
  }

  private clearConnTimers(conn: Connection): void {
    for (const handle of conn.timers) this.timers.clearTimeout(handle);
    conn.timers.clear();
  }

  /** Closes the socket ourselves and handles it as closed now (a dead socket may take long to report it). */
  private dropConnection(conn: Connection, code = 4000, reason = 'client dropped the connection'): void {
    if (conn.closed) return;
    try {
      conn.socket.close(code, reason);
    } catch {
      // Already closing.
    }
    this.connectionClosed(conn);
  }

  private connectionClosed(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    this.clearConnTimers(conn);
    const pending = [...conn.pending.values()];
    conn.pending.clear();
    const role = conn.role;
    if (role === 'primary' && this.current === conn) {
      this.current = undefined;
      if (this.catchUp?.conn === conn) this.abandonCatchUp();
    }
    if (role === 'candidate' && this.candidate === conn) this.candidate = undefined;
    for (const entry of pending) entry.onLost();
    if (this.stopped) return;

    if (role === 'retiring') return;
    if (role === 'candidate') {
      if (this.current && !this.current.closed) this.scheduleRotation();
      else this.afterFailure(conn);
      return;
    }
    // The primary connection.
    if (this.candidate && !this.candidate.closed) {
      // A replacement is on its way (rotation; in single-session mode its $connect closes
      // this one): wait for its welcome. Commands wait meanwhile; no visible reconnect
      // unless the replacement fails too.
      return;
    }
    this.afterFailure(conn);
  }

  /** A connection attempt failed or a connection ended: reconnect, or give up. */
  private afterFailure(conn: Connection | undefined): void {
    if (this.stopped) return;
    if (conn && !conn.opened) {
      const status = conn.status;
      if (status === 401) {
        this.authFailures++;
        // A token function may hand out a fresh token: try once more, at once.
        if (typeof this.options.token === 'function' && this.authFailures === 1) {
          this.setState(this.everWelcomed ? 'reconnecting' : 'connecting');
          void this.openConnection('primary');
          return;
        }
        this.shutdown('unauthorized');
        return;
      }
      if (status === 403) {
        this.shutdown('forbidden');
        return;
      }
      this.emitError(new ChatHandshakeError(status));
    }
    if (!this.reconnectEnabled) {
      this.shutdown('failed');
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.setState(this.everWelcomed ? 'reconnecting' : 'connecting');
    if (this.reconnectTimer !== undefined) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) void this.openConnection('primary');
    }, delay);
  }

  /** Opens a replacement connection while the current one still works (before the 2-hour limit). */
  private startRotation(): void {
    if (this.stopped || this.candidate || !this.current || this.current.closed) return;
    void this.openConnection('candidate');
  }

  private scheduleRotation(): void {
    if (this.stopped || this.rotationTimer !== undefined) return;
    this.rotationTimer = this.timers.setTimeout(() => {
      this.rotationTimer = undefined;
      this.startRotation();
    }, this.retryBackoff.next());
  }

  /** The old connection after a rotation: finishes its pending requests, then closes. */
  private retire(conn: Connection): void {
    conn.role = 'retiring';
    this.clearConnTimers(conn);
    if (conn.pending.size === 0) {
      this.dropConnection(conn, 1000, 'replaced');
      return;
    }
    this.connTimer(
      conn,
      () => this.dropConnection(conn, 1000, 'replaced'),
      this.options.overlapGraceMs ?? DEFAULTS.overlapGraceMs,
    );
  }

  private shutdown(reason: CloseReason): void {
    if (this.currentState === 'closed' && this.stopped) return;
    this.stopped = true;
    this.closeReason = reason;
    this.run++;
    for (const timer of [this.reconnectTimer, this.rotationTimer, this.resyncTimer, this.outboxTimer])
      this.timers.clearTimeout(timer);
    this.reconnectTimer = this.rotationTimer = this.resyncTimer = this.outboxTimer = undefined;
    this.abandonCatchUp();
    for (const conn of [...this.connections]) this.dropConnection(conn, 1000, 'client closed');
    this.current = this.candidate = undefined;
    const error = () => new ChatClosedError(reason);
    for (const call of this.waiting.splice(0)) this.settleCall(call, error());
    for (const entry of this.outbox.splice(0)) {
      this.endAttempt(entry);
      entry.reject(error());
    }
    this.setState('closed');
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    this.connectPromise = undefined;
    waiter?.reject(error());
  }

  private closeReason: CloseReason = 'closed';

  // ------------------------------------------------------------------ frames

  private onFrame(conn: Connection, raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: Frame;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!isObject(parsed)) return;
      frame = parsed;
    } catch {
      this.emitError(new ChatError('a frame that is not JSON'));
      return;
    }
    const code = typeof frame.code === 'number' ? frame.code : -1;
    const envelope: Envelope = {
      code,
      message: typeof frame.message === 'string' ? frame.message : '',
      data: frame.data ?? null,
    };
    if (frame.request_id !== undefined && frame.request_id !== null) {
      const requestId = String(frame.request_id);
      const pending = conn.pending.get(requestId);
      if (!pending) return; // a late reply (after its timeout) or not ours
      conn.pending.delete(requestId);
      pending.onReply({ ...envelope, request_id: requestId });
      if (conn.role === 'retiring' && conn.pending.size === 0) this.dropConnection(conn, 1000, 'replaced');
      return;
    }
    if (code !== 0) {
      this.emitError(new ChatRequestError(code, envelope.message));
      return;
    }
    if (isObject(envelope.data) && typeof envelope.data.type === 'string') this.onPush(conn, envelope.data);
  }

  private onPush(conn: Connection, data: Record<string, unknown>): void {
    const type = data.type as string;
    if (type === 'welcome') {
      this.onWelcome(conn, data as unknown as Welcome);
      return;
    }
    const primary = conn === this.current && conn.role === 'primary';
    const carriesId =
      type === 'new_message' ||
      type === 'group_message' ||
      type === 'room_message' ||
      type === 'system_notify';
    // During a rotation both connections get the same pushes: messages are de-duplicated
    // by id; other pushes count only from the current connection.
    if (!primary && !carriesId) return;
    if (primary) this.emitter.emit('push', data);
    switch (type) {
      case 'new_message':
        this.ingest(conn, fromNewMessage(data as unknown as NewMessagePush));
        return;
      case 'group_message':
        this.ingest(conn, fromGroupMessage(data as unknown as GroupMessagePush));
        return;
      case 'room_message':
        this.ingest(conn, fromRoomMessage(data as unknown as RoomMessagePush, false));
        return;
      case 'system_notify':
        this.ingest(conn, fromSystemNotify(data as unknown as SystemNotifyPush));
        return;
      case 'kicked':
        // Our own replacement connection kicks this one in single-session mode: not a real kick.
        if (this.candidate) return;
        this.emitter.emit('kicked', data as unknown as KickedPush);
        this.shutdown('kicked');
        return;
      case 'broadcast':
      case 'presence':
      case 'message_deleted':
      case 'message_read':
      case 'unread_count':
        this.emitter.emit(type, data as never);
        return;
      default:
        return;
    }
  }

  private onWelcome(conn: Connection, welcome: Welcome): void {
    if (conn.closed || conn.welcome) return;
    conn.welcome = welcome;
    if (conn.role === 'candidate') {
      const old = this.current;
      conn.role = 'primary';
      this.current = conn;
      this.candidate = undefined;
      if (old && !old.closed) this.retire(old);
    } else if (conn !== this.current) {
      return;
    }
    this.clearConnTimers(conn);
    this.authFailures = 0;
    this.currentUserId = welcome.user_id;
    this.lastWelcome = welcome;
    const first = !this.everWelcomed;
    this.everWelcomed = true;
    const welcomedAt = Date.parse(welcome.time) || this.timers.now();

    this.connTimer(conn, () => this.backoff.reset(), this.stableAfterMs);
    this.schedulePing(conn);
    const maxAge = this.options.maxConnectionAgeMs ?? DEFAULTS.maxConnectionAgeMs;
    if (maxAge > 0) {
      const age = this.timers.now() - conn.createdAt;
      this.connTimer(conn, () => this.startRotation(), Math.max(0, maxAge - age));
    }

    this.setState('open');
    this.emitter.emit('push', welcome);
    this.emitter.emit('welcome', welcome);
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    waiter?.resolve(welcome);

    this.flushWaiting(conn);
    let since = this.position;
    const catchUp = since !== undefined || (first && this.options.syncFromStart === true);
    if (since === undefined && !catchUp) {
      // Nothing seen yet: everything from now on is pushed live, and this is where a later catch-up starts.
      since = ulidFloor(welcomedAt);
      this.advancePosition(since);
    }
    void this.recover(conn, catchUp, welcomedAt);
  }

  private schedulePing(conn: Connection): void {
    const interval = this.options.pingIntervalMs ?? DEFAULTS.pingIntervalMs;
    if (!(interval > 0)) return;
    this.connTimer(
      conn,
      () => {
        this.requestOn<Pong>(conn, 'ping', {}).then(
          () => this.schedulePing(conn),
          (error: unknown) => {
            if (conn.closed) return;
            // No pong: the connection is dead even if the socket has not noticed yet.
            this.emitError(new ChatError('keep-alive ping failed; reconnecting', { cause: error }));
            this.dropConnection(conn);
          },
        );
      },
      interval,
    );
  }

  // ------------------------------------------------------------------ catch-up

  /** After a welcome: re-join rooms, catch up, then let the outbox send. */
  private async recover(conn: Connection, sync: boolean, welcomedAt: number): Promise<void> {
    const rooms = this.options.rejoinRooms === false ? [] : [...this.rooms];
    // Live messages held so far: pushed before the welcome, or held by a catch-up that a
    // rotation interrupted. They are merged into this catch-up (or delivered now).
    const held = [...(this.catchUp?.buffer ?? []), ...conn.early];
    conn.early = [];
    this.abandonCatchUp();
    if (!sync && rooms.length === 0) {
      for (const item of held.sort(byId)) this.deliver(item);
      conn.ready = true;
      this.pumpOutbox();
      return;
    }
    const run: CatchUpRun = {
      conn,
      buffer: held,
      deferred: undefined,
      delivered: 0,
      since: this.position,
      retry: undefined,
    };
    this.catchUp = run;
    await this.runCatchUp(run, sync, rooms, welcomedAt);
  }

  private async runCatchUp(run: CatchUpRun, sync: boolean, rooms: string[], welcomedAt: number) {
    const { conn } = run;
    try {
      await Promise.all(rooms.map((room) => this.rejoin(conn, room)));
      this.checkRun(run);
      if (sync) {
        // A send cut off by the drop may be stored already: resend it first (same
        // client_msg_id), so its reply tells us it is ours before sync lists it.
        this.pumpOutbox(true);
        await this.outboxSettled();
        this.checkRun(run);
        await this.syncPages(run, this.position);
      }
      for (const room of rooms) if (this.rooms.has(room)) await this.roomCatchUp(run, room);
      this.checkRun(run);
      this.finishCatchUp(run);
      if (sync) this.scheduleResync(conn, run.since, welcomedAt);
    } catch (error) {
      if (error instanceof Abandoned || this.catchUp !== run || conn.closed) return;
      this.emitError(new ChatError('catch-up failed; retrying', { cause: error }));
      // Let queued sends go out meanwhile; live messages stay held back until the catch-up succeeds.
      conn.ready = true;
      this.pumpOutbox();
      run.retry = this.timers.setTimeout(() => {
        run.retry = undefined;
        if (this.catchUp === run && !conn.closed) void this.runCatchUp(run, sync, rooms, welcomedAt);
      }, this.retryBackoff.next());
    }
  }

  private checkRun(run: CatchUpRun): void {
    if (this.catchUp !== run || run.conn.closed || this.stopped) throw new Abandoned();
  }

  private async rejoin(conn: Connection, room: string): Promise<void> {
    try {
      await this.requestOn<RoomJoined>(conn, 'join_room', { room_id: room });
    } catch (error) {
      if (error instanceof ChatRequestError && error.code !== RECONNECT_CODE) {
        // Refused for good (e.g. too many rooms): forget it.
        this.rooms.delete(room);
        this.roomPositions.delete(room);
        this.emitError(new ChatError(`could not re-join room ${room}`, { cause: error }));
        return;
      }
      throw error;
    }
  }

  private async syncPages(run: CatchUpRun, since: string | undefined): Promise<void> {
    const limit = this.options.syncPageSize ?? DEFAULTS.syncPageSize;
    let cursor = since;
    for (let pages = 0; ; pages++) {
      const page = await this.requestOn<SyncPage>(
        run.conn,
        'sync',
        cursor ? { since: cursor, limit } : { limit },
      );
      // A send in flight may be in this page before its reply tells us it is ours.
      await this.outboxSettled();
      this.checkRun(run);
      const upTo = page.next_since ? normalizeId(page.next_since) : undefined;
      const items = page.messages.map(fromSyncItem);
      if (upTo !== undefined) {
        // Live messages held back that this page covers go out with it, in id order.
        const covered = run.buffer.filter((item) => !isRoomItem(item) && item.id <= upTo);
        run.buffer = run.buffer.filter((item) => !covered.includes(item));
        items.push(...covered);
      }
      items.sort(byId);
      for (const item of items) if (this.deliver(item)) run.delivered++;
      if (upTo !== undefined) this.advancePosition(upTo);
      if (!page.has_more || upTo === undefined || upTo === cursor) return;
      cursor = upTo;
      if (pages > 100_000) return;
    }
  }

  /** Missed room messages: `history` pages, newest first, back to the last one seen. */
  private async roomCatchUp(run: CatchUpRun, room: string): Promise<void> {
    const limit = this.options.roomCatchUpLimit ?? DEFAULTS.roomCatchUpLimit;
    const seenUpTo = this.roomPositions.get(room);
    const missed: Incoming[] = [];
    let cursor: string | undefined;
    while (limit > 0 && seenUpTo !== undefined && missed.length < limit) {
      const page = await this.requestOn<HistoryPage>(run.conn, 'history', {
        room_id: room,
        limit: Math.min(100, limit - missed.length),
        ...(cursor ? { cursor } : {}),
      });
      this.checkRun(run);
      let reached = false;
      for (const message of page.messages) {
        if (normalizeId(message.message_id) <= seenUpTo) {
          reached = true;
          break;
        }
        missed.push(fromHistoryItem(message));
      }
      if (reached || !page.next_cursor) break;
      cursor = page.next_cursor;
    }
    const live = run.buffer.filter((item) => isRoomItem(item) && item.payload.room_id === room);
    run.buffer = run.buffer.filter((item) => !live.includes(item));
    const items = [...missed, ...live].sort(byId);
    for (const item of items) if (this.deliver(item)) run.delivered++;
  }

  private finishCatchUp(run: CatchUpRun): void {
    if (this.catchUp !== run) return;
    this.catchUp = undefined;
    const rest = run.buffer.sort(byId);
    run.buffer = [];
    for (const item of rest) if (this.deliver(item)) run.delivered++;
    if (run.deferred !== undefined) this.advancePosition(run.deferred);
    run.conn.ready = true;
    this.emitter.emit('synced', { since: run.since, position: this.position, delivered: run.delivered });
    this.pumpOutbox();
  }

  private abandonCatchUp(): void {
    const run = this.catchUp;
    if (!run) return;
    this.catchUp = undefined;
    this.timers.clearTimeout(run.retry);
    // Held-back messages are stored: the next catch-up fetches them again.
    run.buffer = [];
  }

  /**
   * A message stored in the instant before the reconnect can reach the sync index late
   * (docs/protocol.md, step 7): sync once more, a few seconds later, from shortly before
   * the welcome; anything already delivered is skipped.
   */
  private scheduleResync(conn: Connection, since: string | undefined, welcomedAt: number): void {
    const delay = this.options.resyncDelayMs ?? DEFAULTS.resyncDelayMs;
    if (!(delay > 0)) return;
    this.timers.clearTimeout(this.resyncTimer);
    const from = maxId(since, ulidFloor(welcomedAt - DEFAULTS.resyncWindowMs));
    this.resyncTimer = this.timers.setTimeout(() => {
      this.resyncTimer = undefined;
      if (conn !== this.current || conn.closed || this.catchUp) return;
      void this.resync(conn, from);
    }, delay);
  }

  private async resync(conn: Connection, from: string | undefined): Promise<void> {
    const limit = this.options.syncPageSize ?? DEFAULTS.syncPageSize;
    let cursor = from;
    try {
      for (;;) {
        const page = await this.requestOn<SyncPage>(
          conn,
          'sync',
          cursor ? { since: cursor, limit } : { limit },
        );
        await this.outboxSettled();
        if (conn !== this.current || conn.closed || this.catchUp) return;
        const items = page.messages.map(fromSyncItem).sort(byId);
        for (const item of items) this.deliver(item);
        const upTo = page.next_since ? normalizeId(page.next_since) : undefined;
        if (!page.has_more || upTo === undefined || upTo === cursor) return;
        cursor = upTo;
      }
    } catch (error) {
      if (!conn.closed) this.emitError(new ChatError('the follow-up sync failed', { cause: error }));
    }
  }

  // ------------------------------------------------------------------ delivery

  /** A live message: held back until its connection's welcome and while a catch-up runs, delivered otherwise. */
  private ingest(conn: Connection, item: Incoming): void {
    if (!conn.welcome && conn.role === 'primary') {
      if (conn.early.length < DEFAULTS.liveBufferLimit) conn.early.push(item);
      return;
    }
    const run = this.catchUp;
    if (run) {
      if (this.seen.has(item.id) || run.buffer.some((held) => held.id === item.id)) return;
      run.buffer.push(item);
      // Bounded: dropping is safe, they are stored and the catch-up reads them again.
      if (run.buffer.length > DEFAULTS.liveBufferLimit) run.buffer.shift();
      return;
    }
    this.deliver(item);
  }

  /** Emits the item unless it was delivered before; returns whether it was emitted. */
  private deliver(item: Incoming): boolean {
    if (!this.seen.add(item.id)) return false;
    if (item.event === 'message') {
      if (isRoomItem(item)) this.advanceRoom(item.payload.room_id, item.id);
      else this.notePosition(item.id);
      this.emitter.emit('message', item.payload);
    } else {
      this.notePosition(item.id);
      this.emitter.emit('system_notify', item.payload);
    }
    return true;
  }

  /** A position from a live message or a reply: deferred while a catch-up runs (it must not skip missed ones). */
  private notePosition(id: string): void {
    const run = this.catchUp;
    if (run) run.deferred = maxId(run.deferred, id);
    else this.advancePosition(id);
  }

  private advancePosition(id: string): void {
    if (this.position !== undefined && this.position >= id) return;
    this.position = id;
    this.emitter.emit('position', id);
  }

  private advanceRoom(room: string, id: string): void {
    if (!this.rooms.has(room)) return;
    const known = this.roomPositions.get(room);
    if (known === undefined || id > known) this.roomPositions.set(room, id);
  }

  // ------------------------------------------------------------------ misc

  private setState(state: ChatClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emitter.emit('state', state);
  }

  private emitError(error: Error): void {
    this.emitter.emit('error', error);
  }
}

// -------------------------------------------------------------------- normalisation

function isRoomItem(item: Incoming): item is Incoming & { event: 'message'; payload: { kind: 'room' } } {
  return item.event === 'message' && item.payload.kind === 'room';
}

function fromNewMessage(push: NewMessagePush): Incoming {
  const id = normalizeId(push.message_id);
  return {
    id,
    event: 'message',
    payload: {
      type: 'new_message',
      kind: 'private',
      message_id: push.message_id,
      room_id: push.room_id,
      from_user_id: push.from_user_id,
      to_user_id: push.to_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      catch_up: false,
    },
  };
}

function fromGroupMessage(push: GroupMessagePush): Incoming {
  return {
    id: normalizeId(push.message_id),
    event: 'message',
    payload: {
      type: 'group_message',
      kind: 'group',
      message_id: push.message_id,
      room_id: push.group_id,
      group_id: push.group_id,
      group_name: push.group_name,
      from_user_id: push.from_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      catch_up: false,
    },
  };
}

function fromRoomMessage(push: RoomMessagePush | HistoryMessage, catchUp: boolean): Incoming {
  return {
    id: normalizeId(push.message_id),
    event: 'message',
    payload: {
      type: 'room_message',
      kind: 'room',
      message_id: push.message_id,
      room_id: push.room_id,
      from_user_id: push.from_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      ...('deleted' in push && push.deleted ? { deleted: true as const } : {}),
      catch_up: catchUp,
    },
  };
}

function fromSystemNotify(push: SystemNotifyPush): Incoming {
  const messageId = push.message_id ?? push.notify_id;
  return {
    id: normalizeId(messageId),
    event: 'system_notify',
    payload: { ...push, message_id: messageId, catch_up: false },
  };
}

function fromHistoryItem(message: HistoryMessage): Incoming {
  return fromRoomMessage(message, true);
}

function fromSyncItem(item: SyncMessage): Incoming {
  const id = normalizeId(item.message_id);
  const deleted = item.deleted ? { deleted: true as const } : {};
  switch (item.kind) {
    case 'system':
      return {
        id,
        event: 'system_notify',
        payload: {
          type: 'system_notify',
          notify_id: item.message_id,
          message_id: item.message_id,
          notification_type: item.notification_type ?? '',
          data: isObject(item.data) ? item.data : {},
          time: item.time,
          catch_up: true,
        },
      };
    case 'group':
      return {
        id,
        event: 'message',
        payload: {
          type: 'group_message',
          kind: 'group',
          message_id: item.message_id,
          room_id: item.room_id,
          group_id: item.group_id ?? item.room_id,
          from_user_id: item.from_user_id,
          content: item.content,
          message_type: item.message_type,
          time: item.time,
          ...deleted,
          catch_up: true,
        },
      };
    default:
      return {
        id,
        event: 'message',
        payload: {
          type: 'new_message',
          kind: 'private',
          message_id: item.message_id,
          room_id: item.room_id,
          from_user_id: item.from_user_id,
          to_user_id: item.to_user_id ?? '',
          content: item.content,
          message_type: item.message_type,
          time: item.time,
          ...deleted,
          catch_up: true,
        },
      };
  }
}
