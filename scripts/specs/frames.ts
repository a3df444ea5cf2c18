/**
 * Hand-written JSON Schemas for what the zod schemas do not cover: the outbound frames
 * (replies and pushes, TypeScript interfaces in functions/core), the `history` command
 * (validated by hand in functions/core/messaging/history.ts) and the HTTP query parameters.
 * Keep them faithful to docs/protocol.md and the interfaces; test/unit/specs.test.ts
 * validates real frames from the local runtime against them.
 */

export type JsonSchema = Record<string, unknown>;

const string = (description?: string): JsonSchema =>
  description ? { type: 'string', description } : { type: 'string' };
const integer = (description?: string): JsonSchema =>
  description ? { type: 'integer', minimum: 0, description } : { type: 'integer', minimum: 0 };
const constant = (value: string): JsonSchema => ({ type: 'string', const: value });

/** An object whose listed properties are required unless named in `optional`. */
function object(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
  };
}

const messageId = string('message id (ULID, 26 characters, upper case)');
const time = { type: 'string', format: 'date-time' };
const messageType = {
  type: 'integer',
  minimum: 1,
  maximum: 5,
  description: '1 text, 2 image, 3 file, 4 audio, 5 video',
};
const queued = integer(
  'extension, present only when some connections were handed to fan-out workers, which post after the reply (broadcast: an estimate)',
);
/** The other participant of a private chat, as the receiver of the frame sees it. */
const peerId = (who = "the other participant of this private chat, from the receiver's point of view") =>
  string(`${who}; the room id cannot be split reliably when user ids contain _`);

const duplicate = {
  type: 'boolean',
  const: true,
  description: 'present when this was a retry of a stored client_msg_id',
};

/** Reaction counts by emoji. */
const reactionCounts = (description: string): JsonSchema => ({
  type: 'object',
  additionalProperties: { type: 'integer', minimum: 1 },
  description: `count per emoji; ${description}`,
});

/** `message_edited` (push; the reply adds `delivered` and `queued`). */
const messageEdited = {
  type: constant('message_edited'),
  room_id: string(),
  message_id: messageId,
  content: string('the new content'),
  edited_at: time,
  peer_id: peerId("private chats: the other participant, from the receiver's point of view"),
};

/** `reaction` (push; the reply adds `changed`, `delivered` and `queued`). */
const reaction = {
  type: constant('reaction'),
  room_id: string(),
  message_id: messageId,
  user_id: string('who reacted'),
  emoji: string(),
  action: { type: 'string', enum: ['added', 'removed'] },
  counts: reactionCounts('after the change'),
  peer_id: peerId("private chats: the other participant, from the receiver's point of view"),
};

const reactionReply: JsonSchema = object(
  {
    ...reaction,
    changed: { type: 'boolean', description: 'false when nothing changed (nobody was told)' },
    delivered: integer(),
    queued,
  },
  ['peer_id', 'queued'],
);

/** A message's file (AttachmentWire): message types 2-5, with a short-lived presigned GET. */
const attachment: JsonSchema = {
  ...object({
    attachment_id: string('from POST /api/ws/uploads (ULID)'),
    file_name: string(),
    content_type: string(),
    size: { type: 'integer', minimum: 1 },
    url: string('presigned S3 GET, valid ATTACHMENT_URL_TTL_SECONDS (default 900); participants only'),
  }),
  description: 'message types 2-5: the uploaded file; absent on text messages and recalled ones',
};

/** A stored message as history and sync show it (HistoryMessage). */
export const historyMessage: JsonSchema = object(
  {
    message_id: messageId,
    room_id: string(),
    from_user_id: string(),
    to_user_id: string(),
    peer_id: peerId("private messages: the other participant, from the reader's point of view"),
    group_id: string(),
    content: string('empty when deleted'),
    message_type: messageType,
    attachment,
    time,
    deleted: { type: 'boolean', const: true },
    reply_to: string('the message of this conversation it replies to (its id only: see docs/protocol.md)'),
    edited_at: { ...time, description: 'when its sender last edited it; content is the edited text' },
    reactions: reactionCounts('absent when there are none, and on a recalled message'),
  },
  ['to_user_id', 'peer_id', 'group_id', 'attachment', 'deleted', 'reply_to', 'edited_at', 'reactions'],
);

