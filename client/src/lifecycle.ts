/**
 * The connections of one chat session: opening them, reconnecting with full-jitter backoff
 * when one fails, keep-alive pings, a replacement before API Gateway's 2-hour limit (the new
 * socket opens before the old one closes), and closing for good.
 */
import { Backoff } from './backoff.ts';
import {
  type Connection,
  clearConnTimers,
  connTimer,
  newConnection,
  openSocket,
  resolveToken,
  type Session,
} from './connection.ts';
import type { Emitter } from './emitter.ts';
import {
  ChatClosedError,
  ChatConnectTimeoutError,
  ChatError,
  ChatHandshakeError,
  type CloseReason,
} from './errors.ts';
import type { ChatClientState, ChatEvents } from './events.ts';
import { backoffSettings, type ChatClientOptions, DEFAULTS } from './options.ts';
import type { Timers } from './timers.ts';
import type { Welcome } from './types.ts';
import { handshakeStatus, type WebSocketConstructor, type WebSocketLike } from './websocket.ts';

/** What the other parts do at the turns of the lifecycle. */
export interface LifecycleHooks {
  readonly frame: (conn: Connection, raw: unknown) => void;
  /** `conn` was welcomed and is the current connection now. */
  readonly welcomed: (conn: Connection, first: boolean, welcomedAt: number) => void;
  /** The current connection closed; its pending replies are reported lost next. */
  readonly primaryClosed: (conn: Connection) => void;
  /** The client is stopping, before its connections close. */
  readonly stopping: () => void;
  /** The client stopped: its connections are closed. */
  readonly stopped: (error: () => ChatClosedError) => void;
  /** A keep-alive ping on this connection. */
  readonly ping: (conn: Connection) => Promise<unknown>;
}

export class Lifecycle implements Session {
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly backoff: Backoff;
  private readonly reconnectEnabled: boolean;
  private readonly stableAfterMs: number;

  private currentState: ChatClientState = 'idle';
  private currentUserId: string | undefined;
  private lastWelcome: Welcome | undefined;
  private everWelcomed = false;
  /** Since the last connect() from idle/closed: a drop now is a `reconnecting`, not a `connecting`. */
  private welcomedThisRun = false;
  /** Why the last attempt failed: the cause of a ChatConnectTimeoutError. */
  private lastAttemptError: Error | undefined;
  private connectDeadline: unknown;
  private isStopped = true;
  private stopReason: CloseReason = 'closed';
  /** Bumped by connect() and close(): async work of an earlier run stops. */
  private run = 0;
  private authFailures = 0;

  private primary: Connection | undefined;
  private candidate: Connection | undefined;
  private readonly connections = new Set<Connection>();
  private opening = false;
  private reconnectTimer: unknown;
  private rotationTimer: unknown;
  private connectWaiter: { resolve: (welcome: Welcome) => void; reject: (error: Error) => void } | undefined;
  private connectPromise: Promise<Welcome> | undefined;

  constructor(
    private readonly options: ChatClientOptions,
    private readonly timers: Timers,
    private readonly emitter: Emitter<ChatEvents>,
    /** Shared with the outbox and the catch-up: paces new replacement attempts. */
    private readonly retryBackoff: Backoff,
    private readonly hooks: LifecycleHooks,
  ) {
    this.WebSocketImpl =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    this.reconnectEnabled = options.reconnect !== false;
    this.backoff = new Backoff(backoffSettings(options), options.random ?? Math.random);
    this.stableAfterMs = backoffSettings(options).stableAfterMs ?? DEFAULTS.stableAfterMs;
  }

  get state(): ChatClientState {
    return this.currentState;
  }

