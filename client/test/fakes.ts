/**
 * Test doubles for the client's unit tests: a clock driven by the test and a WebSocket
 * whose server side the test plays. Nothing here sleeps: `flush()` only lets pending
 * promise callbacks run (one macrotask turn).
 */
import { ChatClient } from '../src/client.ts';
import type { ChatClientOptions } from '../src/options.ts';
import type { Timers } from '../src/timers.ts';
import type { WebSocketLike } from '../src/websocket.ts';

/** Lets every queued promise callback run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Scheduled {
  readonly id: number;
  readonly at: number;
  readonly ms: number;
  readonly callback: () => void;
}

export class FakeTimers implements Timers {
  private clock = Date.parse('2026-11-21T10:00:00.000Z');
  private nextId = 1;
  private scheduled: Scheduled[] = [];

  now(): number {
    return this.clock;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    const delay = Math.max(0, ms);
    this.scheduled.push({ id, at: this.clock + delay, ms: delay, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.scheduled = this.scheduled.filter((entry) => entry.id !== handle);
  }

  /** Delays (as scheduled) of the timers still pending. */
  pendingDelays(): number[] {
    return this.scheduled.map((entry) => entry.ms);
  }

  get pending(): number {
    return this.scheduled.length;
  }

  /** Moves the clock forward, running every timer that falls due (and the promise callbacks it causes). */
  async advance(ms: number): Promise<void> {
    const target = this.clock + ms;
    for (;;) {
      await flush();
      const due = this.scheduled
        .filter((entry) => entry.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.scheduled = this.scheduled.filter((entry) => entry !== due);
      this.clock = due.at;
      due.callback();
    }
    this.clock = target;
    await flush();
  }
}

export interface SentFrame {
  readonly cmd: string;
  readonly data?: Record<string, unknown>;
  readonly request_id: string;
}

type Listener = (event: never) => void;

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** The most recent socket. */
  static get last(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1);
    if (!socket) throw new Error('no socket was created');
    return socket;
  }

  readyState = 0;
  readonly sent: SentFrame[] = [];
  closedByClient: { code: number | undefined; reason: string | undefined } | undefined;
  private readonly listeners = new Map<string, Listener[]>();
  private connectionId = `conn-${FakeWebSocket.instances.length + 1}`;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
  }

  addEventListener(type: string, listener: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data) as SentFrame);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedByClient = { code, reason };
    this.readyState = 3;
    queueMicrotask(() => this.emit('close', { code: code ?? 1005, reason: reason ?? '' }));
  }

  // ---------------------------------------------------------------- the server's side

  open(): this {
    this.readyState = 1;
    this.emit('open', {});
    return this;
  }

  /** Opens and sends the welcome push. */
  welcome(userId = 'alice', time = '2026-11-21T10:00:00.000Z'): this {
    if (this.readyState === 0) this.open();
    this.push({ type: 'welcome', user_id: userId, connection_id: this.connectionId, time });
    return this;
  }

  receive(frame: unknown): void {
    this.emit('message', { data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  push(data: Record<string, unknown>): void {
    this.receive({ code: 0, message: 'success', data });
  }

  reply(frame: SentFrame, data: Record<string, unknown>): void {
    this.receive({ code: 0, message: 'success', data, request_id: frame.request_id });
  }

  replyError(frame: SentFrame, code: number, message = `error ${code}`): void {
    this.receive({ code, message, data: null, request_id: frame.request_id });
  }

  /** The server (or the network) closes the connection. */
  drop(code = 1006, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit('close', { code, reason });
  }

  /** The handshake is refused with `status` (as `ws` reports it). */
  refuse(status: number): void {
    this.readyState = 3;
    this.emit('error', { message: `Unexpected server response: ${status}` });
    this.emit('close', { code: 1006, reason: '' });
  }

  /** Frames of `cmd` the client sent, in order. */
  sentOf(cmd: string): SentFrame[] {
    return this.sent.filter((frame) => frame.cmd === cmd);
  }

  /** The last frame of `cmd`; throws when there is none. */
  lastOf(cmd: string): SentFrame {
    const frame = this.sentOf(cmd).at(-1);
    if (!frame) throw new Error(`no ${cmd} was sent; sent: ${this.sent.map((f) => f.cmd).join(', ')}`);
    return frame;
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) (listener as (event: unknown) => void)(event);
  }
}

/** A client on the fakes, with deterministic jitter (random = 0.5 unless given). */
export function fakeClient(overrides: Partial<ChatClientOptions> = {}): {
  client: ChatClient;
  timers: FakeTimers;
} {
  const timers = new FakeTimers();
  const client = new ChatClient({
    url: 'ws://chat.test/',
    token: 'token-1',
    WebSocket: FakeWebSocket,
    timers,
    random: () => 0.5,
    resyncDelayMs: 0,
    ...overrides,
  });
  return { client, timers };
}

/** A client on the fakes whose first connection is open and welcomed. */
export async function connected(overrides: Partial<ChatClientOptions> = {}) {
  const { client, timers } = fakeClient(overrides);
  const welcome = client.connect();
  await flush();
  const ws = FakeWebSocket.last.welcome();
  await welcome;
  return { client, timers, ws };
}

/** Records every emission of the given events, in order. */
export function record<T>(subscribe: (listener: (value: T) => void) => () => void): T[] {
  const values: T[] = [];
  subscribe((value) => values.push(value));
  return values;
}

let counter = 0;

/** A ULID-shaped message id that sorts by `n`. */
export function mid(n: number): string {
  return `01M7YWPC${String(n).padStart(18, '0')}`;
}

export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${counter}`;
}