/** SyncMessage: a HistoryMessage plus its kind (and, for system notifications, type and data). */
export const syncMessage: JsonSchema = {
  ...historyMessage,
  properties: {
    kind: { type: 'string', enum: ['private', 'group', 'system'] },
    ...(historyMessage.properties as Record<string, JsonSchema>),
    notification_type: string(),
    data: {},
  },
  required: ['kind', ...(historyMessage.required as string[])],
};

/** ConversationEntry: a private chat or a group of the conversation list. */
const lastMessage: JsonSchema = object(
  {
    message_id: messageId,
    from_user_id: string(),
    content: string('at most 200 characters of the content; empty when deleted'),
    message_type: messageType,
    time,
    deleted: { type: 'boolean', const: true },
    edited_at: { ...time, description: 'the last message was edited' },
  },
  ['deleted', 'edited_at'],
);
const conversationEntry: JsonSchema = {
  oneOf: [
    object({
      room_id: string(),
      kind: constant('private'),
      peer_id: string('the other participant'),
      last_message: lastMessage,
      unread: integer('unread messages, at most 100 (100 means 100 or more)'),
    }),
    object({
      room_id: string(),
      kind: constant('group'),
      group_id: string(),
      group_name: string(),
      last_message: { anyOf: [lastMessage, { type: 'null' }], description: 'null before the first message' },
      unread: integer('unread messages, at most 100 (100 means 100 or more)'),
    }),
  ],
};
const conversationPage = (type?: string): JsonSchema =>
  object(
    {
      ...(type ? { type: constant(type) } : {}),
      conversations: { type: 'array', items: conversationEntry },
      next_cursor: string('present when more conversations may follow'),
    },
    ['next_cursor'],
  );
const groupRole = { type: 'string', enum: ['owner', 'admin', 'member'] };

/** What a `group_updated` push (and the `group.updated` event) says changed. */
export const groupChange: JsonSchema = {
  type: 'string',
  enum: [
    'renamed',
    'members_added',
    'member_removed',
    'member_left',
    'role_changed',
    'deleted',
    'invited',
    'invite_declined',
    'invite_withdrawn',
  ],
};

/** The `group_updated` push (and the reply to `update_group`). */
const groupUpdated: JsonSchema = object(
  {
    type: constant('group_updated'),
    group_id: string(),
    change: groupChange,
    user_ids: { type: 'array', items: string(), description: 'whom the change is about' },
    by: string('who made it'),
    group_name: string(),
    owner_id: string('present when ownership moved (an owner left)'),
    role: { type: 'string', enum: ['admin', 'member'], description: 'present with role_changed' },
    time,
  },
  ['owner_id', 'role'],
);

/** `list_groups` reply and `GET /api/ws/groups`. */
const groupsPage: JsonSchema = object(
  {
    type: constant('groups'),
    groups: {
      type: 'array',
      items: object({
        group_id: string(),
        group_name: string(),
        role: groupRole,
        member_count: integer(),
        last_message_id: { anyOf: [messageId, { type: 'null' }] },
        unread: integer('capped at 100'),
      }),
    },
    next_cursor: string('opaque; absent on the last page'),
  },
  ['next_cursor'],
);

/** `list_group_invites` reply and `GET /api/ws/group-invites`. */
const groupInvitesPage: JsonSchema = object(
  {
    type: constant('group_invites'),
    invites: {
      type: 'array',
      items: object({
        group_id: string(),
        group_name: string(),
        invited_by: string(),
        invited_at: time,
        member_count: integer('members now, pending invitations not counted'),
      }),
    },
    next_cursor: string('opaque; absent on the last page'),
  },
  ['next_cursor'],
);

/** `group_info` reply and `GET /api/ws/groups/{group_id}`. */
const groupInfo: JsonSchema = object({
  type: constant('group_info'),
  group_id: string(),
  group_name: string(),
  owner_id: string(),
  created_at: time,
  member_count: integer(),
  members: {
    type: 'array',
    items: object({ user_id: string(), role: groupRole, joined_at: time }),
  },
});

