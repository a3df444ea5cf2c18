/**
 * ChatClient: one logical chat session over a series of WebSocket connections.
 *
 * - commands are correlated with their replies by `request_id` and time out;
 * - the connection is kept alive with `ping`, replaced before API Gateway's 2-hour limit
 *   (the new socket opens before the old one closes) and re-opened with full-jitter
 *   exponential backoff when it drops;
 * - after every (re)connect the client re-joins its rooms and catches up with `sync`
 *   (and `history` for rooms), so the application sees each message once, in order;
 * - sends carry a `client_msg_id` and wait in an outbox while offline; they are resent
 *   with the same id, so the server stores each once.
 *
 * This class only wires the parts together: lifecycle.ts (the connections), requests.ts,
 * outbox.ts, pushes.ts, and catch-up.ts with delivery.ts (what the application has seen).
 *
 * No Node built-ins: runs in browsers and in Node (pass `WebSocket` from `ws` on Node 20).
 */
import { Backoff } from './backoff.ts';
import { CatchUp } from './catch-up.ts';
import type { Connection, Session } from './connection.ts';
import { Delivery } from './delivery.ts';
import { Emitter } from './emitter.ts';
import { ChatError } from './errors.ts';
import type { ChatClientState, ChatEvents } from './events.ts';
import { ChatHttpClient } from './http.ts';
import { Lifecycle } from './lifecycle.ts';
import { backoffSettings, type ChatClientOptions, DEFAULTS, type RequestOptions } from './options.ts';
import { Outbox, type PendingSend, type SendCommand, type SendReply, withClientMsgId } from './outbox.ts';
import { PushHandler } from './pushes.ts';
import { Requests } from './requests.ts';
import { systemTimers, type Timers } from './timers.ts';
import type {
  AddGroupMembersInput,
  BroadcastInput,
  BroadcastSent,
  ConversationsPage,
  CreateGroupInput,
  DeleteMessageInput,
  EditMessageInput,
  GroupCreated,
  GroupDeleted,
  GroupInfo,
  GroupInput,
  GroupInviteAccepted,
  GroupInviteDeclined,
  GroupInvitesPage,
  GroupLeft,
  GroupMemberRemoved,
  GroupMembersAdded,
  GroupMessageSent,
  GroupRoleSet,
  GroupsPage,
  GroupUpdatedPush,
  HistoryInput,
  HistoryPage,
  MarkReadInput,
  MessageDeletedReply,
  MessageEditedReply,
  MessageSent,
  PageInput,
  Pong,
  ReactInput,
  ReactionReply,
  ReadMarked,
  RemoveGroupMemberInput,
  RoomInput,
  RoomJoined,
  RoomLeft,
  RoomMessageSent,
  SendGroupMessageInput,
  SendMessageInput,
  SendRoomMessageInput,
  SetGroupRoleInput,
  SyncInput,
  SyncPage,
  TypingReply,
  TypingState,
  UpdateGroupInput,
  Welcome,
} from './types.ts';
import { TypingThrottle } from './typing.ts';
import {
  describeUpload,
  messageTypeFor,
  type UploadBody,
  type Uploaded,
  type UploadOptions,
} from './uploads.ts';

/** Who a file goes to: a user, a group, or a room this connection has joined. */
export type SendTarget =
  | { readonly to_user_id: string }
  | { readonly group_id: string }
  | { readonly room_id: string };

export interface SendFileOptions extends UploadOptions {
  /** The text shown with the file; default the file's name. */
  readonly content?: string;
  /** Default from the content type: 2 image, 4 audio, 5 video, 3 any other file. */
  readonly message_type?: number;
  readonly reply_to?: string;
  readonly client_msg_id?: string;
}

export class ChatClient {
  private readonly timers: Timers;
  private readonly emitter: Emitter<ChatEvents>;
  private readonly lifecycle: Lifecycle;
  private readonly requests: Requests;
  private readonly delivery: Delivery;
  private readonly outbox: Outbox;
  private readonly typingThrottle: TypingThrottle;
  private readonly http: ChatHttpClient | undefined;

