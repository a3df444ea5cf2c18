/**
 * The HTTP API's routes but uploads (payload format 2.0, served by httpApiHandler: JWT,
 * log context, error envelope). Metrics match the WebSocket routes': messages stored,
 * refusals (rate limit, blocked content) and, through the shared delivery, fan-outs.
 */
import { isAdmin } from '../core/auth/auth.ts';
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
import { ChatError, ErrorCode } from '../core/shared/errors.ts';
import { blockRoutes } from '../http/blocks.ts';
import { conversationsRoute } from '../http/conversations.ts';
import { groupRoutes } from '../http/groups.ts';
import { messageRoutes } from '../http/messages.ts';
import { notifyRoute } from '../http/notify.ts';
import { unreadRoute } from '../http/unread.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, type Services } from '../runtime/container.ts';
import { type HttpRoute, httpApiHandler } from '../runtime/http-route.ts';
import { recordMessage } from '../runtime/metrics.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';
import '../runtime/wiring/fan-out-invoker.ts';

const ONLINE_USERS_DEFAULT_LIMIT = 100;
const ONLINE_USERS_MAX_LIMIT = 1000;

const routes: Readonly<Record<string, HttpRoute>> = {
  ...groupRoutes,
  ...blockRoutes,
  ...messageRoutes,
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

// Application events of the route are sent when it is done.
export const handler = httpApiHandler(routes, { around: withAppEvents });
