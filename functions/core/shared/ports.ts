/** What core logic needs from storage and delivery. DynamoDB and the Management API implement these. */
import type { AttachmentMeta } from '../attachments/attachments.ts';

export interface ConnectionRecord {
  readonly connectionId: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly connectedAt: string;
  /** Epoch seconds after which the row is stale (also the table's TTL). */
  readonly expiresAt: number;
  /** The token's `exp`, epoch seconds, when it had one. */
  readonly tokenExpiresAt?: number;
  /** Rooms this connection has joined. */
  readonly rooms?: readonly string[];
}

export interface ConnectionStore {
  put(connection: ConnectionRecord): Promise<void>;
  /** The row, or undefined when it is missing or past its expiry. */
  get(connectionId: string): Promise<ConnectionRecord | undefined>;
  /**
   * The live rows among `connectionIds` (at most `MAX_BATCH_LOOKUP`: one batched read),
   * missing and expired ones left out.
   */
  getMany(connectionIds: readonly string[]): Promise<ConnectionRecord[]>;
  /** Deletes the row and returns what it held. */
  delete(connectionId: string): Promise<ConnectionRecord | undefined>;
  /**
   * Deletes the row unless it was connected at or after `cutoff` (ISO time); a missing
   * row counts as deleted.
   */
  deleteIfConnectedBefore(
    connectionId: string,
    cutoff: string,
  ): Promise<{ readonly kept: true } | { readonly kept: false; readonly removed?: ConnectionRecord }>;
  /**
   * Records that the connection joined a room, atomically refusing (`full`) when it is
   * already in `maxRooms` other rooms; `gone` when the connection row is gone.
   */
  addRoom(connectionId: string, roomId: string, maxRooms: number): Promise<'added' | 'full' | 'gone'>;
  /** Records that the connection left a room. */
  removeRoom(connectionId: string, roomId: string): Promise<void>;
}

export interface RoomMember {
  readonly roomId: string;
  readonly connectionId: string;
  readonly userId: string;
  readonly joinedAt: string;
  /** Epoch seconds; the member's connection expiry. */
  readonly expiresAt: number;
  /** The connection's token `exp`: room pushes skip (and close) the member once it has passed. */
  readonly tokenExpiresAt?: number;
}

/** Room membership, per connection. Expired members are never returned. */
export interface RoomStore {
  join(member: RoomMember): Promise<void>;
  leave(roomId: string, connectionId: string): Promise<void>;
  /** The room's live members (one Query, paginated internally). */
  members(roomId: string): Promise<RoomMember[]>;
  member(roomId: string, connectionId: string): Promise<RoomMember | undefined>;
  /** Whether some live connection of `userId` is in the room (a Query of the room, filtered). */
  hasUser(roomId: string, userId: string): Promise<boolean>;
  /** Removes a closed connection from all the rooms it had joined. */
  removeConnection(connectionId: string, roomIds: readonly string[]): Promise<void>;
}

export interface UserConnections {
  readonly userId: string;
  readonly connectionIds: readonly string[];
  /**
   * Each connection's token `exp` (epoch seconds), where the store knows it: pushes skip
   * (and close) a connection whose token has expired. `connectionsOf` always reads them;
   * the online-users pages (the `byShard` index) do not carry them.
   */
  readonly tokenExpiresAt?: Readonly<Record<string, number>>;
  /** The token of the user's online session, where the store knows it (`connectionsOf` reads it). */
  readonly onlineSince?: string;
}

export interface OnlineCounts {
  readonly users: number;
  readonly connections: number;
}

/** What a private message needs to know about its recipient before anything is written. */
export interface RecipientView {
  /** The recipient's open connections (none when offline). */
  readonly online: readonly UserConnections[];
  /** The recipient blocked the sender: the message is refused. */
  readonly blocksSender: boolean;
}

/** Reads a recipient's presence and block row together (DynamoDB: one BatchGetItem across both tables). */
export interface RecipientReader {
  recipient(recipientId: string, senderId: string): Promise<RecipientView>;
}

