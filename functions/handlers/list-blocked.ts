/** `list_blocked`: a page of the users the caller blocked. */
import { blockCommandErrorCodes, listBlockedSchema } from '../core/blocks/blocks.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ data, services, sender }) => {
  const input = parseCommand(listBlockedSchema, data, blockCommandErrorCodes);
  return services.blockService.list((await sender()).userId, input);
});
