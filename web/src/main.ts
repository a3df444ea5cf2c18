/**
 * The web chat page: sign in with a development token, see who is online, chat 1:1, in
 * groups and rooms, manage groups, and broadcast as an admin — all through the client SDK.
 * The conversation list, unread counts and groups come from the server, so a reload shows
 * what the server knows; signing in survives a reload (saved-sign-in.ts).
 */
import {
  type Attachment,
  ChatClient,
  type ChatClientState,
  ChatHttpClient,
  type ChatMessage,
  createClientMsgId,
  type GroupUpdatedPush,
  type HistoryMessage,
  type MessageEditedPush,
  type ReactionPush,
  type SendTarget,
  type TypingPush,
} from '../../client/src/index.ts';
import {
  type ChatLine,
  type Conversation,
  type ConversationKind,
  Conversations,
  commandRoomId,
  isPending,
  noteTyping,
  PENDING_PREFIX,
  preview,
  quoteOf,
  readMarks,
  roomIdOf,
  typingText,
  typingUsers,
} from './conversations.ts';
import { devTokenSource } from './dev-token.ts';
import { byId, h, onSubmit, timeElement } from './dom.ts';
import { hideGroupPanel, renderGroupPanel } from './group-panel.ts';
import { lineElement } from './message-line.ts';
import { forgetSignIn, loadSignIn, saveSignIn } from './saved-sign-in.ts';
import './styles.css';

/** The online list is also re-read this often: presence pushes only reach recent peers. */
const ONLINE_REFRESH_MS = 10_000;
/** Pages of online users read at most (1,000 each). */
const ONLINE_MAX_PAGES = 5;
/** Pages of conversations and of groups read at most (50 each): older ones show once active. */
const LIST_MAX_PAGES = 4;
/** An error about a user action disappears after this long (or at the next action). */
const ACTION_ERROR_MS = 8_000;
/** Typing stops counting after this long without a key press. */
const TYPING_IDLE_MS = 5_000;

const ui = {
  connection: byId('connection'),
  who: byId('who'),
  whoami: byId('whoami'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  signIn: byId('sign-in'),
  signInForm: byId<HTMLFormElement>('sign-in-form'),
  userId: byId<HTMLInputElement>('user-id'),
  admin: byId<HTMLInputElement>('admin'),
  app: byId('app'),
  onlineCount: byId('online-count'),
  onlineUsers: byId('online-users'),
  refreshOnline: byId<HTMLButtonElement>('refresh-online'),
  conversationList: byId('conversation-list'),
  openChatForm: byId<HTMLFormElement>('open-chat-form'),
  chatUser: byId<HTMLInputElement>('chat-user'),
  createGroupForm: byId<HTMLFormElement>('create-group-form'),
  groupName: byId<HTMLInputElement>('group-name'),
  groupMembers: byId<HTMLInputElement>('group-members'),
  joinRoomForm: byId<HTMLFormElement>('join-room-form'),
  roomId: byId<HTMLInputElement>('room-id'),
  broadcastSection: byId('broadcast-section'),
  broadcastForm: byId<HTMLFormElement>('broadcast-form'),
  broadcastText: byId<HTMLTextAreaElement>('broadcast-text'),
  broadcastResult: byId('broadcast-result'),
  conversationTitle: byId('conversation-title'),
  conversationEmpty: byId('conversation-empty'),
  leaveRoom: byId<HTMLButtonElement>('leave-room'),
  addMembersForm: byId<HTMLFormElement>('add-members-form'),
  addMembers: byId<HTMLInputElement>('add-members'),
  renameForm: byId<HTMLFormElement>('rename-form'),
  renameGroup: byId<HTMLInputElement>('rename-group'),
  leaveGroup: byId<HTMLButtonElement>('leave-group'),
  deleteGroup: byId<HTMLButtonElement>('delete-group'),
  messages: byId('messages'),
  composeForm: byId<HTMLFormElement>('compose-form'),
  composeText: byId<HTMLInputElement>('compose-text'),
  composeContext: byId('compose-context'),
  composeContextText: byId('compose-context-text'),
  composeCancel: byId<HTMLButtonElement>('compose-cancel'),
  attach: byId<HTMLInputElement>('attach'),
  typing: byId('typing'),
  broadcasts: byId('broadcasts'),
  error: byId('error'),
  errorText: byId('error-text'),
  errorClose: byId<HTMLButtonElement>('error-close'),
};

interface Session {
  readonly userId: string;
  readonly admin: boolean;
  readonly client: ChatClient;
  readonly http: ChatHttpClient;
  readonly online: Set<string>;
  /** Presence changes seen while the online list is being read (applied on top of it). */
  presenceDuringRefresh: Array<{ user: string; online: boolean }> | undefined;
  /** The groups `list_groups` returned: a group not in it is one this user is no longer in. */
  groupIds: Set<string> | undefined;
  readonly stop: Array<() => void>;
}

let session: Session | undefined;
const conversations = new Conversations();

// ---- errors and connection state -------------------------------------------------------

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'number' ? `${error.message} (code ${code})` : error.message;
  }
  return String(error);
}