/** `data` of the successful reply to each command, by command (the route name). */
export const replies: Record<string, { readonly name: string; readonly schema: JsonSchema }> = {
  send_message: {
    name: 'MessageSent',
    schema: object(
      {
        type: constant('message_sent'),
        message_id: messageId,
        room_id: string(),
        peer_id: peerId('the recipient'),
        delivered: integer('connections that accepted the push'),
        failed: integer('connections still failing after retries'),
        duplicate,
        queued,
        time,
      },
      ['duplicate', 'queued'],
    ),
  },
  send_group_message: {
    name: 'GroupMessageSent',
    schema: object(
      {
        type: constant('group_message_sent'),
        group_id: string(),
        message_id: messageId,
        sent_count: integer(),
        failed: integer(),
        duplicate,
        queued,
        time,
      },
      ['duplicate', 'queued'],
    ),
  },
  create_group: {
    name: 'GroupCreated',
    schema: object(
      {
        type: constant('group_created'),
        group_id: string(),
        group_name: string(),
        member_ids: { type: 'array', items: string() },
        invited: {
          type: 'array',
          items: string(),
          description: 'GROUP_INVITES=required only: the others, invited (members once they accept)',
        },
        role: constant('owner'),
      },
      ['invited'],
    ),
  },
  list_groups: { name: 'Groups', schema: groupsPage },
  group_info: { name: 'GroupInfo', schema: groupInfo },
  add_group_members: {
    name: 'GroupMembersAdded',
    schema: object(
      {
        type: constant('group_members_added'),
        group_id: string(),
        added: { type: 'array', items: string(), description: 'only those added (others were skipped)' },
        invited: {
          type: 'array',
          items: string(),
          description: 'GROUP_INVITES=required only: those invited instead (added is then empty)',
        },
      },
      ['invited'],
    ),
  },
  accept_group_invite: {
    name: 'GroupInviteAccepted',
    schema: object({
      type: constant('group_invite_accepted'),
      group_id: string(),
      group_name: string(),
      role: constant('member'),
    }),
  },
  decline_group_invite: {
    name: 'GroupInviteDeclined',
    schema: object({ type: constant('group_invite_declined'), group_id: string() }),
  },
  list_group_invites: { name: 'GroupInvites', schema: groupInvitesPage },
  remove_group_member: {
    name: 'GroupMemberRemoved',
    schema: object({ type: constant('group_member_removed'), group_id: string(), user_id: string() }),
  },
  block_user: {
    name: 'UserBlocked',
    schema: object({
      type: constant('user_blocked'),
      user_id: string(),
      blocked_at: string('when the block was first made (blocking again keeps it)'),
    }),
  },
  unblock_user: {
    name: 'UserUnblocked',
    schema: object({
      type: constant('user_unblocked'),
      user_id: string(),
      was_blocked: { type: 'boolean', description: 'whether there was a block to lift' },
    }),
  },
  list_blocked: {
    name: 'BlockedUsers',
    schema: object(
      {
        type: constant('blocked_users'),
        users: {
          type: 'array',
          items: object({ user_id: string(), blocked_at: string() }),
          description: 'in user-id order',
        },
        next_cursor: string('present when another page follows'),
      },
      ['next_cursor'],
    ),
  },
  leave_group: { name: 'GroupLeft', schema: object({ type: constant('group_left'), group_id: string() }) },
  update_group: { name: 'GroupRenamed', schema: groupUpdated },
  set_group_role: {
    name: 'GroupRoleSet',
    schema: object({
      type: constant('group_role_set'),
      group_id: string(),
      user_id: string(),
      role: { type: 'string', enum: ['admin', 'member'] },
    }),
  },
  delete_group: {
    name: 'GroupDeleted',
    schema: object({ type: constant('group_deleted'), group_id: string() }),
  },
  broadcast: {
    name: 'BroadcastSent',
    schema: object({ type: constant('broadcast_sent'), sent_count: integer(), failed: integer(), queued }, [
      'queued',
    ]),
  },
  ping: { name: 'Pong', schema: object({ type: constant('pong'), time }) },
  join_room: {
    name: 'RoomJoined',
    schema: object({ type: constant('join_room_success'), room_id: string(), user_id: string(), time }),
  },
  leave_room: {
    name: 'RoomLeft',
    schema: object({ type: constant('leave_room_success'), room_id: string(), user_id: string(), time }),
  },
  send_room_message: {
    name: 'RoomMessageSent',
    schema: object(
      {
        type: constant('room_message_sent'),
        room_id: string(),
        message_id: messageId,
        sent_count: integer(),
        failed: integer(),
        duplicate,
        queued,
        time,
      },
      ['duplicate', 'queued'],
    ),
  },
  history: {
    name: 'HistoryReply',
    schema: object(
      {
        type: constant('history'),
        room_id: string(),
        messages: { type: 'array', items: historyMessage },
        next_cursor: string('present when older messages may exist'),
      },
      ['next_cursor'],
    ),
  },
  sync: {
    name: 'SyncReply',
    schema: object(
      {
        type: constant('sync'),
        messages: { type: 'array', items: syncMessage },
        next_since: string('the since of the next request; absent on an empty page'),
        has_more: { type: 'boolean' },
      },
      ['next_since'],
    ),
  },
  mark_read: {
    name: 'ReadMarked',
    schema: object(
      {
        type: constant('read_marked'),
        room_id: string(),
        message_id: messageId,
        unread: integer(),
        peer_id: peerId('private chats: the other participant'),
        time,
      },
      ['peer_id'],
    ),
  },
  list_conversations: { name: 'ConversationsReply', schema: conversationPage('conversations') },
  delete_message: {
    name: 'MessageDeletedReply',
    schema: object(
      {
        type: constant('message_deleted'),
        room_id: string(),
        message_id: messageId,
        deleted_by: string(),
        peer_id: peerId('private chats: the recipient of the recalled message'),
        time,
        delivered: integer(),
        queued,
      },
      ['peer_id', 'queued'],
    ),
  },
  edit_message: {
    name: 'MessageEditedReply',
    schema: object({ ...messageEdited, delivered: integer(), queued }, ['peer_id', 'queued']),
  },
  react: { name: 'ReactReply', schema: reactionReply },
  unreact: { name: 'UnreactReply', schema: reactionReply },
  typing: {
    name: 'TypingSent',
    schema: object(
      {
        type: constant('typing_sent'),
        room_id: string(),
        state: { type: 'string', enum: ['start', 'stop'] },
        delivered: integer('connections told (0 when throttled)'),
        throttled: {
          type: 'boolean',
          const: true,
          description: 'present when the throttle dropped this frame',
        },
        queued,
      },
      ['throttled', 'queued'],
    ),
  },
};

