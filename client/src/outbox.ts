/**
 * The outbox: sends wait here while offline and go out one at a time, in order (the server
 * handles frames concurrently and would store them in any order otherwise). Every attempt
 * of a message carries the same `client_msg_id`, so the server stores it once.
 */
import type { Backoff } from './backoff.ts';
import { type Connection, type Session, welcomed } from './connection.ts';
import {
  ChatClosedError,
  ChatOutboxFullError,
  ChatRequestError,
  ChatTimeoutError,
  RECONNECT_CODE,
} from './errors.ts';
import { randomId } from './ids.ts';
import { type ChatClientOptions, DEFAULTS } from './options.ts';
import type { Requests } from './requests.ts';
import type { Timers } from './timers.ts';
import type { Envelope, GroupMessageSent, MessageSent, RoomMessageSent } from './types.ts';

export interface PendingSend {
  readonly cmd: SendCommand;
  readonly client_msg_id: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly attempts: number;
}

export type SendCommand = 'send_message' | 'send_group_message' | 'send_room_message';
export type SendReply = MessageSent | GroupMessageSent | RoomMessageSent;
export type SendData = Readonly<Record<string, unknown>> & { readonly client_msg_id: string };

/** Error codes after which a send is retried (with the same client_msg_id). */
const RETRYABLE_SEND_CODES = new Set([5000, 10008, 3009, 1029]);

/** The input with its `client_msg_id`, a new one unless the caller gave one: every attempt reuses it. */
export function withClientMsgId(input: object): SendData {
  const given = (input as { client_msg_id?: unknown }).client_msg_id;
  return {
    ...input,
    client_msg_id: typeof given === 'string' && given !== '' ? given : randomId(),
  };
}

/** `rate limited: … retry after 12 s` → 12,000. */
function retryAfterMs(message: string): number | undefined {
  const match = /retry after (\d+)\s*s/i.exec(message);
  return match?.[1] ? Number(match[1]) * 1000 : undefined;
}

export interface OutboxDeps {
  readonly timers: Timers;
  /** `requestTimeoutMs`: how long an attempt waits for its reply. */
  readonly timeoutMs: number;
  readonly retryBackoff: Backoff;
  readonly session: Session;
  readonly requests: Pick<Requests, 'nextId' | 'sendFrame'>;
  readonly drop: (conn: Connection) => void;
  /** The application has this message through the send's promise: it must not see it as `message` too. */
  readonly onSent: (reply: SendReply) => void;
}

interface OutboxEntry {
  readonly cmd: SendCommand;
  readonly data: SendData;
  readonly resolve: (reply: SendReply) => void;
  readonly reject: (error: Error) => void;
  attempts: number;
  /** Sent at least once: the server may have stored it already. */
  sent: boolean;
  inFlight: { readonly conn: Connection; readonly requestId: string; readonly timer: unknown } | undefined;
}

export class Outbox {
  /** `outbox: false`: sends are plain requests instead. */
  readonly enabled: boolean;
  private readonly maxSize: number;
  private readonly maxAttempts: number;
  private readonly entries: OutboxEntry[] = [];
  private settledWaiters: Array<() => void> = [];
  /** Waits out a retryable error before the head goes out again. */
  private retryTimer: unknown;

  constructor(
    options: ChatClientOptions['outbox'],
    private readonly deps: OutboxDeps,
  ) {
    this.enabled = options !== false;
    const outbox = options === false ? {} : (options ?? {});
    this.maxSize = outbox.maxSize ?? DEFAULTS.outboxMaxSize;
    this.maxAttempts = Math.max(1, outbox.maxAttempts ?? DEFAULTS.outboxMaxAttempts);
  }

  /** Sends waiting (not yet answered), oldest first. */
  get pending(): PendingSend[] {
    return this.entries.map((entry) => ({
      cmd: entry.cmd,
      client_msg_id: entry.data.client_msg_id,
      data: entry.data,
      attempts: entry.attempts,
    }));
  }