/**
 * The error banner sits under the top bar, in the page flow, so it never covers the compose
 * box. `connection` errors (a failed reconnect attempt) go once the connection is open again;
 * `action` errors at the next action or after a few seconds; `sticky` ones (kicked) stay.
 */
type ErrorSource = 'connection' | 'action' | 'sticky';
let errorSource: ErrorSource | undefined;
let errorTimer: number | undefined;

function showError(error: unknown, source: ErrorSource = 'action'): void {
  window.clearTimeout(errorTimer);
  ui.errorText.textContent = describeError(error);
  ui.error.hidden = false;
  errorSource = source;
  if (source === 'action') errorTimer = window.setTimeout(clearError, ACTION_ERROR_MS);
}

function clearError(only?: ErrorSource): void {
  if (only && errorSource !== only) return;
  window.clearTimeout(errorTimer);
  ui.error.hidden = true;
  ui.errorText.textContent = '';
  errorSource = undefined;
}

/** Runs a user action; its failure is shown instead of thrown. */
async function attempt(action: () => Promise<void>): Promise<void> {
  clearError('action');
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

const STATE_TEXT: Record<ChatClientState | 'signed-out', string> = {
  'signed-out': 'Signed out',
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

function showState(state: ChatClientState | 'signed-out'): void {
  ui.connection.dataset.state = state;
  ui.connection.textContent = STATE_TEXT[state];
  if (state === 'open') clearError('connection');
  // Pending lines say whether they wait for the connection.
  if (conversations.active?.lines.some(isPending)) renderMessages();
}

// ---- online users ----------------------------------------------------------------------

function renderOnline(): void {
  if (!session) return;
  const { online, userId } = session;
  ui.onlineCount.textContent = `(${online.size})`;
  const users = [...online].sort((a, b) => (a === userId ? -1 : b === userId ? 1 : a.localeCompare(b)));
  ui.onlineUsers.replaceChildren(
    ...users.map((user) =>
      h(
        'li',
        {},
        user === userId
          ? h('span', { class: 'me' }, `${user} (you)`)
          : chatButton(user, () => openConversation('private', user)),
      ),
    ),
  );
}

function chatButton(user: string, onClick: () => void): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'person', 'aria-label': `Chat with ${user}` }, user);
  button.addEventListener('click', onClick);
  return button;
}

function setOnline(current: Session, user: string, online: boolean): void {
  if (user === current.userId) return;
  current.presenceDuringRefresh?.push({ user, online });
  if (online) current.online.add(user);
  else current.online.delete(user);
  renderOnline();
}

async function refreshOnline(): Promise<void> {
  const current = session;
  if (!current) return;
  const users = new Set([current.userId]);
  current.presenceDuringRefresh = [];
  try {
    let cursor: string | undefined;
    for (let page = 0; page < ONLINE_MAX_PAGES; page++) {
      const result = await current.http.onlineUsers({ limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const user of result.users) users.add(user);
      cursor = result.next_cursor;
      if (!cursor) break;
    }
    if (session !== current) return;
    // A presence push that arrived while the list was read is newer than the list.
    for (const change of current.presenceDuringRefresh ?? []) {
      if (change.online) users.add(change.user);
      else users.delete(change.user);
    }
    current.online.clear();
    for (const user of users) current.online.add(user);
    renderOnline();
  } finally {
    current.presenceDuringRefresh = undefined;
  }
}

// ---- conversation list -----------------------------------------------------------------

const KIND_LABEL: Record<ConversationKind, string> = { private: 'Chat', group: 'Group', room: 'Room' };

function renderConversationList(): void {
  const me = session?.userId ?? '';
  ui.conversationList.replaceChildren(
    ...conversations.list().map((conversation) => {
      const active = conversation.key === conversations.activeKey;
      const badge = conversation.unread ? `${conversation.unread} new` : '';
      const last = preview(conversation, me);
      const button = h(
        'button',
        {
          type: 'button',
          class: 'conversation-item',
          'aria-current': active ? 'true' : undefined,
          'data-kind': conversation.kind,
          'data-id': conversation.id,
        },
        h('span', { class: 'kind' }, KIND_LABEL[conversation.kind]),
        h('span', { class: 'title' }, conversation.title),
        conversation.ended &&
          h('span', { class: 'tag' }, conversation.ended.how === 'deleted' ? 'deleted' : 'left'),
        last && timeElement(last.time),
        last && h('span', { class: 'preview' }, `${last.from}: ${last.text}`),
        badge && h('span', { class: 'badge' }, badge),
      );
      button.addEventListener('click', () => showConversation(conversation));
      return h('li', {}, button);
    }),
  );
}

/** Reads the server's conversation list and groups (names, order, previews, unread counts, roles). */
async function refreshConversations(): Promise<void> {
  const current = session;
  if (!current) return;
  // Independent reads: either failing still shows what the other returned.
  const [groups, list] = await Promise.allSettled([loadGroups(current), loadConversationList(current)]);
  if (session !== current) return;
  for (const conversation of conversations.list()) noteMembership(conversation);
  renderConversationList();
  const active = conversations.active;
  if (active) {
    renderHeader(active);
    markActiveRead();
  }
  for (const result of [groups, list])
    if (result.status === 'rejected' && !unknownCommand(result.reason)) throw result.reason;
}

/** An older backend without the command (1000): the page works without what it lists. */
const unknownCommand = (error: unknown) => (error as { code?: unknown }).code === 1000;

async function loadGroups(current: Session): Promise<void> {
  const groupIds = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < LIST_MAX_PAGES; page++) {
    const result = await current.client.listGroups({ limit: 50, ...(cursor ? { cursor } : {}) });
    if (session !== current) return;
    for (const group of result.groups) {
      groupIds.add(group.group_id);
      const conversation = conversations.ensure('group', group.group_id, group.group_name);
      conversation.role = group.role;
      conversation.memberCount = group.member_count;
      conversation.ended = undefined;
    }
    cursor = result.next_cursor ?? undefined;
    if (!cursor) break;
  }
  current.groupIds = cursor ? undefined : groupIds; // a partial list proves nothing about the rest
}