/** Pushes: frames the server sends unasked (no request_id), by `data.type`. */
export const pushes: Record<string, { readonly name: string; readonly schema: JsonSchema }> = {
  welcome: {
    name: 'Welcome',
    schema: object({ type: constant('welcome'), user_id: string(), connection_id: string(), time }),
  },
  new_message: {
    name: 'NewMessage',
    schema: object(
      {
        type: constant('new_message'),
        message_id: messageId,
        room_id: string(),
        peer_id: peerId("the sender (the receiver's peer)"),
        from_user_id: string(),
        to_user_id: string(),
        content: string(),
        message_type: messageType,
        attachment,
        time,
        reply_to: string('the message of this conversation it replies to'),
      },
      ['attachment', 'reply_to'],
    ),
  },
  group_message: {
    name: 'GroupMessage',
    schema: object(
      {
        type: constant('group_message'),
        group_id: string(),
        group_name: string(),
        message_id: messageId,
        from_user_id: string(),
        content: string(),
        message_type: messageType,
        attachment,
        time,
        reply_to: string('the message of this conversation it replies to'),
      },
      ['attachment', 'reply_to'],
    ),
  },
  broadcast: {
    name: 'Broadcast',
    schema: object({ type: constant('broadcast'), from_user_id: string(), message: string(), time }),
  },
  room_message: {
    name: 'RoomMessage',
    schema: object(
      {
        type: constant('room_message'),
        room_id: string(),
        message_id: messageId,
        from_user_id: string(),
        content: string(),
        message_type: messageType,
        attachment,
        time,
        reply_to: string('the message of this conversation it replies to'),
      },
      ['attachment', 'reply_to'],
    ),
  },
  message_deleted: {
    name: 'MessageDeleted',
    schema: object(
      {
        type: constant('message_deleted'),
        room_id: string(),
        message_id: messageId,
        deleted_by: string(),
        peer_id: peerId("private chats: the other participant, from the receiver's point of view"),
        time,
      },
      ['peer_id'],
    ),
  },
  message_edited: {
    name: 'MessageEdited',
    schema: object(messageEdited, ['peer_id']),
  },
  reaction: {
    name: 'Reaction',
    schema: object(reaction, ['peer_id']),
  },
  typing: {
    name: 'Typing',
    schema: object({
      type: constant('typing'),
      room_id: string(),
      user_id: string('who is typing'),
      state: { type: 'string', enum: ['start', 'stop'] },
    }),
  },
  system_notify: {
    name: 'SystemNotify',
    schema: object({
      type: constant('system_notify'),
      notify_id: messageId,
      message_id: messageId,
      notification_type: string(),
      data: { type: 'object' },
      time,
    }),
  },
  message_read: {
    name: 'MessageRead',
    schema: object(
      {
        type: constant('message_read'),
        room_id: string(),
        user_id: string(),
        peer_id: peerId("private chats: the reader, who is the receiver's peer"),
        message_id: messageId,
        time,
      },
      ['peer_id'],
    ),
  },
  unread_count: {
    name: 'UnreadCount',
    schema: object(
      {
        type: constant('unread_count'),
        room_id: string(),
        unread: integer(),
        peer_id: peerId('private chats: the other participant'),
        time,
      },
      ['peer_id'],
    ),
  },
  presence: {
    name: 'Presence',
    schema: object({
      type: constant('presence'),
      user_id: string(),
      status: { type: 'string', enum: ['online', 'offline'] },
      time,
    }),
  },
  group_updated: { name: 'GroupUpdated', schema: groupUpdated },
  kicked: {
    name: 'Kicked',
    schema: object({ type: constant('kicked'), reason: constant('signed_in_elsewhere'), time }),
  },
};

