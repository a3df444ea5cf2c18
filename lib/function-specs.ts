/**
 * Every Lambda function, what it is wired to and exactly what it may touch.
 * The stack builds functions, routes and IAM statements from this table; the local
 * runtime uses it to route events to the same handler modules.
 * Plain data only: imported by the local runtime.
 */
import type { TableId } from './table-definitions.ts';

export type DynamoAction =
  | 'GetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Query'
  | 'BatchGetItem'
  | 'BatchWriteItem';

/** S3 actions on the attachments bucket (HeadObject is authorized as GetObject; CopyObject as both). */
export type AttachmentAction = 'PutObject' | 'GetObject';

/** Where presigned PUTs land; expired a day or two after ATTACHMENT_MAX_AGE_SECONDS. */
export const UPLOAD_KEY_PREFIX = 'uploads/';
/** Where a message's attachment is copied when it is sent; kept as long as messages. */
export const ATTACHED_KEY_PREFIX = 'attachments/';
export type AttachmentKeyPrefix = typeof UPLOAD_KEY_PREFIX | typeof ATTACHED_KEY_PREFIX;
export const ATTACHMENT_KEY_PREFIXES: readonly AttachmentKeyPrefix[] = [
  UPLOAD_KEY_PREFIX,
  ATTACHED_KEY_PREFIX,
];

/** `s3:{action}` on `{bucket}/{prefix}*`, for each action. */
export interface AttachmentGrant {
  readonly prefix: AttachmentKeyPrefix;
  readonly actions: readonly AttachmentAction[];
}

/**
 * What a function that sends messages needs: HeadObject of the named upload and the source
 * of its CopyObject (GetObject on `uploads/*`), the copy's destination (PutObject on
 * `attachments/*`), and the presigned GET in the push (GetObject on `attachments/*`).
 */
const SENDS_ATTACHMENTS: readonly AttachmentGrant[] = [
  { prefix: UPLOAD_KEY_PREFIX, actions: ['GetObject'] },
  { prefix: ATTACHED_KEY_PREFIX, actions: ['GetObject', 'PutObject'] },
];
/** What a function that only reads messages needs: their presigned GETs. */
const READS_ATTACHMENTS: readonly AttachmentGrant[] = [
  { prefix: ATTACHED_KEY_PREFIX, actions: ['GetObject'] },
];

export interface TableAccess {
  readonly actions: readonly DynamoAction[];
  /** Indexes the function queries; granted by exact index ARN. */
  readonly indexes?: readonly string[];
}

export type FunctionId =
  | 'authorizer'
  | 'connect'
  | 'disconnect'
  | 'welcome'
  | 'sendMessage'
  | 'sendGroupMessage'
  | 'createGroup'
  | 'listGroups'
  | 'groupInfo'
  | 'addGroupMembers'
  | 'removeGroupMember'
  | 'leaveGroup'
  | 'updateGroup'
  | 'setGroupRole'
  | 'deleteGroup'
  | 'acceptGroupInvite'
  | 'declineGroupInvite'
  | 'listGroupInvites'
  | 'blockUser'
  | 'unblockUser'
  | 'listBlocked'
  | 'broadcast'
  | 'ping'
  | 'default'
  | 'httpApi'
  | 'joinRoom'
  | 'leaveRoom'
  | 'sendRoomMessage'
  | 'history'
  | 'sync'
  | 'markRead'
  | 'deleteMessage'
  | 'editMessage'
  | 'react'
  | 'unreact'
  | 'typing'
  | 'listConversations'
  | 'createUpload'
  | 'fanOutWorker'
  | 'sweepConnections';

export interface FunctionSpec {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly tables: Partial<Record<TableId, TableAccess>>;
  /** Needs `execute-api:ManageConnections` on the stage: post, get or delete connections. */
  readonly manageConnections?: readonly ('POST' | 'GET' | 'DELETE')[];
  /** Verifies JWTs, so it reads the signing secret. */
  readonly verifiesTokens?: boolean;
  /**
   * Publishes application events (functions/runtime/app-events.ts): when the stack has an
   * event bus, it gets `events:PutEvents` on that bus only, and EVENT_BUS_NAME. Its handler
   * imports functions/runtime/wiring/app-events.ts (test/unit/wiring.test.ts checks both ways).
   */
  readonly publishesEvents?: boolean;
  /**
   * The attachments bucket, per key prefix: `PutObject` on `uploads/` to presign uploads;
   * `GetObject` on `uploads/` to check one (HeadObject) and copy it, `PutObject` on
   * `attachments/` to copy it there when a message attaches it; `GetObject` on
   * `attachments/` to presign downloads. Gets ATTACHMENTS_BUCKET.
   */
  readonly attachments?: readonly AttachmentGrant[];
  /** Functions it invokes asynchronously. */
  readonly invokes?: readonly FunctionId[];
  /**
   * Environment variable through which the functions that invoke this one receive its
   * name. Required for every function listed in some `invokes`.
   */
  readonly nameEnvVar?: string;
  /** @default 28 s behind a route (API Gateway waits 29 s), 15 s for asynchronous functions */
  readonly timeoutSeconds?: number;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * How Lambda treats its asynchronous invocations (EventInvokeConfig): retries after a
   * function error (0–2) and how long an event may wait to run (60 s – 6 h). Events that
   * still fail go to the stack's on-failure destination queue (instead of the dead-letter
   * queue the other asynchronous functions have).
   */
  readonly asyncInvocation?: {
    readonly retryAttempts: 0 | 1 | 2;
    readonly maxEventAgeSeconds: number;
  };
}

