/** `GET /api/ws/conversations?limit=&cursor=`: the caller's conversation list (JWT), as `list_conversations`. */
import { listConversations, parseListConversationsQuery } from '../core/conversations/conversation-list.ts';
import type { HttpRoute } from '../runtime/http-route.ts';

export const conversationsRoute: HttpRoute = async ({ services, identity, query }) => {
  const reader = await identity();
  await services.readLimiter.check(reader.userId);
  const input = parseListConversationsQuery(query('limit'), query('cursor'));
  return listConversations(services.conversationList, reader.userId, input);
};