/** `history` command data: validated by hand (parseHistoryCommand), so described here. */
export const historyCommand: JsonSchema = {
  type: 'object',
  properties: {
    room_id: string('private_…, group_… or a room id'),
    before: string('a message id: only older messages'),
    cursor: string('next_cursor of a previous page; wins over before'),
    limit: {
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', pattern: '^[0-9]+$' },
      ],
      description: '1-100, default 50, larger values capped',
    },
  },
  required: ['room_id'],
};

/** `ping` takes no data. */
export const pingCommand: JsonSchema = { type: 'object' };

/** The `{code, message, data, request_id}` envelope of every reply and push. */
export function envelope(data: JsonSchema, withRequestId: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    code: { type: 'integer', description: '0 on success' },
    message: string('"success", or what was wrong'),
    data,
  };
  if (withRequestId) {
    properties.request_id = {
      anyOf: [{ type: 'string', maxLength: 128 }, { type: 'number' }],
      description: "the command's request_id, when it was a string of at most 128 characters or a number",
    };
  }
  return { type: 'object', properties, required: ['code', 'message', 'data'] };
}

/** The envelope of an error: `data` is null. */
export const errorEnvelope: JsonSchema = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: 'the protocol error code (docs/protocol.md#error-codes)' },
    message: string(),
    data: { type: 'null' },
    request_id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'number' }] },
  },
  required: ['code', 'message', 'data'],
};

/** `data` of the successful HTTP responses, by "METHOD path". */
export const httpResponses: Record<string, JsonSchema> = {
  'GET /api/ws/online-count': object({
    count: integer('users online'),
    connections: integer('open connections'),
  }),
  'GET /api/ws/online-users': object(
    { users: { type: 'array', items: string() }, next_cursor: string('absent on the last page') },
    ['next_cursor'],
  ),
  'GET /api/ws/online/check': object({ user_id: string(), is_online: { type: 'boolean' } }),
  'POST /api/ws/send-message': replies.send_message?.schema ?? {},
  'POST /api/ws/broadcast': object({ recipients: integer(), queued }, ['queued']),
  'POST /api/ws/uploads': object({
    upload_url: string('presigned S3 PUT, valid ATTACHMENT_UPLOAD_URL_TTL_SECONDS (default 300)'),
    method: constant('PUT'),
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'headers the PUT must carry exactly (Content-Type); Content-Length must be `size`',
    },
    attachment_id: string('name it in a message of type 2-5 (ULID)'),
    expires_at: { ...time, description: 'when upload_url stops working' },
    max_size: integer('ATTACHMENT_MAX_BYTES: the largest size this deployment accepts'),
  }),
  'GET /api/ws/messages': object(
    {
      room_id: string(),
      messages: { type: 'array', items: historyMessage },
      next_cursor: string('present when older messages may exist'),
    },
    ['next_cursor'],
  ),
  'GET /api/ws/unread': object({
    conversations: {
      type: 'array',
      items: object(
        {
          room_id: string(),
          unread: integer(),
          last_message_id: messageId,
          peer_id: peerId('private chats: the other participant (the sender of the unread messages)'),
        },
        ['peer_id'],
      ),
    },
    total: integer(),
  }),
  'GET /api/ws/conversations': conversationPage(),
  'POST /api/ws/notify': object(
    {
      recipients: integer('connections that accepted the push'),
      stored: integer('users it was stored for'),
      queued,
    },
    ['queued'],
  ),
};

