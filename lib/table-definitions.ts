/**
 * The DynamoDB tables, described once. The CDK stack turns these into `TableV2`
 * resources and the local runtime into `CreateTable` calls, so the two cannot drift.
 * Plain data only: this module is imported by the local runtime and must not pull in CDK.
 */

export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** `ALL`, `KEYS_ONLY`, or the non-key attributes to project. */
  readonly projection: 'ALL' | 'KEYS_ONLY' | readonly string[];
}

export interface TableDefinition {
  /** Environment variable through which handlers receive the physical table name. */
  readonly envVar: string;
  /** Table name used by the local runtime (AWS names come from CloudFormation). */
  readonly localName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Attribute holding an expiry in epoch seconds. */
  readonly timeToLiveAttribute?: string;
  readonly indexes: readonly IndexDefinition[];
}

export type TableId =
  | 'connections'
  | 'presence'
  | 'messages'
  | 'groups'
  | 'rooms'
  | 'readState'
  | 'guards'
  | 'conversations'
  | 'blocks';

/** Number of partitions the online-user index is spread over (see docs/architecture.md). */
export const PRESENCE_SHARDS = 16;

export const tableDefinitions: Readonly<Record<TableId, TableDefinition>> = {
  /** One row per open WebSocket connection: who it belongs to and when it expires. */
  connections: {
    envVar: 'CONNECTIONS_TABLE',
    localName: 'chat-connections',
    partitionKey: { name: 'connectionId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [],
  },
  /**
   * One row per online user holding the set of their connection ids, so a user's
   * connections are one GetItem and a group's are BatchGetItem. `shard` spreads online
   * users over a few partitions of `byShard` for online-users and broadcast (no Scan).
   * The items `#stats#0` … `#stats#15` keep the online counters, a shard each (read with
   * the legacy `#stats` item of earlier versions, which is no longer written).
   */
  presence: {
    envVar: 'PRESENCE_TABLE',
    localName: 'chat-presence',
    partitionKey: { name: 'userId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [
      {
        indexName: 'byShard',
        partitionKey: { name: 'onlineShard', type: 'S' },
        sortKey: { name: 'userId', type: 'S' },
        projection: ['connectionIds', 'expiresAt'],
      },
    ],
  },
  /**
   * Messages per conversation (`roomId`), ordered by their ULID `messageId`.
   * Two sparse indexes serve catch-up (`sync`) with Queries: `byInbox` holds what was
   * addressed to a user (private and system messages: `inboxUserId`), `byOutbox` what a
   * user sent to private chats and groups (`outboxUserId`), for their other devices.
   */
  messages: {
    envVar: 'MESSAGES_TABLE',
    localName: 'chat-messages',
    partitionKey: { name: 'roomId', type: 'S' },
    sortKey: { name: 'messageId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [
      {
        indexName: 'byInbox',
        partitionKey: { name: 'inboxUserId', type: 'S' },
        sortKey: { name: 'messageId', type: 'S' },
        projection: 'ALL',
      },
      {
        indexName: 'byOutbox',
        partitionKey: { name: 'outboxUserId', type: 'S' },
        sortKey: { name: 'messageId', type: 'S' },
        projection: 'ALL',
      },
    ],
  },
  /**
   * Group metadata (`sk = meta`, with `lastMessageId` once a message was posted: the
   * conversation list reads it), members (`sk = member#<userId>`) and, with
   * `GROUP_INVITES=required`, pending invitations (`sk = invite#<userId>`; the sparse
   * `byInvitee` index lists a user's). A member row of a user who is online carries
   * `onlineGroupId` (the group id) and `onlineSince` (their online session's token): the
   * sparse `byOnlineGroup` index lists a group's online members, so a group message reads
   * the presence of those only (docs/architecture.md, "Online group members").
   */
  groups: {
    envVar: 'GROUPS_TABLE',
    localName: 'chat-groups',
    partitionKey: { name: 'groupId', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    indexes: [
      {
        indexName: 'byMember',
        partitionKey: { name: 'memberUserId', type: 'S' },
        sortKey: { name: 'groupId', type: 'S' },
        projection: 'KEYS_ONLY',
      },
      {
        indexName: 'byInvitee',
        partitionKey: { name: 'invitedUserId', type: 'S' },
        sortKey: { name: 'groupId', type: 'S' },
        projection: 'KEYS_ONLY',
      },
      {
        indexName: 'byOnlineGroup',
        partitionKey: { name: 'onlineGroupId', type: 'S' },
        sortKey: { name: 'memberUserId', type: 'S' },
        projection: 'KEYS_ONLY',
      },
    ],
  },
  /**
   * Room membership, which belongs to a connection: one item per (room, connection).
   * Fan-out to a room is one Query. Items expire with their connection (`expiresAt`), and
   * the connection row lists its rooms so closing it removes them.
   */
  rooms: {
    envVar: 'ROOMS_TABLE',
    localName: 'chat-rooms',
    partitionKey: { name: 'roomId', type: 'S' },
    sortKey: { name: 'connectionId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [],
  },
  /** Each user's read position per conversation (`lastReadMessageId`). */
  readState: {
    envVar: 'READ_STATE_TABLE',
    localName: 'chat-read-state',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'roomId', type: 'S' },
    indexes: [],
  },
  /**
   * Abuse guards, one item per key: rate-limit windows (`rate#…`, a counter per user and
   * window) and idempotency records (`dedupe#…`: the whole first message sent with a
   * `client_msg_id`, so a retry gets its id back or completes it). Conditional writes only;
   * items expire through `expiresAt`.
   */
  guards: {
    envVar: 'GUARDS_TABLE',
    localName: 'chat-guards',
    partitionKey: { name: 'guardKey', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [],
  },
  /**
   * The conversation list's private chats: one row per (user, private room) naming the
   * other participant (`peerId`) and the room's newest message (`lastMessageId`), written
   * with each private message for both participants. `byActivity` orders a user's rows by
   * that ULID, so a page of the list is one Query. Groups have no rows here: their newest
   * message id lives on the group's meta item. Rows expire with their last message.
   */
  conversations: {
    envVar: 'CONVERSATIONS_TABLE',
    localName: 'chat-conversations',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'roomId', type: 'S' },
    timeToLiveAttribute: 'expiresAt',
    indexes: [
      {
        indexName: 'byActivity',
        partitionKey: { name: 'userId', type: 'S' },
        sortKey: { name: 'lastMessageId', type: 'S' },
        projection: ['peerId', 'expiresAt'],
      },
    ],
  },
  /**
   * Blocks: one row per (blocker `userId`, `blockedUserId`) with `blockedAt`. Whether a
   * recipient blocked a sender is one GetItem; whom a user blocked is one Query. `byBlocked`
   * lists who blocked a user, so checking the members of a new group is one Query of the
   * adder's blockers rather than a read per member (docs/architecture.md, "Blocks").
   */
  blocks: {
    envVar: 'BLOCKS_TABLE',
    localName: 'chat-blocks',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'blockedUserId', type: 'S' },
    indexes: [
      {
        indexName: 'byBlocked',
        partitionKey: { name: 'blockedUserId', type: 'S' },
        sortKey: { name: 'userId', type: 'S' },
        projection: 'KEYS_ONLY',
      },
    ],
  },
};