/**
 * Removing a connection that closed: its row, its rooms and its presence entry (with the
 * online counters). Only the functions that close connections themselves have it: `$connect`
 * (a refused or kicked connection), `$disconnect` and the sweep function. Every other
 * function that posts hands a connection that answers 410 to the sweep function
 * (`invokes: ['sweepConnections']`, functions/runtime/gone-handoff.ts) and writes nothing
 * of it: routes take the sender from the `$connect` authorizer's context (no connection
 * read) and read the recipients' presence only.
 */
const removeConnection = {
  connections: { actions: ['DeleteItem'] },
  presence: { actions: ['UpdateItem', 'DeleteItem'] },
  rooms: { actions: ['BatchWriteItem'] },
} as const satisfies Partial<Record<TableId, TableAccess>>;

/**
 * Presence pushes on a first connect / last disconnect: find the user's peers (whom they
 * sent private messages, online members of groups they posted in); peer connections that
 * answer 410 go to the sweep function. Also the online marks on the user's member rows.
 */
const presencePeers = {
  ...removeConnection,
  // Query (byOutbox): where the user's own newest messages went (never what they received).
  messages: { actions: ['Query'], indexes: ['byOutbox'] },
  // BatchGetItem: the user's own member items in the groups they posted in; Query
  // (byOnlineGroup): those groups' online members. Query (byMember) and UpdateItem: the
  // online marks on the user's member items, set on connect, cleared on the last disconnect.
  groups: { actions: ['Query', 'BatchGetItem', 'UpdateItem'], indexes: ['byMember', 'byOnlineGroup'] },
  // Query: whom the user blocked, who hear nothing of their presence.
  blocks: { actions: ['Query'] },
} as const satisfies Partial<Record<TableId, TableAccess>>;

/** `group_updated` pushes: the members' connections (410s go to the sweep function). */
const groupUpdatedPushes = {
  presence: { actions: ['GetItem', 'BatchGetItem'] },
} as const satisfies Partial<Record<TableId, TableAccess>>;

/** `react` and `unreact`: the same reads and writes. */
const reactionTables = {
  // GetItem/BatchGetItem: the participants' connections.
  presence: { actions: ['GetItem', 'BatchGetItem'] },
  // GetItem: the message (and, after a refused count, why); UpdateItem: the user's
  // reaction row (conditional) and the counts on the message item.
  messages: { actions: ['GetItem', 'UpdateItem'] },
  // BatchGetItem: the reactor's membership (meta and member item); Query (byOnlineGroup):
  // a group's online members.
  groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byOnlineGroup'] },
  // Query: a room's connections.
  rooms: { actions: ['Query'] },
  // GetItem: whether a private chat's peer blocked the reacting user.
  blocks: { actions: ['GetItem'] },
  // UpdateItem: the per-user reaction rate window.
  guards: { actions: ['UpdateItem'] },
} as const satisfies Partial<Record<TableId, TableAccess>>;

