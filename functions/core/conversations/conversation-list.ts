/**
 * The conversation list (`list_conversations`, `GET /api/ws/conversations`): the user's
 * private chats and groups, most recent activity first, a page at a time.
 *
 * Activity is a ULID: a conversation's newest message id, or, for a group without
 * messages, its creation time as a ULID (random part zero). The list is ordered by
 * (activity, room id), both descending; a cursor is the position of the last entry of a
 * page, and the next page starts strictly after it.
 *
 * A page reads: one Query of the user's private rows (`limit + 1` deep), the user's groups
 * (bounded by MAX_GROUPS_PER_USER) with their meta items, then for the page only the last
 * messages (one BatchGetItem, so recalled and edited ones show as they are now), the read
 * positions (one BatchGetItem) and an unread count per conversation that has something
 * after the position. Nothing grows with the user's history.
 */
import { encodeTime } from 'ulid';
import * as z from 'zod/mini';
import { parseCommand } from '../messaging/commands.ts';
import type { ConversationIndex } from '../receipts/conversations.ts';
import { UNREAD_CAP } from '../receipts/conversations.ts';
import { mapConcurrent } from '../shared/concurrency.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { ULID } from '../shared/ids.ts';
import type { GroupMembershipIndex, StoredMessage } from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';
import type { ConversationListStore, GroupSummary, PrivateConversation } from './ports.ts';

export const CONVERSATIONS_DEFAULT_LIMIT = 20;
/** 50 entries with 200-character previews and 128-character ids fit in one WebSocket frame (128 KB). */
export const CONVERSATIONS_MAX_LIMIT = 50;
/** Characters of a last message's content the list shows. */
export const PREVIEW_LENGTH = 200;
const MAX_CURSOR_LENGTH = 1024;
/** Unread counts (one Query each) run at once. */
const COUNT_CONCURRENCY = 8;

export const listConversationsSchema = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z.optional(
      meta(
        z
          .number()
          .check(z.int())
          .check(z.gte(1, 'limit must be at least 1'))
          .check(z.lte(CONVERSATIONS_MAX_LIMIT, `limit must be at most ${CONVERSATIONS_MAX_LIMIT}`)),
        { description: `Page size, 1–${CONVERSATIONS_MAX_LIMIT}, default ${CONVERSATIONS_DEFAULT_LIMIT}.` },
      ),
    ),
    cursor: z.optional(
      meta(z.nullable(z.string().check(z.maxLength(MAX_CURSOR_LENGTH))), {
        description: 'The next_cursor of the previous page; absent, null or empty: the first page.',
      }),
    ),
  }),
);

/** Every refusal of `list_conversations` is 1001. */
export const listConversationsErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

export interface ListConversationsInput {
  readonly limit: number;
  readonly cursor?: string;
}

export function parseListConversations(data: unknown): ListConversationsInput {
  const input = parseCommand(listConversationsSchema, data, listConversationsErrorCodes);
  return {
    limit: input.limit ?? CONVERSATIONS_DEFAULT_LIMIT,
    ...(input.cursor ? { cursor: input.cursor } : {}),
  };
}

/** The same input from an HTTP query string (`?limit=&cursor=`). */
export function parseListConversationsQuery(limit?: string, cursor?: string): ListConversationsInput {
  const data: Record<string, unknown> = {};
  if (limit !== undefined && limit !== '') {
    if (!/^\d{1,4}$/.test(limit)) throw new ChatError(ErrorCode.badRequest, 'limit must be an integer');
    data.limit = Number(limit);
  }
  if (cursor !== undefined) data.cursor = cursor;
  return parseListConversations(data);
}

/** Where an entry stands in the list: by activity, then room id, both descending. */
export interface Position {
  readonly activity: string;
  readonly roomId: string;
}

/** Whether `a` comes after `b` in the list (is older). */
export function comesAfter(a: Position, b: Position): boolean {
  return a.activity < b.activity || (a.activity === b.activity && a.roomId < b.roomId);
}