async function loadConversationList(current: Session): Promise<void> {
  let cursor: string | undefined;
  for (let page = 0; page < LIST_MAX_PAGES; page++) {
    const result = await current.client.listConversations({ limit: 50, ...(cursor ? { cursor } : {}) });
    if (session !== current) return;
    conversations.applyServerList(result.conversations);
    cursor = result.next_cursor;
    if (!cursor) break;
  }
}

/** A group missing from this user's groups (catch-up brings its past messages): out of it. */
function noteMembership(conversation: Conversation): void {
  const groups = session?.groupIds;
  if (conversation.kind !== 'group' || !groups || conversation.ended) return;
  if (!groups.has(conversation.id)) conversation.ended = { how: 'gone' };
}

// ---- the open conversation -------------------------------------------------------------

function lineView(line: ChatLine, conversation: Conversation, readers: readonly string[] | undefined) {
  const me = session?.userId ?? '';
  const own = line.from === me;
  let status: string | null = null;
  if (line.pending === 'failed') status = 'Not sent';
  else if (line.pending) status = session?.client.state === 'open' ? 'Sending…' : 'Waiting for connection…';
  else if (readers?.length)
    status = conversation.kind === 'private' ? 'Read' : `Read by ${readers.join(', ')}`;
  const quote = line.replyTo ? quoteOf(conversation, line.replyTo, me) : undefined;
  const canAct = !line.pending && !line.deleted && !conversation.ended;
  const actions = canAct
    ? {
        reply: () => startComposeMode({ kind: 'reply', id: line.id }),
        edit: () => startComposeMode({ kind: 'edit', id: line.id }),
        react: (emoji: string, mine: boolean) => attempt(() => react(conversation, line.id, emoji, mine)),
      }
    : undefined;
  return { own, status, quote, ...(actions ? { actions } : {}) };
}

function renderMessages(): void {
  const conversation = conversations.active;
  if (!conversation || !session) return;
  const marks = readMarks(conversation, session.userId);
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.replaceChildren(
    ...conversation.lines.map((line) => lineElement(line, lineView(line, conversation, marks.get(line.id)))),
  );
  if (atBottom || conversation.lines.some(isPending))
    ui.messages.lastElementChild?.scrollIntoView({ block: 'end' });
}

function conversationHeading(conversation: Conversation): string {
  return conversation.kind === 'private'
    ? `Chat with ${conversation.title}`
    : `${KIND_LABEL[conversation.kind]}: ${conversation.title}`;
}

/** Title, group panel and compose box of the open conversation. */
function renderHeader(conversation: Conversation): void {
  const me = session?.userId ?? '';
  ui.conversationTitle.textContent = conversationHeading(conversation);
  ui.leaveRoom.hidden = conversation.kind !== 'room';
  ui.composeForm.hidden = conversation.ended !== undefined;
  if (conversation.kind === 'group')
    renderGroupPanel(conversation, me, {
      remove: (user) => attempt(() => removeMember(user)),
      setRole: (user, role) => attempt(() => setRole(user, role)),
    });
  else hideGroupPanel();
}

/** Opens a conversation; `focus` (the user asked for it) moves the caret to the message box. */
function showConversation(conversation: Conversation, focus = true): void {
  if (conversation.key !== conversations.activeKey) {
    endComposeMode();
    typingStopped();
  }
  conversations.activate(conversation);
  ui.conversationEmpty.hidden = true;
  renderHeader(conversation);
  ui.messages.replaceChildren();
  renderMessages();
  renderTyping();
  ui.messages.lastElementChild?.scrollIntoView({ block: 'end' });
  renderConversationList();
  if (focus && !ui.composeForm.hidden) ui.composeText.focus();
  if (conversation.kind === 'group' && !conversation.ended) loadGroupInfo(conversation).catch(() => {});
  if (conversation.kind !== 'room' && conversation.lines.length === 0 && conversation.lastMessage)
    loadHistory(conversation).catch(() => {});
  markActiveRead();
}

