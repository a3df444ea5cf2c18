/** A small fetch-based client for the HTTP API (`/api/ws/...`), same envelope as the WebSocket API. */
import { ChatRequestError } from './errors.ts';
import type {
  ConversationsPage,
  CreateGroupInput,
  EditMessageInput,
  GroupCreated,
  GroupDeleted,
  GroupInfo,
  GroupInviteAccepted,
  GroupInviteDeclined,
  GroupInvitesPage,
  GroupLeft,
  GroupMemberRemoved,
  GroupMembersAdded,
  GroupsPage,
  GroupUpdatedPush,
  HistoryMessage,
  MessageEditedReply,
  MessageSent,
  PageInput,
  ReactInput,
  ReactionReply,
  SendMessageInput,
  UploadRequest,
  UploadTicket,
} from './types.ts';
import { describeUpload, putUpload, type UploadBody, type Uploaded, type UploadOptions } from './uploads.ts';

/** The HTTP API answers the WebSocket reply's data; this client does not rely on its `type`. */
type HttpReply<T> = Omit<T, 'type'>;

export interface ChatHttpClientOptions {
  /** `http://localhost:8009` locally; the stack output `HttpApiUrl` in AWS. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <jwt>`; a function is called for every request. */
  readonly token?: string | (() => string | Promise<string>);
  /** Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
}

/** The HTTP API answered with an error: `status` is the HTTP status, `code` the envelope's code (-1 without one). */
export class ChatHttpError extends ChatRequestError {
  override name = 'ChatHttpError';
  constructor(
    readonly status: number,
    code: number,
    message: string,
    readonly path: string,
  ) {
    super(code, message);
  }
}

export interface OnlineCount {
  /** Users online. */
  readonly count: number;
  /** Open connections. */
  readonly connections?: number;
}

export interface OnlineUsersPage {
  readonly users: string[];
  /** Pass as `cursor` for the next page; absent on the last page (the wire's name, as in `messages()`). */
  readonly next_cursor?: string;
  /** @deprecated The same value as `next_cursor`; will be removed in 0.2. */
  readonly cursor?: string;
}

export interface MessagesPage {
  readonly room_id: string;
  /** Newest first. */
  readonly messages: HistoryMessage[];
  /** Pass as `cursor` for the next older page; absent on the last page. */
  readonly next_cursor?: string;
}

export interface MessagesQuery {
  readonly room_id: string;
  readonly before?: string;
  readonly cursor?: string;
  /** 1–100, default 50. */
  readonly limit?: number;
}

export interface UnreadConversation {
  readonly room_id: string;
  readonly unread: number;
  readonly last_message_id: string;
  /** Private chats: the other participant (never split `room_id` to find it). */
  readonly peer_id?: string;
}

export interface UnreadSummary {
  readonly conversations: UnreadConversation[];
  readonly total: number;
}

type Query = Record<string, string | number | undefined>;

export class ChatHttpClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ChatHttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const impl = options.fetch ?? globalThis.fetch;
    if (typeof impl !== 'function') throw new TypeError('no fetch implementation: pass `fetch`');
    // Called unbound, the browser's fetch throws "Illegal invocation".
    this.fetchImpl = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
      impl(input, init)) as typeof fetch;
  }

  /** `GET /api/ws/online-count` (no token needed). */
  onlineCount(): Promise<OnlineCount> {
    return this.call<OnlineCount>('GET', '/api/ws/online-count', { auth: false });
  }

  /** `GET /api/ws/online-users`: one page. */
  async onlineUsers(options: { limit?: number; cursor?: string } = {}): Promise<OnlineUsersPage> {
    const data = await this.call<{ users: string[]; next_cursor?: string }>('GET', '/api/ws/online-users', {
      query: { limit: options.limit, cursor: options.cursor },
    });
    return {
      users: data.users,
      ...(data.next_cursor ? { next_cursor: data.next_cursor, cursor: data.next_cursor } : {}),
    };
  }

  /** `GET /api/ws/online/check`. */
  async isOnline(userId: string): Promise<boolean> {
    const data = await this.call<{ is_online: boolean }>('GET', '/api/ws/online/check', {
      query: { user_id: userId },
    });
    return data.is_online === true;
  }

  /** `GET /api/ws/messages`: one page of a conversation, newest first. */
  messages(options: MessagesQuery): Promise<MessagesPage> {
    return this.call<MessagesPage>('GET', '/api/ws/messages', {
      query: {
        room_id: options.room_id,
        before: options.before,
        cursor: options.cursor,
        limit: options.limit,
      },
    });
  }

  /** `GET /api/ws/unread`. */
  unread(): Promise<UnreadSummary> {
    return this.call<UnreadSummary>('GET', '/api/ws/unread');
  }

  /** `GET /api/ws/groups`: one page of the caller's groups. */
  listGroups(options: PageInput = {}): Promise<HttpReply<GroupsPage>> {
    return this.call('GET', '/api/ws/groups', { query: { limit: options.limit, cursor: options.cursor } });
  }

  /** `GET /api/ws/groups/{group_id}` (members only). */
  groupInfo(groupId: string): Promise<HttpReply<GroupInfo>> {
    return this.call('GET', `/api/ws/groups/${encodeURIComponent(groupId)}`);
  }

  /** `POST /api/ws/groups`: as `create_group`. */
  createGroup(input: CreateGroupInput): Promise<HttpReply<GroupCreated>> {
    return this.call('POST', '/api/ws/groups', { body: input });
  }

  /** `POST /api/ws/groups/{group_id}/members` (owner, admins). */
  addGroupMembers(groupId: string, memberIds: readonly string[]): Promise<HttpReply<GroupMembersAdded>> {
    return this.call('POST', `/api/ws/groups/${encodeURIComponent(groupId)}/members`, {
      body: { member_ids: memberIds },
    });
  }

  /** `DELETE /api/ws/groups/{group_id}/members/{user_id}` (owner, admins; never the owner). */
  removeGroupMember(groupId: string, userId: string): Promise<HttpReply<GroupMemberRemoved>> {
    return this.call(
      'DELETE',
      `/api/ws/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`,
    );
  }

  /**
   * `POST /api/ws/groups/{group_id}/leave`: the caller leaves (any member, always; an owner
   * hands ownership on, the last member leaving deletes the group).
   */
  leaveGroup(groupId: string): Promise<HttpReply<GroupLeft>> {
    return this.call('POST', `/api/ws/groups/${encodeURIComponent(groupId)}/leave`);
  }

  /** `PATCH /api/ws/groups/{group_id}`: renames the group (owner, admins). */
  updateGroup(groupId: string, groupName: string): Promise<HttpReply<GroupUpdatedPush>> {
    return this.call('PATCH', `/api/ws/groups/${encodeURIComponent(groupId)}`, {
      body: { group_name: groupName },
    });
  }

  /** `DELETE /api/ws/groups/{group_id}` (owner). */
  deleteGroup(groupId: string): Promise<HttpReply<GroupDeleted>> {
    return this.call('DELETE', `/api/ws/groups/${encodeURIComponent(groupId)}`);
  }

  /** `GET /api/ws/group-invites`: one page of the caller's pending invitations (`GROUP_INVITES=required`). */
  listGroupInvites(options: PageInput = {}): Promise<HttpReply<GroupInvitesPage>> {
    return this.call('GET', '/api/ws/group-invites', {
      query: { limit: options.limit, cursor: options.cursor },
    });
  }

  /** `POST /api/ws/groups/{group_id}/invite/accept`: the caller joins (3010 without an invitation). */
  acceptGroupInvite(groupId: string): Promise<HttpReply<GroupInviteAccepted>> {
    return this.call('POST', `/api/ws/groups/${encodeURIComponent(groupId)}/invite/accept`);
  }

  /** `POST /api/ws/groups/{group_id}/invite/decline` (3010 without an invitation). */
  declineGroupInvite(groupId: string): Promise<HttpReply<GroupInviteDeclined>> {
    return this.call('POST', `/api/ws/groups/${encodeURIComponent(groupId)}/invite/decline`);
  }

  /** `GET /api/ws/conversations`: one page, most recent activity first. */
  listConversations(options: PageInput = {}): Promise<HttpReply<ConversationsPage>> {
    return this.call('GET', '/api/ws/conversations', {
      query: { limit: options.limit, cursor: options.cursor },
    });
  }

  /** `POST /api/ws/send-message`: as the `send_message` command (de-duplicated on `client_msg_id`). */
  sendMessage(input: SendMessageInput): Promise<MessageSent> {
    return this.call<MessageSent>('POST', '/api/ws/send-message', { body: input });
  }

  /** `PATCH /api/ws/messages/{message_id}`: as `edit_message` (the sender; every open connection is told). */
  editMessage(input: EditMessageInput): Promise<MessageEditedReply> {
    const { message_id: messageId, ...body } = input;
    return this.call<MessageEditedReply>('PATCH', `/api/ws/messages/${encodeURIComponent(messageId)}`, {
      body,
    });
  }

  /** `POST /api/ws/messages/{message_id}/reactions`: as `react`. */
  react(input: ReactInput): Promise<ReactionReply> {
    const { message_id: messageId, ...body } = input;
    return this.call<ReactionReply>('POST', `/api/ws/messages/${encodeURIComponent(messageId)}/reactions`, {
      body,
    });
  }

  /** `DELETE /api/ws/messages/{message_id}/reactions/{emoji}?room_id=`: as `unreact`. */
  unreact(input: ReactInput): Promise<ReactionReply> {
    const path = `/api/ws/messages/${encodeURIComponent(input.message_id)}/reactions/${encodeURIComponent(input.emoji)}`;
    return this.call<ReactionReply>('DELETE', path, { query: { room_id: input.room_id } });
  }

  /**
   * `POST /api/ws/uploads`: a presigned PUT for a file of exactly this size and type (the
   * server's limits apply: 400 / 1001 otherwise). `upload()` does this and the PUT.
   */
  requestUpload(input: UploadRequest): Promise<UploadTicket> {
    return this.call<UploadTicket>('POST', '/api/ws/uploads', { body: input });
  }

  /**
   * Uploads a file (a browser `File`/`Blob`, or bytes such as a Node `Buffer` with
   * `file_name` and `content_type`) and resolves with its `attachment_id`, for a message of
   * type 2–5. Rejects with ChatHttpError when the server refuses it, UploadFailedError when
   * the storage does.
   */
  async upload(body: UploadBody, options: UploadOptions = {}): Promise<Uploaded> {
    const described = describeUpload(body, options);
    const ticket = await this.requestUpload(described);
    await putUpload(this.fetchImpl, ticket, body);
    return { attachment_id: ticket.attachment_id, ...described };
  }

  /** `POST /api/ws/broadcast` (admin). */
  broadcast(message: string): Promise<{ recipients: number }> {
    return this.call<{ recipients: number }>('POST', '/api/ws/broadcast', { body: { message } });
  }

  /** `POST /api/ws/notify` (admin): a system notification, stored and pushed. */
  notify(input: {
    user_ids: readonly string[];
    type: string;
    data?: Record<string, unknown>;
  }): Promise<{ recipients: number; stored: number }> {
    return this.call<{ recipients: number; stored: number }>('POST', '/api/ws/notify', { body: input });
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    request: { query?: Query; body?: unknown; auth?: boolean } = {},
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [key, value] of Object.entries(request.query ?? {}))
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.auth !== false && this.options.token !== undefined) {
      const source = this.options.token;
      const token = typeof source === 'function' ? await source() : source;
      headers.authorization = `Bearer ${token}`;
    }
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    const response = await this.fetchImpl(url.toString(), { method, headers, body });
    const text = await response.text();
    let envelope: { code?: unknown; message?: unknown; data?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) envelope = parsed;
    } catch {
      envelope = undefined;
    }
    const code = typeof envelope?.code === 'number' ? envelope.code : -1;
    if (!response.ok || code !== 0) {
      const message =
        typeof envelope?.message === 'string' && envelope.message !== ''
          ? envelope.message
          : `${method} ${path} answered HTTP ${response.status}`;
      throw new ChatHttpError(response.status, code, message, path);
    }
    return envelope?.data as T;
  }
}