  get current(): Connection | undefined {
    return this.primary;
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  get closeReason(): CloseReason {
    return this.stopReason;
  }

  get userId(): string | undefined {
    return this.currentUserId;
  }

  /** A replacement connection is on its way. */
  get replacing(): boolean {
    return this.candidate !== undefined;
  }

  /** ChatClient.connect: see there. */
  connect(): Promise<Welcome> {
    if (this.currentState === 'open' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    if (this.currentState === 'connecting' || this.currentState === 'reconnecting') {
      // Already on its way: the next welcome (a reconnect in the background goes on after a timeout).
      return this.connectWaiter && this.connectPromise ? this.connectPromise : this.nextWelcome(false);
    }
    this.isStopped = false;
    this.run++;
    this.backoff.reset();
    this.authFailures = 0;
    this.welcomedThisRun = false;
    this.lastAttemptError = undefined;
    const welcome = this.nextWelcome(true);
    // A connect() by the application is a fresh start: `connecting`, even after an earlier session.
    this.setState('connecting');
    void this.open('primary');
    return welcome;
  }

  shutdown(reason: CloseReason, waiterError?: Error): void {
    if (this.currentState === 'closed' && this.isStopped) return;
    this.isStopped = true;
    this.stopReason = reason;
    this.run++;
    for (const timer of [this.reconnectTimer, this.rotationTimer, this.connectDeadline])
      this.timers.clearTimeout(timer);
    this.reconnectTimer = this.rotationTimer = this.connectDeadline = undefined;
    this.hooks.stopping();
    for (const conn of [...this.connections]) this.drop(conn, 1000, 'client closed');
    this.primary = this.candidate = undefined;
    const error = () => new ChatClosedError(reason);
    this.hooks.stopped(error);
    this.setState('closed');
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    this.connectPromise = undefined;
    waiter?.reject(waiterError ?? error());
  }

  /** Closes the socket ourselves and handles it as closed now (a dead socket may take long to report it). */
  drop(conn: Connection, code = 4000, reason = 'client dropped the connection'): void {
    if (conn.closed) return;
    try {
      conn.socket.close(code, reason);
    } catch {
      // Already closing.
    }
    this.closed(conn);
  }

  welcome(conn: Connection, welcome: Welcome): void {
    if (conn.closed || conn.welcome) return;
    conn.welcome = welcome;
    if (conn.role === 'candidate') {
      const old = this.primary;
      conn.role = 'primary';
      this.primary = conn;
      this.candidate = undefined;
      if (old && !old.closed) this.retire(old);
    } else if (conn !== this.primary) {
      return;
    }
    clearConnTimers(this.timers, conn);
    this.authFailures = 0;
    this.currentUserId = welcome.user_id;
    this.lastWelcome = welcome;
    const first = !this.everWelcomed;
    this.everWelcomed = true;
    this.welcomedThisRun = true;
    this.lastAttemptError = undefined;
    const welcomedAt = Date.parse(welcome.time) || this.timers.now();

    connTimer(this.timers, conn, () => this.backoff.reset(), this.stableAfterMs);
    this.schedulePing(conn);
    const maxAge = this.options.maxConnectionAgeMs ?? DEFAULTS.maxConnectionAgeMs;
    if (maxAge > 0) {
      const age = this.timers.now() - conn.createdAt;
      connTimer(this.timers, conn, () => this.startRotation(), Math.max(0, maxAge - age));
    }

    this.setState('open');
    this.emitter.emit('push', welcome);
    this.emitter.emit('welcome', welcome);
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    this.timers.clearTimeout(this.connectDeadline);
    this.connectDeadline = undefined;
    waiter?.resolve(welcome);
    this.hooks.welcomed(conn, first, welcomedAt);
  }

  /**
   * The promise connect() returns: it settles on the next welcome, or rejects with
   * ChatConnectTimeoutError after `connectTimeoutMs`. A connect() that started the client
   * (`owner`) then also stops it, unless `keepTrying`; one that only waited for a reconnect
   * already under way leaves that reconnect running.
   */
  private nextWelcome(owner: boolean): Promise<Welcome> {
    const promise = new Promise<Welcome>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
    });
    // A fire-and-forget connect() must not end in an unhandled rejection: `state` tells too.
    promise.catch(() => {});
    this.connectPromise = promise;
    this.timers.clearTimeout(this.connectDeadline);
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.connectDeadline = this.timers.setTimeout(() => {
      this.connectDeadline = undefined;
      const waiter = this.connectWaiter;
      if (!waiter || this.connectPromise !== promise) return;
      const error = new ChatConnectTimeoutError(timeoutMs, this.lastAttemptError);
      if (owner && !this.options.keepTrying) {
        this.shutdown('timeout', error);
        return;
      }
      this.connectWaiter = undefined;
      this.connectPromise = undefined;
      waiter.reject(error);
    }, timeoutMs);
    return promise;
  }