function openConversation(kind: ConversationKind, id: string, title?: string): Conversation {
  const conversation = conversations.ensure(kind, id, title);
  showConversation(conversation);
  return conversation;
}

function closeConversationView(): void {
  conversations.activeKey = undefined;
  ui.conversationTitle.textContent = 'No conversation open';
  ui.conversationEmpty.hidden = false;
  ui.composeForm.hidden = true;
  ui.leaveRoom.hidden = true;
  hideGroupPanel();
  ui.messages.replaceChildren();
  endComposeMode();
  typingStopped();
  renderTyping();
}

/**
 * Adds a message; the open conversation gets it in place, the others a badge. With nothing
 * open, a live message (`live`) opens its conversation; catch-up never picks one.
 */
function addLine(conversation: Conversation, line: ChatLine, countUnread: boolean, live = true): void {
  if (!conversations.add(conversation, line, countUnread)) return;
  noteMembership(conversation);
  if (!conversations.activeKey && live) {
    showConversation(conversation, false);
    return;
  }
  if (conversation.key === conversations.activeKey) {
    renderHeader(conversation);
    renderMessages();
    markActiveRead();
  }
  renderConversationList();
}

function toLine(message: ChatMessage | HistoryMessage): ChatLine {
  return {
    id: message.message_id,
    from: message.from_user_id,
    content: message.content,
    time: message.time,
    ...(message.deleted ? { deleted: true } : {}),
    ...(message.reply_to ? { replyTo: message.reply_to } : {}),
    ...(message.edited_at ? { editedAt: message.edited_at } : {}),
    ...(message.reactions ? { reactions: message.reactions } : {}),
    ...(message.attachment ? { attachment: message.attachment } : {}),
  };
}

/** A message from the SDK, live or from catch-up (each once). */
function receive(message: ChatMessage): void {
  const current = session;
  if (!current) return;
  const own = message.from_user_id === current.userId;
  // A live message proves its sender is online (presence pushes may not have reached us).
  if (!own && !message.catch_up) setOnline(current, message.from_user_id, true);
  // The server counts what catch-up brings; the list is read again once it is done.
  const countUnread = !own && !message.catch_up;
  // A message ends its sender's "typing".
  if (!message.catch_up)
    typingReceived({
      type: 'typing',
      room_id: message.room_id,
      user_id: message.from_user_id,
      state: 'stop',
    });
  if (message.kind === 'group') {
    // A live group message proves membership (a group others created shows up this way).
    if (!message.catch_up) current.groupIds?.add(message.group_id);
    const conversation = conversations.ensure('group', message.group_id, message.group_name);
    addLine(conversation, toLine(message), countUnread, !message.catch_up);
  } else if (message.kind === 'room') {
    addLine(conversations.ensure('room', message.room_id), toLine(message), countUnread, !message.catch_up);
  } else {
    // Catch-up also brings this user's own messages sent from other devices.
    const peer = own ? message.to_user_id : message.from_user_id;
    addLine(conversations.ensure('private', peer), toLine(message), countUnread, !message.catch_up);
  }
}

/** Older messages of a conversation the catch-up did not bring. */
async function loadHistory(conversation: Conversation): Promise<void> {
  const current = session;
  const roomId = current && roomIdOf(conversation, current.userId);
  if (!current || !roomId) return;
  const page = await current.client.history({ room_id: roomId, limit: 50 });
  for (const message of page.messages) conversations.add(conversation, toLine(message), false);
  if (conversation.key === conversations.activeKey) {
    renderMessages();
    markActiveRead();
  }
  renderConversationList();
}

/**
 * Marks the open conversation read up to its newest message while the page is visible: the
 * server's unread count drops and the other participants get `message_read`.
 */
function markActiveRead(): void {
  const current = session;
  const conversation = conversations.active;
  if (!current || !conversation || conversation.ended || document.visibilityState !== 'visible') return;
  const roomId = roomIdOf(conversation, current.userId);
  const newest = conversation.lines.filter((l) => !isPending(l)).at(-1);
  if (!roomId || !newest || newest.id === conversation.markedId) return;
  if (conversation.markedId && newest.id < conversation.markedId) return;
  conversation.markedId = newest.id;
  current.client.markRead({ room_id: roomId, message_id: newest.id }).catch(() => {
    // Not a member any more, or offline: the next message or visit marks it again.
    if (conversation.markedId === newest.id) conversation.markedId = undefined;
  });
}

// ---- sending ---------------------------------------------------------------------------

/** Who a message in `conversation` goes to, as the SDK's send methods name it. */
function targetOf(conversation: Conversation): SendTarget {
  if (conversation.kind === 'private') return { to_user_id: conversation.id };
  if (conversation.kind === 'group') return { group_id: conversation.id };
  return { room_id: conversation.id };
}

/**
 * Shows the message at once as pending (offline it waits in the SDK's outbox, which sends it
 * on reconnect with the same client_msg_id, so it is stored once), then as sent or failed.
 */
