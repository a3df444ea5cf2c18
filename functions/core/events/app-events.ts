/**
 * Events for the application's own backend (docs/events.md): what happened, after it was
 * stored, for an EventBridge bus (or, locally, a webhook). Core code builds and publishes
 * them through the `EventPublisher` port; the runtime collects one invocation's events and
 * sends them in one batch when the handler is done (functions/runtime/app-events.ts).
 *
 * Details carry ids, the room, the sender and (for messages) the content: never a token,
 * a secret, a signed URL or a connection's credentials.
 */
import type { AttachmentMeta } from '../attachments/attachments.ts';
import type { PresenceStatus } from '../connections/connections.ts';
import type { GroupChange, GroupCreated, GroupUpdated } from '../groups/group-service.ts';
import type { MessageKind, StoredMessage } from '../shared/ports.ts';

/** EventBridge `source` of every event. */
export const APP_EVENT_SOURCE = 'serverless-chat';

export const APP_EVENT_TYPES = [
  'message.sent',
  'message.edited',
  'message.deleted',
  'message.undelivered',
  'message.reacted',
  'group.created',
  'group.updated',
  'presence.changed',
  'connection.opened',
  'connection.closed',
] as const;

export type AppEventType = (typeof APP_EVENT_TYPES)[number];

/** The message fields every message event carries. */
export interface MessageRef {
  readonly message_id: string;
  readonly room_id: string;
  readonly kind: Exclude<MessageKind, 'system'>;
  readonly from_user_id: string;
  /** Private messages: the recipient. */
  readonly to_user_id?: string;
  /** Group messages. */
  readonly group_id?: string;
}

/** An attachment's metadata: never its URL (a presigned GET is a bearer credential). */
export interface AttachmentDetail {
  readonly attachment_id: string;
  readonly file_name: string;
  readonly content_type: string;
  readonly size: number;
}

export interface MessageSentDetail extends MessageRef {
  readonly content: string;
  readonly message_type: number;
  /** The message it replies to (`reply_to`), same conversation. */
  readonly reply_to?: string;
  /** Its attachment, metadata only: your backend fetches the object with its own S3 grant. */
  readonly attachment?: AttachmentDetail;
  /** When the message was stored (its `time` in frames). */
  readonly time: string;
}

export interface MessageEditedDetail extends MessageRef {
  readonly content: string;
  readonly message_type: number;
  readonly reply_to?: string;
  readonly attachment?: AttachmentDetail;
  readonly edited_at: string;
  readonly time: string;
}

export interface MessageDeletedDetail extends MessageRef {
  readonly deleted_by: string;
  /** When it was recalled. */
  readonly time: string;
}

/** Recipients with no open connection when the message was sent: the mobile-push hook. */
export interface MessageUndeliveredDetail extends MessageSentDetail {
  readonly user_ids: readonly string[];
  /** Group messages: the group's name, for the notification's title. */
  readonly group_name?: string;
}

/** A reaction added to or removed from a message (`react`, `unreact`; not when nothing changed). */
export interface MessageReactedDetail extends MessageRef {
  /** Who reacted. */
  readonly user_id: string;
  readonly emoji: string;
  readonly action: 'added' | 'removed';
  /** The message's counts after the change, emoji with none left out. */
  readonly counts: Readonly<Record<string, number>>;
  /** When the reaction changed. */
  readonly time: string;
}

export interface GroupCreatedDetail {
  readonly group_id: string;
  readonly group_name: string;
  readonly owner_id: string;
  readonly member_ids: readonly string[];
  /** `GROUP_INVITES=required`: the users invited. */
  readonly invited_user_ids?: readonly string[];
  readonly time: string;
}

export interface GroupUpdatedDetail {
  readonly group_id: string;
  readonly group_name: string;
  /** As in the `group_updated` push. */
  readonly change: GroupChange;
  readonly user_ids: readonly string[];
  readonly by: string;
  readonly owner_id?: string;
  readonly role?: string;
  readonly time: string;
}

export interface PresenceChangedDetail {
  readonly user_id: string;
  readonly status: PresenceStatus;
  readonly time: string;
}

export interface ConnectionDetail {
  readonly connection_id: string;
  readonly user_id: string;
  readonly time: string;
}

export interface AppEventDetails {
  readonly 'message.sent': MessageSentDetail;
  readonly 'message.edited': MessageEditedDetail;
  readonly 'message.deleted': MessageDeletedDetail;
  readonly 'message.undelivered': MessageUndeliveredDetail;
  readonly 'message.reacted': MessageReactedDetail;
  readonly 'group.created': GroupCreatedDetail;
  readonly 'group.updated': GroupUpdatedDetail;
  readonly 'presence.changed': PresenceChangedDetail;
  readonly 'connection.opened': ConnectionDetail;
  readonly 'connection.closed': ConnectionDetail;
}

