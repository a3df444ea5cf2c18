/**
 * The web chat page: sign in with a development token, see who is online, chat 1:1, in
 * groups and rooms, and broadcast as an admin — all through the client SDK.
 */
import {
  ChatClient,
  type ChatClientState,
  ChatHttpClient,
  type ChatMessage,
  type HistoryMessage,
} from '../../client/src/index.ts';
import { type ChatLine, type Conversation, type ConversationKind, Conversations } from './conversations.ts';
import { devTokenSource } from './dev-token.ts';
import { byId, h, onSubmit, timeElement } from './dom.ts';
import './styles.css';

/** The online list is also refreshed this often: presence pushes only reach recent peers. */
const ONLINE_REFRESH_MS = 10_000;
/** Pages of online users read at most (1,000 each). */
const ONLINE_MAX_PAGES = 5;

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
  messages: byId('messages'),
  composeForm: byId<HTMLFormElement>('compose-form'),
  composeText: byId<HTMLInputElement>('compose-text'),
  broadcasts: byId('broadcasts'),
  error: byId('error'),
};

interface Session {
  readonly userId: string;
  readonly admin: boolean;
  readonly client: ChatClient;
  readonly http: ChatHttpClient;
  readonly online: Set<string>;
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

function showError(error: unknown): void {
  ui.error.textContent = describeError(error);
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

/** Runs a user action; its failure is shown instead of thrown. */
async function attempt(action: () => Promise<void>): Promise<void> {
  clearError();
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

async function refreshOnline(): Promise<void> {
  const current = session;
  if (!current) return;
  const users = new Set([current.userId]);
  let cursor: string | undefined;
  for (let page = 0; page < ONLINE_MAX_PAGES; page++) {
    const result = await current.http.onlineUsers({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const user of result.users) users.add(user);
    cursor = result.cursor;
    if (!cursor) break;
  }
  if (session !== current) return;
  current.online.clear();
  for (const user of users) current.online.add(user);
  renderOnline();
}

// ---- conversations ---------------------------------------------------------------------

const KIND_LABEL: Record<ConversationKind, string> = { private: 'Chat', group: 'Group', room: 'Room' };

function renderConversationList(): void {
  ui.conversationList.replaceChildren(
    ...conversations.list().map((conversation) => {
      const active = conversation.key === conversations.activeKey;
      const badge = conversation.unread ? `${conversation.unread} new` : '';
      const button = h(
        'button',
        {
          type: 'button',
          class: 'conversation-item',
          'aria-current': active ? 'true' : undefined,
          'data-kind': conversation.kind,
        },
        h('span', { class: 'kind' }, KIND_LABEL[conversation.kind]),
        h('span', { class: 'title' }, conversation.title),
        badge && h('span', { class: 'badge' }, badge),
      );
      button.addEventListener('click', () => showConversation(conversation));
      return h('li', {}, button);
    }),
  );
}

function lineElement(line: ChatLine): HTMLLIElement {
  const own = line.from === session?.userId;
  return h(
    'li',
    { class: own ? 'line own' : 'line', 'data-id': line.id },
    h('span', { class: 'from' }, own ? 'You' : line.from),
    h('span', { class: 'text' }, line.deleted ? 'message deleted' : line.content),
    timeElement(line.time),
  );
}

function conversationHeading(conversation: Conversation): string {
  return conversation.kind === 'private'
    ? `Chat with ${conversation.title}`
    : `${KIND_LABEL[conversation.kind]}: ${conversation.title}`;
}

/** Opens a conversation; `focus` (the user asked for it) moves the caret to the message box. */
function showConversation(conversation: Conversation, focus = true): void {
  conversations.activate(conversation);
  ui.conversationTitle.textContent = conversationHeading(conversation);
  ui.conversationEmpty.hidden = true;
  ui.composeForm.hidden = false;
  ui.leaveRoom.hidden = conversation.kind !== 'room';
  ui.messages.replaceChildren(...conversation.lines.map(lineElement));
  renderConversationList();
  ui.messages.lastElementChild?.scrollIntoView({ block: 'end' });
  if (focus) ui.composeText.focus();
}

function openConversation(kind: ConversationKind, id: string, title?: string): Conversation {
  const conversation = conversations.ensure(kind, id, title);
  showConversation(conversation);
  return conversation;
}

/** Adds a message; the open conversation gets it in place, the others a badge. */
function addLine(conversation: Conversation, line: ChatLine): void {
  const own = line.from === session?.userId;
  if (!conversations.add(conversation, line, !own)) return;
  if (!conversations.activeKey) {
    showConversation(conversation, false);
    return;
  }
  if (conversation.key === conversations.activeKey) {
    // A group's name may arrive after its id (catch-up items carry no name).
    ui.conversationTitle.textContent = conversationHeading(conversation);
    const index = conversation.lines.findIndex((l) => l.id === line.id);
    const element = lineElement(line);
    ui.messages.insertBefore(element, ui.messages.children[index] ?? null);
    element.scrollIntoView({ block: 'end' });
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
  };
}

/** A message from the SDK, live or from catch-up (each once). */
function receive(message: ChatMessage): void {
  if (message.kind === 'group') {
    addLine(conversations.ensure('group', message.group_id, message.group_name), toLine(message));
  } else if (message.kind === 'room') {
    addLine(conversations.ensure('room', message.room_id), toLine(message));
  } else {
    // Catch-up also brings this user's own messages sent from other devices.
    const peer = message.from_user_id === session?.userId ? message.to_user_id : message.from_user_id;
    addLine(conversations.ensure('private', peer), toLine(message));
  }
}

async function send(content: string): Promise<void> {
  const current = session;
  const conversation = conversations.active;
  if (!current || !conversation) return;
  // The SDK gives each send a client_msg_id and reuses it on retries (stored once).
  const { client, userId } = current;
  let reply: { message_id: string; time?: string };
  if (conversation.kind === 'private') {
    reply = await client.sendMessage({ to_user_id: conversation.id, content });
  } else if (conversation.kind === 'group') {
    reply = await client.sendGroupMessage({ group_id: conversation.id, content });
  } else {
    reply = await client.sendRoomMessage({ room_id: conversation.id, content });
  }
  addLine(conversation, {
    id: reply.message_id,
    from: userId,
    content,
    time: reply.time ?? new Date().toISOString(),
  });
}

async function joinRoom(roomId: string): Promise<void> {
  const current = session;
  if (!current) return;
  // The SDK joins the room again after each reconnect and reads what was missed.
  await current.client.joinRoom({ room_id: roomId });
  const conversation = openConversation('room', roomId);
  // Room messages are not in catch-up: read what was said before joining with history.
  const page = await current.client.history({ room_id: roomId, limit: 50 });
  for (const message of page.messages) addLine(conversation, toLine(message));
}

async function leaveActiveRoom(): Promise<void> {
  const current = session;
  const conversation = conversations.active;
  if (!current || conversation?.kind !== 'room') return;
  await current.client.leaveRoom({ room_id: conversation.id });
  conversations.remove('room', conversation.id);
  ui.conversationTitle.textContent = 'No conversation open';
  ui.conversationEmpty.hidden = false;
  ui.composeForm.hidden = true;
  ui.leaveRoom.hidden = true;
  ui.messages.replaceChildren();
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
  // Catch up from the beginning: the page keeps nothing, so a reload shows past chats again.
  const client = new ChatClient({ url: webSocketUrl(), token, auth: 'subprotocol', syncFromStart: true });
  const http = new ChatHttpClient({ baseUrl: location.origin, token });
  const current: Session = { userId, admin, client, http, online: new Set([userId]), stop: [] };
  session = current;
  current.stop.push(
    client.on('state', showState),
    client.on('message', receive),
    client.on('broadcast', (push) => announce(push.from_user_id, push.message, push.time)),
    client.on('system_notify', (push) =>
      announce('system', `${push.notification_type}: ${JSON.stringify(push.data)}`, push.time),
    ),
    client.on('presence', (push) => {
      if (push.status === 'online') current.online.add(push.user_id);
      else if (push.user_id !== userId) current.online.delete(push.user_id);
      renderOnline();
    }),
    client.on('message_deleted', (push) => {
      const conversation = conversations.markDeleted(push.message_id);
      if (conversation && conversation.key === conversations.activeKey) showConversation(conversation, false);
    }),
    client.on('kicked', () => showError(new Error('Signed in elsewhere: this page was disconnected.'))),
    client.on('error', (error) => showError(error)),
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
  await refreshOnline();
}

function signOut(): void {
  const current = session;
  session = undefined;
  if (current) {
    for (const stop of current.stop) stop();
    current.client.close();
  }
  conversations.clear();
  showState('signed-out');
  ui.who.hidden = true;
  ui.app.hidden = true;
  ui.signIn.hidden = false;
  ui.messages.replaceChildren();
  ui.broadcasts.replaceChildren();
  ui.broadcastResult.textContent = '';
  ui.conversationList.replaceChildren();
  ui.onlineUsers.replaceChildren();
  ui.conversationTitle.textContent = 'No conversation open';
  ui.conversationEmpty.hidden = false;
  ui.composeForm.hidden = true;
  ui.leaveRoom.hidden = true;
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
    openConversation('group', created.group_id, created.group_name);
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
onSubmit(ui.composeForm, () =>
  attempt(async () => {
    const content = ui.composeText.value;
    if (!content.trim()) return;
    await send(content);
    ui.composeText.value = '';
    ui.composeText.focus();
  }),
);
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
ui.error.addEventListener('click', clearError);
ui.userId.focus();
