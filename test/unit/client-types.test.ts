/**
 * The client SDK's frame types against the server: at compile time against the result
 * types in functions/core (tsc fails when they drift apart), and at run time against the
 * generated AsyncAPI document (every field, and which ones are required).
 * Run: npx tsx --test test/unit/client-types.test.ts   (and `npx tsc --noEmit`)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type * as ClientHttp from '../../client/src/http.ts';
import type * as Client from '../../client/src/types.ts';
import type * as Conversations from '../../functions/core/conversations/conversation-list.ts';
import type * as Invites from '../../functions/core/groups/group-invites.ts';
import type * as Groups from '../../functions/core/groups/group-service.ts';
import type * as Service from '../../functions/core/messaging/chat-service.ts';
import type * as Edit from '../../functions/core/messaging/edit.ts';
import type * as History from '../../functions/core/messaging/history.ts';
import type * as Notify from '../../functions/core/messaging/notify.ts';
import type * as Recall from '../../functions/core/messaging/recall.ts';
import type * as Sync from '../../functions/core/messaging/sync.ts';
import type * as Reactions from '../../functions/core/reactions/reactions.ts';
import type * as Receipts from '../../functions/core/receipts/read-receipts.ts';
import type * as Rooms from '../../functions/core/rooms/rooms.ts';
import type * as Typing from '../../functions/core/typing/typing.ts';

// ------------------------------------------------------------------ compile time

/** True when A and B are assignable both ways (the same shape, readonly aside). */
type Assignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** …and have the same fields (assignability alone lets an optional field be missing on one side). */
type Same<A, B> = Assignable<A, B> extends true ? Assignable<keyof A, keyof B> : false;
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

const sameShapes: [
  Same<Mutable<Service.MessageSent>, Mutable<Client.MessageSent>>,
  Same<Mutable<Service.GroupMessageSent>, Mutable<Client.GroupMessageSent>>,
  Same<Mutable<Groups.GroupCreated>, Mutable<Client.GroupCreated>>,
  Same<Mutable<Service.BroadcastSent>, Mutable<Client.BroadcastSent>>,
  Same<Mutable<Rooms.RoomJoined>, Mutable<Client.RoomJoined>>,
  Same<Mutable<Rooms.RoomLeft>, Mutable<Client.RoomLeft>>,
  Same<Mutable<Rooms.RoomMessageSent>, Mutable<Client.RoomMessageSent>>,
  Same<Mutable<History.HistoryMessage>, Mutable<Client.HistoryMessage>>,
  Same<Mutable<Sync.SyncMessage>, Mutable<Client.SyncMessage>>,
  Same<Mutable<Receipts.ReadMarked>, Mutable<Client.ReadMarked>>,
  Same<Mutable<Recall.MessageDeleted>, Mutable<Client.MessageDeletedPush>>,
  Same<Mutable<Recall.MessageDeletedReply>, Mutable<Client.MessageDeletedReply>>,
  Same<Mutable<Notify.SystemNotify>, Mutable<Client.SystemNotifyPush>>,
  Same<Mutable<Conversations.LastMessage>, Mutable<Client.ConversationLastMessage>>,
  Same<Mutable<Conversations.ConversationEntry>, Mutable<Client.ConversationSummary>>,
  Same<Mutable<Service.NewMessage>, Mutable<Client.NewMessagePush>>,
  Same<Mutable<Receipts.MessageRead>, Mutable<Client.MessageReadPush>>,
  Same<Mutable<Receipts.UnreadCount>, Mutable<Client.UnreadCountPush>>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];

/** What a GroupService method resolves with. */
type GroupReply<
  M extends
    | 'listGroups'
    | 'groupInfo'
    | 'addMembers'
    | 'removeMember'
    | 'leave'
    | 'setRole'
    | 'deleteGroup'
    | 'acceptInvite'
    | 'declineInvite'
    | 'listInvites',
> = Awaited<ReturnType<Groups.GroupService[M]>>;

