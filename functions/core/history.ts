/** Reading a conversation's history: participants and members only, newest first, by cursor. */
import { ChatError, ErrorCode } from './errors.ts';
import { GROUP_ID, isPrivateRoomParticipant } from './ids.ts';
import type { GroupStore, MessageStore, StoredMessage } from './ports.ts';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 100;

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
  readonly group_id?: string;
  readonly content: string;
  readonly message_type: number;
  readonly time: string;
}

export interface HistoryPage {
  readonly room_id: string;
  readonly messages: HistoryMessage[];
  /** Present when older messages may exist. */
  readonly next_cursor?: string;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function toWire(message: StoredMessage): HistoryMessage {
  return {
    message_id: message.messageId,
    room_id: message.roomId,
    from_user_id: message.fromUserId,
    ...(message.toUserId !== undefined ? { to_user_id: message.toUserId } : {}),
    ...(message.groupId !== undefined ? { group_id: message.groupId } : {}),
    content: message.content,
    message_type: message.messageType,
    time: message.createdAt,
  };
}

function parseLimit(raw: string | number | undefined): number {
  if (raw === undefined || raw === '') return HISTORY_DEFAULT_LIMIT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new ChatError(ErrorCode.badRequest, 'limit must be a positive integer');
  return Math.min(value, HISTORY_MAX_LIMIT);
}

function parseBefore(query: HistoryQuery): string | undefined {
  let before = query.before;
  if (query.cursor) {
    before = Buffer.from(query.cursor, 'base64url').toString('utf8');
  }
  if (before === undefined || before === '') return undefined;
  if (!ULID.test(before))
    throw new ChatError(ErrorCode.badRequest, 'before/cursor is not a valid message position');
  return before;
}

export async function readHistory(
  deps: { readonly messages: MessageStore; readonly groups: GroupStore },
  readerId: string,
  query: HistoryQuery,
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
  } else {
    // Public rooms have no stored history yet; refuse rather than guess who may read.
    allowed = false;
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
  return {
    room_id: roomId,
    messages: page.messages.map(toWire),
    ...(page.nextBefore ? { next_cursor: Buffer.from(page.nextBefore, 'utf8').toString('base64url') } : {}),
  };
}