  private async open(role: 'primary' | 'candidate'): Promise<void> {
    if (this.opening) return;
    this.opening = true;
    const run = this.run;
    let token: string;
    try {
      token = await resolveToken(this.options.token);
    } catch (error) {
      this.opening = false;
      if (run !== this.run || this.isStopped) return;
      this.emitError(new ChatError('could not get a token', { cause: error }));
      if (role === 'candidate') this.scheduleRotation();
      else this.afterFailure(undefined);
      return;
    } finally {
      this.opening = false;
    }
    if (run !== this.run || this.isStopped) return;
    if (role === 'candidate' && (!this.primary || this.primary.closed)) role = 'primary';
    if (role === 'primary' && this.primary && !this.primary.closed) return;

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
      socket = openSocket(Impl, this.options, token);
    } catch (error) {
      this.emitError(new ChatError('could not create the WebSocket', { cause: error }));
      if (role === 'candidate') this.scheduleRotation();
      else this.afterFailure(undefined);
      return;
    }
    const conn = newConnection(socket, role, this.timers.now());
    this.connections.add(conn);
    if (role === 'primary') this.primary = conn;
    else this.candidate = conn;

    socket.addEventListener('open', () => {
      if (!conn.closed) conn.opened = true;
    });
    socket.addEventListener('message', (event) => {
      if (!conn.closed) this.hooks.frame(conn, event.data);
    });
    socket.addEventListener('error', (event) => {
      conn.status ??= handshakeStatus(event);
    });
    socket.addEventListener('close', () => this.closed(conn));
    connTimer(
      this.timers,
      conn,
      () => {
        if (!conn.welcome) {
          this.emitError(new ChatError('no welcome push within the connect timeout'));
          this.drop(conn);
        }
      },
      this.options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    );
  }

  private closed(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    clearConnTimers(this.timers, conn);
    const pending = [...conn.pending.values()];
    conn.pending.clear();
    const role = conn.role;
    if (role === 'primary' && this.primary === conn) {
      this.primary = undefined;
      this.hooks.primaryClosed(conn);
    }
    if (role === 'candidate' && this.candidate === conn) this.candidate = undefined;
    for (const entry of pending) entry.onLost();
    if (this.isStopped) return;

    if (role === 'retiring') return;
    if (role === 'candidate') {
      if (this.primary && !this.primary.closed) this.scheduleRotation();
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
    if (this.isStopped) return;
    if (conn && !conn.opened) {
      const status = conn.status;
      if (status === 401) {
        this.authFailures++;
        // A token function may hand out a fresh token: try once more, at once.
        if (typeof this.options.token === 'function' && this.authFailures === 1) {
          this.setState(this.welcomedThisRun ? 'reconnecting' : 'connecting');
          void this.open('primary');
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
    this.setState(this.welcomedThisRun ? 'reconnecting' : 'connecting');
    if (this.reconnectTimer !== undefined) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.isStopped) void this.open('primary');
    }, delay);
  }

  /** Opens a replacement connection while the current one still works (before the 2-hour limit). */
  private startRotation(): void {
    if (this.isStopped || this.candidate || !this.primary || this.primary.closed) return;
    void this.open('candidate');
  }

  private scheduleRotation(): void {
    if (this.isStopped || this.rotationTimer !== undefined) return;
    this.rotationTimer = this.timers.setTimeout(() => {
      this.rotationTimer = undefined;
      this.startRotation();
    }, this.retryBackoff.next());
  }

  /** The old connection after a rotation: finishes its pending requests, then closes. */
  private retire(conn: Connection): void {
    conn.role = 'retiring';
    clearConnTimers(this.timers, conn);
    if (conn.pending.size === 0) {
      this.drop(conn, 1000, 'replaced');
      return;
    }
    connTimer(
      this.timers,
      conn,
      () => this.drop(conn, 1000, 'replaced'),
      this.options.overlapGraceMs ?? DEFAULTS.overlapGraceMs,
    );
  }

  private schedulePing(conn: Connection): void {
    const interval = this.options.pingIntervalMs ?? DEFAULTS.pingIntervalMs;
    if (!(interval > 0)) return;
    connTimer(
      this.timers,
      conn,
      () => {
        this.hooks.ping(conn).then(
          () => this.schedulePing(conn),
          (error: unknown) => {
            if (conn.closed) return;
            // No pong: the connection is dead even if the socket has not noticed yet.
            this.emitError(new ChatError('keep-alive ping failed; reconnecting', { cause: error }));
            this.drop(conn);
          },
        );
      },
      interval,
    );
  }

  private setState(state: ChatClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emitter.emit('state', state);
  }

  /** A failed attempt, reported as an `error` event and remembered as a possible timeout's cause. */
  private emitError(error: Error): void {
    this.lastAttemptError = error;
    this.emitter.emit('error', error);
  }
}
