/**
 * Wire types: the frames the backend sends, as documented in docs/protocol.md and
 * produced by functions/core (the unit test client-types.test.ts checks the server's
 * result types against these at compile time).
 */

/** Server → client, every frame: replies echo `request_id`, pushes have none. */
export interface Envelope<T = unknown> {
  readonly code: number;
  readonly message: string;
  readonly data: T | null;
  readonly request_id?: string | number;
}

/** 1 text, 2 image, 3 file, 4 audio, 5 video. */
export type MessageType = 1 | 2 | 3 | 4 | 5;

/** A file attached to a message (`message_type` 2–5). */
export interface Attachment {
  readonly attachment_id: string;
  readonly file_name: string;
  readonly content_type: string;
  /** Bytes. */
  readonly size: number;
  /** A short-lived presigned GET, given to participants only: read it again from `history` once it expires. */
  readonly url: string;
}

// ---------------------------------------------------------------- replies

export interface Welcome {
  readonly type: 'welcome';
  readonly user_id: string;
  readonly connection_id: string;
  readonly time: string;
}

export interface MessageSent {
  readonly type: 'message_sent';
  readonly message_id: string;
  readonly room_id: string;
  /** The recipient: the other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id: string;
  /** Recipient connections that accepted the push (0 when offline: not an error). */
  readonly delivered: number;
  readonly failed: number;
  /** A retry of a `client_msg_id` already stored: the first message's reply. */
  readonly duplicate?: true;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
  readonly time: string;
}

export interface GroupMessageSent {
  readonly type: 'group_message_sent';
  readonly group_id: string;
  readonly message_id: string;
  readonly sent_count: number;
  readonly failed: number;
  readonly duplicate?: true;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
  readonly time: string;
}

export interface RoomMessageSent {
  readonly type: 'room_message_sent';
  readonly room_id: string;
  readonly message_id: string;
  readonly sent_count: number;
  readonly failed: number;
  readonly duplicate?: true;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
  readonly time: string;
}

export interface GroupCreated {
  readonly type: 'group_created';
  readonly group_id: string;
  readonly group_name: string;
  readonly member_ids: readonly string[];
  /**
   * Deployments with `GROUP_INVITES=required`: the others named, invited (members only once
   * they accept); absent otherwise.
   */
  readonly invited?: readonly string[];
  /** The creator's role: always `owner`. */
  readonly role: 'owner';
}

/** A member's rights in a group: the owner (one), admins, members. */
export type GroupRole = 'owner' | 'admin' | 'member';

/** One of the caller's groups, as `list_groups` shows it. */
export interface GroupSummary {
  readonly group_id: string;
  readonly group_name: string;
  /** The caller's role. */
  readonly role: GroupRole;
  readonly member_count: number;
  /** Null while nobody has written in the group. */
  readonly last_message_id: string | null;
  /** The caller's unread count there. */
  readonly unread: number;
}

/** The `list_groups` reply; page on `next_cursor` until it is absent. */
export interface GroupsPage {
  readonly type: 'groups';
  readonly groups: readonly GroupSummary[];
  /** Absent on the last page. */
  readonly next_cursor?: string;
}

export interface GroupMember {
  readonly user_id: string;
  readonly role: GroupRole;
  readonly joined_at: string;
}

/** The `group_info` reply (members only). */
export interface GroupInfo {
  readonly type: 'group_info';
  readonly group_id: string;
  readonly group_name: string;
  readonly owner_id: string;
  readonly created_at: string;
  readonly member_count: number;
  readonly members: readonly GroupMember[];
}

export interface GroupMembersAdded {
  readonly type: 'group_members_added';
  readonly group_id: string;
  /** The users who were not members before (duplicates and existing members left out). */
  readonly added: readonly string[];
  /**
   * Deployments with `GROUP_INVITES=required`: the users invited instead (`added` is empty;
   * members and users already invited left out); absent otherwise.
   */
  readonly invited?: readonly string[];
}

/** The `accept_group_invite` reply: the caller is a member now. */
export interface GroupInviteAccepted {
  readonly type: 'group_invite_accepted';
  readonly group_id: string;
  readonly group_name: string;
  readonly role: 'member';
}

