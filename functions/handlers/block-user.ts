/** `block_user`: the caller blocks `user_id` (idempotent). */
import { blockCommandErrorCodes, blockUserSchema } from '../core/blocks/blocks.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ data, services, sender }) => {
  const input = parseCommand(blockUserSchema, data, blockCommandErrorCodes);
  return services.blockService.block((await sender()).userId, input);
});
