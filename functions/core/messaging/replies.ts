/**
 * `reply_to` on `send_message`, `send_group_message` and `send_room_message`: the id of a
 * live message of the same conversation. Checked before anything is counted or stored;
 * anything else answers 2001 and the message is neither stored nor delivered.
 */
import { ChatError, ErrorCode } from '../shared/errors.ts';
import type { MessageStore, StoredMessage } from '../shared/ports.ts';

const sameUsers = (a: StoredMessage, b: StoredMessage): boolean =>
  new Set([a.fromUserId, a.toUserId]).size ===
  new Set([a.fromUserId, a.toUserId, b.fromUserId, b.toUserId]).size;

/** One strongly consistent GetItem, only when the message replies to another. */
export async function checkReplyTo(
  messages: Pick<MessageStore, 'get'>,
  message: StoredMessage,
): Promise<void> {
  if (message.replyTo === undefined) return;
  const target = await messages.get?.(message.roomId, message.replyTo);
  // A private room id can name two different pairs of users (ids with `_`): the users must match too.
  const valid =
    target !== undefined &&
    target.kind === message.kind &&
    !target.deleted &&
    (message.kind !== 'private' || sameUsers(message, target));
  if (!valid) {
    throw new ChatError(ErrorCode.roomInvalid, 'reply_to names no live message of this conversation');
  }
}

/** The `reply_to` field of pushes, when the message replies to another. */
export function replyToField(message: Pick<StoredMessage, 'replyTo'>): { readonly reply_to?: string } {
  return message.replyTo === undefined ? {} : { reply_to: message.replyTo };
}
