/**
 * The WebSocket API: handshakes run the `$connect` authorizer (401/403/500 refuse them,
 * as on AWS; authorizer.ts), then `$connect` (its status decides), frames are routed by
 * `cmd` (route selection `$request.body.cmd`) and closes run `$disconnect`. The
 * authorizer's context is `requestContext.authorizer` of every one of those events.
 *
 * Frames of one connection are dispatched as they arrive and invoked concurrently, each
 * answer sent when its handler finishes: API Gateway does not order invocations either,
 * so clients must correlate answers (request_id), and local runs should show that.
 *
 * Abuse bounds (red-team finding 2), so one client cannot make the runtime unavailable:
 * - at most `maxInFlightPerConnection` commands of one connection run at once (what API
 *   Gateway's route throttling does for the deployed stack, per stage and route): a frame
 *   beyond it is answered at once with 1029 and its handler does not run;
 * - a connection whose outbound buffer (`bufferedAmount`: answers and pushes the client
 *   has not read) exceeds `maxBufferedBytes` is closed with 1013 (try again later), and
 *   nothing more is buffered for it: a slow or never-reading consumer cannot grow memory.
 *
 * Only data frames from the client count as activity for the idle timeout, and WebSocket
 * pings do not: on AWS a client keeps a connection alive by sending messages (the
 * `ping` command), not control frames. The `ws` library still answers pings with pongs.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { failure, readRequestId } from '../functions/core/shared/envelope.ts';
import { ErrorCode } from '../functions/core/shared/errors.ts';
import { webSocketAuthorizer, webSocketRoutes } from '../lib/function-specs.ts';
import { authorizerDecision, identitySourcesPresent } from './authorizer.ts';
import { ClientConnection, type ConnectionRegistry } from './connections.ts';
import {
  apiGatewayId,
  authorizerEvent,
  authorizerRequestContext,
  clientIdentity,
  connectEvent,
  disconnectEvent,
  messageEvent,
} from './events.ts';
import { MAX_FRAME_BYTES, watchFrameSizes } from './frame-limit.ts';
import { type FunctionRegistry, INTEGRATION_TIMEOUT_MS, type InvocationOutcome } from './functions.ts';
import { asProxyResult, headerValue, isSuccessStatus } from './handler-results.ts';
import { elapsed, type Logger, redactUrl } from './log.ts';

/**
 * API Gateway's message size limit; larger messages close the connection with 1009, as
 * do frames over 32 KB (frame-limit.ts): a larger message must be sent in fragments.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** Unanswered commands one connection may have running; a frame beyond it gets 1029. */
export const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 10;
/** Outbound bytes a connection may leave unread before it is closed with 1013 (8 full messages). */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const MAX_URL_LENGTH = 4096;
const GOING_AWAY = 'Going away';

export interface WebSocketGatewayOptions {
  readonly stage: string;
  /** Region in the `$connect` method ARN the authorizer gets. @default 'us-east-1' */
  readonly region?: string;
  readonly functions: FunctionRegistry;
  readonly connections: ConnectionRegistry;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly maxConnectionMs: number;
  /** @default DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION */
  readonly maxInFlightPerConnection?: number;
  /** @default DEFAULT_MAX_BUFFERED_BYTES */
  readonly maxBufferedBytes?: number;
}

/** What the gateway did with client frames since it started (for tests and soak scripts). */
export interface GatewayStats {
  /** Frames whose handler ran. */
  readonly commandsRun: number;
  /** Frames answered with 1029 because their connection had too many commands running. */
  readonly commandsRefused: number;
  /** Connections closed with 1013 because their outbound buffer overflowed. */
  readonly slowConsumersClosed: number;
  /** The most commands one connection ever had running at once. */
  readonly peakInFlight: number;
}

/** The route for a text frame: its `cmd` when that names a message route, else `$default`. */
export function selectRoute(text: string, mounted: ReadonlySet<string> = new Set()): string {
  return routeOf(parseObject(text), mounted);
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  return message as Record<string, unknown>;
}