/** The `decline_group_invite` reply: the invitation is gone. */
export interface GroupInviteDeclined {
  readonly type: 'group_invite_declined';
  readonly group_id: string;
}

/** A pending invitation, as `list_group_invites` shows it (what an invitee may see of the group). */
export interface GroupInviteSummary {
  readonly group_id: string;
  readonly group_name: string;
  readonly invited_by: string;
  readonly invited_at: string;
  /** Members now (pending invitations not counted). */
  readonly member_count: number;
}

/** The `list_group_invites` reply; page on `next_cursor` until it is absent. */
export interface GroupInvitesPage {
  readonly type: 'group_invites';
  readonly invites: readonly GroupInviteSummary[];
  /** Absent on the last page. */
  readonly next_cursor?: string;
}

export interface GroupMemberRemoved {
  readonly type: 'group_member_removed';
  readonly group_id: string;
  readonly user_id: string;
}

export interface GroupLeft {
  readonly type: 'group_left';
  readonly group_id: string;
}

export interface GroupRoleSet {
  readonly type: 'group_role_set';
  readonly group_id: string;
  readonly user_id: string;
  readonly role: 'admin' | 'member';
}

export interface GroupDeleted {
  readonly type: 'group_deleted';
  readonly group_id: string;
}

/** A conversation's newest message, as `list_conversations` shows it. */
export interface ConversationLastMessage {
  readonly message_id: string;
  readonly from_user_id: string;
  /** A preview: at most 200 characters; empty when `deleted`. */
  readonly content: string;
  readonly message_type: number;
  readonly time: string;
  /** Recalled by its sender. */
  readonly deleted?: true;
  /** The last message was edited: `content` previews the edited text. */
  readonly edited_at?: string;
}

/** One of the caller's private chats, as `list_conversations` shows it. */
export interface PrivateConversationSummary {
  readonly room_id: string;
  readonly kind: 'private';
  /** The other user (never parse it out of `room_id`). */
  readonly peer_id: string;
  readonly last_message: ConversationLastMessage;
  readonly unread: number;
}

/** One of the caller's groups, as `list_conversations` shows it. */
export interface GroupConversationSummary {
  readonly room_id: string;
  readonly kind: 'group';
  readonly group_id: string;
  readonly group_name: string;
  /** Null while nobody has written in the group. */
  readonly last_message: ConversationLastMessage | null;
  readonly unread: number;
}

export type ConversationSummary = PrivateConversationSummary | GroupConversationSummary;

/** The `list_conversations` reply, most recent activity first; page on `next_cursor`. */
export interface ConversationsPage {
  readonly type: 'conversations';
  readonly conversations: readonly ConversationSummary[];
  readonly next_cursor?: string;
}

export interface RoomJoined {
  readonly type: 'join_room_success';
  readonly room_id: string;
  readonly user_id: string;
  readonly time: string;
}

export interface RoomLeft {
  readonly type: 'leave_room_success';
  readonly room_id: string;
  readonly user_id: string;
  readonly time: string;
}

export interface BroadcastSent {
  readonly type: 'broadcast_sent';
  readonly sent_count: number;
  readonly failed: number;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
}

export interface Pong {
  readonly type: 'pong';
  readonly time: string;
}

/** A stored message as `history`, `GET /api/ws/messages` and `sync` show it. */
export interface HistoryMessage {
  readonly message_id: string;
  readonly room_id: string;
  readonly from_user_id: string;
  readonly to_user_id?: string;
  /** Private messages: the other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id?: string;
  readonly group_id?: string;
  /** Empty when `deleted`. */
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5 (absent once recalled). */
  readonly attachment?: Attachment;
  readonly time: string;
  /** Recalled by its sender. */
  readonly deleted?: true;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
  /** When its sender last edited it; `content` is the edited text. */
  readonly edited_at?: string;
  /** Reaction counts by emoji; absent when there are none. */
  readonly reactions?: Readonly<Record<string, number>>;
}

/** The `history` reply (newest first); page on `next_cursor` until it is absent. */
export interface HistoryPage {
  readonly type: 'history';
  readonly room_id: string;
  readonly messages: readonly HistoryMessage[];
  readonly next_cursor?: string;
}