  constructor(options: ChatClientOptions) {
    const timers = options.timers ?? systemTimers;
    const emitter = new Emitter<ChatEvents>((error, event) => {
      if (event === 'error') return;
      emitter.emit('error', error instanceof Error ? error : new ChatError(String(error)));
    });
    const emitError = (error: Error) => emitter.emit('error', error);
    // Paces the retries of sends, of a failed catch-up and of a failed replacement connection.
    const retryBackoff = new Backoff(backoffSettings(options), options.random ?? Math.random);
    const timeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;

    // Each part gets only what it uses; the hooks close over parts made further down.
    const lifecycle: Lifecycle = new Lifecycle(options, timers, emitter, retryBackoff, {
      frame: (conn, raw) => pushes.onFrame(conn, raw),
      welcomed: (conn, first, welcomedAt) => {
        requests.flushWaiting(conn);
        catchUp.start(conn, first, welcomedAt);
      },
      primaryClosed: (conn) => catchUp.connectionLost(conn),
      stopping: () => {
        catchUp.cancelResync();
        outbox.cancelRetry();
        catchUp.abandon();
      },
      stopped: (error) => {
        requests.rejectWaiting(error);
        outbox.rejectAll(error);
      },
      ping: (conn) => requests.requestOn<Pong>(conn, 'ping', {}),
    });
    // What the other parts may read about the connections.
    const session: Session = lifecycle;
    const drop = (conn: Connection) => lifecycle.drop(conn);
    const requests: Requests = new Requests({ timers, timeoutMs, session, drop, emitError });
    const delivery: Delivery = new Delivery(options, emitter, () => catchUp.running);
    const outbox: Outbox = new Outbox(options.outbox, {
      timers,
      timeoutMs,
      retryBackoff,
      session,
      requests,
      drop,
      onSent: (reply) => delivery.noteSent(reply),
    });
    const catchUp: CatchUp = new CatchUp({
      options,
      timers,
      retryBackoff,
      session,
      delivery,
      requests,
      outbox,
      emitter,
    });
    const pushes: PushHandler = new PushHandler(emitter, lifecycle, (conn, item) =>
      catchUp.ingest(conn, item),
    );

    this.timers = timers;
    this.emitter = emitter;
    this.lifecycle = lifecycle;
    this.requests = requests;
    this.delivery = delivery;
    this.outbox = outbox;
    this.typingThrottle = new TypingThrottle(timers, options.typingRepeatMs ?? DEFAULTS.typingRepeatMs);
    // The others' indicators expired while this client was away.
    emitter.on('welcome', () => this.typingThrottle.reset());
    this.http =
      options.httpUrl === undefined
        ? undefined
        : new ChatHttpClient({
            baseUrl: options.httpUrl,
            token: options.token,
            ...(options.fetch ? { fetch: options.fetch } : {}),
          });
  }

  // ------------------------------------------------------------------ public surface

  get state(): ChatClientState {
    return this.lifecycle.state;
  }

  /** From the welcome push. */
  get userId(): string | undefined {
    return this.lifecycle.userId;
  }

  /** The current connection's id (from its welcome push). */
  get connectionId(): string | undefined {
    return this.lifecycle.current?.welcome?.connection_id;
  }

  /** The sync position: the greatest private/group/system message id accounted for. Persist it. */
  get lastSeenId(): string | undefined {
    return this.delivery.position;
  }

  /** Rooms this client is in and re-joins after a reconnect. */
  get joinedRooms(): string[] {
    return this.delivery.joinedRooms;
  }

  /** Sends waiting in the outbox (not yet answered), oldest first. */
  get pendingSends(): PendingSend[] {
    return this.outbox.pending;
  }

