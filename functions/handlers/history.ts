/**
 * `history`: a page of a private, group or room conversation, newest first, with the rules
 * of `GET /api/ws/messages`, trimmed to fit a WebSocket message (128 KB).
 */
import { HISTORY_FRAME_BUDGET_BYTES, parseHistoryCommand, readHistory } from '../core/messaging/history.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const query = parseHistoryCommand(data);
  const reader = await sender();
  await services.readLimiter.check(reader.userId);
  const page = await readHistory(services, reader.userId, query, {
    connectionId: event.requestContext.connectionId,
    maxBytes: HISTORY_FRAME_BUDGET_BYTES,
  });
  return { type: 'history', ...page };
});
