/**
 * Catch-up (`sync`): everything a user should have since a message id, across all their
 * conversations, oldest first, a page at a time. Message ids are ULIDs, so "since" is a
 * key condition on every source and the whole read is Queries:
 *
 * - `byInbox`: private and system messages addressed to the user;
 * - `byOutbox`: private and group messages the user sent (their other devices catch up);
 * - one Query per group the user is a member of (`byMember`), on the group's partition.
 *
 * Each source is read `limit + 1` deep; the merged, de-duplicated list then holds the
 * first `limit + 1` messages overall exactly (a message's rank in its source is never
 * worse than its rank overall), so the page is exact and `has_more` is never a guess.
 */

import * as z from 'zod/mini';
import { type AttachmentService, type AttachmentWire, attachmentWires } from '../attachments/attachments.ts';
import { mapConcurrent } from '../shared/concurrency.ts';
import { success } from '../shared/envelope.ts';
import { ErrorCode } from '../shared/errors.ts';
import type { GroupMembershipIndex, MessageSyncStore, StoredMessage } from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';
import { messageIdSchema } from './commands.ts';
import { type HistoryMessage, toWire } from './history.ts';

export const SYNC_DEFAULT_LIMIT = 50;
export const SYNC_MAX_LIMIT = 100;
/** API Gateway's WebSocket message limit; a reply must fit in one frame. */
export const MAX_FRAME_BYTES = 128 * 1024;
/** Room left in the frame for the envelope, `request_id` and the page's own fields. */
const FRAME_OVERHEAD_BYTES = 2 * 1024;
/** Group partitions queried at once. */
const GROUP_QUERY_CONCURRENCY = 16;

export const syncSchema = /* @__PURE__ */ schema(() =>
  z.object({
    /** The last message id the client saw; absent, null or empty: from the beginning. */
    since: z.pipe(
      z.optional(z.nullable(z.union([z.literal(''), messageIdSchema]))),
      z.transform((value) => value || undefined),
    ),
    limit: z.pipe(
      z.optional(
        meta(z.number().check(z.int()).check(z.gte(1, 'limit must be at least 1')), {
          description: `Page size, default ${SYNC_DEFAULT_LIMIT}; larger than ${SYNC_MAX_LIMIT} is treated as ${SYNC_MAX_LIMIT}.`,
        }),
      ),
      z.transform((value) => Math.min(value ?? SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT)),
    ),
  }),
);

export interface SyncInput {
  /** Only messages with greater ids; absent: from the beginning. */
  readonly since?: string | undefined;
  /** Page size, 1–100. */
  readonly limit: number;
}

/** Validation failures of `sync` all answer 1001. */
export const syncErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

export type SyncKind = 'private' | 'group' | 'system';

export interface SyncMessage extends HistoryMessage {
  readonly kind: SyncKind;
  /** System notifications: the `type` given to `POST /api/ws/notify`. */
  readonly notification_type?: string;
  /** System notifications: the `data` given to `POST /api/ws/notify`. */
  readonly data?: unknown;
}

export interface SyncReply {
  readonly type: 'sync';
  readonly messages: SyncMessage[];
  /** The last message id of this page: the `since` of the next request (absent on an empty page). */
  readonly next_since?: string;
  /** More messages follow this page. */
  readonly has_more: boolean;
}

export interface SyncDependencies {
  readonly messages: MessageSyncStore;
  readonly memberships: GroupMembershipIndex;
  /** Presigned GETs for the page's attachments; unset: messages carry no `attachment`. */
  readonly attachments?: AttachmentService;
  /** Bytes the page's messages may take; the default keeps a reply inside one frame. */
  readonly maxPageBytes?: number;
}

/** A system message's content is the JSON of `{type, data}` (see notify.ts). */
function systemFields(content: string): Pick<SyncMessage, 'notification_type' | 'data'> {
  try {
    const parsed = JSON.parse(content) as { type?: unknown; data?: unknown } | null;
    if (parsed && typeof parsed.type === 'string')
      return { notification_type: parsed.type, data: parsed.data };
  } catch {
    // Not written by notify; shown as plain content.
  }
  return {};
}

function toSyncMessage(message: StoredMessage, userId: string, attachment?: AttachmentWire): SyncMessage {
  const kind = message.kind as SyncKind;
  return {
    kind,
    ...toWire(message, userId, attachment),
    ...(kind === 'system' && !message.deleted ? systemFields(message.content) : {}),
  };
}

/**
 * Whether `userId` should have `message`: the sources already guarantee it; this is a
 * second line of defence, so a mis-keyed item can never leak into someone else's sync.
 */
function belongsTo(message: StoredMessage, userId: string, groupIds: ReadonlySet<string>): boolean {
  switch (message.kind) {
    case 'private':
      return message.fromUserId === userId || message.toUserId === userId;
    case 'system':
      return message.toUserId === userId;
    case 'group':
      return message.fromUserId === userId || groupIds.has(message.roomId);
    default:
      return false;
  }
}

export async function syncMessages(
  deps: SyncDependencies,
  userId: string,
  input: SyncInput,
): Promise<SyncReply> {
  const { since, limit } = input;
  const depth = limit + 1;
  const [inbox, outbox, groupPages] = await Promise.all([
    deps.messages.inboxSince(userId, since, depth),
    deps.messages.outboxSince(userId, since, depth),
    deps.memberships.groupIdsOf(userId).then(async (groupIds) => ({
      groupIds: new Set(groupIds),
      pages: await mapConcurrent(groupIds, GROUP_QUERY_CONCURRENCY, (groupId) =>
        deps.messages.conversationSince(groupId, since, depth),
      ),
    })),
  ]);

  const byId = new Map<string, StoredMessage>();
  for (const message of [inbox, outbox, ...groupPages.pages].flat()) {
    if (since !== undefined && message.messageId <= since) continue;
    if (!belongsTo(message, userId, groupPages.groupIds)) continue;
    if (!byId.has(message.messageId)) byId.set(message.messageId, message);
  }
  const merged = [...byId.values()].sort((a, b) =>
    a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0,
  );

  // The page: at most `limit` messages and at most `maxPageBytes` of them (at least one).
  const budget = deps.maxPageBytes ?? MAX_FRAME_BYTES - FRAME_OVERHEAD_BYTES;
  const messages: SyncMessage[] = [];
  let bytes = 0;
  // Every message here passed `belongsTo`: only the user's own conversations get URLs.
  const candidates = merged.slice(0, limit);
  const attachments = await attachmentWires(deps.attachments, candidates);
  for (const stored of candidates) {
    const message = toSyncMessage(stored, userId, attachments.get(stored.messageId));
    const size = Buffer.byteLength(JSON.stringify(message), 'utf8') + 1;
    if (messages.length > 0 && bytes + size > budget) break;
    messages.push(message);
    bytes += size;
  }
  const last = messages.at(-1);
  return {
    type: 'sync',
    messages,
    ...(last ? { next_since: last.message_id } : {}),
    has_more: merged.length > messages.length,
  };
}

/** The reply frame's size in bytes (tests and logs). */
export function syncFrameBytes(reply: SyncReply, requestId?: string | number): number {
  return Buffer.byteLength(JSON.stringify(success(reply, requestId)), 'utf8');
}
