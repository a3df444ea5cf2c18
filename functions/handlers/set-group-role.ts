/** `set_group_role`: the owner makes a member an admin or back; members are told (`group_updated`). */
import { groupCommandErrorCodes, setGroupRoleSchema } from '../core/groups/group-commands.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(setGroupRoleSchema, data, groupCommandErrorCodes);
  return services
    .groupService(callbackUrlFor(event.requestContext))
    .setRole(await sender(), input, event.requestContext.connectionId);
});
