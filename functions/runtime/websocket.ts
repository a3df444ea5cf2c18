/**
 * The edge for WebSocket message routes: parse the frame, resolve the sender from the
 * `$connect` authorizer's context that API Gateway attaches to every event of the
 * connection (never from the body, and without a DynamoDB read), run the route, and turn
 * every outcome into a protocol frame. The frame is the integration response (two-way
 * routes), so a handler never throws to API Gateway.
 */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { identityFromAuthorizer, tokenExpired } from '../core/auth/auth.ts';
import type { Sender } from '../core/messaging/chat-service.ts';
import { failure, type RequestId, readRequestId, success } from '../core/shared/envelope.ts';
import { ChatError, ErrorCode } from '../core/shared/errors.ts';
import { withAppEvents } from './app-events.ts';
import { callbackUrlFor, getServices, type Services } from './container.ts';
import { addLogContext, log, withLogContext } from './logger.ts';
import { countMetric, Metric, recordRefusal } from './metrics.ts';

export interface WebSocketResult {
  readonly statusCode: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface RouteInput {
  readonly event: APIGatewayProxyWebsocketEventV2;
  readonly data: unknown;
  readonly services: Services;
  /**
   * The sender's verified identity, from `requestContext.authorizer` (what the `$connect`
   * authorizer returned; no DynamoDB read). Rejects with 1401 when that context is missing
   * or malformed, or when its token has expired (and closes the connection then).
   */
  sender(): Promise<Sender>;
}

export type WebSocketHandler = (event: APIGatewayProxyWebsocketEventV2) => Promise<WebSocketResult>;

interface Frame {
  readonly cmd?: unknown;
  readonly data?: unknown;
  readonly request_id?: unknown;
}

/** Parses a client frame; undefined when it is not a JSON object. */
export function parseFrame(
  event: Pick<APIGatewayProxyWebsocketEventV2, 'body' | 'isBase64Encoded'>,
): Frame | undefined {
  if (event.isBase64Encoded || typeof event.body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(event.body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Frame)
      : undefined;
  } catch {
    return undefined;
  }
}

export function reply(body: unknown): WebSocketResult {
  return { statusCode: 200, body: JSON.stringify(body) };
}

export const TOKEN_EXPIRED_MESSAGE = 'token expired; reconnect with a fresh token';
export const NO_IDENTITY_MESSAGE = 'connection has no verified identity; reconnect';

/** `requestContext.authorizer`, which API Gateway adds to the events of authorized connections. */
export function authorizerOf(event: Pick<APIGatewayProxyWebsocketEventV2, 'requestContext'>): unknown {
  return (event.requestContext as { authorizer?: unknown }).authorizer;
}

/**
 * The sender, from the context the `$connect` authorizer returned (functions/core/auth/auth.ts
 * `authorizerContext`): API Gateway passes it, as `requestContext.authorizer`, to every
 * route of the connection, so no DynamoDB read is needed. No or a malformed context
 * (an API without the authorizer, a tampered event) is 1401: the body is never trusted.
 * A token whose `exp` has passed, beyond the same clock tolerance as `$connect`, is
 * refused with 1401 and the connection is closed (`DELETE @connections`); its
 * `$disconnect` then removes the row and presence as for any close (and the TTL does if it
 * never comes). A failed close is logged: every later command is refused the same way anyway.
 */
export async function senderOf(
  services: Pick<Services, 'config' | 'notifier'>,
  event: APIGatewayProxyWebsocketEventV2,
  now: () => number = Date.now,
): Promise<Sender> {
  const { connectionId } = event.requestContext;
  const identity = identityFromAuthorizer(authorizerOf(event));
  if (!identity) {
    log('warn', 'no valid authorizer context on a message route', { connectionId });
    throw new ChatError(ErrorCode.unauthenticated, NO_IDENTITY_MESSAGE);
  }
  const nowSeconds = Math.floor(now() / 1000);
  if (tokenExpired(identity.expiresAt, nowSeconds, services.config.jwt.clockToleranceSeconds)) {
    log('info', 'token expired; closing connection', { connectionId, userId: identity.userId });
    countMetric(Metric.tokenExpiredCloses);
    try {
      await services.notifier(callbackUrlFor(event.requestContext)).close(connectionId);
    } catch (error) {
      log('warn', 'closing a connection with an expired token failed', { connectionId, error });
    }
    throw new ChatError(ErrorCode.unauthenticated, TOKEN_EXPIRED_MESSAGE);
  }
  addLogContext({ userId: identity.userId });
  return { userId: identity.userId, roles: identity.roles };
}

/**
 * Runs a message route. Every log line written while it runs carries `routeKey`,
 * `connectionId`, `requestId` (API Gateway's) and, once the sender is resolved, `userId`.
 * The application events it published are sent once the reply is ready (app-events.ts).
 */
export function messageRoute(run: (input: RouteInput) => Promise<unknown>): WebSocketHandler {
  return (event) => {
    const { connectionId, routeKey, requestId } = event.requestContext;
    return withLogContext({ routeKey, connectionId, requestId }, () =>
      withAppEvents(() => runRoute(run, event)),
    );
  };
}

async function runRoute(
  run: (input: RouteInput) => Promise<unknown>,
  event: APIGatewayProxyWebsocketEventV2,
): Promise<WebSocketResult> {
  const startedAt = Date.now();
  const frame = parseFrame(event);
  const requestId: RequestId | undefined = readRequestId(frame?.request_id);
  if (!frame) return reply(failure(ErrorCode.badRequest, 'frame is not a JSON object', requestId));
  try {
    const services = getServices();
    const data = await run({
      event,
      data: frame.data ?? {},
      services,
      sender: () => senderOf(services, event),
    });
    log('debug', 'route completed', { code: 0, durationMs: Date.now() - startedAt });
    return reply(success(data, requestId));
  } catch (error) {
    if (error instanceof ChatError) {
      recordRefusal(error.code);
      // The code only: a refusal's message is for the client.
      if (error.cause) log('warn', 'route failed', { code: error.code, error: error.cause });
      else log('info', 'route refused', { code: error.code, durationMs: Date.now() - startedAt });
      return reply(failure(error.code, error.message, requestId));
    }
    log('error', 'route failed unexpectedly', { error });
    return reply(failure(ErrorCode.internal, 'internal error; retry later', requestId));
  }
}
