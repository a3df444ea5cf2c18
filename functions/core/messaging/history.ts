/** Reading a conversation's history: participants and members only, newest first, by cursor. */

import { type AttachmentService, type AttachmentWire, attachmentWires } from '../attachments/attachments.ts';
import { isRoomId } from '../rooms/rooms.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { GROUP_ID, isPrivateRoomParticipant, peerOf, ULID } from '../shared/ids.ts';
import type { GroupStore, MessageStore, RoomStore, StoredMessage } from '../shared/ports.ts';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 100;
/**
 * Largest page the `history` command answers with, in bytes of JSON: API Gateway refuses
 * WebSocket messages over 128 KB, and the envelope and `type` need a little room.
 */
export const HISTORY_FRAME_BUDGET_BYTES = 120 * 1024;

export interface HistoryQuery {
  readonly roomId?: string;
  /** A message id: only older messages are returned. */
  readonly before?: string;
  /** The opaque `next_cursor` of a previous page; wins over `before`. */
  readonly cursor?: string;
  readonly limit?: string | number;
}

export interface HistoryMessage {
  readonly message_id: string;
  readonly room_id: string;
  readonly from_user_id: string;
  readonly to_user_id?: string;
  /**
   * Private messages: the other participant from the reader's point of view (the room id
   * cannot be split reliably when user ids contain `_`).
   */
  readonly peer_id?: string;
  readonly group_id?: string;
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5: the file, with a short-lived presigned GET (participants only). */
  readonly attachment?: AttachmentWire;
  readonly time: string;
  /** Recalled by its sender: `content` is empty. */
  readonly deleted?: true;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
  /** When its sender last edited it; `content` is the edited text. */
  readonly edited_at?: string;
  /** Reaction counts by emoji; absent when there are none (and on a recalled message). */
  readonly reactions?: Readonly<Record<string, number>>;
}

export interface HistoryPage {
  readonly room_id: string;
  readonly messages: HistoryMessage[];
  /** Present when older messages may exist. */
  readonly next_cursor?: string;
}

/**
 * A stored message as `readerId` sees it in history and `sync`; a recalled one keeps its
 * place, without content.
 */
export function toWire(
  message: StoredMessage,
  readerId: string,
  attachment?: AttachmentWire,
): HistoryMessage {
  return {
    message_id: message.messageId,
    room_id: message.roomId,
    from_user_id: message.fromUserId,
    ...(message.toUserId !== undefined ? { to_user_id: message.toUserId } : {}),
    ...(message.kind === 'private' ? { peer_id: peerOf(message, readerId) } : {}),
    ...(message.groupId !== undefined ? { group_id: message.groupId } : {}),
    content: message.deleted ? '' : message.content,
    message_type: message.messageType,
    ...(attachment && !message.deleted ? { attachment } : {}),
    time: message.createdAt,
    ...(message.deleted ? { deleted: true as const } : {}),
    ...(message.replyTo !== undefined ? { reply_to: message.replyTo } : {}),
    ...(message.editedAt !== undefined && !message.deleted ? { edited_at: message.editedAt } : {}),
    ...reactionsField(message),
  };
}

/** `reactions` when the message has some above zero and is not recalled. */
export function reactionsField(message: StoredMessage): { readonly reactions?: Record<string, number> } {
  if (message.deleted || !message.reactions) return {};
  const counts = Object.entries(message.reactions).filter(([, count]) => count > 0);
  return counts.length > 0 ? { reactions: Object.fromEntries(counts) } : {};
}

