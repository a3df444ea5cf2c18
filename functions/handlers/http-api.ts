/**
 * The HTTP API (payload format 2.0). JWTs are verified here rather than by an API
 * Gateway JWT authorizer so that HS256 shared secrets work, the same as at `$connect`.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { AuthError, bearerToken, headerValue, isAdmin } from '../core/auth.ts';
import {
  broadcastSchema,
  commandErrorCodes,
  parseCommand,
  sendMessageSchema,
  userIdSchema,
} from '../core/commands.ts';
import { type Envelope, failure, success } from '../core/envelope.ts';
import { ChatError, ErrorCode, httpStatusFor } from '../core/errors.ts';
import { readHistory } from '../core/history.ts';
import { notifyRoute } from '../http/notify.ts';
import { unreadRoute } from '../http/unread.ts';
import { callbackUrlFor, getServices, type Services } from '../runtime/container.ts';
import type { HttpRequest, HttpRoute } from '../runtime/http-route.ts';
import { log } from '../runtime/logger.ts';
import { verifyConfiguredToken } from '../runtime/token-verifier.ts';

const ONLINE_USERS_DEFAULT_LIMIT = 100;
const ONLINE_USERS_MAX_LIMIT = 1000;

const routes: Readonly<Record<string, HttpRoute>> = {
  'GET /api/ws/unread': unreadRoute,
  'POST /api/ws/notify': notifyRoute,

  'GET /api/ws/online-count': async ({ services }) => {
    const counts = await services.presence.counts();
    return { count: counts.users, connections: counts.connections };
  },

  'GET /api/ws/online-users': async ({ services, query, identity }) => {
    await identity();
    const rawLimit = query('limit');
    const limit = rawLimit === undefined ? ONLINE_USERS_DEFAULT_LIMIT : Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ChatError(ErrorCode.badRequest, 'limit must be a positive integer');
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
    await identity();
    const parsed = userIdSchema.safeParse(query('user_id') ?? '');
    if (!parsed.success)
      throw new ChatError(ErrorCode.badRequest, 'user_id is required and must be a valid user id');
    const [online] = await services.presence.connectionsOf([parsed.data]);
    return { user_id: parsed.data, is_online: online !== undefined };
  },

  'POST /api/ws/send-message': async ({ services, identity, json }) => {
    const sender = await identity();
    const input = parseCommand(sendMessageSchema, json(), commandErrorCodes.sendMessage);
    return services.chat(callbackUrlFor()).sendMessage(sender, input);
  },

  'POST /api/ws/broadcast': async ({ services, identity, json }) => {
    const sender = await identity();
    if (!services.config.broadcastAllowAll && !isAdmin(sender.roles)) {
      throw new ChatError(ErrorCode.forbidden, 'broadcast needs the admin role');
    }
    const input = parseCommand(broadcastSchema, json(), commandErrorCodes.broadcast);
    const result = await services.chat(callbackUrlFor()).broadcast(sender, input);
    return { recipients: result.sent_count };
  },

  'GET /api/ws/messages': async ({ services, query, identity }) => {
    const reader = await identity();
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

function makeRequest(event: APIGatewayProxyEventV2, services: Services): HttpRequest {
  return {
    event,
    services,
    query: (name) => event.queryStringParameters?.[name],
    identity: async () => {
      const token = bearerToken(headerValue(event.headers, 'authorization'));
      if (!token) throw new ChatError(ErrorCode.unauthenticated, 'Authorization: Bearer <jwt> is required');
      try {
        return await verifyConfiguredToken(token);
      } catch (error) {
        if (error instanceof AuthError) throw new ChatError(ErrorCode.unauthenticated, 'token rejected');
        throw error;
      }
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
  const route = routes[`${method} ${path}`];
  if (!route) return respond(404, failure(ErrorCode.unknownCommand, `no route for ${method} ${path}`));
  try {
    const data = await route(makeRequest(event, getServices()));
    return respond(200, success(data));
  } catch (error) {
    if (error instanceof ChatError) {
      if (error.cause)
        log('warn', 'http route failed', { method, path, code: error.code, error: error.cause });
      return respond(httpStatusFor(error.code), failure(error.code, error.message));
    }
    log('error', 'http route failed unexpectedly', { method, path, error });
    return respond(500, failure(ErrorCode.internal, 'internal error; retry later'));
  }
};