const groupShapes: [
  Same<Mutable<Groups.GroupUpdated>, Mutable<Client.GroupUpdatedPush>>,
  Same<Mutable<Groups.GroupSummary>, Mutable<Client.GroupSummary>>,
  Same<Mutable<GroupReply<'listGroups'>>, Mutable<Client.GroupsPage>>,
  Same<Mutable<GroupReply<'groupInfo'>>, Mutable<Client.GroupInfo>>,
  Same<Mutable<GroupReply<'groupInfo'>['members'][number]>, Mutable<Client.GroupMember>>,
  Same<Mutable<GroupReply<'addMembers'>>, Mutable<Client.GroupMembersAdded>>,
  Same<Mutable<GroupReply<'removeMember'>>, Mutable<Client.GroupMemberRemoved>>,
  Same<Mutable<GroupReply<'leave'>>, Mutable<Client.GroupLeft>>,
  Same<Mutable<GroupReply<'setRole'>>, Mutable<Client.GroupRoleSet>>,
  Same<Mutable<GroupReply<'deleteGroup'>>, Mutable<Client.GroupDeleted>>,
  Same<Mutable<GroupReply<'acceptInvite'>>, Mutable<Client.GroupInviteAccepted>>,
  Same<Mutable<GroupReply<'declineInvite'>>, Mutable<Client.GroupInviteDeclined>>,
  Same<Mutable<GroupReply<'listInvites'>>, Mutable<Client.GroupInvitesPage>>,
  Same<Mutable<Invites.GroupInviteSummary>, Mutable<Client.GroupInviteSummary>>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true];

// Rich messages: edits, reactions, typing.
const richShapes: [
  Same<Mutable<Edit.MessageEdited>, Mutable<Client.MessageEditedPush>>,
  Same<Mutable<Edit.MessageEditedReply>, Mutable<Client.MessageEditedReply>>,
  Same<Mutable<Reactions.ReactionPush>, Mutable<Client.ReactionPush>>,
  Same<Mutable<Reactions.ReactionReply>, Mutable<Client.ReactionReply>>,
  Same<Mutable<Typing.TypingPush>, Mutable<Client.TypingPush>>,
  Same<Mutable<Typing.TypingReply>, Mutable<Client.TypingReply>>,
] = [true, true, true, true, true, true];

// The HTTP client's result types.
const httpShapes: [
  Same<Mutable<Receipts.UnreadConversation>, Mutable<ClientHttp.UnreadConversation>>,
  Same<Mutable<Receipts.UnreadSummary>, Mutable<ClientHttp.UnreadSummary>>,
] = [true, true];

// What the server replies is always something the client type accepts.
const replies: [
  [Sync.SyncReply] extends [Client.SyncPage] ? true : false,
  [History.HistoryPage & { type: 'history' }] extends [Client.HistoryPage] ? true : false,
  [Conversations.ConversationListPage & { type: 'conversations' }] extends [Client.ConversationsPage]
    ? true
    : false,
] = [true, true, true];

// ------------------------------------------------------------------ run time, against docs/asyncapi.json

/** Each field of T, and whether it is required: the table below must list exactly these (tsc checks). */
type Fields<T> = { readonly [K in keyof T]-?: undefined extends T[K] ? 'optional' : 'required' };

const r = 'required' as const;
const o = 'optional' as const;
const messageFields = { message_id: r, room_id: r, from_user_id: r, content: r, message_type: r, time: r };