  /** Queues a send (its data already carries the client_msg_id) and resolves with the server's reply. */
  enqueue(cmd: SendCommand, data: SendData): Promise<SendReply> {
    return new Promise<SendReply>((resolve, reject) => {
      if (this.deps.session.state === 'closed')
        return reject(new ChatClosedError(this.deps.session.closeReason));
      if (this.entries.length >= this.maxSize) return reject(new ChatOutboxFullError(this.maxSize));
      this.entries.push({
        cmd,
        data,
        resolve: (reply) => {
          this.deps.onSent(reply);
          resolve(reply);
        },
        reject,
        attempts: 0,
        sent: false,
        inFlight: undefined,
      });
      this.pump();
    });
  }

  /**
   * Sends the head of the outbox when a ready connection is there; one send at a time, in
   * order. `uncertainOnly`: before a catch-up, only a head that was sent before (and may be
   * stored already) goes out, so its reply marks it as ours before `sync` lists it.
   */
  pump(uncertainOnly = false): void {
    const head = this.entries[0];
    if (!head || head.inFlight || this.retryTimer !== undefined) return;
    const conn = welcomed(this.deps.session.current);
    if (!conn) return;
    if (!conn.ready && !(uncertainOnly && head.sent)) return;
    head.attempts++;
    head.sent = true;
    const { requests, timers, timeoutMs } = this.deps;
    const requestId = requests.nextId();
    const timer = timers.setTimeout(() => this.attemptTimedOut(head), timeoutMs);
    head.inFlight = { conn, requestId, timer };
    requests.sendFrame(conn, head.cmd, head.data, requestId, {
      cmd: head.cmd,
      onReply: (frame) => this.onReply(head, frame),
      onLost: () => {
        if (head.inFlight?.requestId !== requestId) return;
        // A dropped connection is not the message's fault: the attempt does not count.
        head.attempts--;
        this.endAttempt(head);
        if (this.deps.session.stopped) return;
        this.pump();
      },
    });
  }

  /** Resolves when no send is waiting for its reply (so its message cannot show up in a sync page unannounced). */
  settled(): Promise<void> {
    if (!this.entries.some((entry) => entry.inFlight)) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  cancelRetry(): void {
    this.deps.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The client closed: every queued send rejects. */
  rejectAll(error: () => Error): void {
    for (const entry of this.entries.splice(0)) {
      this.endAttempt(entry);
      entry.reject(error());
    }
  }

  private endAttempt(entry: OutboxEntry): void {
    if (entry.inFlight) this.deps.timers.clearTimeout(entry.inFlight.timer);
    entry.inFlight = undefined;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private finish(entry: OutboxEntry, error: Error | undefined, reply?: SendReply): void {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
    if (error) entry.reject(error);
    else if (reply) entry.resolve(reply);
  }

  private onReply(entry: OutboxEntry, frame: Envelope): void {
    const conn = entry.inFlight?.conn;
    const requestId = entry.inFlight?.requestId;
    this.endAttempt(entry);
    if (frame.code === 0) {
      this.deps.retryBackoff.reset();
      this.finish(entry, undefined, frame.data as SendReply);
      this.pump();
      return;
    }
    const error = new ChatRequestError(frame.code, frame.message, requestId, entry.cmd);
    if (frame.code === RECONNECT_CODE) {
      // The connection is unknown or its token expired: resend on a new connection.
      entry.attempts--;
      if (conn) this.deps.drop(conn);
      return;
    }
    if (RETRYABLE_SEND_CODES.has(frame.code) && entry.attempts < this.maxAttempts) {
      const delay = retryAfterMs(frame.message) ?? this.deps.retryBackoff.next();
      this.retryTimer = this.deps.timers.setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, delay);
      return;
    }
    this.finish(entry, error);
    this.pump();
  }

  private attemptTimedOut(entry: OutboxEntry): void {
    const inFlight = entry.inFlight;
    if (!inFlight) return;
    inFlight.conn.pending.delete(inFlight.requestId);
    this.endAttempt(entry);
    if (entry.attempts >= this.maxAttempts) {
      this.finish(entry, new ChatTimeoutError(entry.cmd, this.deps.timeoutMs, inFlight.requestId));
    }
    // Otherwise the same client_msg_id goes out again: the server stores it once.
    this.pump();
  }
}
