/** What a ChatClient can be told, and what it assumes when it is not told. */
import type { BackoffOptions } from './backoff.ts';
import type { Timers } from './timers.ts';
import type { WebSocketConstructor } from './websocket.ts';

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
  /**
   * connect() rejects with ChatConnectTimeoutError when no welcome push arrives within this
   * long of the call (over all its attempts); also the limit for one attempt. Default 15 s.
   */
  readonly connectTimeoutMs?: number;
  /**
   * After connect() timed out, keep trying in the background (the state stays `connecting`,
   * a later welcome is the `welcome` event) instead of closing with reason `timeout`.
   * Default false.
   */
  readonly keepTrying?: boolean;
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
  /**
   * The HTTP API's base URL, for `upload()` and `sendFile()`: `http://localhost:8009`
   * locally, the stack output `HttpApiUrl` in AWS (not the WebSocket URL's host).
   */
  readonly httpUrl?: string;
  /** For `upload()`: default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /**
   * `typing(room, 'start')` is sent at most this often per room; default 4 s (longer than
   * the server's throttle window, 3 s by default, so the repeats are not dropped).
   */
  readonly typingRepeatMs?: number;
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

export const DEFAULTS = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 15_000,
  pingIntervalMs: 5 * 60_000,
  maxConnectionAgeMs: 115 * 60_000,
  overlapGraceMs: 5_000,
  stableAfterMs: 30_000,
  syncPageSize: 100,
  resyncDelayMs: 5_000,
  dedupeCapacity: 10_000,
  roomCatchUpLimit: 100,
  outboxMaxSize: 100,
  outboxMaxAttempts: 5,
  typingRepeatMs: 4_000,
} as const;

/** The backoff settings; with `reconnect: false` the defaults, since sends and catch-up still retry. */
export function backoffSettings(options: ChatClientOptions): ReconnectOptions {
  const reconnect = options.reconnect;
  return reconnect === false ? {} : (reconnect ?? {});
}
