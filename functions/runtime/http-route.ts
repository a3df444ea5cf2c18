/**
 * HTTP API routes (payload format 2.0): what a route receives and returns (data for the
 * success envelope), and the Lambda handler that serves a table of them. JWTs are verified
 * here rather than by an API Gateway JWT authorizer so that HS256 shared secrets work, the
 * same as at `$connect`.
 *
 * Every request runs inside a log context, as the WebSocket routes do: `routeKey`
 * (`GET /api/ws/online-count`), API Gateway's `requestId` and, once the token is verified,
 * `userId` (never the token).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { matchHttpRoute } from '../../lib/function-specs.ts';
import { AuthError, bearerToken, headerValue, type Identity } from '../core/auth/auth.ts';
import { type Envelope, failure, success } from '../core/shared/envelope.ts';
import { ChatError, ErrorCode, httpStatusFor } from '../core/shared/errors.ts';
import { getServices, type Services } from './container.ts';
import { addLogContext, log, withLogContext } from './logger.ts';
import { recordRefusal } from './metrics.ts';
import { verifyConfiguredToken } from './token-verifier.ts';

export interface HttpRequest {
  readonly event: APIGatewayProxyEventV2;
  readonly services: Services;
  query(name: string): string | undefined;
  /** A path parameter of the route (`{group_id}`), URL-decoded. */
  param(name: string): string;
  /** The caller's verified identity; throws 401 without a valid bearer token. */
  identity(): Promise<Identity>;
  json(): unknown;
}

/** Returns the `data` of the success envelope; throws ChatError for protocol errors. */
export type HttpRoute = (request: HttpRequest) => Promise<unknown>;

function respond(statusCode: number, body: Envelope): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function makeRequest(
  event: APIGatewayProxyEventV2,
  services: Services,
  params: Readonly<Record<string, string>>,
): HttpRequest {
  return {
    event,
    services,
    query: (name) => event.queryStringParameters?.[name],
    param: (name) => params[name] ?? '',
    identity: async () => {
      const token = bearerToken(headerValue(event.headers, 'authorization'));
      if (!token) throw new ChatError(ErrorCode.unauthenticated, 'Authorization: Bearer <jwt> is required');
      let identity: Identity;
      try {
        identity = await verifyConfiguredToken(token);
      } catch (error) {
        if (error instanceof AuthError) throw new ChatError(ErrorCode.unauthenticated, 'token rejected');
        throw error;
      }
      addLogContext({ userId: identity.userId });
      return identity;
    },
    json: () => {
      const raw = event.isBase64Encoded
        ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
        : event.body;
      try {
        return JSON.parse(raw ?? '');
      } catch {
        throw new ChatError(ErrorCode.badRequest, 'body must be JSON');
      }
    },
  };
}

/** The Lambda handler serving `routes` (keyed `METHOD /path` as in lib/function-specs.ts). */
export function httpApiHandler(
  routes: Readonly<Record<string, HttpRoute>>,
  options: {
    /** Runs around each matched route (application events: sent when the route is done). */
    readonly around?: <T>(run: () => Promise<T>) => Promise<T>;
  } = {},
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  const around = options.around ?? (<T>(run: () => Promise<T>) => run());
  return async (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath.replace(/\/+$/, '');
    // Path parameters are read here, from the raw path, the same way in AWS and locally.
    const matched = matchHttpRoute(method, path);
    const key = matched ? `${matched.route.method} ${matched.route.path}` : `${method} ${path}`;
    const route = routes[key];
    // API Gateway's route key for our routes; an unmatched path (only the local runtime
    // forwards one) is not logged, as it could hold anything.
    const routeKey = route ? key : '$default';
    return withLogContext({ routeKey, requestId: event.requestContext.requestId }, async () => {
      if (!route) {
        log('info', 'route refused', { code: ErrorCode.unknownCommand, status: 404 });
        return respond(404, failure(ErrorCode.unknownCommand, `no route for ${method} ${path}`));
      }
      return around(() => runRoute(route, event, matched?.params ?? {}));
    });
  };
}

async function runRoute(
  route: HttpRoute,
  event: APIGatewayProxyEventV2,
  params: Readonly<Record<string, string>>,
): Promise<APIGatewayProxyStructuredResultV2> {
  const startedAt = Date.now();
  try {
    const data = await route(makeRequest(event, getServices(), params));
    log('debug', 'route completed', { code: 0, status: 200, durationMs: Date.now() - startedAt });
    return respond(200, success(data));
  } catch (error) {
    if (error instanceof ChatError) {
      recordRefusal(error.code);
      const status = httpStatusFor(error.code);
      // The code only: a refusal's message is for the client.
      if (error.cause) log('warn', 'route failed', { code: error.code, status, error: error.cause });
      else log('info', 'route refused', { code: error.code, status, durationMs: Date.now() - startedAt });
      return respond(status, failure(error.code, error.message));
    }
    log('error', 'route failed unexpectedly', { error });
    return respond(500, failure(ErrorCode.internal, 'internal error; retry later'));
  }
}
