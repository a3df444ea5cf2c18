/**
 * `edit_message`: the sender replaces the content of one of their messages (private,
 * group or room). The same rules as sending apply (length 1002, content filter 10007 /
 * 3008 in groups, the per-user message rate 1029); a recalled message cannot be edited.
 * History, sync and the conversation list show the new content with `edited_at`; every
 * participant's open connections but the one that asked get `message_edited`.
 */
import * as z from 'zod/mini';
import type { BlockStore } from '../blocks/blocks.ts';
import { type EventPublisher, messageEdited } from '../events/app-events.ts';
import { type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { ContentFilter } from '../filter/content-filter.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import type { MessageGuards } from '../guards/guards.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { peerOf } from '../shared/ids.ts';
import type {
  GroupStore,
  MessageEditStore,
  MessageStore,
  PresenceStore,
  RoomStore,
} from '../shared/ports.ts';
import { schema } from '../shared/schema.ts';
import {
  conversationKind,
  deliverWithPeerIds,
  groupOrRoomParticipants,
  others,
  type Participants,
  privateParticipants,
} from './audience.ts';
import { assertContentLength, contentSchema, messageIdSchema } from './commands.ts';
import { conversationIdSchema } from './recall.ts';

export const editMessageSchema = /* @__PURE__ */ schema(() =>
  z.object({
    room_id: conversationIdSchema,
    message_id: messageIdSchema,
    content: contentSchema,
  }),
);

export type EditMessageInput = z.output<typeof editMessageSchema>;

/** Missing or blank content answers 10002 as when sending; every other shape error 1001. */
export const editMessageErrorCodes = {
  required: { content: ErrorCode.targetAndContentRequired },
  invalid: ErrorCode.badRequest,
} as const;

/** The push to participants; the reply to the editor is the same plus `delivered`. */
export interface MessageEdited {
  readonly type: 'message_edited';
  readonly room_id: string;
  readonly message_id: string;
  readonly content: string;
  readonly edited_at: string;
  /** Private chats: the receiver's peer (as in `message_deleted`). */
  readonly peer_id?: string;
}

export interface MessageEditedReply extends MessageEdited {
  /** Connections, other than the one that asked, that accepted the push. */
  readonly delivered: number;
  readonly queued?: number;
}

export interface EditDependencies extends DeliveryDependencies {
  readonly messages: MessageEditStore & Required<Pick<MessageStore, 'get'>>;
  readonly groups: Pick<GroupStore, 'get'>;
  readonly rooms: Pick<RoomStore, 'members'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  /** Groups: the online members only (see AudienceDependencies.onlineGroups). */
  readonly onlineGroups?: OnlineGroupAudience;
  readonly blocks?: Pick<BlockStore, 'has'>;
  readonly contentFilter?: ContentFilter;
  /** The per-user message rate (an edit counts as a message); unset: no limit. */
  readonly guards?: Pick<MessageGuards, 'checkRate'>;
  readonly maxContentLength: number;
  /** `message.edited` once the edit is stored; unset: none. */
  readonly events?: EventPublisher;
  readonly now?: () => Date;
}

const notEditable = () =>
  new ChatError(ErrorCode.forbidden, 'only the sender may edit a message, and not once it is deleted');

/** Who is told, checked before anything is written: members, room connections, or both users of a private chat. */
async function participantsFor(
  deps: EditDependencies,
  kind: Participants['kind'],
  input: EditMessageInput,
  editorId: string,
): Promise<Participants> {
  if (kind !== 'private') return groupOrRoomParticipants(deps, kind, input.room_id, editorId);
  // A private chat's users come from the message (the room id cannot be split reliably).
  const message = await deps.messages.get(input.room_id, input.message_id);
  if (!message || message.fromUserId !== editorId) throw notEditable();
  return privateParticipants(deps, message, editorId);
}

export async function editMessage(
  deps: EditDependencies,
  editorId: string,
  input: EditMessageInput,
  /** The connection that asked: it gets the reply, not the push. */
  originConnectionId?: string,
): Promise<MessageEditedReply> {
  const kind = conversationKind(input.room_id);
  assertContentLength(input.content, deps.maxContentLength);
  if ((await deps.contentFilter?.check(input.content))?.blocked) {
    throw kind === 'group'
      ? new ChatError(ErrorCode.groupContentBlocked, 'group message has blocked content')
      : new ChatError(ErrorCode.contentBlocked, 'message has blocked content');
  }
  const participants = await participantsFor(deps, kind, input, editorId);
  const now = deps.now?.() ?? new Date();
  await deps.guards?.checkRate(editorId, now);
  const edited = await deps.messages.edit({
    roomId: input.room_id,
    messageId: input.message_id,
    senderId: editorId,
    content: input.content,
    at: now,
  });
  // Same answer for someone else's message, a recalled one and none at all.
  if (!edited) throw notEditable();
  const push: MessageEdited = {
    type: 'message_edited',
    room_id: edited.roomId,
    message_id: edited.messageId,
    content: edited.content,
    edited_at: edited.editedAt ?? now.toISOString(),
  };
  deps.events?.publish(messageEdited(edited, push.edited_at));
  const recipients = others(participants.connections, { connectionId: originConnectionId });
  if (kind !== 'private') {
    const result = await deliver(deps, recipients, push);
    return { ...push, delivered: result.delivered, ...queuedField(result) };
  }
  const result = await deliverWithPeerIds(deps, recipients, push, edited);
  return { ...push, peer_id: peerOf(edited, editorId), ...result };
}