const tables: Record<string, Record<string, 'required' | 'optional'>> = {
  Welcome: { type: r, user_id: r, connection_id: r, time: r } satisfies Fields<Client.Welcome>,
  NewMessage: {
    type: r,
    ...messageFields,
    peer_id: r,
    to_user_id: r,
    reply_to: o,
    attachment: o,
  } satisfies Fields<Client.NewMessagePush>,
  GroupMessage: {
    type: r,
    group_id: r,
    group_name: r,
    message_id: r,
    from_user_id: r,
    content: r,
    message_type: r,
    attachment: o,
    time: r,
    reply_to: o,
  } satisfies Fields<Client.GroupMessagePush>,
  RoomMessage: {
    type: r,
    ...messageFields,
    reply_to: o,
    attachment: o,
  } satisfies Fields<Client.RoomMessagePush>,
  Broadcast: { type: r, from_user_id: r, message: r, time: r } satisfies Fields<Client.BroadcastPush>,
  Presence: { type: r, user_id: r, status: r, time: r } satisfies Fields<Client.PresencePush>,
  SystemNotify: {
    type: r,
    notify_id: r,
    message_id: r,
    notification_type: r,
    data: r,
    time: r,
  } satisfies Fields<Client.SystemNotifyPush>,
  MessageDeleted: {
    type: r,
    room_id: r,
    message_id: r,
    deleted_by: r,
    peer_id: o,
    time: r,
  } satisfies Fields<Client.MessageDeletedPush>,
  MessageRead: {
    type: r,
    room_id: r,
    user_id: r,
    peer_id: o,
    message_id: r,
    time: r,
  } satisfies Fields<Client.MessageReadPush>,
  UnreadCount: {
    type: r,
    room_id: r,
    unread: r,
    peer_id: o,
    time: r,
  } satisfies Fields<Client.UnreadCountPush>,
  Kicked: { type: r, reason: r, time: r } satisfies Fields<Client.KickedPush>,
  MessageEdited: {
    type: r,
    room_id: r,
    message_id: r,
    content: r,
    edited_at: r,
    peer_id: o,
  } satisfies Fields<Client.MessageEditedPush>,
  MessageEditedReply: {
    type: r,
    room_id: r,
    message_id: r,
    content: r,
    edited_at: r,
    peer_id: o,
    delivered: r,
    queued: o,
  } satisfies Fields<Client.MessageEditedReply>,
  Reaction: {
    type: r,
    room_id: r,
    message_id: r,
    user_id: r,
    emoji: r,
    action: r,
    counts: r,
    peer_id: o,
  } satisfies Fields<Client.ReactionPush>,
  ReactReply: {
    type: r,
    room_id: r,
    message_id: r,
    user_id: r,
    emoji: r,
    action: r,
    counts: r,
    peer_id: o,
    changed: r,
    delivered: r,
    queued: o,
  } satisfies Fields<Client.ReactionReply>,
  Typing: { type: r, room_id: r, user_id: r, state: r } satisfies Fields<Client.TypingPush>,
  TypingSent: {
    type: r,
    room_id: r,
    state: r,
    delivered: r,
    throttled: o,
    queued: o,
  } satisfies Fields<Client.TypingReply>,
  MessageSent: {
    type: r,
    message_id: r,
    room_id: r,
    peer_id: r,
    delivered: r,
    failed: r,
    duplicate: o,
    queued: o,
    time: r,
  } satisfies Fields<Client.MessageSent>,
  GroupMessageSent: {
    type: r,
    group_id: r,
    message_id: r,
    sent_count: r,
    failed: r,
    duplicate: o,
    queued: o,
    time: r,
  } satisfies Fields<Client.GroupMessageSent>,
  RoomMessageSent: {
    type: r,
    room_id: r,
    message_id: r,
    sent_count: r,
    failed: r,
    duplicate: o,
    queued: o,
    time: r,
  } satisfies Fields<Client.RoomMessageSent>,
  GroupCreated: {
    type: r,
    group_id: r,
    group_name: r,
    member_ids: r,
    invited: o,
    role: r,
  } satisfies Fields<Client.GroupCreated>,
  RoomJoined: { type: r, room_id: r, user_id: r, time: r } satisfies Fields<Client.RoomJoined>,
  RoomLeft: { type: r, room_id: r, user_id: r, time: r } satisfies Fields<Client.RoomLeft>,
  BroadcastSent: { type: r, sent_count: r, failed: r, queued: o } satisfies Fields<Client.BroadcastSent>,
  Pong: { type: r, time: r } satisfies Fields<Client.Pong>,
  ReadMarked: {
    type: r,
    room_id: r,
    message_id: r,
    unread: r,
    peer_id: o,
    time: r,
  } satisfies Fields<Client.ReadMarked>,
  MessageDeletedReply: {
    type: r,
    room_id: r,
    message_id: r,
    deleted_by: r,
    peer_id: o,
    time: r,
    delivered: r,
    queued: o,
  } satisfies Fields<Client.MessageDeletedReply>,
  SyncReply: { type: r, messages: r, next_since: o, has_more: r } satisfies Fields<Client.SyncPage>,
  HistoryReply: { type: r, room_id: r, messages: r, next_cursor: o } satisfies Fields<Client.HistoryPage>,
  'SyncReply.messages[]': {
    kind: r,
    ...messageFields,
    to_user_id: o,
    peer_id: o,
    group_id: o,
    attachment: o,
    deleted: o,
    reply_to: o,
    edited_at: o,
    reactions: o,
    notification_type: o,
    data: o,
  } satisfies Fields<Client.SyncMessage>,
  ConversationsReply: {
    type: r,
    conversations: r,
    next_cursor: o,
  } satisfies Fields<Client.ConversationsPage>,
  'HistoryReply.messages[]': {
    ...messageFields,
    to_user_id: o,
    peer_id: o,
    group_id: o,
    attachment: o,
    deleted: o,
    reply_to: o,
    edited_at: o,
    reactions: o,
  } satisfies Fields<Client.HistoryMessage>,
};