export const functionSpecs: Readonly<Record<FunctionId, FunctionSpec>> = {
  authorizer: {
    entry: 'functions/handlers/authorizer.ts',
    description:
      '$connect Lambda REQUEST authorizer: checks the Origin, verifies the JWT, returns the identity as context',
    // Nothing but the signing key: the identity travels in the authorizer context.
    tables: {},
    verifiesTokens: true,
  },
  connect: {
    entry: 'functions/handlers/connect.ts',
    publishesEvents: true,
    description:
      '$connect: registers the authorized connection, tells peers the user is online, schedules the welcome push',
    tables: {
      ...presencePeers,
      // PutItem: the row; GetItem: the user's other rows (single-session); DeleteItem: a
      // kicked or gone connection's row; BatchGetItem: the rows behind a full presence
      // record, to prune stale entries at the connection limit (found missing by local IAM).
      connections: { actions: ['PutItem', 'GetItem', 'DeleteItem', 'BatchGetItem'] },
      // UpdateItem: register (and remove); DeleteItem: the last entry of a gone user;
      // GetItem/BatchGetItem: the user's own connections (single-session) and the peers'.
      presence: { actions: ['UpdateItem', 'DeleteItem', 'GetItem', 'BatchGetItem'] },
    },
    // POST: presence and `kicked` pushes; DELETE: closing older sessions (single-session).
    manageConnections: ['POST', 'DELETE'],
    // fanOutWorker: presence pushes to many peers.
    invokes: ['welcome', 'fanOutWorker', 'sweepConnections'],
  },
  disconnect: {
    entry: 'functions/handlers/disconnect.ts',
    publishesEvents: true,
    description:
      '$disconnect: removes the connection, updates presence, tells peers when the user went offline',
    tables: {
      ...presencePeers,
      // UpdateItem/DeleteItem: remove; GetItem/BatchGetItem: the peers' connections.
      presence: { actions: ['UpdateItem', 'DeleteItem', 'GetItem', 'BatchGetItem'] },
    },
    // DELETE: a peer whose token expired is closed instead of pushed to.
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  welcome: {
    entry: 'functions/handlers/welcome.ts',
    invokes: ['sweepConnections'],
    description: 'Waits until a new connection is open, then posts the welcome frame',
    // A claim per connection (PutItem; UpdateItem completes or releases it), so a retried
    // or repeated invocation posts no second welcome.
    tables: { guards: { actions: ['PutItem', 'UpdateItem'] } },
    manageConnections: ['GET', 'POST'],
    nameEnvVar: 'WELCOME_FUNCTION_NAME',
  },
  sendMessage: {
    entry: 'functions/handlers/send-message.ts',
    invokes: ['sweepConnections'],
    publishesEvents: true,
    description: 'send_message: stores a private message and delivers it to the recipient',
    tables: {
      // BatchGetItem: the recipient's presence item, with the block row (below) in one request.
      presence: { actions: ['BatchGetItem'] },
      // BatchWriteItem: a new message with both conversation-list rows; PutItem: the
      // conditional write of a client_msg_id retry; GetItem: the stored message, read back
      // by the retry that delivers what a failed attempt stored.
      messages: { actions: ['PutItem', 'BatchWriteItem', 'GetItem'] },
      conversations: { actions: ['BatchWriteItem'] },
      // Rate-limit windows (UpdateItem) and client_msg_id dedupe records (PutItem, GetItem).
      guards: { actions: ['UpdateItem', 'PutItem', 'GetItem'] },
      // BatchGetItem: whether the recipient blocked the sender (with their presence item).
      blocks: { actions: ['BatchGetItem'] },
    },
    // DELETE: closing a connection whose token expired.
    // HeadObject and CopyObject of the named upload, the presigned GET in the push.
    attachments: SENDS_ATTACHMENTS,
    manageConnections: ['POST', 'DELETE'],
  },
  sendGroupMessage: {
    entry: 'functions/handlers/send-group-message.ts',
    publishesEvents: true,
    description: 'send_group_message: members only; stores and fans out to online members',
    tables: {
      // GetItem/BatchGetItem: the online members' connections.
      presence: { actions: ['GetItem', 'BatchGetItem'] },
      // GetItem: the stored message, read back by a client_msg_id retry that delivers it.
      messages: { actions: ['PutItem', 'GetItem'] },
      // Rate-limit windows (UpdateItem) and client_msg_id dedupe records (PutItem, GetItem).
      guards: { actions: ['UpdateItem', 'PutItem', 'GetItem'] },
      // BatchGetItem: the sender's membership (meta and member item, strongly consistent);
      // Query (byOnlineGroup): the online members, whose presence alone is read; Query of
      // the group's partition: all members, only when application events are configured
      // (message.undelivered); UpdateItem: the meta item's lastMessageId.
      groups: { actions: ['Query', 'BatchGetItem', 'UpdateItem'], indexes: ['byOnlineGroup'] },
    },
    // DELETE: closing a connection whose token expired.
    // HeadObject and CopyObject of the named upload, the presigned GET in the push.
    attachments: SENDS_ATTACHMENTS,
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  createGroup: {
    entry: 'functions/handlers/create-group.ts',
    invokes: ['sweepConnections'],
    publishesEvents: true,
    description:
      'create_group: creates a group with its members (or, with GROUP_INVITES=required, invites them); the creator owns it',
    tables: {
      // The `invited` push to each invitee (GROUP_INVITES=required): their connections.
      ...groupUpdatedPushes,
      // BatchWriteItem: the member and invitation items; PutItem: the meta item; UpdateItem:
      // the per-user counters (groups owned, groups belonged to).
      groups: { actions: ['PutItem', 'BatchWriteItem', 'UpdateItem'] },
      // UpdateItem: the create_group rate-limit window.
      guards: { actions: ['UpdateItem'] },
      // Query (byBlocked): who blocked the creator, among the members; BatchGetItem: whether
      // the one member blocked them, or the members' rows when very many blocked them.
      blocks: { actions: ['BatchGetItem', 'Query'], indexes: ['byBlocked'] },
    },
    // POST: the `invited` pushes (one user's connections each: never a worker's job);
    // DELETE: closing a connection whose token expired.
    manageConnections: ['POST', 'DELETE'],
  },
  listGroups: {
    entry: 'functions/handlers/list-groups.ts',
    description: "list_groups: a page of the caller's groups (byMember page, BatchGetItem of metas)",
    tables: {
      // Query (byMember): the page; BatchGetItem: its meta and member items.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byMember'] },
      // BatchGetItem: the read positions of the page's groups.
      readState: { actions: ['BatchGetItem'] },
      // Query: each group's unread count (bounded).
      messages: { actions: ['Query'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  groupInfo: {
    entry: 'functions/handlers/group-info.ts',
    description: "group_info: a group's name, owner and members (members only)",
    tables: {
      // Query: the group's partition (meta and members).
      groups: { actions: ['Query'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  addGroupMembers: {
    entry: 'functions/handlers/add-group-members.ts',
    publishesEvents: true,
    description: 'add_group_members: the owner or an admin adds members; members are told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: the adder and the meta; BatchGetItem: who is already in (or invited);
      // UpdateItem: member slots and per-user counters; PutItem: member or invitation items
      // (conditional); DeleteItem: undoing an add that raced a delete; Query (byOnlineGroup):
      // the online members to tell.
      groups: {
        actions: ['GetItem', 'BatchGetItem', 'UpdateItem', 'PutItem', 'DeleteItem', 'Query'],
        indexes: ['byOnlineGroup'],
      },
      // Query (byBlocked): who blocked the adder, among the new members; BatchGetItem: whether
      // the one new member blocked them, or the new members' rows when very many blocked them.
      blocks: { actions: ['BatchGetItem', 'Query'], indexes: ['byBlocked'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  removeGroupMember: {
    entry: 'functions/handlers/remove-group-member.ts',
    publishesEvents: true,
    description:
      'remove_group_member: the owner or an admin removes a member; members and the removed are told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: both members; UpdateItem: the removal mark, the count, the counter;
      // DeleteItem: the member item (conditional on the mark); Query (byOnlineGroup): the
      // online members to tell.
      groups: { actions: ['GetItem', 'UpdateItem', 'DeleteItem', 'Query'], indexes: ['byOnlineGroup'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  leaveGroup: {
    entry: 'functions/handlers/leave-group.ts',
    publishesEvents: true,
    description:
      'leave_group: the caller leaves; an owner hands ownership on; the last member deletes the group',
    tables: {
      ...groupUpdatedPushes,
      // GetItem/UpdateItem/DeleteItem: the leaver, the heir, the meta and counters; Query:
      // the members (the heir), the online members to tell (byOnlineGroup); BatchWriteItem:
      // the last member's leave deletes the group.
      groups: {
        actions: ['GetItem', 'UpdateItem', 'DeleteItem', 'Query', 'BatchWriteItem'],
        indexes: ['byOnlineGroup'],
      },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  updateGroup: {
    entry: 'functions/handlers/update-group.ts',
    publishesEvents: true,
    description: 'update_group: the owner or an admin renames the group; members are told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: the renamer and the meta; UpdateItem: the name; Query (byOnlineGroup): the
      // online members to tell.
      groups: { actions: ['GetItem', 'UpdateItem', 'Query'], indexes: ['byOnlineGroup'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  setGroupRole: {
    entry: 'functions/handlers/set-group-role.ts',
    publishesEvents: true,
    description: 'set_group_role: the owner makes a member an admin or an admin a member; members are told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: the owner, the target and the meta; UpdateItem: the role; Query
      // (byOnlineGroup): the online members to tell.
      groups: { actions: ['GetItem', 'UpdateItem', 'Query'], indexes: ['byOnlineGroup'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  deleteGroup: {
    entry: 'functions/handlers/delete-group.ts',
    publishesEvents: true,
    description: 'delete_group: the owner deletes the group; every member is told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: the owner and the meta; UpdateItem: the deleting mark and counters; Query:
      // the members, and the online ones to tell (byOnlineGroup); BatchWriteItem/DeleteItem:
      // the member items and the meta item.
      groups: {
        actions: ['GetItem', 'UpdateItem', 'Query', 'BatchWriteItem', 'DeleteItem'],
        indexes: ['byOnlineGroup'],
      },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  acceptGroupInvite: {
    entry: 'functions/handlers/accept-group-invite.ts',
    publishesEvents: true,
    description: 'accept_group_invite: the invitee becomes a member; members are told',
    tables: {
      ...groupUpdatedPushes,
      // GetItem: the meta and the invitation; DeleteItem: the invitation (conditional) or
      // undoing a join that raced a delete; PutItem: the member item; UpdateItem: the slot
      // counts and the membership counter; Query (byOnlineGroup): the online members to tell.
      groups: {
        actions: ['GetItem', 'DeleteItem', 'PutItem', 'UpdateItem', 'Query'],
        indexes: ['byOnlineGroup'],
      },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  declineGroupInvite: {
    entry: 'functions/handlers/decline-group-invite.ts',
    publishesEvents: true,
    description: 'decline_group_invite: the invitation goes; the owner and admins are told',
    tables: {
      ...groupUpdatedPushes,
      // DeleteItem: the invitation (conditional); UpdateItem: the slot counts; Query: the
      // owner and admins to tell.
      groups: { actions: ['DeleteItem', 'UpdateItem', 'Query'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  listGroupInvites: {
    entry: 'functions/handlers/list-group-invites.ts',
    description:
      "list_group_invites: a page of the caller's pending invitations (byInvitee page, BatchGetItem)",
    tables: {
      // Query (byInvitee): the page; BatchGetItem: the groups' meta and invitation items.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byInvitee'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  blockUser: {
    entry: 'functions/handlers/block-user.ts',
    description:
      'block_user: the caller blocks a user (no private messages, group adds or presence from them)',
    // PutItem: the row (conditional); GetItem: the first block's time when it exists.
    tables: { blocks: { actions: ['PutItem', 'GetItem'] } },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  unblockUser: {
    entry: 'functions/handlers/unblock-user.ts',
    description: 'unblock_user: the caller lifts a block',
    tables: { blocks: { actions: ['DeleteItem'] } },
    manageConnections: ['DELETE'],
  },
  listBlocked: {
    entry: 'functions/handlers/list-blocked.ts',
    description: 'list_blocked: a page of the users the caller blocked',
    tables: { blocks: { actions: ['Query'] } },
    manageConnections: ['DELETE'],
  },
  broadcast: {
    entry: 'functions/handlers/broadcast.ts',
    description: 'broadcast: admins only; fans out to every open connection',
    tables: {
      // Query (byShard): each shard's online users; BatchGetItem: the online counter's shards,
      // which decide whether fan-out workers take the broadcast.
      presence: { actions: ['BatchGetItem', 'Query'], indexes: ['byShard'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  ping: {
    entry: 'functions/handlers/ping.ts',
    description: 'ping: answers pong',
    tables: {},
    // DELETE: a ping with an expired token closes its connection, as every command does.
    manageConnections: ['DELETE'],
  },
  default: {
    entry: 'functions/handlers/default.ts',
    description: '$default: unknown commands (1000) and non-JSON frames (1001)',
    tables: {},
  },
  httpApi: {
    entry: 'functions/handlers/http-api.ts',
    publishesEvents: true,
    description:
      'HTTP API: online, send-message, broadcast, history, edits, reactions, unread counts, conversation list, system notifications, groups',
    tables: {
      // Reads only: connections that answer 410 go to the sweep function.
      presence: { actions: ['GetItem', 'Query', 'BatchGetItem'], indexes: ['byShard'] },
      // BatchWriteItem: a private message with its conversation-list rows; BatchGetItem:
      // the last messages of a conversation-list page; GetItem: a client_msg_id retry
      // reading back the message it delivers.
      // byOutbox (and byInbox): recent counterparts, for ONLINE_USERS_VISIBILITY=peers.
      // UpdateItem: an edit (conditional on the sender), a reaction row and counts.
      messages: {
        actions: ['PutItem', 'Query', 'BatchWriteItem', 'BatchGetItem', 'GetItem', 'UpdateItem'],
        indexes: ['byInbox', 'byOutbox'],
      },
      // Query (byActivity): a page of private chats; BatchWriteItem: their rows.
      conversations: { actions: ['Query', 'BatchWriteItem'], indexes: ['byActivity'] },
      // BatchGetItem: the listed groups' meta items; the rest: the group life cycle (see the
      // group functions).
      groups: {
        actions: [
          'GetItem',
          'Query',
          'BatchGetItem',
          'PutItem',
          'UpdateItem',
          'DeleteItem',
          'BatchWriteItem',
        ],
        // byOnlineGroup: a group message's (or edit's, reaction's) online members.
        indexes: ['byMember', 'byInvitee', 'byOnlineGroup'],
      },
      rooms: { actions: ['Query'] },
      // BatchGetItem: the read positions of a conversation-list page and of a list_groups page.
      readState: { actions: ['Query', 'BatchGetItem'] },
      guards: { actions: ['UpdateItem', 'PutItem', 'GetItem'] },
      // The blocks routes; GetItem: online/check's target; BatchGetItem: a private
      // message's recipient (with their presence item), the members of a new group or an add
      // (one, or when very many blocked the adder); Query (byBlocked): who blocked the adder.
      blocks: {
        actions: ['GetItem', 'BatchGetItem', 'PutItem', 'DeleteItem', 'Query'],
        indexes: ['byBlocked'],
      },
    },
    // DELETE: a recipient whose token expired is closed instead of pushed to.
    // send-message's HeadObject, CopyObject and push URL; the history page's URLs.
    attachments: SENDS_ATTACHMENTS,
    manageConnections: ['POST', 'DELETE'],
    verifiesTokens: true,
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },

  joinRoom: {
    entry: 'functions/handlers/join-room.ts',
    description: 'join_room: adds this connection to a room',
    tables: {
      connections: { actions: ['GetItem', 'UpdateItem'] },
      rooms: { actions: ['PutItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  leaveRoom: {
    entry: 'functions/handlers/leave-room.ts',
    description: 'leave_room: removes this connection from a room',
    tables: {
      connections: { actions: ['GetItem', 'UpdateItem'] },
      rooms: { actions: ['DeleteItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  sendRoomMessage: {
    entry: 'functions/handlers/send-room-message.ts',
    publishesEvents: true,
    description: "send_room_message: stores and fans out to the room's connections",
    tables: {
      // GetItem: the sending connection's row (its rooms).
      connections: { actions: ['GetItem'] },
      // Query: the members (fan-out and the sender's membership); DeleteItem: this room's row
      // of a connection that answered 410 (the sweep function closes the connection itself).
      rooms: { actions: ['Query', 'DeleteItem'] },
      // GetItem: the stored message, read back by a client_msg_id retry that delivers it.
      messages: { actions: ['PutItem', 'GetItem'] },
      // Rate-limit windows (UpdateItem) and client_msg_id dedupe records (PutItem, GetItem).
      guards: { actions: ['UpdateItem', 'PutItem', 'GetItem'] },
    },
    // DELETE: closing a connection whose token expired.
    // HeadObject and CopyObject of the named upload, the presigned GET in the push.
    attachments: SENDS_ATTACHMENTS,
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  history: {
    entry: 'functions/handlers/history.ts',
    description: 'history: a page of a conversation, newest first',
    tables: {
      messages: { actions: ['Query'] },
      groups: { actions: ['GetItem'] },
      rooms: { actions: ['GetItem', 'Query'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    // GetObject: the presigned GETs of the page's attachments.
    attachments: READS_ATTACHMENTS,
    manageConnections: ['DELETE'],
  },
  sync: {
    entry: 'functions/handlers/sync.ts',
    description: 'sync: everything addressed to the user since a message id, in order',
    tables: {
      messages: { actions: ['Query'], indexes: ['byInbox', 'byOutbox'] },
      groups: { actions: ['Query'], indexes: ['byMember'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    // GetObject: the presigned GETs of the page's attachments.
    attachments: READS_ATTACHMENTS,
    manageConnections: ['DELETE'],
  },
  markRead: {
    entry: 'functions/handlers/mark-read.ts',
    description: 'mark_read: stores the read position and tells the other participants',
    tables: {
      // GetItem/BatchGetItem: the participants' and the reader's connections.
      presence: { actions: ['GetItem', 'BatchGetItem'] },
      // GetItem: the marked message belongs to the conversation; Query: the unread count.
      messages: { actions: ['GetItem', 'Query'] },
      // BatchGetItem: the reader's membership (meta and member item); Query (byOnlineGroup):
      // the group's online members, told when the position moved.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byOnlineGroup'] },
      // UpdateItem: the forward-only position; GetItem: the position when it did not move.
      readState: { actions: ['UpdateItem', 'GetItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  deleteMessage: {
    entry: 'functions/handlers/delete-message.ts',
    publishesEvents: true,
    description: 'delete_message: the sender recalls a message; participants are told',
    tables: {
      // GetItem/BatchGetItem: the participants' connections.
      presence: { actions: ['GetItem', 'BatchGetItem'] },
      // UpdateItem: mark deleted, conditional on the sender.
      messages: { actions: ['UpdateItem'] },
      // Query (byOnlineGroup): a group's online members.
      groups: { actions: ['Query'], indexes: ['byOnlineGroup'] },
      // Query: a room's connections.
      rooms: { actions: ['Query'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['POST', 'DELETE'],
    // Fan-outs above FANOUT_WORKER_THRESHOLD go to fan-out workers.
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  editMessage: {
    entry: 'functions/handlers/edit-message.ts',
    publishesEvents: true,
    description: "edit_message: the sender replaces a message's content; participants are told",
    tables: {
      // GetItem/BatchGetItem: the participants' connections.
      presence: { actions: ['GetItem', 'BatchGetItem'] },
      // GetItem: a private message's two users; UpdateItem: the new content, conditional on the sender.
      messages: { actions: ['GetItem', 'UpdateItem'] },
      // BatchGetItem: the editor's membership (meta and member item); Query (byOnlineGroup):
      // a group's online members.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byOnlineGroup'] },
      // Query: a room's connections.
      rooms: { actions: ['Query'] },
      // GetItem: whether a private chat's peer blocked the editor.
      blocks: { actions: ['GetItem'] },
      // UpdateItem: the per-user message rate window.
      guards: { actions: ['UpdateItem'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  react: {
    entry: 'functions/handlers/react.ts',
    publishesEvents: true,
    description: 'react: a participant adds an emoji to a message (idempotent); participants are told',
    tables: reactionTables,
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  unreact: {
    entry: 'functions/handlers/unreact.ts',
    publishesEvents: true,
    description: 'unreact: a participant takes an emoji back (idempotent); participants are told',
    tables: reactionTables,
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  typing: {
    entry: 'functions/handlers/typing.ts',
    description: 'typing: start/stop pushed to the other participants; never stored, throttled in memory',
    tables: {
      // Reads only: nothing of typing is written, and connections that answer 410 go to
      // the sweep function.
      // GetItem/BatchGetItem: the recipients' connections.
      presence: { actions: ['GetItem', 'BatchGetItem'] },
      // BatchGetItem: the sender's membership (meta and member item); Query (byOnlineGroup):
      // a group's online members.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byOnlineGroup'] },
      // Query: a room's connections.
      rooms: { actions: ['Query'] },
      // GetItem: whether a private chat's peer blocked the sender.
      blocks: { actions: ['GetItem'] },
    },
    manageConnections: ['POST', 'DELETE'],
    invokes: ['fanOutWorker', 'sweepConnections'],
  },
  listConversations: {
    entry: 'functions/handlers/list-conversations.ts',
    description: "list_conversations: a page of the caller's private chats and groups, most recent first",
    tables: {
      // Query (byActivity): a page of the caller's private chats.
      conversations: { actions: ['Query'], indexes: ['byActivity'] },
      // Query (byMember): the caller's groups; BatchGetItem: their meta items.
      groups: { actions: ['Query', 'BatchGetItem'], indexes: ['byMember'] },
      // BatchGetItem: the page's last messages; Query: unread counts.
      messages: { actions: ['BatchGetItem', 'Query'] },
      // BatchGetItem: the page's read positions.
      readState: { actions: ['BatchGetItem'] },
      // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
      guards: { actions: ['UpdateItem'] },
    },
    // DELETE: closing a connection whose token expired.
    manageConnections: ['DELETE'],
  },
  createUpload: {
    entry: 'functions/handlers/create-upload.ts',
    description:
      "POST /api/ws/uploads: a presigned S3 PUT of the declared size and type under the caller's prefix",
    // No table: the key names the uploader, and the object carries the rest.
    tables: {},
    // PutObject: what the presigned PUT is signed with (signing itself is no request).
    attachments: [{ prefix: UPLOAD_KEY_PREFIX, actions: ['PutObject'] }],
    verifiesTokens: true,
  },
  fanOutWorker: {
    entry: 'functions/handlers/fan-out-worker.ts',
    description:
      'Fan-out worker: posts one paced chunk (or broadcast shard) of a large fan-out, invoked asynchronously',
    tables: {
      // Query (byShard): a broadcast shard's online users.
      presence: { actions: ['Query'], indexes: ['byShard'] },
      // DeleteItem: a room fan-out's member row of a connection that answered 410 (the sweep
      // function closes the connection itself).
      rooms: { actions: ['DeleteItem'] },
      // UpdateItem: the claim that makes a job part post once (Lambda may deliver an event twice).
      guards: { actions: ['UpdateItem'] },
    },
    manageConnections: ['POST'],
    // Itself: what does not fit in one invocation is handed to a continuation.
    invokes: ['fanOutWorker', 'sweepConnections'],
    nameEnvVar: 'FANOUT_WORKER_FUNCTION_NAME',
    timeoutSeconds: 120,
    memorySize: 512,
    // No retries: a retry would post the whole job again; a failed job goes to the
    // on-failure queue (re-drivable: a job fails only before its first post). A push
    // more than 5 minutes late is stale; clients have it from sync/history by then.
    asyncInvocation: { retryAttempts: 0, maxEventAgeSeconds: 300 },
  },
  sweepConnections: {
    entry: 'functions/handlers/sweep-connections.ts',
    // Connections that answered 410 elsewhere are handed here: { gone: [...] }.
    nameEnvVar: 'CONNECTION_SWEEP_FUNCTION_NAME',
    publishesEvents: true,
    description:
      'Scheduled: removes connections whose $disconnect never came (GetConnection 410 or expired) and tells peers offline',
    tables: {
      ...presencePeers,
      // Query (byShard): every presence record, shard by shard; UpdateItem/DeleteItem: remove
      // an entry; GetItem/BatchGetItem: the peers' connections for the `offline` push.
      presence: {
        actions: ['Query', 'UpdateItem', 'DeleteItem', 'GetItem', 'BatchGetItem'],
        indexes: ['byShard'],
      },
    },
    // GET: GetConnection, is it still open; POST: the `offline` pushes; DELETE: a peer whose
    // token expired is closed instead of pushed to.
    manageConnections: ['GET', 'POST', 'DELETE'],
    // One run reads every shard; it stops starting pages 20 s before this.
    timeoutSeconds: 240,
  },
};

/**
 * Functions run on a schedule (an EventBridge rule each; the local runtime runs them on an
 * interval): the function and its default period. ChatBackendProps can change the period.
 */
export const scheduledFunctions = {
  sweepConnections: { defaultIntervalMinutes: 5 },
} as const satisfies Partial<Record<FunctionId, { readonly defaultIntervalMinutes: number }>>;

/**
 * The Lambda REQUEST authorizer of the WebSocket API. API Gateway allows authorizers on
 * `$connect` only and passes their `context` to every later event of the connection.
 * `identitySource` is empty (the property is left out of the template): API Gateway would
 * answer 401 without invoking the authorizer unless every listed source were present and
 * non-empty, but the token may come from `?token=`, `Authorization`, the `websocket`
 * header or a `bearer.<jwt>` subprotocol. For a REQUEST authorizer the identity source is
 * optional (AWS::ApiGatewayV2::Authorizer `IdentitySource`), and WebSocket authorizers
 * are not cached (`AuthorizerResultTtlInSeconds` is for HTTP APIs only), so no cache key
 * is needed either: the authorizer runs on every handshake.
 */
export const webSocketAuthorizer = {
  functionId: 'authorizer',
  routeKey: '$connect',
  identitySource: [] as readonly string[],
} as const satisfies { functionId: FunctionId; routeKey: string; identitySource: readonly string[] };

/** WebSocket routes (route selection expression `$request.body.cmd`) and their functions. */
export const webSocketRoutes: Readonly<Record<string, FunctionId>> = {
  $connect: 'connect',
  $disconnect: 'disconnect',
  $default: 'default',
  send_message: 'sendMessage',
  send_group_message: 'sendGroupMessage',
  create_group: 'createGroup',
  list_groups: 'listGroups',
  group_info: 'groupInfo',
  add_group_members: 'addGroupMembers',
  remove_group_member: 'removeGroupMember',
  leave_group: 'leaveGroup',
  update_group: 'updateGroup',
  set_group_role: 'setGroupRole',
  delete_group: 'deleteGroup',
  accept_group_invite: 'acceptGroupInvite',
  decline_group_invite: 'declineGroupInvite',
  list_group_invites: 'listGroupInvites',
  block_user: 'blockUser',
  unblock_user: 'unblockUser',
  list_blocked: 'listBlocked',
  broadcast: 'broadcast',
  ping: 'ping',
  join_room: 'joinRoom',
  leave_room: 'leaveRoom',
  send_room_message: 'sendRoomMessage',
  history: 'history',
  sync: 'sync',
  mark_read: 'markRead',
  delete_message: 'deleteMessage',
  edit_message: 'editMessage',
  react: 'react',
  unreact: 'unreact',
  typing: 'typing',
  list_conversations: 'listConversations',
};

/**
 * WebSocket routes that only read (a Query per call, whoever asks): throttled per route on
 * the deployed stage (`readRouteThrottle`) and counted by READ_RATE_LIMIT_PER_MINUTE.
 */
export const webSocketReadRoutes = [
  'history',
  'sync',
  'list_conversations',
] as const satisfies readonly (keyof typeof webSocketRoutes)[];

/** HTTP API routes, served by `httpApi` unless one names its own `functionId`. */
export const httpRoutes: readonly {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly functionId?: FunctionId;
}[] = [
  { method: 'GET', path: '/api/ws/online-count' },
  { method: 'GET', path: '/api/ws/online-users' },
  { method: 'GET', path: '/api/ws/online/check' },
  { method: 'POST', path: '/api/ws/send-message' },
  { method: 'POST', path: '/api/ws/broadcast' },
  { method: 'GET', path: '/api/ws/messages' },
  { method: 'GET', path: '/api/ws/unread' },
  { method: 'GET', path: '/api/ws/conversations' },
  { method: 'POST', path: '/api/ws/notify' },
  { method: 'GET', path: '/api/ws/groups' },
  { method: 'POST', path: '/api/ws/groups' },
  { method: 'GET', path: '/api/ws/groups/{group_id}' },
  { method: 'PATCH', path: '/api/ws/groups/{group_id}' },
  { method: 'DELETE', path: '/api/ws/groups/{group_id}' },
  { method: 'POST', path: '/api/ws/groups/{group_id}/members' },
  { method: 'DELETE', path: '/api/ws/groups/{group_id}/members/{user_id}' },
  { method: 'PATCH', path: '/api/ws/groups/{group_id}/members/{user_id}' },
  { method: 'POST', path: '/api/ws/groups/{group_id}/leave' },
  { method: 'GET', path: '/api/ws/group-invites' },
  { method: 'POST', path: '/api/ws/groups/{group_id}/invite/accept' },
  { method: 'POST', path: '/api/ws/groups/{group_id}/invite/decline' },
  { method: 'GET', path: '/api/ws/blocks' },
  { method: 'POST', path: '/api/ws/blocks' },
  { method: 'DELETE', path: '/api/ws/blocks/{user_id}' },
  { method: 'PATCH', path: '/api/ws/messages/{message_id}' },
  { method: 'POST', path: '/api/ws/messages/{message_id}/reactions' },
  { method: 'DELETE', path: '/api/ws/messages/{message_id}/reactions/{emoji}' },
  { method: 'POST', path: '/api/ws/uploads', functionId: 'createUpload' },
];

/** The function serving an HTTP route. */
export function httpRouteFunction(route: (typeof httpRoutes)[number]): FunctionId {
  return route.functionId ?? 'httpApi';
}

/**
 * The route of `httpRoutes` that `method` and `path` match, with its path parameters
 * (URL-decoded, one segment each), as API Gateway matches `{name}` segments.
 */
export function matchHttpRoute(
  method: string,
  path: string,
): { readonly route: (typeof httpRoutes)[number]; readonly params: Record<string, string> } | undefined {
  const segments = path.split('/');
  for (const route of httpRoutes) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      const segment = segments[i] ?? '';
      if (!part.startsWith('{')) return part === segment;
      if (segment === '') return false;
      try {
        params[part.slice(1, -1)] = decodeURIComponent(segment);
      } catch {
        return false;
      }
      return true;
    });
    if (matches) return { route, params };
  }
  return undefined;
}

export const ROUTE_SELECTION_EXPRESSION = '$request.body.cmd';

/** CORS preflight of the HTTP API, served by the deployed HttpApi and by the local runtime. */
export const httpCors = {
  allowOrigins: ['*'],
  allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
  allowHeaders: ['Authorization', 'Content-Type'],
  maxAgeSeconds: 3600,
} as const;
