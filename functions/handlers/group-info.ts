/** `group_info`: a group's name, owner and members with their roles (members only). */
import { groupCommandErrorCodes, groupIdOnlySchema } from '../core/groups/group-commands.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(groupIdOnlySchema, data, groupCommandErrorCodes);
  const reader = await sender();
  await services.readLimiter.check(reader.userId);
  return services.groupService(callbackUrlFor(event.requestContext)).groupInfo(reader, input);
});