const byListOrder = (a: Position, b: Position) => (comesAfter(a, b) ? 1 : comesAfter(b, a) ? -1 : 0);

/**
 * The cursor names the user it was made for, so another user's cursor (or an edited one)
 * is refused; it holds only a position, which can only ever select among the caller's own
 * conversations: every read is keyed by the verified user id.
 */
export function encodeCursor(userId: string, position: Position): string {
  return Buffer.from(JSON.stringify([userId, position.activity, position.roomId]), 'utf8').toString(
    'base64url',
  );
}

export function decodeCursor(userId: string, cursor: string): Position {
  const refuse = () =>
    new ChatError(ErrorCode.badRequest, 'cursor is not a cursor of this conversation list');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw refuse();
  const [owner, activity, roomId] = parsed as unknown[];
  if (owner !== userId || typeof activity !== 'string' || !ULID.test(activity)) throw refuse();
  if (typeof roomId !== 'string' || !/^(private|group)_/.test(roomId) || roomId.length > 300) throw refuse();
  return { activity, roomId };
}

/** A group's activity before its first message: its creation time as a ULID. */
export function creationActivity(createdAt: string): string {
  const time = Date.parse(createdAt);
  return `${encodeTime(Number.isFinite(time) && time >= 0 ? time : 0, 10)}${'0'.repeat(16)}`;
}

export type Candidate =
  | (Position & { readonly kind: 'private'; readonly row: PrivateConversation })
  | (Position & { readonly kind: 'group'; readonly group: GroupSummary });

export interface PageSelection {
  readonly page: Candidate[];
  /** Where the next page starts; absent on the last page. */
  readonly next?: Position;
}

/**
 * The page after `cursor`: private rows as read (`more` when the read stopped at its
 * limit) merged with every group. Private rows older than the oldest one read are
 * unknown, so nothing older than it is listed yet (the next page starts there): no entry
 * is skipped or repeated across pages, whatever the mix.
 */
export function selectPage(
  privateRows: { readonly rows: readonly PrivateConversation[]; readonly more: boolean },
  groups: readonly GroupSummary[],
  cursor: Position | undefined,
  limit: number,
): PageSelection {
  const candidates: Candidate[] = [
    ...privateRows.rows.map((row) => ({
      kind: 'private' as const,
      activity: row.lastMessageId,
      roomId: row.roomId,
      row,
    })),
    ...groups.map((group) => ({
      kind: 'group' as const,
      activity: group.lastMessageId ?? creationActivity(group.createdAt),
      roomId: group.groupId,
      group,
    })),
  ].sort(byListOrder);
  const lastRow = privateRows.rows.at(-1);
  const floor: Position | undefined =
    privateRows.more && lastRow ? { activity: lastRow.lastMessageId, roomId: lastRow.roomId } : undefined;
  const eligible = candidates.filter(
    (entry) => (!cursor || comesAfter(entry, cursor)) && (!floor || !comesAfter(entry, floor)),
  );
  const page = eligible.slice(0, limit);
  if (eligible.length <= limit && !floor) return { page };
  const last = page.at(-1);
  const next = last ? { activity: last.activity, roomId: last.roomId } : floor;
  return next ? { page, next } : { page };
}

export interface LastMessage {
  readonly message_id: string;
  readonly from_user_id: string;
  readonly content: string;
  readonly message_type: number;
  readonly time: string;
  readonly deleted?: true;
  /** The last message was edited: `content` previews the edited text. */
  readonly edited_at?: string;
}

export type ConversationEntry =
  | {
      readonly room_id: string;
      readonly kind: 'private';
      readonly peer_id: string;
      readonly last_message: LastMessage;
      readonly unread: number;
    }
  | {
      readonly room_id: string;
      readonly kind: 'group';
      readonly group_id: string;
      readonly group_name: string;
      readonly last_message: LastMessage | null;
      readonly unread: number;
    };

