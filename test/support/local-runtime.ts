/**
 * Test helpers around the local runtime: start/stop it on a free port, mint tokens it
 * accepts, and a small WebSocket client whose waits end on the expected frame or event
 * (or a timeout that reports what did arrive) — never on a sleep.
 *
 * One runtime per process at a time; node --test runs each test file in its own process.
 * Set LOCAL_RUNTIME_LOGS=1 to see the runtime's logs.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '../../local/frame-limit.ts';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime.ts';
import { mintToken } from '../../local/tokens.ts';

export const DEFAULT_WAIT_MS = 5_000;

/**
 * Starts a runtime for tests: free port, in memory, quiet, handler logs at `warn`, no
 * sweep on a timer (override any of it through `options`).
 */
export function startTestRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const showLogs = process.env.LOCAL_RUNTIME_LOGS === '1';
  return startLocalRuntime({
    port: 0,
    inMemory: options.dataDir === undefined,
    quiet: !showLogs,
    // Tests run the sweep themselves (`runtime.sweepConnections()`), never on a timer.
    sweepIntervalSeconds: 0,
    ...options,
    // The rate limits are off unless a test turns them on: many tests send and read far more
    // than the defaults allow in a minute.
    env: {
      LOG_LEVEL: showLogs ? 'debug' : 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
      READ_RATE_LIMIT_PER_MINUTE: '0',
      ...options.env,
    },
  });
}

/** A token the runtime's `$connect` accepts (signed with the runtime's secret). */
export function tokenFor(
  runtime: LocalRuntime,
  userId: string,
  options: { readonly role?: string; readonly ttlSeconds?: number } = {},
): Promise<string> {
  if (!runtime.jwtSecret)
    throw new Error('The runtime verifies tokens with JWKS / Secrets Manager; no local secret.');
  return mintToken(userId, { ...options, secret: runtime.jwtSecret });
}

/** The runtime's WebSocket URL, optionally on another path and with `?token=`. */
export function webSocketUrl(
  runtime: LocalRuntime,
  options: { readonly token?: string; readonly path?: string } = {},
) {
  const url = new URL(options.path ?? '/', runtime.wsUrl);
  if (options.token !== undefined) url.searchParams.set('token', options.token);
  return url.toString();
}

/** The runtime's admin credentials: its control plane refuses any others but its functions'. */
function sdkDefaults(runtime: LocalRuntime) {
  return { region: 'local', credentials: runtime.adminCredentials };
}

/** Management API client on the callback URL (with the stage), as handlers use it. */
export function managementClient(runtime: LocalRuntime, endpoint = runtime.callbackUrl) {
  return new ApiGatewayManagementApiClient({ ...sdkDefaults(runtime), endpoint });
}

export function lambdaClient(runtime: LocalRuntime) {
  return new LambdaClient({ ...sdkDefaults(runtime), endpoint: runtime.httpUrl });
}

export function dynamoDbClient(runtime: LocalRuntime) {
  return new DynamoDBClient({ ...sdkDefaults(runtime), endpoint: runtime.dynamoDbEndpoint });
}

/** A server frame; `json` is the parsed text when it is JSON (the chat envelope, usually). */
export interface ReceivedFrame {
  readonly raw: string;
  readonly binary: boolean;
  readonly json: FrameJson | undefined;
}

export interface FrameJson {
  readonly code?: number;
  readonly message?: string;
  readonly data?: { readonly type?: string; readonly [field: string]: unknown } | null;
  readonly request_id?: string;
  readonly [field: string]: unknown;
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

export class HandshakeRefusedError extends Error {
  override name = 'HandshakeRefusedError';
  constructor(readonly status: number) {
    super(`WebSocket handshake refused with HTTP ${status}`);
  }
}

export interface OpenOptions {
  readonly protocols?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

function parseFrame(data: WebSocket.RawData, binary: boolean): ReceivedFrame {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
  const raw = binary ? buffer.toString('base64') : buffer.toString('utf8');
  let json: FrameJson | undefined;
  if (!binary) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null) json = parsed as FrameJson;
    } catch {
      json = undefined;
    }
  }
  return { raw, binary, json };
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms: ${describe()}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Waiter {
  readonly predicate: (frame: ReceivedFrame) => boolean;
  readonly resolve: (frame: ReceivedFrame) => void;
}

