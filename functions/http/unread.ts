// Placeholder until the route lands.
import { ChatError, ErrorCode } from '../core/errors.ts';
import type { HttpRoute } from '../runtime/http-route.ts';

export const unreadRoute: HttpRoute = async () => {
  throw new ChatError(ErrorCode.unknownCommand, 'not implemented yet');
};
