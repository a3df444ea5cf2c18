/**
 * `delete_message`: the sender recalls one of their messages. The message keeps its
 * place in the conversation (history and sync show it as `deleted` with empty content)
 * and every participant's open connections are told with `message_deleted`.
 */
import * as z from 'zod/mini';
import { type EventPublisher, messageDeleted } from '../events/app-events.ts';
import { connectionsOf, type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { Recipient } from '../fan-out/fan-out.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { peerOf } from '../shared/ids.ts';
import type {
  GroupStore,
  MessageRecallStore,
  PresenceStore,
  RoomStore,
  StoredMessage,
} from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';
import { messageIdSchema } from './commands.ts';

/** `private_{a}_{b}` with two user ids of up to 128 characters is the longest room id. */
const MAX_ROOM_ID_LENGTH = 300;

/** A conversation's id in commands about its messages (`delete_message`, `edit_message`, `react`, `typing`). */
export const conversationIdSchema = /* @__PURE__ */ schema(() =>
  meta(
    z
      .string()
      .check(z.minLength(1, 'room_id is required'))
      .check(z.maxLength(MAX_ROOM_ID_LENGTH, 'room_id is too long'))
      .check(z.refine((value) => !/\p{Cc}/u.test(value), 'room_id has control characters')),
    {
      pattern: String.raw`^[^\p{Cc}]*$`,
      description: 'The conversation: private_{a}_{b}, a group id or a room id.',
    },
  ),
);

export const deleteMessageSchema = /* @__PURE__ */ schema(() =>
  z.object({
    room_id: conversationIdSchema,
    message_id: messageIdSchema,
  }),
);

export type DeleteMessageInput = z.output<typeof deleteMessageSchema>;

/** Validation failures of `delete_message` all answer 1001. */
export const deleteMessageErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

/** The push to participants; the reply to the sender is the same plus `delivered`. */
export interface MessageDeleted {
  readonly type: 'message_deleted';
  readonly room_id: string;
  readonly message_id: string;
  readonly deleted_by: string;
  /**
   * Private chats: the receiver's peer (the recipient in the sender's frames, the sender in
   * the recipient's); the room id cannot be split reliably when user ids contain `_`.
   */
  readonly peer_id?: string;
  /** When the message was recalled (the first time, when recalled twice). */
  readonly time: string;
}

export interface MessageDeletedReply extends MessageDeleted {
  /** Connections, other than the one that asked, that accepted the push. */
  readonly delivered: number;
  /** Connections handed to fan-out workers (present only when some were). */
  readonly queued?: number;
}

export interface RecallDependencies extends DeliveryDependencies {
  readonly messages: MessageRecallStore;
  readonly groups: Pick<GroupStore, 'get'>;
  readonly rooms: Pick<RoomStore, 'members'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  /**
   * A group's online members (`byOnlineGroup`), so only their presence is read; unset:
   * every member's (offline members get nothing pushed either way).
   */
  readonly onlineGroups?: Pick<OnlineGroupAudience, 'onlineMemberIds'>;
  /** `message.deleted` once the recall is stored; unset: none. */
  readonly events?: EventPublisher;
  readonly now?: () => Date;
}

/**
 * Who is told: both sides of a private chat, every member of a group (those online: with
 * `onlineGroups`, only their presence is read) and its sender, everyone in a room.
 */
async function audience(
  deps: RecallDependencies,
  message: StoredMessage,
  exceptConnectionId: string | undefined,
): Promise<Recipient[]> {
  switch (message.kind) {
    case 'private': {
      const users = [message.fromUserId, ...(message.toUserId ? [message.toUserId] : [])];
      return connectionsOf(await deps.presence.connectionsOf(users), exceptConnectionId);
    }
    case 'group': {
      const groupId = message.groupId ?? message.roomId;
      // A deleted group has no member rows, so no marks: its sender's devices only, as before.
      const members = deps.onlineGroups
        ? await deps.onlineGroups.onlineMemberIds(groupId)
        : ((await deps.groups.get(groupId))?.memberIds ?? []);
      const users = new Set([message.fromUserId, ...members]);
      return connectionsOf(await deps.presence.connectionsOf([...users]), exceptConnectionId);
    }
    case 'room': {
      const members = await deps.rooms.members(message.roomId);
      return connectionsOf(
        members.map((member) => ({ userId: member.userId, connectionIds: [member.connectionId] })),
        exceptConnectionId,
      );
    }
    default:
      return [];
  }
}

export async function recallMessage(
  deps: RecallDependencies,
  senderId: string,
  input: DeleteMessageInput,
  /** The connection that asked: it gets the reply, not the push. */
  originConnectionId?: string,
): Promise<MessageDeletedReply> {
  const recalled = await deps.messages.markDeleted({
    roomId: input.room_id,
    messageId: input.message_id,
    senderId,
    at: deps.now?.() ?? new Date(),
  });
  // Same answer for someone else's message and for none at all: ids cannot be probed.
  if (!recalled) throw new ChatError(ErrorCode.forbidden, 'only the sender may delete a message');
  const push: MessageDeleted = {
    type: 'message_deleted',
    room_id: recalled.roomId,
    message_id: recalled.messageId,
    deleted_by: senderId,
    time: recalled.deletedAt ?? new Date().toISOString(),
  };
  deps.events?.publish(messageDeleted(recalled, senderId, push.time));
  const recipients = await audience(deps, recalled, originConnectionId);
  if (recalled.kind !== 'private') {
    const result = await deliver(deps, recipients, push);
    return { ...push, delivered: result.delivered, ...queuedField(result) };
  }
  // Each side of a private chat gets its own peer.
  const seenBy = (userId: string): MessageDeleted => ({ ...push, peer_id: peerOf(recalled, userId) });
  const results = await Promise.all(
    [...new Set(recipients.map((recipient) => recipient.userId))].map((userId) =>
      deliver(
        deps,
        recipients.filter((recipient) => recipient.userId === userId),
        seenBy(userId),
      ),
    ),
  );
  const delivered = results.reduce((sum, result) => sum + result.delivered, 0);
  const queued = results.reduce((sum, result) => sum + result.queued, 0);
  return { ...seenBy(senderId), delivered, ...queuedField({ queued }) };
}
