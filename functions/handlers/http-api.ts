/**
 * The HTTP API (payload format 2.0). JWTs are verified here rather than by an API
 * Gateway JWT authorizer so that HS256 shared secrets work, the same as at `$connect`.
 *
 * Every request runs inside a log context, as the WebSocket routes do: `routeKey`
 * (`GET /api/ws/online-count`), API Gateway's `requestId` and, once the token is verified,
 * `userId` (never the token). Metrics match the WebSocket routes': messages stored,
 * refusals (rate limit, blocked content) and, through the shared delivery, fan-outs.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { matchHttpRoute } from '../../lib/function-specs.ts';
import { AuthError, bearerToken, headerValue, type Identity, isAdmin } from '../core/auth/auth.ts';
import {
  broadcastSchema,
  commandErrorCodes,
  parseCommand,
  sendMessageSchema,
  userIdSchema,
} from '../core/messaging/commands.ts';
import { readHistory } from '../core/messaging/history.ts';
import { onlinePeersPage } from '../core/presence/online-users.ts';
import { presencePeersOf } from '../core/presence/presence-notifier.ts';
import { type Envelope, failure, success } from '../core/shared/envelope.ts';
import { ChatError, ErrorCode, httpStatusFor } from '../core/shared/errors.ts';
import { blockRoutes } from '../http/blocks.ts';
import { conversationsRoute } from '../http/conversations.ts';
import { groupRoutes } from '../http/groups.ts';
import { notifyRoute } from '../http/notify.ts';
import { unreadRoute } from '../http/unread.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, getServices, type Services } from '../runtime/container.ts';
import type { HttpRequest, HttpRoute } from '../runtime/http-route.ts';
import { addLogContext, log, withLogContext } from '../runtime/logger.ts';
import { recordMessage, recordRefusal } from '../runtime/metrics.ts';
import { verifyConfiguredToken } from '../runtime/token-verifier.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';
import '../runtime/wiring/fan-out-invoker.ts';

const ONLINE_USERS_DEFAULT_LIMIT = 100;
const ONLINE_USERS_MAX_LIMIT = 1000;

const routes: Readonly<Record<string, HttpRoute>> = {
  ...groupRoutes,
  ...blockRoutes,
  'GET /api/ws/unread': unreadRoute,
  'GET /api/ws/conversations': conversationsRoute,
  'POST /api/ws/notify': notifyRoute,

  'GET /api/ws/online-count': async ({ services }) => {
    const counts = await services.presence.counts();
    return { count: counts.users, connections: counts.connections };
  },

  'GET /api/ws/online-users': async ({ services, query, identity }) => {
    const caller = await identity();
    await services.readLimiter.check(caller.userId);
    const rawLimit = query('limit');
    const limit = rawLimit === undefined ? ONLINE_USERS_DEFAULT_LIMIT : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ChatError(ErrorCode.badRequest, 'limit must be a positive integer');
    const visibility = services.config.onlineUsersVisibility;
    if (visibility === 'admins' && !isAdmin(caller.roles)) {
      throw new ChatError(ErrorCode.forbidden, 'listing the online users needs the admin role');
    }
    if (visibility === 'peers') {
      const peers = await presencePeersOf(services.conversations, caller.userId);
      return onlinePeersPage(
        peers,
        services.presence,
        Math.min(limit, ONLINE_USERS_MAX_LIMIT),
        query('cursor'),
      );
    }
    let page: Awaited<ReturnType<Services['presence']['listOnline']>>;
    try {
      page = await services.presence.listOnline(Math.min(limit, ONLINE_USERS_MAX_LIMIT), query('cursor'));
    } catch (error) {
      if (error instanceof RangeError) throw new ChatError(ErrorCode.badRequest, error.message);
      throw error;
    }
    return {
      users: page.users.map((user) => user.userId),
      ...(page.cursor ? { next_cursor: page.cursor } : {}),
    };
  },

  'GET /api/ws/online/check': async ({ services, query, identity }) => {
    const caller = await identity();
    const parsed = userIdSchema.safeParse(query('user_id') ?? '');
    if (!parsed.success)
      throw new ChatError(ErrorCode.badRequest, 'user_id is required and must be a valid user id');
    // A user who blocked the caller is reported offline (as their presence pushes are withheld).
    const [online, blockedCaller] = await Promise.all([
      services.presence.connectionsOf([parsed.data]).then(([user]) => user),
      parsed.data === caller.userId ? false : services.blocks.has(parsed.data, caller.userId),
    ]);
    return { user_id: parsed.data, is_online: online !== undefined && !blockedCaller };
  },

  'POST /api/ws/send-message': async ({ services, identity, json }) => {
    const sender = await identity();
    const input = parseCommand(sendMessageSchema, json(), commandErrorCodes.sendMessage);
    const result = await services.chat(callbackUrlFor()).sendMessage(sender, input);
    recordMessage('direct', result);
    return result;
  },

  'POST /api/ws/broadcast': async ({ services, identity, json }) => {
    const sender = await identity();
    if (!services.config.broadcastAllowAll && !isAdmin(sender.roles)) {
      throw new ChatError(ErrorCode.forbidden, 'broadcast needs the admin role');
    }
    const input = parseCommand(broadcastSchema, json(), commandErrorCodes.broadcast);
    const result = await services.chat(callbackUrlFor()).broadcast(sender, input);
    // `queued` (extension): the broadcast went to fan-out workers, which post after this reply.
    return {
      recipients: result.sent_count,
      ...(result.queued !== undefined ? { queued: result.queued } : {}),
    };
  },

  'GET /api/ws/messages': async ({ services, query, identity }) => {
    const reader = await identity();
    await services.readLimiter.check(reader.userId);
    return readHistory(services, reader.userId, {
      roomId: query('room_id'),
      before: query('before'),
      cursor: query('cursor'),
      limit: query('limit'),
    });
  },
};

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

export const handler = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
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
    return withAppEvents(() => runRoute(route, event, matched?.params ?? {}));
  });
};

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
