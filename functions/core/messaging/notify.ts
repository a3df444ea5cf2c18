/**
 * System notifications from trusted backends (`POST /api/ws/notify`, admin only), the
 * successor of the old services' SYSTEM_NOTIFY: stored for every recipient (offline
 * users get it through `sync`), then pushed to every open connection of theirs.
 */
import * as z from 'zod/mini';
import { connectionsOf, type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import { mapConcurrent } from '../shared/concurrency.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { newMessageId } from '../shared/ids.ts';
import type { MessageStore, PresenceStore, StoredMessage } from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';
import { userIdSchema } from './commands.ts';

export const NOTIFY_MAX_USERS = 1000;
export const NOTIFY_MAX_TYPE_LENGTH = 64;
export const NOTIFY_MAX_DATA_BYTES = 8 * 1024;
/** `fromUserId` of system messages. No one can recall them, whatever their user id. */
export const SYSTEM_SENDER = 'system';
/** Stored system messages are text: their content is the JSON of `{type, data}`. */
const SYSTEM_MESSAGE_TYPE = 1;
/** Message writes in flight at once. */
const STORE_CONCURRENCY = 25;

export const notifySchema = /* @__PURE__ */ schema(() =>
  z.object({
    user_ids: z
      .array(userIdSchema)
      .check(z.minLength(1, 'user_ids must name at least one user'))
      .check(z.maxLength(NOTIFY_MAX_USERS, `user_ids may name at most ${NOTIFY_MAX_USERS} users`)),
    type: meta(
      z
        .string()
        .check(z.refine((value) => value.trim().length > 0, 'type is empty'))
        .check(
          z.refine(
            (value) => value.length <= NOTIFY_MAX_TYPE_LENGTH,
            `type is longer than ${NOTIFY_MAX_TYPE_LENGTH}`,
          ),
        )
        .check(z.refine((value) => !/\p{Cc}/u.test(value), 'type has control characters')),
      {
        pattern: String.raw`^[^\p{Cc}]*[^\s\p{Cc}][^\p{Cc}]*$`,
        maxLength: NOTIFY_MAX_TYPE_LENGTH,
        description: `Not blank, no control characters, at most ${NOTIFY_MAX_TYPE_LENGTH} UTF-16 code units.`,
      },
    ),
    data: meta(
      z
        ._default(z.record(z.string(), z.unknown()), {})
        .check(
          z.refine(
            (value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= NOTIFY_MAX_DATA_BYTES,
            `data is larger than ${NOTIFY_MAX_DATA_BYTES} bytes of JSON`,
          ),
        ),
      { description: `At most ${NOTIFY_MAX_DATA_BYTES} bytes as UTF-8 JSON.` },
    ),
  }),
);

export type NotifyInput = z.output<typeof notifySchema>;

/** Validation failures of notify all answer 1001 (HTTP 400). */
export const notifyErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

/** The conversation a user's system messages are stored under. */
export function systemRoomId(userId: string): string {
  return `system_${userId}`;
}

/** The push; `data.type` of the envelope stays `system_notify`, the caller's type is `notification_type`. */
export interface SystemNotify {
  readonly type: 'system_notify';
  /** One id per notification, the same for every recipient; also its `message_id` in `sync`. */
  readonly notify_id: string;
  readonly message_id: string;
  readonly notification_type: string;
  readonly data: Record<string, unknown>;
  readonly time: string;
}

export interface NotifyResult {
  /** Connections that accepted the push. */
  readonly recipients: number;
  /** Users the notification was stored for (distinct `user_ids`). */
  readonly stored: number;
  /** Connections handed to fan-out workers (present only when some were). */
  readonly queued?: number;
}

export interface NotifyDependencies extends DeliveryDependencies {
  readonly messages: Pick<MessageStore, 'put'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  readonly now?: () => Date;
}

export async function sendSystemNotification(
  deps: NotifyDependencies,
  input: NotifyInput,
): Promise<NotifyResult> {
  const now = deps.now?.() ?? new Date();
  const userIds = [...new Set(input.user_ids)];
  const notifyId = newMessageId(now);
  const content = JSON.stringify({ type: input.type, data: input.data });
  const messages: StoredMessage[] = userIds.map((userId) => ({
    roomId: systemRoomId(userId),
    messageId: notifyId,
    kind: 'system',
    fromUserId: SYSTEM_SENDER,
    toUserId: userId,
    content,
    messageType: SYSTEM_MESSAGE_TYPE,
    createdAt: now.toISOString(),
  }));
  // Stored before anything is pushed; the presence lookup does not depend on the writes.
  const [, online] = await Promise.all([
    mapConcurrent(messages, STORE_CONCURRENCY, (message) => deps.messages.put(message)).catch(
      (error: unknown) => {
        throw new ChatError(ErrorCode.messageNotStored, 'notification could not be stored', { cause: error });
      },
    ),
    deps.presence.connectionsOf(userIds),
  ]);
  const push: SystemNotify = {
    type: 'system_notify',
    notify_id: notifyId,
    message_id: notifyId,
    notification_type: input.type,
    data: input.data,
    time: now.toISOString(),
  };
  const result = await deliver(deps, connectionsOf(online), push);
  return { recipients: result.delivered, stored: userIds.length, ...queuedField(result) };
}
