import { parseCommand } from '../core/messaging/commands.ts';
import { syncErrorCodes, syncMessages, syncSchema } from '../core/messaging/sync.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/s3.ts';

export const handler = messageRoute(async ({ data, services, sender }) => {
  const input = parseCommand(syncSchema, data, syncErrorCodes);
  const { userId } = await sender();
  await services.readLimiter.check(userId);
  return syncMessages(
    { messages: services.messages, memberships: services.conversations, attachments: services.attachments },
    userId,
    input,
  );
});
