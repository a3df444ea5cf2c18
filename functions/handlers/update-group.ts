/** `update_group`: the owner or an admin renames the group; members are told (`group_updated`). */
import { groupCommandErrorCodes, updateGroupSchema } from '../core/groups/group-commands.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(updateGroupSchema, data, groupCommandErrorCodes);
  return services
    .groupService(callbackUrlFor(event.requestContext))
    .rename(await sender(), input, event.requestContext.connectionId);
});