export interface ConversationListPage {
  readonly conversations: ConversationEntry[];
  /** Present when more conversations may follow. */
  readonly next_cursor?: string;
}

/** At most `PREVIEW_LENGTH` characters (code points: a surrogate pair is never cut). */
export function preview(content: string): string {
  if (content.length <= PREVIEW_LENGTH) return content;
  let out = '';
  let count = 0;
  for (const char of content) {
    if (count++ === PREVIEW_LENGTH) break;
    out += char;
  }
  return out;
}

export function lastMessageOf(message: StoredMessage): LastMessage {
  return {
    message_id: message.messageId,
    from_user_id: message.fromUserId,
    content: message.deleted ? '' : preview(message.content),
    message_type: message.messageType,
    time: message.createdAt,
    ...(message.deleted ? { deleted: true as const } : {}),
    ...(message.editedAt !== undefined && !message.deleted ? { edited_at: message.editedAt } : {}),
  };
}

export interface ConversationListDependencies {
  readonly store: ConversationListStore;
  readonly memberships: GroupMembershipIndex;
  readonly unread: Pick<ConversationIndex, 'countUnread'>;
  /** Groups listed at most (MAX_GROUPS_PER_USER), newest membership first. */
  readonly maxGroups: number;
}

export async function listConversations(
  deps: ConversationListDependencies,
  userId: string,
  input: ListConversationsInput,
): Promise<ConversationListPage> {
  const cursor = input.cursor === undefined ? undefined : decodeCursor(userId, input.cursor);
  const [privateRows, groupIds] = await Promise.all([
    // One more than the page: the cursor's own row may come back (`<=`).
    deps.store.privateConversations(userId, input.limit + 1, cursor?.activity),
    deps.memberships.groupIdsOf(userId, deps.maxGroups),
  ]);
  const groups = groupIds.length > 0 ? await deps.store.groupSummaries(groupIds) : [];
  const { page, next } = selectPage(privateRows, groups, cursor, input.limit);
  const lastIds = page.flatMap((entry) =>
    entry.kind === 'private'
      ? [{ roomId: entry.roomId, messageId: entry.row.lastMessageId }]
      : entry.group.lastMessageId
        ? [{ roomId: entry.roomId, messageId: entry.group.lastMessageId }]
        : [],
  );
  const [messages, positions] = await Promise.all([
    lastIds.length > 0 ? deps.store.messages(lastIds) : [],
    page.length > 0
      ? deps.store.readPositions(
          userId,
          page.map((entry) => entry.roomId),
        )
      : new Map(),
  ]);
  const lastByRoom = new Map(messages.map((message) => [message.roomId, message]));
  const conversations = await mapConcurrent(page, COUNT_CONCURRENCY, async (entry) => {
    const last = lastByRoom.get(entry.roomId);
    // A private chat whose newest message expired has nothing left to show.
    if (entry.kind === 'private' && !last) return undefined;
    const position = positions.get(entry.roomId);
    const unread =
      last && (position === undefined || position < last.messageId)
        ? (
            await deps.unread.countUnread({
              roomId: entry.roomId,
              readerId: userId,
              kind: entry.kind,
              after: position,
              cap: UNREAD_CAP,
            })
          ).count
        : 0;
    const lastMessage = last ? lastMessageOf(last) : null;
    return entry.kind === 'private'
      ? {
          room_id: entry.roomId,
          kind: 'private' as const,
          peer_id: entry.row.peerId,
          last_message: lastMessage as LastMessage,
          unread,
        }
      : {
          room_id: entry.roomId,
          kind: 'group' as const,
          group_id: entry.group.groupId,
          group_name: entry.group.groupName,
          last_message: lastMessage,
          unread,
        };
  });
  return {
    conversations: conversations.filter((entry) => entry !== undefined),
    ...(next ? { next_cursor: encodeCursor(userId, next) } : {}),
  };
}
