/**
 * Blocking: a user blocks another (`block_user`), undoes it (`unblock_user`) and pages
 * through whom they blocked (`list_blocked`). A block row (blocker, blocked) means: the
 * blocked user's private messages to the blocker are refused (1403), the blocked user
 * cannot put the blocker into a group (1403, nothing written), and the blocked user hears
 * nothing of the blocker's presence (no `presence` pushes, `online/check` says offline).
 * The blocker keeps every right towards the blocked user. Blocking is idempotent.
 */
import * as z from 'zod/mini';
import { userIdSchema } from '../messaging/commands.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { isValidUserId } from '../shared/ids.ts';
import { meta, schema } from '../shared/schema.ts';

export const LIST_BLOCKED_DEFAULT_LIMIT = 50;
export const LIST_BLOCKED_MAX_LIMIT = 100;

export const blockUserSchema = /* @__PURE__ */ schema(() => z.object({ user_id: userIdSchema }));

export const listBlockedSchema = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z.optional(
      meta(z.number().check(z.int()).check(z.gte(1)).check(z.lte(LIST_BLOCKED_MAX_LIMIT)), {
        description: `Users per page, 1-${LIST_BLOCKED_MAX_LIMIT} (default ${LIST_BLOCKED_DEFAULT_LIMIT}).`,
      }),
    ),
    cursor: z.optional(
      meta(z.string().check(z.minLength(1)).check(z.maxLength(200)), {
        description: 'next_cursor of the previous page (opaque).',
      }),
    ),
  }),
);

export const blockCommandErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

export type BlockUserInput = z.output<typeof blockUserSchema>;
export type ListBlockedInput = z.output<typeof listBlockedSchema>;

export interface BlockRow {
  readonly blockedUserId: string;
  readonly blockedAt: string;
}

/** Block rows keyed (blocker, blocked). */
export interface BlockStore {
  /** Writes the row unless it exists; the stored row either way. */
  block(blockerId: string, blockedUserId: string, at: string): Promise<BlockRow>;
  /** Deletes the row; whether there was one. */
  unblock(blockerId: string, blockedUserId: string): Promise<boolean>;
  /** One page of the blocker's rows in blocked-user-id order, after `after`. */
  page(blockerId: string, limit: number, after?: string): Promise<{ rows: BlockRow[]; more: boolean }>;
  /** Whether `blockerId` blocked `blockedUserId` (one GetItem). */
  has(blockerId: string, blockedUserId: string): Promise<boolean>;
  /**
   * Of `blockerIds`, those who blocked `blockedUserId`: costs what the answer costs (one
   * Query of who blocked `blockedUserId`, not a read per candidate), eventually consistent.
   */
  blockersAmong(blockerIds: readonly string[], blockedUserId: string): Promise<Set<string>>;
  /** Everyone `blockerId` blocked (one Query page per 1 MB). */
  blockedBy(blockerId: string): Promise<Set<string>>;
}

export interface BlockedUsersPage {
  readonly type: 'blocked_users';
  readonly users: { user_id: string; blocked_at: string }[];
  readonly next_cursor?: string;
}

export class BlockService {
  constructor(
    private readonly store: BlockStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async block(blockerId: string, input: BlockUserInput) {
    if (input.user_id === blockerId) throw new ChatError(ErrorCode.badRequest, 'you cannot block yourself');
    const row = await this.store.block(blockerId, input.user_id, this.now().toISOString());
    return { type: 'user_blocked' as const, user_id: row.blockedUserId, blocked_at: row.blockedAt };
  }

  async unblock(blockerId: string, input: BlockUserInput) {
    const wasBlocked = await this.store.unblock(blockerId, input.user_id);
    return { type: 'user_unblocked' as const, user_id: input.user_id, was_blocked: wasBlocked };
  }

  async list(blockerId: string, input: ListBlockedInput): Promise<BlockedUsersPage> {
    const after = input.cursor === undefined ? undefined : decodeBlockCursor(input.cursor);
    const { rows, more } = await this.store.page(blockerId, input.limit ?? LIST_BLOCKED_DEFAULT_LIMIT, after);
    const users = rows.map((row) => ({ user_id: row.blockedUserId, blocked_at: row.blockedAt }));
    const last = users.at(-1);
    return more && last
      ? { type: 'blocked_users', users, next_cursor: Buffer.from(last.user_id, 'utf8').toString('base64url') }
      : { type: 'blocked_users', users };
  }
}

function decodeBlockCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!isValidUserId(decoded)) throw new ChatError(ErrorCode.badRequest, 'cursor is not valid');
  return decoded;
}

/** 1403 for a private message the recipient does not accept (they blocked the sender). */
export const blockedByRecipient = () =>
  new ChatError(ErrorCode.forbidden, 'this user does not accept messages from you');

/** 1403 when some of the users to add blocked the adder; nobody is added then. */
export const blockedByInvitees = (userIds: readonly string[]) =>
  new ChatError(
    ErrorCode.forbidden,
    `these users do not accept being added to groups by you: ${userIds.join(', ')}`,
  );
