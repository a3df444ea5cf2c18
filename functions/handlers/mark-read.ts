/** `mark_read`: moves the reader's position forward and tells the other participants and devices. */
import { parseMarkRead } from '../core/receipts/read-receipts.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseMarkRead(data);
  const reader = await sender();
  return services
    .readReceipts(callbackUrlFor(event.requestContext))
    .markRead(reader, input, event.requestContext.connectionId);
});
