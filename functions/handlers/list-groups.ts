/** `list_groups`: a page of the caller's groups with role, member count, last message and unread count. */
import { groupCommandErrorCodes, listGroupsSchema } from '../core/groups/group-commands.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(listGroupsSchema, data, groupCommandErrorCodes);
  const reader = await sender();
  await services.readLimiter.check(reader.userId);
  return services.groupService(callbackUrlFor(event.requestContext)).listGroups(reader, input);
});