export type AppEvent = {
  readonly [T in AppEventType]: {
    readonly type: T;
    /** When it happened (ISO-8601): EventBridge's `time`. */
    readonly time: string;
    readonly detail: AppEventDetails[T];
  };
}[AppEventType];

/** Where core code reports what it stored. Never throws, never waits: it only records. */
export interface EventPublisher {
  publish(event: AppEvent): void;
  /**
   * False when what is published now would be dropped (no sink configured), so a caller
   * may skip building the event (a message's details copy its content). @default true
   */
  collecting?(): boolean;
}

/** Publishes nothing (no bus configured, or a function that does not publish). */
export const noEvents: EventPublisher = { publish: () => undefined, collecting: () => false };

function event<T extends AppEventType>(type: T, time: string, detail: AppEventDetails[T]): AppEvent {
  return { type, time, detail } as AppEvent;
}

function messageRef(message: StoredMessage): MessageRef {
  return {
    message_id: message.messageId,
    room_id: message.roomId,
    kind: message.kind === 'system' ? 'private' : message.kind,
    from_user_id: message.fromUserId,
    ...(message.toUserId !== undefined ? { to_user_id: message.toUserId } : {}),
    ...(message.groupId !== undefined ? { group_id: message.groupId } : {}),
  };
}

function sentDetail(message: StoredMessage): MessageSentDetail {
  return {
    ...messageRef(message),
    content: message.content,
    message_type: message.messageType,
    ...(message.replyTo !== undefined ? { reply_to: message.replyTo } : {}),
    ...(message.attachment ? { attachment: attachmentDetail(message.attachment) } : {}),
    time: message.createdAt,
  };
}

function attachmentDetail(attachment: AttachmentMeta): AttachmentDetail {
  return {
    attachment_id: attachment.attachmentId,
    file_name: attachment.fileName,
    content_type: attachment.contentType,
    size: attachment.size,
  };
}

export function messageSent(message: StoredMessage): AppEvent {
  return event('message.sent', message.createdAt, sentDetail(message));
}

/**
 * At most this many user ids per `message.undelivered` event: a group's offline members
 * may be many, and an EventBridge entry is at most 256 KB (128-character ids: 64 KB).
 */
export const UNDELIVERED_USERS_PER_EVENT = 500;

/** One event per UNDELIVERED_USERS_PER_EVENT offline recipients; none when all were online. */
export function messageUndelivered(
  message: StoredMessage,
  offlineUserIds: readonly string[],
  groupName?: string,
): AppEvent[] {
  const events: AppEvent[] = [];
  for (let start = 0; start < offlineUserIds.length; start += UNDELIVERED_USERS_PER_EVENT) {
    events.push(
      event('message.undelivered', message.createdAt, {
        ...sentDetail(message),
        user_ids: offlineUserIds.slice(start, start + UNDELIVERED_USERS_PER_EVENT),
        ...(groupName !== undefined ? { group_name: groupName } : {}),
      }),
    );
  }
  return events;
}

export function messageEdited(message: StoredMessage, editedAt: string): AppEvent {
  return event('message.edited', editedAt, {
    ...sentDetail(message),
    edited_at: editedAt,
    time: message.createdAt,
  });
}

export function messageDeleted(message: StoredMessage, deletedBy: string, deletedAt: string): AppEvent {
  return event('message.deleted', deletedAt, {
    ...messageRef(message),
    deleted_by: deletedBy,
    time: deletedAt,
  });
}

export function messageReacted(
  message: StoredMessage,
  reaction: Pick<MessageReactedDetail, 'user_id' | 'emoji' | 'action' | 'counts'>,
  time: string,
): AppEvent {
  return event('message.reacted', time, { ...messageRef(message), ...reaction, time });
}

export function groupCreated(created: GroupCreated, ownerId: string, time: string): AppEvent {
  return event('group.created', time, {
    group_id: created.group_id,
    group_name: created.group_name,
    owner_id: ownerId,
    member_ids: created.member_ids,
    ...(created.invited !== undefined ? { invited_user_ids: created.invited } : {}),
    time,
  });
}

export function groupUpdated(update: GroupUpdated): AppEvent {
  const { type: _push, ...detail } = update;
  return event('group.updated', update.time, detail);
}

export function presenceChanged(userId: string, status: PresenceStatus, time: string): AppEvent {
  return event('presence.changed', time, { user_id: userId, status, time });
}

export function connectionOpened(connectionId: string, userId: string, time: string): AppEvent {
  return event('connection.opened', time, { connection_id: connectionId, user_id: userId, time });
}

export function connectionClosed(connectionId: string, userId: string, time: string): AppEvent {
  return event('connection.closed', time, { connection_id: connectionId, user_id: userId, time });
}