export interface PresenceStore {
  /**
   * Adds a connection to the user's presence record; `cameOnline` when it is their first.
   * `connectionCount` is the user's count right after this add (stale entries included).
   * With `limit` > 0 the add is conditional on the record holding fewer than `limit`
   * connection ids (stale ones included), checked atomically by the write: `{ full: true }`
   * when it holds `limit` already, and nothing is written then.
   */
  addConnection(
    userId: string,
    connectionId: string,
    expiresAt: number,
    limit?: number,
    /** The token's `exp`, kept beside the connection id (see `UserConnections.tokenExpiresAt`). */
    tokenExpiresAt?: number,
  ): Promise<{ cameOnline: boolean; connectionCount: number } | { full: true }>;
  /**
   * Records `token` as the user's online session (functions/core/groups/online-members.ts),
   * unless they are offline again or a newer session's token is there: false then.
   */
  claimOnlineSession(userId: string, token: string): Promise<boolean>;
  /** The ids in the user's presence record, stale ones included (one strongly consistent read). */
  connectionIdsOf(userId: string): Promise<string[]>;
  /**
   * Removes connection ids found stale (their `$disconnect` never came), all or none:
   * false when one of them is no longer there (another writer removed it). Sends no
   * presence push.
   */
  removeStale(userId: string, connectionIds: readonly string[]): Promise<boolean>;
  /**
   * Removes it; `removed` when this call took it out (and so decremented the counters: of
   * racing removals exactly one is), `wentOffline` when it was their last, with the token of
   * the session that ended (`onlineSince`, when one was claimed). Removing twice is harmless.
   */
  removeConnection(
    userId: string,
    connectionId: string,
  ): Promise<{ removed: boolean; wentOffline: boolean; onlineSince?: string }>;
  /** Open connections of each listed user who is online (one batched read per 100 users). */
  connectionsOf(userIds: readonly string[]): Promise<UserConnections[]>;
  counts(): Promise<OnlineCounts>;
  /** Online users in user-id order within shards, paginated by an opaque cursor. */
  listOnline(limit: number, cursor?: string): Promise<{ users: UserConnections[]; cursor?: string }>;
  /** Every online user's connections, page by page (broadcast). */
  allOnline(): AsyncIterable<UserConnections[]>;
  /** How many shards the online users are spread over (`onlineInShard` takes 0 … shardCount − 1). */
  readonly shardCount: number;
  /**
   * One page of a shard's online users, in user-id order after `after`; `after` in the
   * result is where the next page starts (absent after the shard's last page). Broadcast
   * fan-out workers each read their own shard this way.
   */
  onlineInShard(
    shard: number,
    limit: number,
    after?: string,
  ): Promise<{ readonly users: UserConnections[]; readonly after?: string }>;
}

/** A presence record as the sweep lists it: expired ones included (they still count). */
export interface PresenceEntry {
  readonly userId: string;
  readonly connectionIds: readonly string[];
  /** Epoch seconds: the newest connection's expiry, so past it every connection is. */
  readonly expiresAt: number;
}

/** What the stale-connection sweep reads: every presence record, shard by shard (no Scan). */
export interface PresenceSweepSource {
  readonly shardCount: number;
  /**
   * One page of a shard's presence records in user-id order after `after`, **expired ones
   * included**; `after` in the result is where the next page starts (absent after the last).
   */
  entriesInShard(
    shard: number,
    limit: number,
    after?: string,
  ): Promise<{ readonly entries: PresenceEntry[]; readonly after?: string }>;
}

export type MessageKind = 'private' | 'group' | 'room' | 'system';

export interface StoredMessage {
  readonly roomId: string;
  readonly messageId: string;
  readonly kind: MessageKind;
  readonly fromUserId: string;
  readonly toUserId?: string;
  readonly groupId?: string;
  readonly content: string;
  readonly messageType: number;
  readonly createdAt: string;
  readonly clientMsgId?: string;
  /** Recalled by its sender (`delete_message`): the content is gone, the message keeps its place. */
  readonly deleted?: boolean;
  /** When it was recalled (ISO-8601). */
  readonly deletedAt?: string;
  /** The message of the same conversation this one replies to (`reply_to`). */
  readonly replyTo?: string;
  /** When its sender last edited it (`edit_message`, ISO-8601). */
  readonly editedAt?: string;
  /** Reaction counts by emoji (`react`); absent or empty when there are none. */
  readonly reactions?: Readonly<Record<string, number>>;
  /** Message types 2-5: the checked upload (never a URL; readers get a fresh presigned GET). */
  readonly attachment?: AttachmentMeta;
}

