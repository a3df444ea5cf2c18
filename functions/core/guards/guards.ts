/**
 * Abuse guards on the message commands (`send_message`, `send_group_message`,
 * `send_room_message`, `POST /api/ws/send-message`): a per-user rate limit and
 * `client_msg_id` dedupe. Both live in the `guards` table behind `GuardStore`.
 *
 * Order, per message: the dedupe record is claimed first (so a retry of an accepted
 * message is answered from it without using quota), then the rate limit counts the new
 * message (a refusal releases the claim, so a later retry is treated as new), then the
 * message is stored and delivered.
 *
 * A dedupe record holds the first message's id, time and a tag of its conversation, not
 * the message (one write unit whatever the content). A retry therefore stores its own
 * content under the first id when the first attempt died before storing; a duplicate's
 * reply needs no content, and the rare retry that must deliver a stored message reads it
 * back (`MessageStore.get`).
 */
import { createHash } from 'node:crypto';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import type { ClaimedMessage, GuardStore, StoredMessage } from '../shared/ports.ts';

export interface GuardSettings {
  /** Messages one user may send per minute (fixed one-minute windows); 0 turns the limit off. */
  readonly ratePerMinute: number;
  /** How long a `client_msg_id` is remembered. */
  readonly dedupeTtlSeconds: number;
}

export interface MessageGuardDependencies {
  readonly store: GuardStore;
  readonly settings: GuardSettings;
}

/** What to do with a message that passed the guards. */
export interface Admission {
  /**
   * The message to store and deliver: this one, or this one under the id and time of the
   * first one sent with its `client_msg_id`.
   */
  readonly message: StoredMessage;
  /**
   * `new`: this message claimed its `client_msg_id` (or has none). `seen`: an earlier
   * message claimed it; storing that one (conditional on its id) tells whether it was
   * already stored (a duplicate: deliver nothing) or its first attempt crashed or failed
   * before storing it (store and deliver it now).
   */
  readonly outcome: 'new' | 'seen';
  /** `seen`, and the attempt that claimed it failed after claiming (its record says so). */
  readonly undelivered?: boolean;
}

/** The stored message and whether it was a duplicate (stored before). */
export interface Accepted {
  readonly message: StoredMessage;
  /** Stored by an earlier attempt: deliver nothing, unless `undelivered`. */
  readonly duplicate: boolean;
  /**
   * A duplicate whose earlier attempt failed after claiming (it answered an error, so
   * nobody may have been told): this caller, and only this one, delivers it now.
   */
  readonly undelivered: boolean;
}

const WINDOW_SECONDS = 60;
/** Rate windows are kept a minute past their end (TTL), long enough to never be reused. */
const WINDOW_TTL_SECONDS = 2 * WINDOW_SECONDS;

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);

export function rateKey(userId: string, window: number): string {
  return `rate#${userId}#${window}`;
}

/** The guards key of a user's read window (`history`, `sync`, the HTTP read routes). */
export function readRateKey(userId: string, window: number): string {
  return `read#${userId}#${window}`;
}

const windowOf = (now: Date) => Math.floor(epoch(now) / WINDOW_SECONDS);

/**
 * Counts one hit on `key` (a fixed one-minute window) with one conditional `UpdateItem`;
 * 1029 when `limit` hits were counted already, naming the seconds until the next window.
 * `limit` 0 counts nothing.
 */
async function countInWindow(
  store: Pick<GuardStore, 'countHit'>,
  key: string,
  limit: number,
  now: Date,
  what: string,
): Promise<void> {
  if (limit <= 0) return;
  const seconds = epoch(now);
  const windowEnd = (windowOf(now) + 1) * WINDOW_SECONDS;
  const counted = await store.countHit(key, limit, windowEnd + WINDOW_TTL_SECONDS - WINDOW_SECONDS);
  if (!counted) {
    const retryAfter = Math.max(1, windowEnd - seconds);
    throw new ChatError(
      ErrorCode.rateLimited,
      `rate limited: at most ${limit} ${what} per minute; retry after ${retryAfter} s`,
    );
  }
}

/**
 * The per-user read limit (`READ_RATE_LIMIT_PER_MINUTE`): `history`, `sync` and the HTTP
 * read routes of one user, all connections together, count in one window, so no single
 * account can keep the message table busy (red-team finding 2). 1029 beyond it.
 */
export class ReadLimiter {
  constructor(
    private readonly store: GuardStore,
    private readonly readsPerMinute: number,
  ) {}

  /** Counts one read of `userId`; 1029 when the limit is reached. */
  async check(userId: string, now: Date = new Date()): Promise<void> {
    await countInWindow(this.store, readRateKey(userId, windowOf(now)), this.readsPerMinute, now, 'reads');
  }
}

export function dedupeKey(userId: string, clientMsgId: string): string {
  return `dedupe#${userId}#${clientMsgId}`;
}

/**
 * A message's conversation (kind and room id) as 22 characters: a dedupe record keeps this,
 * not the room id (two user ids of up to 384 bytes each), so it stays under 1 KB.
 */
export function conversationTag(message: Pick<StoredMessage, 'kind' | 'roomId'>): string {
  return createHash('sha256')
    .update(`${message.kind}\u0000${message.roomId}`)
    .digest('base64url')
    .slice(0, 22);
}

/** What the dedupe record of `message` keeps. */
export function claimOf(message: StoredMessage): ClaimedMessage {
  return {
    messageId: message.messageId,
    createdAt: message.createdAt,
    conversation: conversationTag(message),
  };
}

/** Whether a store's write failed its condition (the message id already exists). */
export function isConditionalFailure(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.name === 'ConditionalCheckFailedException') return true;
  }
  return false;
}