function send(content: string, replyTo?: string): void {
  const current = session;
  const conversation = conversations.active;
  if (!current || !conversation) return;
  const { client } = current;
  const extra = replyTo ? { reply_to: replyTo } : {};
  dispatch(conversation, { content, ...(replyTo ? { replyTo } : {}) }, (clientMsgId) => {
    const input = { content, client_msg_id: clientMsgId, ...extra };
    const target = targetOf(conversation);
    if ('to_user_id' in target) return client.sendMessage({ ...target, ...input });
    if ('group_id' in target) return client.sendGroupMessage({ ...target, ...input });
    return client.sendRoomMessage({ ...target, ...input });
  });
}

/**
 * Uploads a picked file and sends it (an image shows inline, another file as a link). The
 * sender's own line shows the picked file itself (a local `blob:` URL) while it uploads.
 */
function sendAttachment(file: File, replyTo?: string): void {
  const current = session;
  const conversation = conversations.active;
  if (!current || !conversation) return;
  const attachment: Attachment = {
    attachment_id: '',
    file_name: file.name,
    content_type: file.type || 'application/octet-stream',
    size: file.size,
    url: URL.createObjectURL(file),
  };
  const line = { content: file.name, attachment, ...(replyTo ? { replyTo } : {}) };
  dispatch(conversation, line, (clientMsgId) =>
    current.client
      .sendFile(targetOf(conversation), file, {
        client_msg_id: clientMsgId,
        ...(replyTo ? { reply_to: replyTo } : {}),
      })
      .then(({ sent }) => sent),
  );
}

/** The pending line, then the stored one (or a failed one and the error). */
function dispatch(
  conversation: Conversation,
  message: Pick<ChatLine, 'content' | 'replyTo' | 'attachment'>,
  sendIt: (clientMsgId: string) => Promise<{ message_id: string; time?: string }>,
): void {
  const current = session;
  if (!current) return;
  const clientMsgId = createClientMsgId();
  const pendingId = `${PENDING_PREFIX}${clientMsgId}`;
  const time = new Date().toISOString();
  const base = { from: current.userId, ...message };
  addLine(conversation, { id: pendingId, time, pending: 'sending', ...base }, false);
  sendIt(clientMsgId).then(
    (reply) => {
      conversations.settlePending(conversation, pendingId, {
        id: reply.message_id,
        time: reply.time ?? time,
        ...base,
      });
      refreshAfterSend(conversation);
    },
    (error: unknown) => {
      conversations.settlePending(conversation, pendingId);
      conversations.add(conversation, { id: pendingId, time, pending: 'failed', ...base }, false);
      refreshAfterSend(conversation);
      showError(error);
    },
  );
}

// ---- replying, editing, reacting, typing ------------------------------------------------

/** The compose box answers a message (`reply`) or replaces the text of one of this user's (`edit`). */
type ComposeMode = { readonly kind: 'reply' | 'edit'; readonly id: string };
let composeMode: ComposeMode | undefined;

function startComposeMode(mode: ComposeMode): void {
  const conversation = conversations.active;
  const line = conversation?.lines.find((l) => l.id === mode.id);
  if (!conversation || !line || !session) return;
  composeMode = mode;
  const quote = quoteOf(conversation, mode.id, session.userId);
  ui.composeContextText.textContent =
    mode.kind === 'edit' ? 'Editing your message' : `Replying to ${quote?.from ?? ''}: ${quote?.text ?? ''}`;
  ui.composeContext.hidden = false;
  if (mode.kind === 'edit') ui.composeText.value = line.content;
  ui.composeText.focus();
}

function endComposeMode(): void {
  if (composeMode?.kind === 'edit') ui.composeText.value = '';
  composeMode = undefined;
  ui.composeContext.hidden = true;
  ui.composeContextText.textContent = '';
}

async function editMessage(conversation: Conversation, messageId: string, content: string): Promise<void> {
  const current = session;
  const roomId = current && commandRoomId(conversation, current.userId);
  if (!current || !roomId) return;
  const edited = await current.client.editMessage({ room_id: roomId, message_id: messageId, content });
  messageEdited(edited);
}

async function react(
  conversation: Conversation,
  messageId: string,
  emoji: string,
  mine: boolean,
): Promise<void> {
  const current = session;
  const roomId = current && commandRoomId(conversation, current.userId);
  if (!current || !roomId) return;
  const input = { room_id: roomId, message_id: messageId, emoji };
  const reply = await (mine ? current.client.unreact(input) : current.client.react(input));
  reaction(reply);
}

function messageEdited(push: MessageEditedPush): void {
  const conversation = conversations.applyEdit(push);
  if (conversation && conversation.key === conversations.activeKey) renderMessages();
  renderConversationList();
}

function reaction(push: ReactionPush): void {
  const conversation = conversations.applyReaction(push, session?.userId ?? '');
  if (conversation && conversation.key === conversations.activeKey) renderMessages();
}