for (const [key, cmd] of [
  ['GET /api/ws/groups', 'list_groups'],
  ['POST /api/ws/groups', 'create_group'],
  ['GET /api/ws/groups/{group_id}', 'group_info'],
  ['PATCH /api/ws/groups/{group_id}', 'update_group'],
  ['DELETE /api/ws/groups/{group_id}', 'delete_group'],
  ['POST /api/ws/groups/{group_id}/members', 'add_group_members'],
  ['DELETE /api/ws/groups/{group_id}/members/{user_id}', 'remove_group_member'],
  ['PATCH /api/ws/groups/{group_id}/members/{user_id}', 'set_group_role'],
  ['POST /api/ws/groups/{group_id}/leave', 'leave_group'],
  ['GET /api/ws/group-invites', 'list_group_invites'],
  ['POST /api/ws/groups/{group_id}/invite/accept', 'accept_group_invite'],
  ['POST /api/ws/groups/{group_id}/invite/decline', 'decline_group_invite'],
  ['GET /api/ws/blocks', 'list_blocked'],
  ['POST /api/ws/blocks', 'block_user'],
  ['DELETE /api/ws/blocks/{user_id}', 'unblock_user'],
  ['PATCH /api/ws/messages/{message_id}', 'edit_message'],
  ['POST /api/ws/messages/{message_id}/reactions', 'react'],
  ['DELETE /api/ws/messages/{message_id}/reactions/{emoji}', 'unreact'],
] as const) {
  httpResponses[key] = replies[cmd]?.schema ?? {};
}

/** The `cursor` query parameter of a paged GET. */
const cursorParameter = {
  name: 'cursor',
  required: false,
  schema: string(),
  description: 'next_cursor of the previous page',
};

/** Query parameters of the HTTP routes that read them by hand. */
export const httpQueryParameters: Record<
  string,
  { name: string; required: boolean; schema: JsonSchema; description: string }[]
> = {
  'GET /api/ws/online-users': [
    {
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1 },
      description: 'page size, default 100, larger values capped at 1000',
    },
    cursorParameter,
  ],
  'GET /api/ws/conversations': [
    {
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 50 },
      description: '1-50, default 20; anything else is refused (1001)',
    },
    cursorParameter,
  ],
  'GET /api/ws/groups': [
    {
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 50 },
      description: 'groups per page, 1-50, default 20; anything else is refused (1001)',
    },
    cursorParameter,
  ],
  'GET /api/ws/blocks': [
    {
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 100 },
      description: 'users per page, 1-100, default 50; anything else is refused (1001)',
    },
    cursorParameter,
  ],
  'DELETE /api/ws/messages/{message_id}/reactions/{emoji}': [
    { name: 'room_id', required: true, schema: string(), description: 'private_…, group_… or a room id' },
  ],
  'GET /api/ws/online/check': [
    { name: 'user_id', required: true, schema: string(), description: 'the user to check' },
  ],
  'GET /api/ws/messages': [
    { name: 'room_id', required: true, schema: string(), description: 'private_…, group_… or a room id' },
    { name: 'before', required: false, schema: string(), description: 'a message id: only older messages' },
    {
      name: 'limit',
      required: false,
      schema: { type: 'integer', minimum: 1 },
      description: '1-100, default 50, larger values capped',
    },
    { name: 'cursor', required: false, schema: string(), description: 'next_cursor of a previous page' },
  ],
};