/** A rate limit of its own on the guards table (`create_group`): one window per `key(window)`. */
export async function checkRateLimit(
  store: Pick<GuardStore, 'countHit'>,
  rate: {
    readonly key: (window: number) => string;
    readonly limit: number;
    /** What is counted, for the message: `groups created`. */
    readonly what: string;
    readonly now: Date;
  },
): Promise<void> {
  await countInWindow(store, rate.key(windowOf(rate.now)), rate.limit, rate.now, rate.what);
}

export class MessageGuards {
  constructor(private readonly deps: MessageGuardDependencies) {}

  /**
   * Counts one message of `userId` in the current minute; 1029 when the limit is reached,
   * naming the seconds until the next window.
   */
  async checkRate(userId: string, now: Date): Promise<void> {
    await countInWindow(
      this.deps.store,
      rateKey(userId, windowOf(now)),
      this.deps.settings.ratePerMinute,
      now,
      'messages',
    );
  }

  /**
   * Dedupe, then rate limit, for `message` from `message.fromUserId` (see the module
   * comment). Throws 1029 when the rate limit refuses it.
   */
  async admit(message: StoredMessage, now: Date): Promise<Admission> {
    const userId = message.fromUserId;
    const clientMsgId = message.clientMsgId;
    if (!clientMsgId) {
      await this.checkRate(userId, now);
      return { message, outcome: 'new' };
    }
    const key = dedupeKey(userId, clientMsgId);
    const first = await this.deps.store.claim(
      key,
      claimOf(message),
      epoch(now) + this.deps.settings.dedupeTtlSeconds,
      epoch(now),
    );
    if (first) {
      if (first.claimed.conversation !== conversationTag(message)) {
        throw new ChatError(
          ErrorCode.badRequest,
          'client_msg_id was already used for a message to another conversation',
        );
      }
      const { messageId, createdAt } = first.claimed;
      return {
        message: { ...message, messageId, createdAt },
        outcome: 'seen',
        undelivered: first.undelivered,
      };
    }
    try {
      await this.checkRate(userId, now);
    } catch (error) {
      await this.deps.store.release(key).catch(() => undefined);
      throw error;
    }
    return { message, outcome: 'new' };
  }

  /** See `GuardStore.markUndelivered`; nothing for a message without `client_msg_id`. */
  async markUndelivered(message: StoredMessage): Promise<void> {
    if (message.clientMsgId) {
      await this.deps.store.markUndelivered(dedupeKey(message.fromUserId, message.clientMsgId));
    }
  }

  /** See `GuardStore.takeUndelivered`. */
  async takeUndelivered(message: StoredMessage): Promise<boolean> {
    if (!message.clientMsgId) return false;
    return this.deps.store.takeUndelivered(dedupeKey(message.fromUserId, message.clientMsgId));
  }
}

/** How `admitAndStore` writes a message and reads one back. */
export interface MessageWriter {
  /**
   * Stores `message`; must refuse an existing message id (the messages store's condition)
   * when the outcome is `seen`. A `new` message's id was minted by this call, so its store
   * may skip that condition.
   */
  readonly store: (message: StoredMessage, outcome: Admission['outcome']) => Promise<void>;
  /** Reads a stored message back (strongly consistent); unset: the retry's own content is delivered. */
  readonly load?: (roomId: string, messageId: string) => Promise<StoredMessage | undefined>;
}

/**
 * Runs `message` through the guards (when there are any) and stores what they admit.
 * A refused write means that message is already stored — by the first attempt, or by a
 * concurrent retry that found the claim first — so it is a duplicate: deliver nothing,
 * unless the attempt that stored it failed before delivering (`undelivered`): then the
 * stored message is read back, and this caller delivers it.
 * A store that fails otherwise may still have written (a timeout): the claim is marked
 * undelivered, so a retry that finds the message stored delivers it.
 */
export async function admitAndStore(
  guards: MessageGuards | undefined,
  message: StoredMessage,
  now: Date,
  writer: MessageWriter,
): Promise<Accepted> {
  const admission = guards ? await guards.admit(message, now) : { message, outcome: 'new' as const };
  const admitted = admission.message;
  try {
    await writer.store(admitted, admission.outcome);
  } catch (error) {
    if (isConditionalFailure(error)) {
      // Only a record marked undelivered costs the conditional write that picks who delivers.
      const undelivered =
        admission.undelivered === true && ((await guards?.takeUndelivered(admitted)) ?? false);
      if (!undelivered) return { message: admitted, duplicate: true, undelivered };
      // The content to deliver is what was stored (the retry's may differ).
      const stored = await writer.load?.(admitted.roomId, admitted.messageId);
      return { message: stored ?? admitted, duplicate: true, undelivered };
    }
    await markUndelivered(guards, admitted);
    throw error;
  }
  // A retry that stored what an earlier attempt could not: it delivers now, so a note
  // left by that attempt must not make a later retry deliver again.
  if (admission.undelivered) await guards?.takeUndelivered(admitted);
  return { message: admitted, duplicate: false, undelivered: false };
}

/** Best effort: when the note cannot be written, the retry answers `duplicate` as before. */
async function markUndelivered(guards: MessageGuards | undefined, message: StoredMessage): Promise<void> {
  await guards?.markUndelivered(message).catch(() => undefined);
}

/**
 * Runs `deliver` for a stored message; when it throws (the reply will be an error), the
 * message's claim is marked undelivered first, so the client's retry delivers it.
 */
export async function deliverOrMark<T>(
  guards: MessageGuards | undefined,
  message: StoredMessage,
  deliver: () => Promise<T>,
): Promise<T> {
  try {
    return await deliver();
  } catch (error) {
    await markUndelivered(guards, message);
    throw error;
  }
}