export class TestClient {
  /** Every frame received, in order. */
  readonly frames: ReceivedFrame[] = [];
  /** Resolves when the connection closes, whoever closed it. */
  readonly closed: Promise<CloseEvent>;
  private readonly consumed = new Set<ReceivedFrame>();
  private waiters: Waiter[] = [];

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
    });
    socket.on('message', (data, binary) => this.receive(parseFrame(data, binary)));
    // Errors (e.g. 1009 from the server) end in 'close'; tests look at that.
    socket.on('error', () => {});
  }

  /** Opens a connection; rejects with HandshakeRefusedError when the handshake is refused. */
  static open(url: string, options: OpenOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options.protocols ? [...options.protocols] : [], {
      headers: options.headers ? { ...options.headers } : undefined,
    });
    const client = new TestClient(socket);
    const opened = new Promise<TestClient>((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => {
        reject(new HandshakeRefusedError(res.statusCode ?? 0));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
    return withTimeout(
      opened,
      options.timeoutMs ?? DEFAULT_WAIT_MS,
      () => `opening ${url.split('?')[0]}`,
    ).catch((error: unknown) => {
      socket.terminate();
      throw error;
    });
  }

  /** Connects as `userId` with a fresh token in `?token=` (the browser-friendly way). */
  static async connectAs(
    runtime: LocalRuntime,
    userId: string,
    options: OpenOptions & { readonly role?: string; readonly path?: string } = {},
  ): Promise<TestClient> {
    const token = await tokenFor(runtime, userId, { role: options.role });
    return TestClient.open(webSocketUrl(runtime, { token, path: options.path }), options);
  }

  /**
   * Sends a string as is, anything else as JSON, in frames of at most 32 KB as a client
   * of API Gateway must (local/frame-limit.ts); `singleFrame` sends one frame of any size.
   */
  send(message: unknown, options: { readonly singleFrame?: boolean } = {}): void {
    const bytes = Buffer.from(typeof message === 'string' ? message : JSON.stringify(message));
    if (options.singleFrame || bytes.length <= MAX_FRAME_BYTES) {
      this.socket.send(bytes, { binary: false });
      return;
    }
    for (let offset = 0; offset < bytes.length; offset += MAX_FRAME_BYTES) {
      const fin = offset + MAX_FRAME_BYTES >= bytes.length;
      this.socket.send(bytes.subarray(offset, offset + MAX_FRAME_BYTES), { binary: false, fin });
    }
  }

  /**
   * The first frame, received before or after the call, that matches and that no earlier
   * wait returned: each frame satisfies one wait, so waiting twice needs two frames.
   */
  waitFor(
    predicate: (frame: ReceivedFrame) => boolean,
    timeoutMs = DEFAULT_WAIT_MS,
    description = 'a matching frame',
  ): Promise<ReceivedFrame> {
    const existing = this.frames.find((frame) => !this.consumed.has(frame) && predicate(frame));
    if (existing) {
      this.consumed.add(existing);
      return Promise.resolve(existing);
    }
    let waiter: Waiter | undefined;
    const found = new Promise<ReceivedFrame>((resolve) => {
      waiter = { predicate, resolve };
      this.waiters.push(waiter);
    });
    const received = () => this.frames.map((f) => f.raw.slice(0, 200)).join('\n  ') || '(none)';
    return withTimeout(
      found,
      timeoutMs,
      () => `waiting for ${description}; received:\n  ${received()}`,
    ).finally(() => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    });
  }

  /** The next unconsumed frame whose `data.type` is `type`. */
  waitForType(type: string, timeoutMs = DEFAULT_WAIT_MS): Promise<ReceivedFrame> {
    return this.waitFor((frame) => frame.json?.data?.type === type, timeoutMs, `a frame of type "${type}"`);
  }

  waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<CloseEvent> {
    return withTimeout(this.closed, timeoutMs, () => 'waiting for the connection to close');
  }

  /** Closes from the client side and waits until the close completes. */
  async close(code = 1000, reason = ''): Promise<CloseEvent> {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(code, reason);
    }
    return this.waitForClose();
  }

  private receive(frame: ReceivedFrame): void {
    this.frames.push(frame);
    const waiter = this.waiters.find((w) => w.predicate(frame));
    if (!waiter) return;
    this.consumed.add(frame);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(frame);
  }
}

/** Opens a connection that must be refused; resolves with the HTTP status. */
export async function expectHandshakeRefused(url: string, options: OpenOptions = {}): Promise<number> {
  try {
    const client = await TestClient.open(url, options);
    await client.close();
  } catch (error) {
    if (error instanceof HandshakeRefusedError) return error.status;
    throw error;
  }
  throw new Error(`Expected the handshake to ${url.split('?')[0]} to be refused, but it opened.`);
}

/**
 * True when the runtime's handlers use its embedded DynamoDB (on its own port). False when
 * DYNAMODB_ENDPOINT points elsewhere (`npm run test:dynamodb-local`): then it logs that
 * `check` is not made and why, and the test leaves that check out (it still runs the rest).
 */
export function usesEmbeddedDynamoDb(runtime: LocalRuntime, check: string, why: string): boolean {
  if (runtime.dynamoDbEndpoint === runtime.httpUrl) return true;
  console.log(`[dynamodb-local] not checked with ${runtime.dynamoDbEndpoint}: ${check} (${why})`);
  return false;
}