function parseLimit(raw: string | number | undefined): number {
  if (raw === undefined || raw === '') return HISTORY_DEFAULT_LIMIT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new ChatError(ErrorCode.badRequest, 'limit must be a positive integer');
  return Math.min(value, HISTORY_MAX_LIMIT);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function parseBefore(query: HistoryQuery): string | undefined {
  let before = query.before;
  if (query.cursor) {
    // Node's decoder skips characters outside the alphabet ("!!!" decodes to nothing):
    // anything but a base64url ULID is refused, never read as "from the newest".
    before = BASE64URL.test(query.cursor) ? Buffer.from(query.cursor, 'base64url').toString('utf8') : '';
    if (!ULID.test(before))
      throw new ChatError(ErrorCode.badRequest, 'cursor is not a valid message position');
  }
  if (before === undefined || before === '') return undefined;
  if (!ULID.test(before))
    throw new ChatError(ErrorCode.badRequest, 'before/cursor is not a valid message position');
  return before;
}

export interface HistoryOptions {
  /**
   * The connection asking (the `history` command): when it is in the room, that one
   * GetItem settles access to a public room before any Query of the room.
   */
  readonly connectionId?: string;
  /** Fewer messages than `limit` when the page's JSON would exceed this many bytes. */
  readonly maxBytes?: number;
}

export interface HistoryDependencies {
  readonly messages: MessageStore;
  readonly groups: GroupStore;
  /** Without it, public rooms are refused (1403). */
  readonly rooms?: Pick<RoomStore, 'member' | 'hasUser'>;
  /** Presigned GETs for the page's attachments; unset: messages carry no `attachment`. */
  readonly attachments?: AttachmentService;
}

function encodeCursor(messageId: string): string {
  return Buffer.from(messageId, 'utf8').toString('base64url');
}

/** The longest cursor a page can carry: a ULID's. */
const MAX_CURSOR = encodeCursor('0'.repeat(26));

/**
 * Keeps the newest messages whose JSON fits in `maxBytes` (always at least one: a message
 * of 4,000 characters is far smaller). When some are left out, the cursor points just
 * past the last one kept, so the next page starts exactly there.
 */
function fitToBudget(page: HistoryPage, maxBytes: number): HistoryPage {
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
  let size = bytes({ type: 'history', room_id: page.room_id, messages: [], next_cursor: MAX_CURSOR });
  let kept = 0;
  for (const message of page.messages) {
    const added = bytes(message) + (kept > 0 ? 1 : 0);
    if (kept > 0 && size + added > maxBytes) break;
    size += added;
    kept++;
  }
  if (kept === page.messages.length) return page;
  const messages = page.messages.slice(0, kept);
  return {
    room_id: page.room_id,
    messages,
    next_cursor: encodeCursor((messages.at(-1) as HistoryMessage).message_id),
  };
}

/**
 * A public room is readable by a user while one of their live connections is in it: the
 * asking connection (one GetItem), else any of theirs (a Query of the room's members).
 */
async function mayReadRoom(
  rooms: HistoryDependencies['rooms'],
  roomId: string,
  readerId: string,
  connectionId: string | undefined,
): Promise<boolean> {
  if (!rooms) return false;
  if (connectionId) {
    const member = await rooms.member(roomId, connectionId);
    if (member?.userId === readerId) return true;
  }
  return rooms.hasUser(roomId, readerId);
}

export async function readHistory(
  deps: HistoryDependencies,
  readerId: string,
  query: HistoryQuery,
  options: HistoryOptions = {},
): Promise<HistoryPage> {
  const roomId = query.roomId?.trim();
  if (!roomId) throw new ChatError(ErrorCode.roomIdEmpty, 'room_id is required');
  const limit = parseLimit(query.limit);
  const before = parseBefore(query);
  let allowed: boolean;
  const isPrivate = roomId.startsWith('private_');
  if (isPrivate) allowed = isPrivateRoomParticipant(roomId, readerId);
  else if (roomId.startsWith('group_')) {
    if (!GROUP_ID.test(roomId)) throw new ChatError(ErrorCode.roomInvalid, 'room_id is not a valid group id');
    allowed = await deps.groups.isMember(roomId, readerId);
  } else if (roomId.startsWith('system_')) {
    // System notices are read through catch-up, not as a conversation.
    allowed = false;
  } else {
    if (!isRoomId(roomId)) {
      throw new ChatError(ErrorCode.roomInvalid, 'room_id must match ^[A-Za-z0-9_-]{1,64}$');
    }
    allowed = await mayReadRoom(deps.rooms, roomId, readerId, options.connectionId);
  }
  if (!allowed) throw new ChatError(ErrorCode.forbidden, 'not a participant of this conversation');
  // Ids with underscores make private room names ambiguous (a_b+c and a+b_c), so a
  // private reader only ever sees messages they sent or received.
  const page = await deps.messages.history({
    roomId,
    limit,
    before,
    ...(isPrivate ? { participant: readerId } : {}),
  });
  // URLs only now, after the access check above.
  const attachments = await attachmentWires(deps.attachments, page.messages);
  const result: HistoryPage = {
    room_id: roomId,
    messages: page.messages.map((message) => toWire(message, readerId, attachments.get(message.messageId))),
    ...(page.nextBefore ? { next_cursor: encodeCursor(page.nextBefore) } : {}),
  };
  return options.maxBytes === undefined ? result : fitToBudget(result, options.maxBytes);
}

/** Turns `history` command data into a query: `room_id` string (2002 / 2001), the rest as over HTTP (1001). */
export function parseHistoryCommand(data: unknown): HistoryQuery {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ChatError(ErrorCode.roomIdEmpty, 'data must be an object with room_id');
  }
  const fields = data as Record<string, unknown>;
  const given = (name: string): unknown => fields[name] ?? undefined;
  const roomId = given('room_id');
  if (roomId !== undefined && typeof roomId !== 'string') {
    throw new ChatError(ErrorCode.roomInvalid, 'room_id must be a string');
  }
  const text = (name: 'before' | 'cursor'): string | undefined => {
    const value = given(name);
    if (value !== undefined && typeof value !== 'string') {
      throw new ChatError(ErrorCode.badRequest, `${name} must be a string`);
    }
    return value;
  };
  const limit = given('limit');
  if (limit !== undefined && typeof limit !== 'number' && typeof limit !== 'string') {
    throw new ChatError(ErrorCode.badRequest, 'limit must be a positive integer');
  }
  return { roomId, before: text('before'), cursor: text('cursor'), limit };
}