export type SyncKind = 'private' | 'group' | 'system';

export interface SyncMessage extends HistoryMessage {
  readonly kind: SyncKind;
  /** System notifications only. */
  readonly notification_type?: string;
  /** System notifications only. */
  readonly data?: unknown;
}

/** The `sync` reply (oldest first); page on `next_since` while `has_more`. */
export interface SyncPage {
  readonly type: 'sync';
  readonly messages: readonly SyncMessage[];
  readonly next_since?: string;
  readonly has_more: boolean;
}

export interface ReadMarked {
  readonly type: 'read_marked';
  readonly room_id: string;
  /** The stored position (the marked message, or a newer one marked earlier). */
  readonly message_id: string;
  readonly unread: number;
  /** Private chats: the other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id?: string;
  readonly time: string;
}

/** The `edit_message` reply: the push the participants got, and how many connections took it. */
export interface MessageEditedReply extends MessageEditedPush {
  /** Connections, other than this one, that accepted the push. */
  readonly delivered: number;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
}

/** The `react` / `unreact` reply: the push the participants got (when something changed). */
export interface ReactionReply extends ReactionPush {
  /** False when nothing changed (a repeated react, an unreact of nothing): nobody was told. */
  readonly changed: boolean;
  readonly delivered: number;
  readonly queued?: number;
}

/** The `typing` reply. */
export interface TypingReply {
  readonly type: 'typing_sent';
  readonly room_id: string;
  readonly state: TypingState;
  /** Connections that accepted the push (0 when throttled). */
  readonly delivered: number;
  /** The server's throttle dropped this frame: nobody was told. */
  readonly throttled?: true;
  readonly queued?: number;
}

export interface MessageDeletedReply extends MessageDeletedPush {
  readonly delivered: number;
  /** Connections handed to fan-out workers (large audiences; present only when some were). */
  readonly queued?: number;
}

// ---------------------------------------------------------------- pushes

export interface NewMessagePush {
  readonly type: 'new_message';
  readonly message_id: string;
  readonly room_id: string;
  /** The sender, i.e. the receiver's peer in `room_id` (never parse the room id). */
  readonly peer_id: string;
  readonly from_user_id: string;
  readonly to_user_id: string;
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5. */
  readonly attachment?: Attachment;
  readonly time: string;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
}

export interface GroupMessagePush {
  readonly type: 'group_message';
  readonly group_id: string;
  readonly group_name: string;
  readonly message_id: string;
  readonly from_user_id: string;
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5. */
  readonly attachment?: Attachment;
  readonly time: string;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
}

export interface RoomMessagePush {
  readonly type: 'room_message';
  readonly room_id: string;
  readonly message_id: string;
  readonly from_user_id: string;
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5. */
  readonly attachment?: Attachment;
  readonly time: string;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
}

export interface BroadcastPush {
  readonly type: 'broadcast';
  readonly from_user_id: string;
  readonly message: string;
  readonly time: string;
}

export interface PresencePush {
  readonly type: 'presence';
  readonly user_id: string;
  readonly status: 'online' | 'offline';
  readonly time: string;
}

export interface SystemNotifyPush {
  readonly type: 'system_notify';
  /** Same for every recipient; also the item's `message_id` in `sync`. */
  readonly notify_id: string;
  readonly message_id: string;
  readonly notification_type: string;
  readonly data: Record<string, unknown>;
  readonly time: string;
}

export interface MessageDeletedPush {
  readonly type: 'message_deleted';
  readonly room_id: string;
  readonly message_id: string;
  readonly deleted_by: string;
  /** Private chats: the other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id?: string;
  readonly time: string;
}

export interface MessageReadPush {
  readonly type: 'message_read';
  readonly room_id: string;
  readonly user_id: string;
  /** Private chats: the reader, who is this client's peer there. */
  readonly peer_id?: string;
  readonly message_id: string;
  readonly time: string;
}

export interface UnreadCountPush {
  readonly type: 'unread_count';
  readonly room_id: string;
  readonly unread: number;
  /** Private chats: the other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id?: string;
  readonly time: string;
}

/** What changed in a `group_updated` push. */
export type GroupChange =
  | 'renamed'
  | 'members_added'
  | 'member_removed'
  | 'member_left'
  | 'role_changed'
  | 'deleted'
  /** `GROUP_INVITES=required`: `user_ids` were invited (an invitee is told only of themselves). */
  | 'invited'
  /** `user_ids` declined their invitation (told to the owner and admins). */
  | 'invite_declined'
  /** An owner or admin withdrew the invitation of `user_ids` (told to the members and the invitee). */
  | 'invite_withdrawn';

/**
 * A group changed: pushed to its members' connections, to the user removed and, for
 * `members_added`, to those added. It is also the reply to `update_group`.
 */
export interface GroupUpdatedPush {
  readonly type: 'group_updated';
  readonly group_id: string;
  readonly change: GroupChange;
  /** Who was added, removed or left (empty for `renamed` and `deleted`). */
  readonly user_ids: readonly string[];
  /** Who made the change. */
  readonly by: string;
  /** The group's name after the change. */
  readonly group_name: string;
  /** Present when ownership moved (an owner left). */
  readonly owner_id?: string;
  /** With `role_changed`: the new role of `user_ids`. */
  readonly role?: GroupRole;
  readonly time: string;
}

/** A message was edited by its sender: pushed to the conversation's participants. */
export interface MessageEditedPush {
  readonly type: 'message_edited';
  readonly room_id: string;
  readonly message_id: string;
  /** The new text. */
  readonly content: string;
  readonly edited_at: string;
  /** Private chats: the other participant, from this client's point of view. */
  readonly peer_id?: string;
}

/** Someone added or removed a reaction: pushed to the conversation's participants, with the new counts. */
export interface ReactionPush {
  readonly type: 'reaction';
  readonly room_id: string;
  readonly message_id: string;
  /** Who reacted. */
  readonly user_id: string;
  readonly emoji: string;
  readonly action: 'added' | 'removed';
  /** Every emoji's count on the message after this change (emojis with none left out). */
  readonly counts: Readonly<Record<string, number>>;
  /** Private chats: the other participant, from this client's point of view. */
  readonly peer_id?: string;
}

export type TypingState = 'start' | 'stop';

/** Another participant started or stopped typing (never stored; no `stop` may come: expire it yourself). */
export interface TypingPush {
  readonly type: 'typing';
  readonly room_id: string;
  readonly user_id: string;
  readonly state: TypingState;
}

export interface KickedPush {
  readonly type: 'kicked';
  readonly reason: string;
  readonly time: string;
}

// ---------------------------------------------------------------- command inputs

export interface SendMessageInput {
  readonly to_user_id: string;
  readonly content: string;
  readonly message_type?: number;
  /** Required with message_type 2–5: the `attachment_id` of a finished upload (`upload()`). */
  readonly attachment_id?: string;
  /** Generated when absent; reused on every retry so the server stores the message once. */
  readonly client_msg_id?: string;
  /** The id of a message of the same conversation this one replies to (2001 otherwise). */
  readonly reply_to?: string;
}

export interface SendGroupMessageInput {
  readonly group_id: string;
  readonly content: string;
  readonly message_type?: number;
  /** Required with message_type 2–5: the `attachment_id` of a finished upload (`upload()`). */
  readonly attachment_id?: string;
  readonly client_msg_id?: string;
  /** The id of a message of the same conversation this one replies to (2001 otherwise). */
  readonly reply_to?: string;
}

export interface SendRoomMessageInput {
  readonly room_id: string;
  readonly content: string;
  readonly message_type?: number;
  /** Required with message_type 2–5: the `attachment_id` of a finished upload (`upload()`). */
  readonly attachment_id?: string;
  readonly client_msg_id?: string;
  /** The id of a message of the same conversation this one replies to (2001 otherwise). */
  readonly reply_to?: string;
}

export interface CreateGroupInput {
  readonly group_name: string;
  readonly member_ids: readonly string[];
}

export interface PageInput {
  /** Page size (the server's default and maximum apply). */
  readonly limit?: number;
  /** `next_cursor` of the previous page. */
  readonly cursor?: string;
}

export interface GroupInput {
  readonly group_id: string;
}

export interface AddGroupMembersInput {
  readonly group_id: string;
  readonly member_ids: readonly string[];
}

export interface RemoveGroupMemberInput {
  readonly group_id: string;
  readonly user_id: string;
}

export interface SetGroupRoleInput {
  readonly group_id: string;
  readonly user_id: string;
  readonly role: 'admin' | 'member';
}

export interface UpdateGroupInput {
  readonly group_id: string;
  readonly group_name: string;
}

export interface RoomInput {
  readonly room_id: string;
}

export interface BroadcastInput {
  readonly message: string;
}

export interface HistoryInput {
  /** `private_…`, `group_…` or a room id. */
  readonly room_id: string;
  /** Only messages older than this id. */
  readonly before?: string;
  /** `next_cursor` of a previous page (wins over `before`). */
  readonly cursor?: string;
  /** 1–100 (default 50). */
  readonly limit?: number;
}

export interface SyncInput {
  /** Only messages with greater ids; absent: from the beginning. */
  readonly since?: string;
  /** 1–100 (default 50). */
  readonly limit?: number;
}

export interface MarkReadInput {
  readonly room_id: string;
  readonly message_id: string;
}

export interface DeleteMessageInput {
  readonly room_id: string;
  readonly message_id: string;
}

export interface EditMessageInput {
  readonly room_id: string;
  readonly message_id: string;
  /** The new text: the rules for sending apply (length, content filter). */
  readonly content: string;
}

export interface ReactInput {
  readonly room_id: string;
  readonly message_id: string;
  /** 1–32 characters. */
  readonly emoji: string;
}

export interface TypingInput {
  readonly room_id: string;
  readonly state: TypingState;
}

/** What `POST /api/ws/uploads` is asked for. */
export interface UploadRequest {
  readonly file_name: string;
  readonly content_type: string;
  /** Bytes: the upload must be exactly this long. */
  readonly size: number;
}

/** The `POST /api/ws/uploads` answer: a presigned upload of exactly the declared size and type. */
export interface UploadTicket {
  readonly upload_url: string;
  readonly method: 'PUT';
  /** Send these with the upload (the signature covers them). */
  readonly headers: Readonly<Record<string, string>>;
  /** Put it on a message of type 2–5 once the upload is done. */
  readonly attachment_id: string;
  /** The upload URL stops working then. */
  readonly expires_at: string;
}

// ---------------------------------------------------------------- what the application sees

interface ChatMessageBase {
  readonly message_id: string;
  /** `private_{a}_{b}`, the group id, or the room id. */
  readonly room_id: string;
  readonly from_user_id: string;
  readonly content: string;
  readonly message_type: number;
  readonly time: string;
  /** Recalled (only ever set on catch-up items: live pushes are never deleted). */
  readonly deleted?: true;
  /** True when the message came from catch-up (`sync` or `history`) rather than a live push. */
  readonly catch_up: boolean;
  /** The message of the same conversation this one replies to. */
  readonly reply_to?: string;
  /** Catch-up items only: when its sender last edited it (`content` is the edited text). */
  readonly edited_at?: string;
  /** Catch-up items only: reaction counts by emoji (live changes come as `reaction` events). */
  readonly reactions?: Readonly<Record<string, number>>;
  /** Message types 2–5: the file, with a short-lived download URL. */
  readonly attachment?: Attachment;
}

export interface PrivateChatMessage extends ChatMessageBase {
  readonly type: 'new_message';
  readonly kind: 'private';
  /** The other participant, from this client's point of view (never parse the room id: it is ambiguous when user ids contain `_`). */
  readonly peer_id: string;
  readonly to_user_id: string;
}

export interface GroupChatMessage extends ChatMessageBase {
  readonly type: 'group_message';
  readonly kind: 'group';
  readonly group_id: string;
  /** Only on live pushes (`sync` items do not carry it). */
  readonly group_name?: string;
}

export interface RoomChatMessage extends ChatMessageBase {
  readonly type: 'room_message';
  readonly kind: 'room';
}

/** A chat message as the `message` event delivers it, live or from catch-up. */
export type ChatMessage = PrivateChatMessage | GroupChatMessage | RoomChatMessage;

/** A system notification as the `system_notify` event delivers it, live or from catch-up. */
export interface SystemNotification extends SystemNotifyPush {
  readonly catch_up: boolean;
}
