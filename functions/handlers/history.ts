// Placeholder until the route lands: answers like an unknown command.
import { ChatError, ErrorCode } from '../core/errors.ts';
import { messageRoute } from '../runtime/websocket.ts';

export const handler = messageRoute(async ({ event }) => {
  throw new ChatError(ErrorCode.unknownCommand, `unknown command: ${event.requestContext.routeKey}`);
});