/** The open conversation's "… is typing" line; it expires on its own when no repeat comes. */
let typingTimer: number | undefined;
function renderTyping(): void {
  window.clearTimeout(typingTimer);
  const conversation = conversations.active;
  const users = conversation ? typingUsers(conversation, Date.now()) : [];
  ui.typing.textContent = typingText(users);
  if (users.length > 0) typingTimer = window.setTimeout(renderTyping, 1_000);
}

function typingReceived(push: TypingPush): void {
  const current = session;
  if (!current || push.user_id === current.userId) return;
  const conversation =
    conversations.byRoomId(push.room_id, current.userId) ?? conversations.get('room', push.room_id);
  if (!conversation) return;
  noteTyping(conversation, push.user_id, push.state, Date.now());
  if (conversation.key === conversations.activeKey) renderTyping();
}

/** Where this page last said "typing": a stop goes there when the user sends, leaves or pauses. */
let typingIn: string | undefined;
let typingIdle: number | undefined;

function typingStarted(): void {
  const current = session;
  const conversation = conversations.active;
  const roomId = current && conversation && commandRoomId(conversation, current.userId);
  if (!current || !roomId || composeMode?.kind === 'edit') return;
  if (typingIn && typingIn !== roomId) typingStopped();
  typingIn = roomId;
  current.client.typing(roomId, 'start').catch(() => {}); // the SDK sends a start every few seconds at most
  window.clearTimeout(typingIdle);
  typingIdle = window.setTimeout(typingStopped, TYPING_IDLE_MS);
}

function typingStopped(): void {
  window.clearTimeout(typingIdle);
  const roomId = typingIn;
  typingIn = undefined;
  if (roomId) session?.client.typing(roomId, 'stop').catch(() => {});
}

function refreshAfterSend(conversation: Conversation): void {
  if (conversation.key === conversations.activeKey) renderMessages();
  renderConversationList();
}

// ---- groups ----------------------------------------------------------------------------

async function loadGroupInfo(conversation: Conversation): Promise<void> {
  const current = session;
  if (!current) return;
  try {
    const info = await current.client.groupInfo({ group_id: conversation.id });
    conversation.title = info.group_name;
    conversation.members = info.members;
    conversation.memberCount = info.members.length;
    conversation.role = info.members.find((m) => m.user_id === current.userId)?.role;
    conversation.ended = undefined;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 1403) throw error;
    conversation.ended ??= { how: 'gone' };
  }
  if (conversation.key === conversations.activeKey) renderHeader(conversation);
  renderConversationList();
}

/** A group this user is (or was) in changed: names, members, roles, or this user is out. */
function groupUpdated(push: GroupUpdatedPush): void {
  const current = session;
  if (!current) return;
  const aboutMe = push.user_ids.includes(current.userId);
  // An invitation to this user (GROUP_INVITES=required) is no membership: no conversation
  // until they accept (the page does not list invitations yet). A pending invitee hears of
  // the group's deletion with empty `user_ids`.
  const aboutMyInvitation =
    (aboutMe && ['invited', 'invite_withdrawn', 'invite_declined'].includes(push.change)) ||
    (push.change === 'deleted' && push.user_ids.length === 0);
  if (aboutMyInvitation) return;
  const conversation = conversations.ensure('group', push.group_id, push.group_name);
  if (push.change === 'deleted') conversation.ended = { how: 'deleted', by: push.by };
  else if (push.change === 'member_removed' && aboutMe) conversation.ended = { how: 'removed', by: push.by };
  else if (push.change === 'member_left' && aboutMe) conversation.ended = { how: 'left' };
  else if (push.change === 'members_added' && aboutMe) {
    conversation.ended = undefined;
    current.groupIds?.add(push.group_id);
  }
  if (push.change === 'role_changed' && aboutMe && push.role) conversation.role = push.role;
  if (push.owner_id === current.userId && !conversation.ended) conversation.role = 'owner';
  if (conversation.ended) {
    current.groupIds?.delete(push.group_id);
    conversation.members = undefined;
    conversation.role = undefined;
  }
  const active = conversation.key === conversations.activeKey;
  if (!conversation.ended && (active || conversation.members)) loadGroupInfo(conversation).catch(() => {});
  if (active) renderHeader(conversation);
  renderConversationList();
}

function activeGroup(): { session: Session; group: Conversation } | undefined {
  const group = conversations.active;
  return session && group?.kind === 'group' ? { session, group } : undefined;
}

async function removeMember(userId: string): Promise<void> {
  const open = activeGroup();
  if (!open) return;
  await open.session.client.removeGroupMember({ group_id: open.group.id, user_id: userId });
  await loadGroupInfo(open.group);
}

async function setRole(userId: string, role: 'admin' | 'member'): Promise<void> {
  const open = activeGroup();
  if (!open) return;
  await open.session.client.setGroupRole({ group_id: open.group.id, user_id: userId, role });
  await loadGroupInfo(open.group);
}

async function addMembers(ids: string[]): Promise<void> {
  const open = activeGroup();
  if (!open || ids.length === 0) return;
  await open.session.client.addGroupMembers({ group_id: open.group.id, member_ids: ids });
  await loadGroupInfo(open.group);
}

