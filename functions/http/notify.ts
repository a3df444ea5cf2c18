/** `POST /api/ws/notify {user_ids, type, data}`: system notifications from trusted backends (admin token). */
import { isAdmin } from '../core/auth/auth.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { notifyErrorCodes, notifySchema, sendSystemNotification } from '../core/messaging/notify.ts';
import { ChatError, ErrorCode } from '../core/shared/errors.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import type { HttpRoute } from '../runtime/http-route.ts';

export const notifyRoute: HttpRoute = async ({ services, identity, json }) => {
  const caller = await identity();
  // Checked before the body is read, so non-admins learn nothing about its validation.
  if (!isAdmin(caller.roles)) throw new ChatError(ErrorCode.forbidden, 'notify needs the admin role');
  const input = parseCommand(notifySchema, json(), notifyErrorCodes);
  return sendSystemNotification(
    { ...services.delivery(callbackUrlFor()), messages: services.messages, presence: services.presence },
    input,
  );
};
