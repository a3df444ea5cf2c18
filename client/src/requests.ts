/**
 * Commands and their replies, matched by `request_id`, each with a timeout. A command made
 * while (re)connecting waits for the next welcomed connection.
 */
import { type Connection, type Pending, type Session, welcomed } from './connection.ts';
import {
  ChatClosedError,
  ChatConnectionLostError,
  ChatError,
  ChatRequestError,
  ChatTimeoutError,
} from './errors.ts';
import { randomId } from './ids.ts';
import type { RequestOptions } from './options.ts';
import type { Timers } from './timers.ts';
import { OPEN } from './websocket.ts';

export interface RequestsDeps {
  readonly timers: Timers;
  /** `requestTimeoutMs` */
  readonly timeoutMs: number;
  readonly session: Session;
  /** Closes a connection that can no longer be written to. */
  readonly drop: (conn: Connection) => void;
  readonly emitError: (error: Error) => void;
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

export class Requests {
  private readonly prefix = randomId().slice(0, 8);
  private counter = 0;
  /** Commands made while no connection was welcomed. */
  private readonly waiting: Call[] = [];

  constructor(private readonly deps: RequestsDeps) {}

  /** ChatClient.request: see there. */
  request<T>(cmd: string, data: unknown, options: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.deps.session.state === 'closed') {
        reject(new ChatClosedError(this.deps.session.closeReason));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.deps.timeoutMs;
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
      call.timer = this.deps.timers.setTimeout(() => this.timeOut(call), timeoutMs);
      const conn = welcomed(this.deps.session.current);
      if (conn) this.dispatch(conn, call);
      else this.waiting.push(call);
    });
  }

  /** A request on one connection (catch-up, keep-alive): rejects when that connection drops. */
  requestOn<T>(conn: Connection, cmd: string, data: unknown, timeoutMs = this.deps.timeoutMs): Promise<T> {
    const { timers } = this.deps;
    return new Promise<T>((resolve, reject) => {
      const requestId = this.nextId();
      let settled = false;
      const timer = timers.setTimeout(() => {
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
          timers.clearTimeout(timer);
          if (frame.code === 0) resolve(frame.data as T);
          else reject(new ChatRequestError(frame.code, frame.message, requestId, cmd));
        },
        onLost: () => {
          if (settled) return;
          settled = true;
          timers.clearTimeout(timer);
          reject(new ChatConnectionLostError(cmd, requestId));
        },
      });
    });
  }

  nextId(): string {
    return `${this.prefix}-${++this.counter}`;
  }

  /** Registers the pending reply, then writes the frame; a failed write drops the connection. */
  sendFrame(conn: Connection, cmd: string, data: unknown, requestId: string, pending: Pending): void {
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
      this.deps.emitError(new ChatError(`could not send ${cmd}`, { cause: error }));
      this.deps.drop(conn);
    }
  }

  /** A connection was welcomed: the commands that waited for one go out on it. */
  flushWaiting(conn: Connection): void {
    const calls = this.waiting.splice(0);
    for (const call of calls) if (!call.settled) this.dispatch(conn, call);
  }

  /** The client closed: the commands still waiting for a connection reject. */
  rejectWaiting(error: () => Error): void {
    for (const call of this.waiting.splice(0)) this.settle(call, error());
  }

  private dispatch(conn: Connection, call: Call): void {
    const requestId = this.nextId();
    call.sentOn = { conn, requestId };
    this.sendFrame(conn, call.cmd, call.data, requestId, {
      cmd: call.cmd,
      onReply: (frame) => {
        call.sentOn = undefined;
        if (frame.code === 0) this.settle(call, undefined, frame.data);
        else this.settle(call, new ChatRequestError(frame.code, frame.message, requestId, call.cmd));
      },
      onLost: () => {
        call.sentOn = undefined;
        if (call.settled) return;
        const { session } = this.deps;
        if (session.stopped) return this.settle(call, new ChatClosedError(session.closeReason));
        if (!call.idempotent) return this.settle(call, new ChatConnectionLostError(call.cmd, requestId));
        const next = welcomed(session.current);
        if (next && next !== conn) this.dispatch(next, call);
        else this.waiting.push(call);
      },
    });
  }

  private settle(call: Call, error: Error | undefined, data?: unknown): void {
    if (call.settled) return;
    call.settled = true;
    this.deps.timers.clearTimeout(call.timer);
    if (error) call.reject(error);
    else call.resolve(data);
  }

  private timeOut(call: Call): void {
    if (call.settled) return;
    const index = this.waiting.indexOf(call);
    if (index >= 0) this.waiting.splice(index, 1);
    const sent = call.sentOn;
    if (sent) sent.conn.pending.delete(sent.requestId);
    this.settle(call, new ChatTimeoutError(call.cmd, call.timeoutMs, sent?.requestId));
  }
}
