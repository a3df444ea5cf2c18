/**
 * Messages and notifications on their way to the application, built from live pushes and
 * from `sync` and `history` items, so that both reach the application in one shape.
 */
import { normalizeId } from './ids.ts';
import type {
  Attachment,
  ChatMessage,
  GroupMessagePush,
  HistoryMessage,
  NewMessagePush,
  RoomMessagePush,
  SyncMessage,
  SystemNotification,
  SystemNotifyPush,
} from './types.ts';

/** A message or notification on its way to the application. */
export type Incoming =
  | { readonly id: string; readonly event: 'message'; readonly payload: ChatMessage }
  | { readonly id: string; readonly event: 'system_notify'; readonly payload: SystemNotification };

export const byId = (a: Incoming, b: Incoming) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isRoomItem(
  item: Incoming,
): item is Incoming & { event: 'message'; payload: { kind: 'room' } } {
  return item.event === 'message' && item.payload.kind === 'room';
}

/** What rich messages add to a message, in pushes and stored items (each only when it applies). */
interface RichFields {
  readonly reply_to?: string;
  readonly edited_at?: string;
  readonly reactions?: Readonly<Record<string, number>>;
  readonly attachment?: Attachment;
}

/** The rich-message fields a push or a stored item has (only those present). */
function richOf(source: RichFields): RichFields {
  return {
    ...(source.reply_to !== undefined ? { reply_to: source.reply_to } : {}),
    ...(source.edited_at !== undefined ? { edited_at: source.edited_at } : {}),
    ...(source.reactions !== undefined ? { reactions: source.reactions } : {}),
    ...(source.attachment !== undefined ? { attachment: source.attachment } : {}),
  };
}

export function fromNewMessage(push: NewMessagePush): Incoming {
  const id = normalizeId(push.message_id);
  return {
    id,
    event: 'message',
    payload: {
      type: 'new_message',
      kind: 'private',
      message_id: push.message_id,
      room_id: push.room_id,
      peer_id: push.peer_id,
      from_user_id: push.from_user_id,
      to_user_id: push.to_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      ...richOf(push),
      catch_up: false,
    },
  };
}

export function fromGroupMessage(push: GroupMessagePush): Incoming {
  return {
    id: normalizeId(push.message_id),
    event: 'message',
    payload: {
      type: 'group_message',
      kind: 'group',
      message_id: push.message_id,
      room_id: push.group_id,
      group_id: push.group_id,
      group_name: push.group_name,
      from_user_id: push.from_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      ...richOf(push),
      catch_up: false,
    },
  };
}

export function fromRoomMessage(push: RoomMessagePush | HistoryMessage, catchUp: boolean): Incoming {
  return {
    id: normalizeId(push.message_id),
    event: 'message',
    payload: {
      type: 'room_message',
      kind: 'room',
      message_id: push.message_id,
      room_id: push.room_id,
      from_user_id: push.from_user_id,
      content: push.content,
      message_type: push.message_type,
      time: push.time,
      ...richOf(push),
      ...('deleted' in push && push.deleted ? { deleted: true as const } : {}),
      catch_up: catchUp,
    },
  };
}

export function fromSystemNotify(push: SystemNotifyPush): Incoming {
  const messageId = push.message_id ?? push.notify_id;
  return {
    id: normalizeId(messageId),
    event: 'system_notify',
    payload: { ...push, message_id: messageId, catch_up: false },
  };
}

export function fromHistoryItem(message: HistoryMessage): Incoming {
  return fromRoomMessage(message, true);
}

export function fromSyncItem(item: SyncMessage): Incoming {
  const id = normalizeId(item.message_id);
  const deleted = item.deleted ? { deleted: true as const } : {};
  switch (item.kind) {
    case 'system':
      return {
        id,
        event: 'system_notify',
        payload: {
          type: 'system_notify',
          notify_id: item.message_id,
          message_id: item.message_id,
          notification_type: item.notification_type ?? '',
          data: isObject(item.data) ? item.data : {},
          time: item.time,
          catch_up: true,
        },
      };
    case 'group':
      return {
        id,
        event: 'message',
        payload: {
          type: 'group_message',
          kind: 'group',
          message_id: item.message_id,
          room_id: item.room_id,
          group_id: item.group_id ?? item.room_id,
          from_user_id: item.from_user_id,
          content: item.content,
          message_type: item.message_type,
          time: item.time,
          ...richOf(item),
          ...deleted,
          catch_up: true,
        },
      };
    default:
      return {
        id,
        event: 'message',
        payload: {
          type: 'new_message',
          kind: 'private',
          message_id: item.message_id,
          room_id: item.room_id,
          peer_id: item.peer_id ?? '',
          from_user_id: item.from_user_id,
          to_user_id: item.to_user_id ?? '',
          content: item.content,
          message_type: item.message_type,
          time: item.time,
          ...richOf(item),
          ...deleted,
          catch_up: true,
        },
      };
  }
}
