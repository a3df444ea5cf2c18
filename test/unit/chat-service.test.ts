/**
 * The chat commands against the real DynamoDB stores (in-memory dynalite) and a
 * notifier that records posts in place of the Management API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { ChatService } from '../../functions/core/messaging/chat-service.ts';
import { readHistory } from '../../functions/core/messaging/history.ts';
import type { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import type { DynamoMessageStore } from '../../functions/stores/messages.ts';
import type { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { codeOf } from '../support/chat-errors.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import {
  ConnectionOpener,
  createGroupAs,
  identity,
  startTestStores,
  type TestStores,
} from '../support/stores.ts';

const settings = { maxContentLength: 100, broadcastAllowAll: false };

let stores: TestStores;
let notifier: RecordingNotifier;
let chat: ChatService;
let registry: ConnectionRegistry;
let presence: DynamoPresenceStore;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
let connections: DynamoConnectionStore;
const opener = new ConnectionOpener('conn');

const connect = (userId: string, roles: string[] = []) => opener.open(registry, userId, roles);

before(async () => {
  stores = await startTestStores();
  ({ connections, presence, messages, groups } = stores);
  // These tests open a connection and expire it at once; the handshake window has its own test.
  registry = stores.registry({ handshakeWindowMs: 0 });
  notifier = new RecordingNotifier();
  chat = new ChatService({ presence, messages, groups, registry, notifier, fanOutConcurrency: 4, settings });
});

after(async () => {
  await stores.stop();
});

describe('presence', () => {
  it('counts users once however many devices they have, and forgets them after their last disconnect', async () => {
    const before = await presence.counts();
    const first = await connect('p1');
    const second = await connect('p1');
    let counts = await presence.counts();
    assert.equal(counts.users - before.users, 1);
    assert.equal(counts.connections - before.connections, 2);
    const [entry] = await presence.connectionsOf(['p1']);
    assert.deepEqual([...(entry?.connectionIds ?? [])].sort(), [first, second].sort());

    await registry.close(first);
    await registry.close(first); // a repeated $disconnect changes nothing
    counts = await presence.counts();
    assert.equal(counts.users - before.users, 1);
    assert.equal(counts.connections - before.connections, 1);

    await registry.close(second);
    counts = await presence.counts();
    assert.deepEqual(counts, before);
    assert.deepEqual(await presence.connectionsOf(['p1']), []);
    assert.equal(await connections.get(first), undefined);
  });

  it('lists online users across shards page by page without repeats', async () => {
    const users = Array.from({ length: 23 }, (_, i) => `list-${i}`);
    for (const user of users) await connect(user);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await presence.listOnline(5, cursor);
      assert.ok(page.users.length <= 5);
      seen.push(...page.users.map((u) => u.userId));
      cursor = page.cursor;
    } while (cursor);
    const listed = seen.filter((id) => id.startsWith('list-'));
    assert.equal(new Set(listed).size, listed.length);
    assert.deepEqual([...listed].sort(), [...users].sort());
  });
});

describe('send_message', () => {
  it('stores the message, then delivers it to every connection of the recipient only', async () => {
    const aliceConnection = await connect('alice');
    const bobPhone = await connect('bob');
    const bobLaptop = await connect('bob');
    const sent = await chat.sendMessage(
      { userId: 'alice', roles: [] },
      {
        to_user_id: 'bob',
        content: 'hello bob',
        message_type: 1,
      },
    );
    assert.equal(sent.room_id, 'private_alice_bob');
    assert.equal(sent.peer_id, 'bob');
    assert.equal(sent.delivered, 2);
    for (const connectionId of [bobPhone, bobLaptop]) {
      const [frame] = notifier.received(connectionId);
      assert.deepEqual(frame?.data, {
        type: 'new_message',
        message_id: sent.message_id,
        room_id: 'private_alice_bob',
        peer_id: 'alice',
        from_user_id: 'alice',
        to_user_id: 'bob',
        content: 'hello bob',
        message_type: 1,
        time: sent.time,
      });
    }
    assert.equal(notifier.received(aliceConnection).length, 0);
    const page = await readHistory({ messages, groups }, 'bob', { roomId: 'private_alice_bob' });
    assert.deepEqual(
      page.messages.map((m) => m.message_id),
      [sent.message_id],
    );
  });

  it('stores a message to an offline user without error', async () => {
    const sent = await chat.sendMessage(
      { userId: 'alice', roles: [] },
      {
        to_user_id: 'nobody-online',
        content: 'later',
        message_type: 1,
      },
    );
    assert.equal(sent.delivered, 0);
    const page = await readHistory({ messages, groups }, 'nobody-online', { roomId: sent.room_id });
    assert.equal(page.messages[0]?.content, 'later');
  });

  it('removes exactly the recipient connection that answered 410', async () => {
    const sender = await connect('carol');
    const stale = await connect('dave');
    const live = await connect('dave');
    notifier.gone.add(stale);
    const sent = await chat.sendMessage(
      { userId: 'carol', roles: [] },
      {
        to_user_id: 'dave',
        content: 'anyone there?',
        message_type: 1,
      },
    );
    assert.equal(sent.delivered, 1);
    assert.equal(await connections.get(stale), undefined);
    assert.ok(await connections.get(live));
    assert.ok(await connections.get(sender), 'the sender keeps its connection');
    const [dave] = await presence.connectionsOf(['dave']);
    assert.deepEqual(dave?.connectionIds, [live]);
  });

  it('refuses content over the configured length with 1002 and stores nothing', async () => {
    const room = 'private_alice_long';
    assert.equal(
      await codeOf(
        chat.sendMessage(
          { userId: 'alice', roles: [] },
          { to_user_id: 'long', content: 'x'.repeat(101), message_type: 1 },
        ),
      ),
      1002,
    );
    assert.deepEqual((await readHistory({ messages, groups }, 'alice', { roomId: room })).messages, []);
  });
});

describe('groups', () => {
  it('creates a group with the creator as a member and fans out to other members only', async () => {
    const ownerConnection = await connect('g-owner');
    const ownerSecondDevice = await connect('g-owner');
    const memberConnection = await connect('g-member');
    const outsiderConnection = await connect('g-outsider');
    const group = await createGroupAs(groups, 'g-owner', ['g-member', 'g-member', 'g-offline'], 'team');
    assert.match(group.group_id, /^group_[A-Za-z0-9_-]{1,64}$/);
    assert.deepEqual(group.member_ids, ['g-owner', 'g-member', 'g-offline']);

    const sent = await chat.sendGroupMessage(
      { userId: 'g-owner', roles: [] },
      {
        group_id: group.group_id,
        content: 'standup',
        message_type: 1,
      },
    );
    assert.equal(sent.sent_count, 1);
    assert.equal(notifier.received(memberConnection)[0]?.data.group_name, 'team');
    assert.equal(notifier.received(ownerConnection).length, 0);
    assert.equal(notifier.received(ownerSecondDevice).length, 0);
    assert.equal(notifier.received(outsiderConnection).length, 0);

    assert.equal(
      await codeOf(
        chat.sendGroupMessage(
          { userId: 'g-outsider', roles: [] },
          { group_id: group.group_id, content: 'x', message_type: 1 },
        ),
      ),
      1403,
    );
    assert.equal(
      await codeOf(
        chat.sendGroupMessage(
          { userId: 'g-owner', roles: [] },
          { group_id: 'group_missing', content: 'x', message_type: 1 },
        ),
      ),
      1403,
    );
    assert.equal(
      await codeOf(
        chat.sendGroupMessage(
          { userId: 'g-owner', roles: [] },
          { group_id: 'not a group', content: 'x', message_type: 1 },
        ),
      ),
      3006,
    );
    const history = await readHistory({ messages, groups }, 'g-offline', { roomId: group.group_id });
    assert.deepEqual(
      history.messages.map((m) => m.content),
      ['standup'],
    );
    assert.equal(
      await codeOf(readHistory({ messages, groups }, 'g-outsider', { roomId: group.group_id })),
      1403,
    );
  });
});

describe('broadcast', () => {
  it('is refused for non-admins with 1403 and reaches every open connection for admins', async () => {
    const listener = await connect('b-listener');
    const admin = await connect('b-admin', ['admin']);
    assert.equal(await codeOf(chat.broadcast({ userId: 'b-listener', roles: [] }, { message: 'hi' })), 1403);
    assert.equal(notifier.received(listener).length, 0);
    const counts = await presence.counts();
    const result = await chat.broadcast({ userId: 'b-admin', roles: ['admin'] }, { message: 'maintenance' });
    assert.equal(result.sent_count, counts.connections);
    assert.equal(notifier.received(listener).at(-1)?.data.message, 'maintenance');
    assert.equal(notifier.received(admin).at(-1)?.data.type, 'broadcast');
  });
});

describe('history', () => {
  it('pages newest first with a cursor and no gaps or repeats', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(
        (
          await chat.sendMessage(
            { userId: 'h1', roles: [] },
            { to_user_id: 'h2', content: `m${i}`, message_type: 1 },
          )
        ).message_id,
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await readHistory({ messages, groups }, 'h2', {
        roomId: 'private_h1_h2',
        limit: 5,
        cursor,
      });
      seen.push(...page.messages.map((m) => m.message_id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());
  });

  it('refuses non-participants, and shows participants of an ambiguous room name only their own messages', async () => {
    assert.equal(await codeOf(readHistory({ messages, groups }, 'h3', { roomId: 'private_h1_h2' })), 1403);
    assert.equal(await codeOf(readHistory({ messages, groups }, 'h1', { roomId: '' })), 2002);
    assert.equal(
      await codeOf(readHistory({ messages, groups }, 'h1', { roomId: 'private_h1_h2', limit: 0 })),
      1001,
    );
    // a_b + c and a + b_c share the room id private_a_b_c.
    await chat.sendMessage(
      { userId: 'a_b', roles: [] },
      { to_user_id: 'c', content: 'secret', message_type: 1 },
    );
    const page = await readHistory({ messages, groups }, 'a', { roomId: 'private_a_b_c' });
    assert.deepEqual(page.messages, []);
  });
});

describe('storage failures', () => {
  it('answer 10008 / 3009 and deliver nothing when the message cannot be stored', async () => {
    const failingMessages = {
      put: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
      history: messages.history.bind(messages),
    };
    const failing = new ChatService({
      presence,
      messages: failingMessages,
      groups,
      registry,
      notifier,
      fanOutConcurrency: 4,
      settings,
    });
    const recipient = await connect('f-recipient');
    assert.equal(
      await codeOf(
        failing.sendMessage(
          { userId: 'f-sender', roles: [] },
          { to_user_id: 'f-recipient', content: 'x', message_type: 1 },
        ),
      ),
      10008,
    );
    const group = await createGroupAs(groups, 'f-sender', ['f-recipient'], 'f');
    assert.equal(
      await codeOf(
        failing.sendGroupMessage(
          { userId: 'f-sender', roles: [] },
          { group_id: group.group_id, content: 'x', message_type: 1 },
        ),
      ),
      3009,
    );
    assert.equal(notifier.received(recipient).length, 0);
  });
});

describe('410 during the handshake window', () => {
  it('keeps a connection younger than the window and removes it once it is older', async () => {
    let now = new Date();
    const windowed = stores.registry({ handshakeWindowMs: 30_000, now: () => now });
    await windowed.open('handshaking', identity('w-user'));

    // Still inside its $connect: API Gateway answers 410, but the row must survive.
    await windowed.closeGone('handshaking', 'w-user');
    assert.ok(await connections.get('handshaking'));
    assert.equal((await presence.connectionsOf(['w-user']))[0]?.connectionIds.length, 1);

    now = new Date(now.getTime() + 31_000);
    await windowed.closeGone('handshaking', 'w-user');
    assert.equal(await connections.get('handshaking'), undefined);
    assert.deepEqual(await presence.connectionsOf(['w-user']), []);
  });
});