  on<E extends keyof ChatEvents>(event: E, listener: (payload: ChatEvents[E]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /**
   * Opens the connection; resolves on the welcome push. Failed attempts are retried with
   * backoff (each reported as an `error` event) until `connectTimeoutMs`: then it rejects
   * with ChatConnectTimeoutError and the client closes (reason `timeout`), unless
   * `keepTrying`. It rejects with ChatClosedError when the client closes first (`close()`,
   * a refused token, `kicked`, or a failure with `reconnect: false`). Called while open it
   * returns the current welcome, while reconnecting the next one (a timeout then leaves the
   * reconnect running). After `closed` it starts over (`connecting` again), keeping the sync
   * position and the de-duplication memory. Not awaiting it is fine (no unhandled rejection).
   */
  connect(): Promise<Welcome> {
    return this.lifecycle.connect();
  }

  /** Closes for good: no reconnect; pending requests and queued sends reject with ChatClosedError. */
  close(): void {
    this.lifecycle.shutdown('closed');
  }

  sendMessage(input: SendMessageInput): Promise<MessageSent> {
    return this.send('send_message', input) as Promise<MessageSent>;
  }

  sendGroupMessage(input: SendGroupMessageInput): Promise<GroupMessageSent> {
    return this.send('send_group_message', input) as Promise<GroupMessageSent>;
  }

  /** The connection must be in the room (`joinRoom`); rooms are re-joined before queued sends go out. */
  sendRoomMessage(input: SendRoomMessageInput): Promise<RoomMessageSent> {
    return this.send('send_room_message', input) as Promise<RoomMessageSent>;
  }

  createGroup(input: CreateGroupInput): Promise<GroupCreated> {
    return this.request<GroupCreated>('create_group', input);
  }

  /** One page of the caller's groups, with their role and unread count (`next_cursor` for more). */
  listGroups(input: PageInput = {}): Promise<GroupsPage> {
    return this.request<GroupsPage>('list_groups', input, { idempotent: true });
  }

  /** A group's name, owner and members with their roles (members only: 1403 otherwise). */
  groupInfo(input: GroupInput): Promise<GroupInfo> {
    return this.request<GroupInfo>('group_info', input, { idempotent: true });
  }

  /** Owner and admins. Existing members are left out of `added`, so a retry adds nobody twice. */
  addGroupMembers(input: AddGroupMembersInput): Promise<GroupMembersAdded> {
    return this.request<GroupMembersAdded>('add_group_members', input, { idempotent: true });
  }

  /** Owner and admins; never the owner. */
  removeGroupMember(input: RemoveGroupMemberInput): Promise<GroupMemberRemoved> {
    return this.request<GroupMemberRemoved>('remove_group_member', input);
  }

  /** Any member; an owner leaving hands ownership on, the last member leaving deletes the group. */
  leaveGroup(input: GroupInput): Promise<GroupLeft> {
    return this.request<GroupLeft>('leave_group', input);
  }

  /** Renames the group (owner and admins); members get a `group_updated` push. */
  updateGroup(input: UpdateGroupInput): Promise<GroupUpdatedPush> {
    return this.request<GroupUpdatedPush>('update_group', input, { idempotent: true });
  }

  /** The owner makes a member an admin or an admin a member again. */
  setGroupRole(input: SetGroupRoleInput): Promise<GroupRoleSet> {
    return this.request<GroupRoleSet>('set_group_role', input, { idempotent: true });
  }

  /** Owner only. */
  deleteGroup(input: GroupInput): Promise<GroupDeleted> {
    return this.request<GroupDeleted>('delete_group', input);
  }

  /**
   * `GROUP_INVITES=required` deployments: joins a group the caller was invited to (members
   * get `group_updated` `members_added`). No pending invitation: 3010.
   */
  acceptGroupInvite(input: GroupInput): Promise<GroupInviteAccepted> {
    return this.request<GroupInviteAccepted>('accept_group_invite', input);
  }

  /** Drops a pending invitation (the owner and admins get `invite_declined`). No pending invitation: 3010. */
  declineGroupInvite(input: GroupInput): Promise<GroupInviteDeclined> {
    return this.request<GroupInviteDeclined>('decline_group_invite', input);
  }

  /** One page of the caller's pending invitations (`next_cursor` for more): read it after a reconnect. */
  listGroupInvites(input: PageInput = {}): Promise<GroupInvitesPage> {
    return this.request<GroupInvitesPage>('list_group_invites', input, { idempotent: true });
  }

  /** One page of the caller's private chats and groups, most recent activity first. */
  listConversations(input: PageInput = {}): Promise<ConversationsPage> {
    return this.request<ConversationsPage>('list_conversations', input, { idempotent: true });
  }

  /** Joins and remembers the room: it is joined again after every reconnect. */
  async joinRoom(input: RoomInput): Promise<RoomJoined> {
    const joined = await this.request<RoomJoined>('join_room', input, { idempotent: true });
    this.delivery.joinRoom(joined.room_id, () => Date.parse(joined.time) || this.timers.now());
    return joined;
  }

  async leaveRoom(input: RoomInput): Promise<RoomLeft> {
    this.delivery.leaveRoom(input.room_id);
    return this.request<RoomLeft>('leave_room', input, { idempotent: true });
  }

  broadcast(input: BroadcastInput): Promise<BroadcastSent> {
    return this.request<BroadcastSent>('broadcast', input);
  }

  ping(): Promise<Pong> {
    return this.request<Pong>('ping', {}, { idempotent: true });
  }

  /** One page of a conversation, newest first (`next_cursor` for the next older page). */
  history(input: HistoryInput): Promise<HistoryPage> {
    return this.request<HistoryPage>('history', input, { idempotent: true });
  }

  /** One `sync` page. The client already runs sync after every reconnect; this is for custom use. */
  sync(input: SyncInput = {}): Promise<SyncPage> {
    return this.request<SyncPage>('sync', input, { idempotent: true });
  }

  /** Marks a conversation read up to `message_id`; the other participants get `message_read`. */
  markRead(input: MarkReadInput): Promise<ReadMarked> {
    return this.request<ReadMarked>('mark_read', input, { idempotent: true });
  }

  deleteMessage(input: DeleteMessageInput): Promise<MessageDeletedReply> {
    return this.request<MessageDeletedReply>('delete_message', input, { idempotent: true });
  }

  /** Sender only; the participants get `message_edited`, and history and sync show the new text with `edited_at`. */
  editMessage(input: EditMessageInput): Promise<MessageEditedReply> {
    return this.request<MessageEditedReply>('edit_message', input, { idempotent: true });
  }

  /** Adds this user's `emoji` to a message (once per user and emoji); participants get `reaction` with the counts. */
  react(input: ReactInput): Promise<ReactionReply> {
    return this.request<ReactionReply>('react', input, { idempotent: true });
  }

  /** Takes this user's `emoji` off a message. */
  unreact(input: ReactInput): Promise<ReactionReply> {
    return this.request<ReactionReply>('unreact', input, { idempotent: true });
  }

  /**
   * Tells the other participants this user started or stopped typing. Call `start` on every
   * key press: it goes out at most every `typingRepeatMs` per room; `stop` only after a
   * `start`. Resolves with `false` when nothing was sent (throttled here or by the server,
   * or not connected: typing is never queued), `true` once the server passed it on.
   */
  async typing(roomId: string, state: TypingState): Promise<boolean> {
    if (this.state !== 'open') return false;
    if (!this.typingThrottle.shouldSend(roomId, state)) return false;
    try {
      const reply = await this.request<TypingReply>('typing', { room_id: roomId, state });
      return reply.throttled !== true;
    } catch (error) {
      if (state === 'start') this.typingThrottle.forget(roomId);
      throw error;
    }
  }

  /**
   * Uploads a file for a message of type 2–5 (`POST /api/ws/uploads`, then the presigned
   * PUT) and resolves with its `attachment_id`. A browser `File` brings its name and type; a
   * `Blob` or bytes (a Node `Buffer`) need `file_name` and `content_type`. Needs `httpUrl`.
   */
  upload(file: UploadBody, options: UploadOptions = {}): Promise<Uploaded> {
    if (!this.http) return Promise.reject(new ChatError('upload() needs the httpUrl option (the HTTP API)'));
    return this.http.upload(file, options);
  }

  /**
   * Uploads a file and sends it as a message of type 2–5 (by its content type) to a user,
   * a group or a joined room, through the outbox like any send. Resolves with the send's
   * reply and the upload.
   */
  async sendFile(
    to: SendTarget,
    file: UploadBody,
    options: SendFileOptions = {},
  ): Promise<{ sent: MessageSent | GroupMessageSent | RoomMessageSent; uploaded: Uploaded }> {
    describeUpload(file, options); // a missing name fails here, before anything is uploaded
    const uploaded = await this.upload(file, options);
    const message = {
      content: options.content ?? uploaded.file_name,
      message_type: options.message_type ?? messageTypeFor(uploaded.content_type),
      attachment_id: uploaded.attachment_id,
      ...(options.reply_to !== undefined ? { reply_to: options.reply_to } : {}),
      ...(options.client_msg_id !== undefined ? { client_msg_id: options.client_msg_id } : {}),
    };
    const sent =
      'to_user_id' in to
        ? await this.sendMessage({ to_user_id: to.to_user_id, ...message })
        : 'group_id' in to
          ? await this.sendGroupMessage({ group_id: to.group_id, ...message })
          : await this.sendRoomMessage({ room_id: to.room_id, ...message });
    return { sent, uploaded };
  }

  /**
   * Any command: resolves with the reply's `data`, rejects with ChatRequestError (the
   * server refused it), ChatTimeoutError, ChatConnectionLostError (not `idempotent`, and the
   * connection dropped before the reply) or ChatClosedError. While (re)connecting it waits
   * for the connection, within its timeout.
   */
  request<T = unknown>(cmd: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.requests.request<T>(cmd, data, options);
  }

  /** Through the outbox; with `outbox: false` a plain idempotent request (still with a client_msg_id). */
  private send(cmd: SendCommand, input: object): Promise<SendReply> {
    const data = withClientMsgId(input);
    if (!this.outbox.enabled)
      return this.request<SendReply>(cmd, data, { idempotent: true }).then((reply) => {
        this.delivery.noteSent(reply);
        return reply;
      });
    return this.outbox.enqueue(cmd, data);
  }
}