/** Command inputs: the same fields as the spec (the spec also accepts integer user ids). */
const inputs: Record<string, readonly string[]> = {
  SendMessageData: Object.keys({
    to_user_id: r,
    content: r,
    message_type: o,
    client_msg_id: o,
    reply_to: o,
    attachment_id: o,
  } satisfies Fields<Client.SendMessageInput>),
  SendGroupMessageData: Object.keys({
    group_id: r,
    content: r,
    message_type: o,
    client_msg_id: o,
    reply_to: o,
    attachment_id: o,
  } satisfies Fields<Client.SendGroupMessageInput>),
  SendRoomMessageData: Object.keys({
    room_id: r,
    content: r,
    message_type: o,
    client_msg_id: o,
    reply_to: o,
    attachment_id: o,
  } satisfies Fields<Client.SendRoomMessageInput>),
  CreateGroupData: Object.keys({ group_name: r, member_ids: r } satisfies Fields<Client.CreateGroupInput>),
  JoinRoomData: Object.keys({ room_id: r } satisfies Fields<Client.RoomInput>),
  BroadcastData: Object.keys({ message: r } satisfies Fields<Client.BroadcastInput>),
  HistoryData: Object.keys({
    room_id: r,
    before: o,
    cursor: o,
    limit: o,
  } satisfies Fields<Client.HistoryInput>),
  ListConversationsData: Object.keys({ limit: o, cursor: o } satisfies Fields<Client.PageInput>),
  SyncData: Object.keys({ since: o, limit: o } satisfies Fields<Client.SyncInput>),
  MarkReadData: Object.keys({ room_id: r, message_id: r } satisfies Fields<Client.MarkReadInput>),
  DeleteMessageData: Object.keys({ room_id: r, message_id: r } satisfies Fields<Client.DeleteMessageInput>),
  EditMessageData: Object.keys({
    room_id: r,
    message_id: r,
    content: r,
  } satisfies Fields<Client.EditMessageInput>),
  ReactData: Object.keys({ room_id: r, message_id: r, emoji: r } satisfies Fields<Client.ReactInput>),
  UnreactData: Object.keys({ room_id: r, message_id: r, emoji: r } satisfies Fields<Client.ReactInput>),
  TypingData: Object.keys({ room_id: r, state: r } satisfies Fields<Client.TypingInput>),
};

interface Schema {
  readonly properties?: Record<string, Schema>;
  readonly required?: readonly string[];
  readonly items?: Schema;
}

const spec = JSON.parse(readFileSync(new URL('../../docs/asyncapi.json', import.meta.url), 'utf8')) as {
  components: { schemas: Record<string, Schema> };
};

function schemaAt(path: string): Schema {
  const [name, field] = path.replace('[]', '').split('.');
  const schema = spec.components.schemas[name ?? ''];
  assert.ok(schema, `no schema ${name} in docs/asyncapi.json`);
  if (!field) return schema;
  const items = schema.properties?.[field]?.items;
  assert.ok(items, `no ${path}`);
  return items;
}

test('compile-time checks against functions/core hold (tsc)', () => {
  assert.ok(
    sameShapes.every(Boolean) &&
      replies.every(Boolean) &&
      groupShapes.every(Boolean) &&
      richShapes.every(Boolean) &&
      httpShapes.every(Boolean),
  );
});

for (const [path, table] of Object.entries(tables)) {
  test(`${path}: the client type has the spec's fields, required where the spec requires them`, () => {
    const schema = schemaAt(path);
    assert.deepEqual(Object.keys(table).sort(), Object.keys(schema.properties ?? {}).sort());
    const required = Object.entries(table)
      .filter(([, kind]) => kind === 'required')
      .map(([field]) => field)
      .sort();
    assert.deepEqual(required, [...(schema.required ?? [])].sort());
  });
}

test('command inputs name the fields the spec accepts', () => {
  for (const [name, fields] of Object.entries(inputs)) {
    const schema = schemaAt(name);
    assert.deepEqual([...fields].sort(), Object.keys(schema.properties ?? {}).sort(), name);
  }
});