async function renameGroup(name: string): Promise<void> {
  const open = activeGroup();
  if (!open) return;
  const updated = await open.session.client.updateGroup({ group_id: open.group.id, group_name: name });
  open.group.title = updated.group_name;
  renderHeader(open.group);
  renderConversationList();
}

async function leaveGroup(): Promise<void> {
  const open = activeGroup();
  if (!open) return;
  await open.session.client.leaveGroup({ group_id: open.group.id });
  open.group.ended = { how: 'left' };
  open.session.groupIds?.delete(open.group.id);
  renderHeader(open.group);
  renderConversationList();
}

async function deleteGroup(): Promise<void> {
  const open = activeGroup();
  if (!open) return;
  if (!window.confirm(`Delete the group “${open.group.title}” for all its members?`)) return;
  await open.session.client.deleteGroup({ group_id: open.group.id });
  open.group.ended = { how: 'deleted', by: open.session.userId };
  renderHeader(open.group);
  renderConversationList();
}

// ---- rooms and broadcasts --------------------------------------------------------------

async function joinRoom(roomId: string): Promise<void> {
  const current = session;
  if (!current) return;
  // The SDK joins the room again after each reconnect and reads what was missed.
  await current.client.joinRoom({ room_id: roomId });
  const conversation = openConversation('room', roomId);
  // Room messages are not in catch-up: read what was said before joining with history.
  const page = await current.client.history({ room_id: roomId, limit: 50 });
  for (const message of page.messages) addLine(conversation, toLine(message), false);
}

async function leaveActiveRoom(): Promise<void> {
  const current = session;
  const conversation = conversations.active;
  if (!current || conversation?.kind !== 'room') return;
  await current.client.leaveRoom({ room_id: conversation.id });
  conversations.remove('room', conversation.id);
  closeConversationView();
  renderConversationList();
}

function announce(from: string, text: string, time: string): void {
  ui.broadcasts.append(
    h(
      'li',
      { class: 'line' },
      h('span', { class: 'from' }, from),
      h('span', { class: 'text' }, text),
      timeElement(time),
    ),
  );
}

// ---- signing in and out ----------------------------------------------------------------

function webSocketUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat`;
}

async function signIn(userId: string, admin: boolean): Promise<void> {
  const token = devTokenSource(userId, admin);
  // A refused user id is best reported here, before the SDK starts (re)connecting.
  await token();
  // Catch up from the beginning: the page keeps no messages, so a reload shows past chats again.
  const client = new ChatClient({
    url: webSocketUrl(),
    token,
    auth: 'subprotocol',
    syncFromStart: true,
    // Uploads: POST /api/ws/uploads on this origin, then the presigned PUT to the storage.
    httpUrl: location.origin,
  });
  const http = new ChatHttpClient({ baseUrl: location.origin, token });
  const current: Session = {
    userId,
    admin,
    client,
    http,
    online: new Set([userId]),
    presenceDuringRefresh: undefined,
    groupIds: undefined,
    stop: [],
  };
  session = current;
  const refreshLists = () => refreshConversations().catch((error) => showError(error, 'connection'));
  current.stop.push(
    client.on('state', showState),
    client.on('message', receive),
    // After every catch-up (sign-in and each reconnect): the server's list and counts.
    client.on('synced', refreshLists),
    // Every (re)connect: who is online now (presence pushes were missed while away).
    client.on('welcome', () => refreshOnline().catch(() => {})),
    client.on('broadcast', (push) => announce(push.from_user_id, push.message, push.time)),
    client.on('system_notify', (push) =>
      announce('system', `${push.notification_type}: ${JSON.stringify(push.data)}`, push.time),
    ),
    client.on('presence', (push) => setOnline(current, push.user_id, push.status === 'online')),
    client.on('message_deleted', (push) => {
      const conversation = conversations.markDeleted(push.message_id);
      if (conversation && conversation.key === conversations.activeKey) renderMessages();
      renderConversationList();
    }),
    client.on('message_read', (push) => {
      const conversation = conversations.byRoomId(push.room_id, userId);
      if (!conversation || push.user_id === userId) return;
      conversation.readBy.set(push.user_id, push.message_id);
      if (conversation.key === conversations.activeKey) renderMessages();
    }),
    client.on('unread_count', (push) => {
      // Read on another device of this user.
      const conversation = conversations.byRoomId(push.room_id, userId);
      if (!conversation) return;
      conversation.unread = push.unread;
      renderConversationList();
    }),
    client.on('group_updated', groupUpdated),
    client.on('message_edited', messageEdited),
    client.on('reaction', reaction),
    client.on('typing', typingReceived),
    client.on('kicked', () =>
      showError(new Error('Signed in elsewhere: this page was disconnected.'), 'sticky'),
    ),
    client.on('error', (error) => showError(error, 'connection')),
  );
  const poll = window.setInterval(() => refreshOnline().catch(() => {}), ONLINE_REFRESH_MS);
  current.stop.push(() => window.clearInterval(poll));

  ui.whoami.textContent = admin ? `${userId} (admin)` : userId;
  ui.who.hidden = false;
  ui.signIn.hidden = true;
  ui.app.hidden = false;
  ui.broadcastSection.hidden = !admin;
  renderOnline();
  try {
    await client.connect();
  } catch (error) {
    if (session !== current) return; // signed out while connecting
    signOut();
    throw error;
  }
  saveSignIn({ userId, admin });
}

function signOut(): void {
  const current = session;
  session = undefined;
  forgetSignIn();
  if (current) {
    for (const stop of current.stop) stop();
    current.client.close();
  }
  conversations.clear();
  showState('signed-out');
  ui.who.hidden = true;
  ui.app.hidden = true;
  ui.signIn.hidden = false;
  ui.broadcasts.replaceChildren();
  ui.broadcastResult.textContent = '';
  ui.conversationList.replaceChildren();
  ui.onlineUsers.replaceChildren();
  closeConversationView();
  ui.userId.focus();
}

// ---- wiring ----------------------------------------------------------------------------

const splitIds = (text: string) => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

onSubmit(ui.signInForm, () =>
  attempt(async () => {
    const userId = ui.userId.value.trim();
    if (userId) await signIn(userId, ui.admin.checked);
  }),
);
ui.signOut.addEventListener('click', () => {
  clearError();
  signOut();
});
ui.refreshOnline.addEventListener('click', () => attempt(refreshOnline));
onSubmit(ui.openChatForm, () =>
  attempt(async () => {
    const user = ui.chatUser.value.trim();
    if (!user) return;
    openConversation('private', user);
    ui.chatUser.value = '';
  }),
);
onSubmit(ui.createGroupForm, () =>
  attempt(async () => {
    if (!session) return;
    const created = await session.client.createGroup({
      group_name: ui.groupName.value.trim(),
      member_ids: splitIds(ui.groupMembers.value),
    });
    session.groupIds?.add(created.group_id);
    const conversation = conversations.ensure('group', created.group_id, created.group_name);
    conversation.role = 'owner';
    showConversation(conversation);
    ui.groupName.value = '';
    ui.groupMembers.value = '';
  }),
);
onSubmit(ui.joinRoomForm, () =>
  attempt(async () => {
    const roomId = ui.roomId.value.trim();
    if (!roomId) return;
    await joinRoom(roomId);
    ui.roomId.value = '';
  }),
);
ui.leaveRoom.addEventListener('click', () => attempt(leaveActiveRoom));
onSubmit(ui.addMembersForm, () =>
  attempt(async () => {
    await addMembers(splitIds(ui.addMembers.value));
    ui.addMembers.value = '';
  }),
);
onSubmit(ui.renameForm, () =>
  attempt(async () => {
    const name = ui.renameGroup.value.trim();
    if (name) await renameGroup(name);
  }),
);
ui.leaveGroup.addEventListener('click', () => attempt(leaveGroup));
ui.deleteGroup.addEventListener('click', () => attempt(deleteGroup));
// Not awaited: the box is free for the next message at once, online or not.
onSubmit(ui.composeForm, async () => {
  clearError('action');
  const content = ui.composeText.value;
  const conversation = conversations.active;
  if (!content.trim() || !conversation) return;
  const mode = composeMode;
  typingStopped();
  if (mode?.kind === 'edit') {
    await attempt(async () => {
      await editMessage(conversation, mode.id, content);
      endComposeMode();
    });
  } else {
    send(content, mode?.id);
    endComposeMode();
    ui.composeText.value = '';
  }
  ui.composeText.focus();
});
ui.composeText.addEventListener('input', () => {
  if (ui.composeText.value.trim()) typingStarted();
  else typingStopped();
});
ui.composeText.addEventListener('blur', typingStopped);
ui.composeText.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && composeMode) endComposeMode();
});
ui.composeCancel.addEventListener('click', () => {
  endComposeMode();
  ui.composeText.focus();
});
ui.attach.addEventListener('change', () => {
  clearError('action');
  const file = ui.attach.files?.[0];
  ui.attach.value = ''; // the same file can be picked again
  if (!file) return;
  sendAttachment(file, composeMode?.kind === 'reply' ? composeMode.id : undefined);
  if (composeMode?.kind === 'reply') endComposeMode();
});
onSubmit(ui.broadcastForm, () =>
  attempt(async () => {
    if (!session) return;
    ui.broadcastResult.textContent = '';
    const sent = await session.client.broadcast({ message: ui.broadcastText.value });
    ui.broadcastText.value = '';
    const failed = sent.failed ? `, ${sent.failed} unreachable` : '';
    ui.broadcastResult.textContent = `Sent to ${sent.sent_count} connection${sent.sent_count === 1 ? '' : 's'}${failed}.`;
  }),
);
ui.errorClose.addEventListener('click', () => clearError());
// Back to the page: what is on screen is now read.
document.addEventListener('visibilitychange', markActiveRead);

const saved = loadSignIn();
if (saved) {
  ui.userId.value = saved.userId;
  ui.admin.checked = saved.admin;
  attempt(() => signIn(saved.userId, saved.admin));
} else {
  ui.userId.focus();
}