/** `mounted`: route keys of handlers mounted on the runtime (functions.ts `mount`). */
function routeOf(message: Record<string, unknown> | undefined, mounted: ReadonlySet<string>): string {
  if (!message) return '$default';
  const cmd = message.cmd;
  if (typeof cmd !== 'string' || cmd.startsWith('$')) return '$default';
  if (!Object.hasOwn(webSocketRoutes, cmd) && !mounted.has(cmd)) return '$default';
  return cmd;
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function invalidHandshake(req: IncomingMessage): number | undefined {
  if ((req.url ?? '').length > MAX_URL_LENGTH) return 414;
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  const isWebSocket =
    req.method === 'GET' &&
    req.headers.upgrade?.toLowerCase() === 'websocket' &&
    typeof key === 'string' &&
    /^[+/0-9A-Za-z]{22}==$/.test(key) &&
    (version === '13' || version === '8');
  return isWebSocket ? undefined : 400;
}

/** Answers a handshake with a plain HTTP status and hangs up, as API Gateway does on refusal. */
export function refuseHandshake(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const statusLine = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`;
  socket.end(`${statusLine}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

function connectStatus(outcome: InvocationOutcome, logger: Logger): number {
  if (!outcome.ok) return 500;
  const status = asProxyResult(outcome.result)?.statusCode;
  if (typeof status === 'number') return status;
  logger.warn('$connect returned no statusCode; treating it as 200');
  return 200;
}

export class WebSocketGateway {
  private readonly server: WebSocketServer;
  /** The subprotocol each pending handshake answers with, as chosen by `$connect`. */
  private readonly chosenProtocols = new WeakMap<IncomingMessage, string>();
  private readonly pendingConnects = new Set<Promise<void>>();
  private readonly openSockets = new Set<Promise<void>>();
  private readonly disconnects = new Set<Promise<void>>();
  private accepting = true;
  private readonly counts = { commandsRun: 0, commandsRefused: 0, slowConsumersClosed: 0, peakInFlight: 0 };

  constructor(private readonly options: WebSocketGatewayOptions) {
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      clientTracking: false,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => this.chosenProtocols.get(req) ?? false,
    });
  }

  /** For the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const connecting = this.connect(req, socket, head).catch((error: unknown) => {
      this.options.logger.error('WS handshake failed', error);
      refuseHandshake(socket, 500);
    });
    this.pendingConnects.add(connecting);
    void connecting.finally(() => this.pendingConnects.delete(connecting));
  }

  stats(): GatewayStats {
    return { ...this.counts };
  }

  /**
   * Cuts an open connection without running `$disconnect` (ClientConnection.drop), as
   * happens on AWS when `$disconnect` is lost; false when no such connection is open.
   */
  dropWithoutDisconnect(connectionId: string): boolean {
    return this.options.connections.findOpen(connectionId)?.drop() ?? false;
  }

  /** Closes every connection (running `$disconnect` for each) and refuses new ones. */
  async closeAll(code: number, reason: string): Promise<void> {
    this.accepting = false;
    for (const connection of this.options.connections.all()) connection.close(code, reason);
    await Promise.allSettled([...this.pendingConnects]);
    await Promise.allSettled([...this.openSockets]);
    await Promise.allSettled([...this.disconnects]);
    this.server.close();
  }

  private async connect(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { logger, stage, functions, connections } = this.options;
    // Until `ws` owns the socket, a client reset must not become an uncaught 'error'.
    const ignoreSocketError = () => {};
    socket.on('error', ignoreSocketError);
    const invalid = this.accepting ? invalidHandshake(req) : 503;
    if (invalid) {
      logger.info(`WS  refused ${invalid} ${redactUrl(req.url ?? '/')}`);
      refuseHandshake(socket, invalid);
      return;
    }

    const connection = new ClientConnection(
      apiGatewayId(),
      req.headers.host ?? 'localhost',
      clientIdentity(req),
    );
    connections.add(connection);
    const authorized = await this.authorize(connection, req);
    if (authorized !== 200) {
      connections.remove(connection);
      refuseHandshake(socket, authorized);
      return;
    }
    const startedAt = Date.now();
    const outcome = await functions.invoke(
      'connect',
      connectEvent(connection, stage, req),
      INTEGRATION_TIMEOUT_MS,
    );
    if (!outcome.ok) logger.error(`WS  $connect ${connection.connectionId} handler failed`, outcome.error);
    const status = connectStatus(outcome, logger);
    const path = redactUrl(req.url ?? '/');
    logger.info(`WS  $connect ${connection.connectionId} ${status} ${elapsed(startedAt)} ${path}`);

    if (!isSuccessStatus(status)) {
      connections.remove(connection);
      refuseHandshake(socket, status);
      return;
    }
    if (!this.accepting || !socket.readable || !socket.writable) {
      // `$connect` succeeded (rows may exist) but there is no socket to upgrade any more.
      connections.remove(connection);
      refuseHandshake(socket, 503);
      this.disconnect(connection, { code: 1006, reason: 'Connection closed before the handshake completed' });
      return;
    }

    const result = outcome.ok ? asProxyResult(outcome.result) : undefined;
    const protocol = headerValue(result?.headers, 'sec-websocket-protocol');
    if (protocol) this.chosenProtocols.set(req, protocol);
    socket.removeListener('error', ignoreSocketError);
    this.server.handleUpgrade(req, socket, head, (ws) => this.opened(connection, ws, socket));
  }

  /**
   * Runs the `$connect` authorizer as API Gateway does (authorizer.ts); on success the
   * connection carries its context for every later event. Returns the handshake status.
   */
  private async authorize(connection: ClientConnection, req: IncomingMessage): Promise<number> {
    const { logger, stage, functions } = this.options;
    const path = redactUrl(req.url ?? '/');
    const event = authorizerEvent(connection, stage, this.options.region ?? 'us-east-1', req);
    if (!identitySourcesPresent(webSocketAuthorizer.identitySource, event)) {
      logger.info(`WS  authorizer ${connection.connectionId} 401 (identity source missing) ${path}`);
      return 401;
    }
    const startedAt = Date.now();
    const outcome = await functions.invoke(webSocketAuthorizer.functionId, event, INTEGRATION_TIMEOUT_MS);
    const latency = Date.now() - startedAt;
    const decision = authorizerDecision(outcome, event.methodArn);
    if (decision.status !== 200) {
      const line = `WS  authorizer ${connection.connectionId} ${decision.status} ${elapsed(startedAt)} ${path}`;
      if (decision.status === 500)
        logger.error(`${line}: ${decision.reason}`, outcome.ok ? undefined : outcome.error);
      else logger.info(`${line} (${decision.reason})`);
      return decision.status;
    }
    connection.authorizer = authorizerRequestContext(decision.principalId, decision.context, latency);
    return 200;
  }

  /** The handshake is complete: only now is the connection open for the Management API. */
  private opened(connection: ClientConnection, ws: WebSocket, socket: Duplex): void {
    const { logger, idleTimeoutMs, maxConnectionMs, connections } = this.options;
    connection.open(ws, {
      maxBufferedBytes: this.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
      onOverflow: () => {
        this.counts.slowConsumersClosed++;
        logger.warn(
          `WS  ${connection.connectionId} closed with 1013: outbound buffer over its bound (slow consumer)`,
        );
      },
    });
    watchFrameSizes(socket, MAX_FRAME_BYTES, (bytes) => {
      logger.info(`WS  ${connection.connectionId} frame of ${bytes} bytes is over ${MAX_FRAME_BYTES}: 1009`);
      connection.close(1009, 'Message too big');
    });
    // `$disconnect` gets 1001 "Going away" for both, as API Gateway reports its own closes.
    const idle = setTimeout(() => connection.close(1001, 'Idle timeout', GOING_AWAY), idleTimeoutMs).unref();
    const lifetime = setTimeout(
      () => connection.close(1001, 'Maximum connection duration reached', GOING_AWAY),
      maxConnectionMs,
    ).unref();

    ws.on('message', (data, isBinary) => {
      // Once the server is closing the connection (a frame too large, say), nothing more is routed.
      if (connection.serverClose) return;
      connection.lastActiveAt = Date.now();
      idle.refresh();
      void this.message(connection, rawDataToBuffer(data), isBinary);
    });
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        connection.serverClose ??= { code: 1009, reason: 'Message too big' };
      }
      logger.warn(`WS  ${connection.connectionId} ${error.message}`);
    });
    const closed = new Promise<void>((resolve) => {
      ws.once('close', (code, reason) => {
        clearTimeout(idle);
        clearTimeout(lifetime);
        connections.remove(connection);
        const close = connection.serverClose ?? { code, reason: reason.toString('utf8') };
        if (connection.lost) logger.info(`WS  $disconnect ${connection.connectionId} never sent (dropped)`);
        else this.disconnect(connection, close);
        resolve();
      });
    });
    this.openSockets.add(closed);
    void closed.finally(() => this.openSockets.delete(closed));
  }

  private async message(connection: ClientConnection, data: Buffer, isBinary: boolean): Promise<void> {
    const text = isBinary ? undefined : data.toString('utf8');
    const parsed = parseObject(text);
    if (connection.inFlight >= this.maxInFlight) {
      this.refuseInFlight(connection, parsed);
      return;
    }
    connection.inFlight++;
    this.counts.commandsRun++;
    this.counts.peakInFlight = Math.max(this.counts.peakInFlight, connection.inFlight);
    try {
      await this.run(connection, routeOf(parsed, this.options.functions.mountedRoutes), data, text);
    } finally {
      connection.inFlight--;
    }
  }

  private get maxInFlight(): number {
    return this.options.maxInFlightPerConnection ?? DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION;
  }

  /** Answers a frame its connection has no room for, without running its handler. */
  private refuseInFlight(connection: ClientConnection, frame: Record<string, unknown> | undefined): void {
    this.counts.commandsRefused++;
    const message = `too many commands in flight: at most ${this.maxInFlight} unanswered commands per connection; wait for replies before sending more`;
    connection.postText(
      JSON.stringify(failure(ErrorCode.rateLimited, message, readRequestId(frame?.request_id))),
    );
  }

  private async run(connection: ClientConnection, routeKey: string, data: Buffer, text: string | undefined) {
    const { logger, stage, functions } = this.options;
    const functionId = webSocketRoutes[routeKey] ?? 'default';
    const isMounted = !Object.hasOwn(webSocketRoutes, routeKey) && functions.mountedRoutes.has(routeKey);
    const frame =
      text === undefined
        ? { body: data.toString('base64'), isBase64Encoded: true }
        : { body: text, isBase64Encoded: false };
    const event = messageEvent(connection, stage, routeKey, frame);
    const startedAt = Date.now();
    const outcome = isMounted
      ? await functions.invokeMounted(routeKey, event, INTEGRATION_TIMEOUT_MS)
      : await functions.invoke(functionId, event, INTEGRATION_TIMEOUT_MS);

    if (!outcome.ok) {
      logger.error(`WS  ${routeKey} ${connection.connectionId} failed ${elapsed(startedAt)}`, outcome.error);
      // What API Gateway sends when the integration fails or times out.
      const { requestId } = event.requestContext;
      connection.postText(
        JSON.stringify({
          message: 'Internal server error',
          connectionId: connection.connectionId,
          requestId,
        }),
      );
      return;
    }
    const result = asProxyResult(outcome.result);
    logger.info(
      `WS  ${routeKey} ${connection.connectionId} ${result?.statusCode ?? '-'} ${elapsed(startedAt)}`,
    );
    // Every message route is two-way: a body in the result goes back to the client.
    if (typeof result?.body === 'string' && result.body.length > 0) connection.postText(result.body);
  }

  private disconnect(connection: ClientConnection, close: { code: number; reason: string }): void {
    const { logger, stage, functions } = this.options;
    const startedAt = Date.now();
    const run = functions.invoke('disconnect', disconnectEvent(connection, stage, close)).then((outcome) => {
      const suffix = `${connection.connectionId} ${close.code} ${elapsed(startedAt)}`;
      if (outcome.ok) logger.info(`WS  $disconnect ${suffix}`);
      else logger.error(`WS  $disconnect ${suffix} handler failed`, outcome.error);
    });
    this.disconnects.add(run);
    void run.finally(() => this.disconnects.delete(run));
  }
}
