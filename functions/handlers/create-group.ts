import { commandErrorCodes, createGroupSchema, parseCommand } from '../core/messaging/commands.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import { messageRoute } from '../runtime/websocket.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';

export const handler = messageRoute(async ({ event, data, services, sender }) => {
  const input = parseCommand(createGroupSchema, data, commandErrorCodes.createGroup);
  return services.groupService(callbackUrlFor(event.requestContext)).createGroup(await sender(), input);
});