export interface HistoryRequest {
  readonly roomId: string;
  readonly limit: number;
  /** Only messages strictly older than this id. */
  readonly before?: string;
  /** Only messages this user sent or received (private rooms). */
  readonly participant?: string;
}

export interface MessagePage {
  readonly messages: StoredMessage[];
  /** Where the next (older) page starts; absent at the beginning of the conversation. */
  readonly nextBefore?: string;
}

export interface PutOptions {
  /**
   * The id was minted by this very request (no `client_msg_id` retry can be storing it),
   * so the store may skip its existence condition: a private message then goes into one
   * BatchWriteItem with both participants' conversation-list rows. Otherwise the write
   * refuses an existing id (ConditionalCheckFailed), which tells a retry it is a duplicate.
   */
  readonly fresh?: boolean;
}

export interface MessageStore {
  put(message: StoredMessage, options?: PutOptions): Promise<void>;
  /**
   * One message, strongly consistent (a `client_msg_id` retry that delivers what an
   * earlier attempt stored reads it back: the dedupe record holds no content).
   */
  get?(roomId: string, messageId: string): Promise<StoredMessage | undefined>;
  /** Newest first. */
  history(request: HistoryRequest): Promise<MessagePage>;
}

/** Catch-up reads (`sync`): live messages strictly after `after`, ascending, at most `limit`. */
export interface MessageSyncStore {
  /** What was addressed to the user: private and system messages (`byInbox`). */
  inboxSince(userId: string, after: string | undefined, limit: number): Promise<StoredMessage[]>;
  /** What the user sent to private chats and groups (`byOutbox`). */
  outboxSince(userId: string, after: string | undefined, limit: number): Promise<StoredMessage[]>;
  /** One conversation's messages (a group's, for its members). */
  conversationSince(roomId: string, after: string | undefined, limit: number): Promise<StoredMessage[]>;
}

export interface RecallRequest {
  readonly roomId: string;
  readonly messageId: string;
  /** Only the message's sender may recall it. */
  readonly senderId: string;
  readonly at: Date;
}

export interface MessageRecallStore {
  /**
   * Marks the message deleted and removes its content, if `senderId` sent it (private,
   * group or room message). Returns the message as it now is, or undefined when there is no
   * such live message or someone else sent it. Recalling twice keeps the first `deletedAt`.
   */
  markDeleted(request: RecallRequest): Promise<StoredMessage | undefined>;
}

export interface EditRequest {
  readonly roomId: string;
  readonly messageId: string;
  /** Only the message's sender may edit it. */
  readonly senderId: string;
  readonly content: string;
  readonly at: Date;
}

export interface MessageEditStore {
  /**
   * Replaces the content and sets `editedAt`, if `senderId` sent it (a private, group or
   * room message) and it is live and not recalled. Returns the message as it now is, or
   * undefined otherwise.
   */
  edit(request: EditRequest): Promise<StoredMessage | undefined>;
}

/** Where a reaction goes: the message (its time fixes the reaction row's expiry). */
export interface ReactionTarget {
  readonly roomId: string;
  readonly messageId: string;
  readonly createdAt: string;
  /** The message had a counts map when it was read: the store tries adding to it first (else creating it). */
  readonly hasCounts?: boolean;
}

export interface ReactionLimits {
  /** Different emoji one message may carry. */
  readonly maxDistinct: number;
  /** Emoji one user may have on one message. */
  readonly maxPerUser: number;
}

export type ReactionAdded =
  | { readonly outcome: 'added'; readonly counts: Readonly<Record<string, number>> }
  /** The user had this reaction already: nothing changed. */
  | { readonly outcome: 'unchanged' }
  /** The user has `maxPerUser` reactions on the message already. */
  | { readonly outcome: 'userLimit' }
  /** The message carries `maxDistinct` other emoji already. */
  | { readonly outcome: 'distinctLimit' }
  /** The message is gone or was recalled. */
  | { readonly outcome: 'gone' };

