/** `list_group_invites`: a page of the caller's pending group invitations (`GROUP_INVITES=required`). */
import { groupCommandErrorCodes, listGroupInvitesSchema } from '../core/groups/group-commands.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(listGroupInvitesSchema, data, groupCommandErrorCodes);
  const reader = await sender();
  await services.readLimiter.check(reader.userId);
  return services.groupService(callbackUrlFor(event.requestContext)).listInvites(reader, input);
});
