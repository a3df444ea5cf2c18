/** `list_conversations`: the caller's private chats and groups, most recent activity first, a page at a time. */
import { listConversations, parseListConversations } from '../core/conversations/conversation-list.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ data, services, sender }) => {
  const input = parseListConversations(data);
  const { userId } = await sender();
  await services.readLimiter.check(userId);
  return { type: 'conversations', ...(await listConversations(services.conversationList, userId, input)) };
});