export type ReactionRemoved =
  | { readonly outcome: 'removed'; readonly counts: Readonly<Record<string, number>> }
  /** The user had no such reaction: nothing changed. */
  | { readonly outcome: 'unchanged' };

/**
 * Reactions: a row per user and message holding the user's emoji (idempotency and the
 * per-user bound, one conditional write) and a count per emoji on the message item.
 */
export interface ReactionStore {
  add(target: ReactionTarget, userId: string, emoji: string, limits: ReactionLimits): Promise<ReactionAdded>;
  remove(target: ReactionTarget, userId: string, emoji: string): Promise<ReactionRemoved>;
}

/** The groups a user belongs to (the `byMember` index). */
export interface GroupMembershipIndex {
  /** The user's group ids, newest first; all of them, or at most `limit`. */
  groupIdsOf(userId: string, limit?: number): Promise<string[]>;
}

export interface Group {
  readonly groupId: string;
  readonly groupName: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly memberIds: readonly string[];
}

export interface GroupStore {
  create(group: Group): Promise<void>;
  /** The group with all its members, or undefined. */
  get(groupId: string): Promise<Group | undefined>;
  isMember(groupId: string, userId: string): Promise<boolean>;
  /** Moves the group's `lastMessageId` forward to `messageId` (the conversation list's order). */
  recordLastMessage?(groupId: string, messageId: string): Promise<void>;
}

/** Posts frames to connections (the API Gateway Management API). */
export interface ConnectionNotifier {
  /** Throws a DeliveryError describing whether the failure is permanent, retryable or gone. */
  post(connectionId: string, frame: string): Promise<void>;
}

export type DeliveryFailure = 'gone' | 'retryable' | 'permanent';

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    readonly kind: DeliveryFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a dedupe record keeps of the message that claimed a `client_msg_id`: its id and
 * time, and a tag of its conversation (so a retry to another conversation is refused),
 * never the content. Under 1 KB whatever the content: one write unit.
 */
export interface ClaimedMessage {
  readonly messageId: string;
  readonly createdAt: string;
  /** `conversationTag` of the message (kind and room id). */
  readonly conversation: string;
}

/** A dedupe record another attempt claimed. */
export interface ClaimRecord {
  readonly claimed: ClaimedMessage;
  /** That attempt failed after claiming (see `GuardStore.markUndelivered`). */
  readonly undelivered: boolean;
}

/**
 * Work done once per key however often it is invoked (the welcome push, which Lambda may
 * run twice: a retry after an error, or a repeated delivery). A claim holds a lease, so
 * an attempt that died before finishing does not block the retry that comes after it.
 */
export interface OnceClaims {
  /** True when this caller now holds `key`: not completed, and no live lease on it. */
  claim(key: string, leaseSeconds: number): Promise<boolean>;
  /** The work is done: later claims of `key` fail (until it expires). */
  complete(key: string): Promise<void>;
  /** The work was not done: the next claim of `key` succeeds at once. */
  release(key: string): Promise<void>;
}

/**
 * Abuse guards (the `guards` table): rate-limit windows and `client_msg_id` dedupe
 * records. Conditional writes only.
 */
export interface GuardStore {
  /**
   * Adds one to the counter `key` unless it already reached `limit`; true when counted.
   * The item expires at `expiresAt` (epoch seconds).
   */
  countHit(key: string, limit: number, expiresAt: number): Promise<boolean>;
  /**
   * Records `claimed` under `key` unless a live, unreleased record is there. Returns
   * undefined when this call claimed the key, else the record found: what it claimed and
   * whether it was marked undelivered.
   */
  claim(
    key: string,
    claimed: ClaimedMessage,
    expiresAt: number,
    now: number,
  ): Promise<ClaimRecord | undefined>;
  /** Gives a claimed key up (the message was refused), so a retry is treated as new. */
  release(key: string): Promise<void>;
  /**
   * Notes on the claim that its message may be stored but was not delivered (the attempt
   * failed after claiming), so a retry delivers it.
   */
  markUndelivered(key: string): Promise<void>;
  /** Takes that note off the claim; true for exactly one caller when it was there. */
  takeUndelivered(key: string): Promise<boolean>;
}
