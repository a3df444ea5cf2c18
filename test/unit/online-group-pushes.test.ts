/**
 * The group pushes other than messages reach the online members through their marked rows
 * (`byOnlineGroup`), so only their presence is read: `group_updated` (rename, role change,
 * add, remove, leave, delete), `message_deleted` and `message_read` in a group. Real
 * registry, stores and marks on dynalite; a notifier that records posts; a presence store
 * that records whose presence was read. The users whom a change is about are told even
 * though their rows are gone (the removed, the leaver) or new (the added).
 * Run: npx tsx --test test/unit/online-group-pushes.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { GroupService } from '../../functions/core/groups/group-service.ts';
import type { OnlineGroupAudience } from '../../functions/core/groups/online-members.ts';
import { recallMessage } from '../../functions/core/messaging/recall.ts';
import { ReadReceipts } from '../../functions/core/receipts/read-receipts.ts';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import { DynamoUserGroupLimits } from '../../functions/stores/groups.ts';
import { DynamoOnlineGroupMarks } from '../../functions/stores/online-groups.ts';
import type { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import { ConnectionOpener, startTestStores, type TestStores } from '../support/stores.ts';

let stores: TestStores;
let registry: ConnectionRegistry;
let notifier: RecordingNotifier;
let groups: GroupService;
let receipts: ReadReceipts;
let audience: OnlineGroupAudience;
/** The real presence store, recording each read. */
let presence: DynamoPresenceStore;
/** Whose presence was read, in order (a user read twice appears twice). */
let presenceReads: string[] = [];
/** `byOnlineGroup` queries made. */
let onlineQueries = 0;
const opener = new ConnectionOpener('ogp');
const as = (userId: string) => ({ userId, roles: [] as string[] });
const OFFLINE = ['ogp-off1', 'ogp-off2', 'ogp-off3'];

/** The connections of the online users, by name. */
const conn: Record<string, string> = {};
let groupId: string;

before(async () => {
  stores = await startTestStores();
  const marks = new DynamoOnlineGroupMarks(stores.dynamo.client, stores.dynamo.tables.groups);
  registry = stores.registry({ onlineGroups: marks, handshakeWindowMs: 0 });
  notifier = new RecordingNotifier();
  presence = Object.create(stores.presence);
  presence.connectionsOf = (userIds) => {
    presenceReads.push(...userIds);
    return stores.presence.connectionsOf(userIds);
  };
  audience = {
    memberView: (group, userId) => stores.groups.memberView(group, userId),
    onlineMemberIds: (group) => {
      onlineQueries++;
      return marks.onlineMemberIds(group);
    },
  };
  const delivery = { notifier, registry, fanOutConcurrency: 4 };
  groups = new GroupService({
    ...delivery,
    directory: stores.groups,
    limits: new DynamoUserGroupLimits(stores.dynamo.client, stores.dynamo.tables.groups),
    presence,
    onlineGroups: { mark: (...args) => marks.mark(...args), onlineMemberIds: audience.onlineMemberIds },
    settings: {
      maxGroupMembers: 20,
      maxGroupsPerUser: 10,
      maxGroupMembershipsPerUser: 0,
      groupCreatesPerMinute: 0,
    },
  });
  receipts = new ReadReceipts({
    ...delivery,
    conversations: stores.conversations,
    readState: stores.readState,
    presence,
    onlineGroups: audience,
  });
  for (const name of ['ownPhone', 'ownLaptop']) conn[name] = await opener.open(registry, 'ogp-own');
  for (const name of ['on1', 'on2', 'on3']) conn[name] = await opener.open(registry, `ogp-${name}`);
  conn.on3Laptop = await opener.open(registry, 'ogp-on3');
  const created = await groups.createGroup(as('ogp-own'), {
    group_name: 'Pushes',
    member_ids: ['ogp-on1', 'ogp-on2', 'ogp-on3', ...OFFLINE],
  });
  groupId = created.group_id;
});

after(() => stores.stop());

beforeEach(() => {
  notifier.clear();
  presenceReads = [];
  onlineQueries = 0;
});

/** The `type` pushes each named connection received. */
function received(type: string, ...names: string[]): Record<string, unknown>[][] {
  return names.map((name) => notifier.pushes(conn[name] as string, type));
}

function assertNoOfflineRead(): void {
  assert.deepEqual(
    presenceReads.filter((userId) => OFFLINE.includes(userId)),
    [],
    'no offline member’s presence is read',
  );
}

describe('group_updated reaches the online members, reading only their presence', () => {
  it('rename: every online member and the renamer’s other device; not the asking connection', async () => {
    await groups.rename(as('ogp-own'), { group_id: groupId, group_name: 'Renamed' }, conn.ownPhone);
    for (const pushes of received('group_updated', 'ownLaptop', 'on1', 'on2', 'on3', 'on3Laptop')) {
      assert.deepEqual(
        pushes.map((push) => [push.change, push.group_name]),
        [['renamed', 'Renamed']],
      );
    }
    assert.deepEqual(received('group_updated', 'ownPhone'), [[]]);
    assertNoOfflineRead();
    assert.equal(onlineQueries, 1);
  });

  it('role change: the online members, the target among them', async () => {
    await groups.setRole(
      as('ogp-own'),
      { group_id: groupId, user_id: 'ogp-on1', role: 'admin' },
      conn.ownPhone,
    );
    const [target] = received('group_updated', 'on1');
    assert.deepEqual(
      target?.map((push) => [push.change, push.role]),
      [['role_changed', 'admin']],
    );
    assert.equal(received('group_updated', 'on2')[0]?.length, 1);
    assertNoOfflineRead();
  });

  it('add: a member added while online is told at once; each added user’s presence is read once', async () => {
    conn.newOn = await opener.open(registry, 'ogp-new-on');
    notifier.clear();
    const added = await groups.addMembers(
      as('ogp-own'),
      { group_id: groupId, member_ids: ['ogp-new-on', 'ogp-new-off'] },
      conn.ownPhone,
    );
    assert.deepEqual(added.added, ['ogp-new-on', 'ogp-new-off']);
    for (const pushes of received('group_updated', 'newOn', 'on2', 'ownLaptop')) {
      assert.deepEqual(
        pushes.map((push) => [push.change, push.user_ids]),
        [['members_added', ['ogp-new-on', 'ogp-new-off']]],
      );
    }
    assertNoOfflineRead();
    // Read to mark the rows, then reused for the push.
    assert.equal(presenceReads.filter((userId) => userId === 'ogp-new-on').length, 1);
    assert.equal(presenceReads.filter((userId) => userId === 'ogp-new-off').length, 1);
  });

  it('remove: the removed member gets their own notice (their row and mark are gone); the others theirs', async () => {
    await groups.removeMember(as('ogp-own'), { group_id: groupId, user_id: 'ogp-new-on' }, conn.ownPhone);
    for (const pushes of received('group_updated', 'newOn', 'on1', 'ownLaptop')) {
      assert.deepEqual(
        pushes.map((push) => [push.change, push.user_ids]),
        [['member_removed', ['ogp-new-on']]],
      );
    }
    assertNoOfflineRead();
  });

  it('leave: the leaver’s other device is told, and so are the online members', async () => {
    await groups.leave(as('ogp-on3'), { group_id: groupId }, conn.on3);
    for (const pushes of received('group_updated', 'on3Laptop', 'on1', 'ownPhone', 'ownLaptop')) {
      assert.deepEqual(
        pushes.map((push) => push.change),
        ['member_left'],
      );
    }
    assert.deepEqual(received('group_updated', 'on3'), [[]], 'the asking connection has the reply');
    assertNoOfflineRead();
  });
});

describe('message_deleted and message_read in a group', () => {
  let message: StoredMessage;

  before(async () => {
    const at = new Date();
    message = {
      roomId: groupId,
      messageId: newMessageId(at),
      kind: 'group',
      fromUserId: 'ogp-own',
      groupId,
      content: 'to be read, then recalled',
      messageType: 1,
      createdAt: at.toISOString(),
    };
    await stores.messages.put(message);
  });

  it('mark_read: the other online members get message_read, the reader’s other devices unread_count', async () => {
    const reply = await receipts.markRead(
      as('ogp-on1'),
      { room_id: groupId, message_id: message.messageId },
      conn.on1,
    );
    assert.equal(reply.message_id, message.messageId);
    for (const pushes of received('message_read', 'ownPhone', 'ownLaptop', 'on2')) {
      assert.deepEqual(
        pushes.map((push) => [push.user_id, push.message_id]),
        [['ogp-on1', message.messageId]],
      );
    }
    assert.deepEqual(received('message_read', 'on1'), [[]]);
    assertNoOfflineRead();
    assert.equal(onlineQueries, 1);
  });

  it('mark_read that does not move the position reads no members and pushes nothing', async () => {
    await receipts.markRead(as('ogp-on1'), { room_id: groupId, message_id: message.messageId }, conn.on1);
    assert.equal(onlineQueries, 0);
    assert.deepEqual(presenceReads, []);
    assert.equal(notifier.frames.size, 0, 'nothing pushed');
  });

  it('mark_read by a non-member is refused before any member or presence read', async () => {
    await assert.rejects(
      receipts.markRead(as('ogp-stranger'), { room_id: groupId, message_id: message.messageId }),
      (error: Error & { code?: number }) => error.code === 1403,
    );
    assert.equal(onlineQueries, 0);
    assert.deepEqual(presenceReads, []);
  });

  it('delete_message: every online member and the sender’s other device get message_deleted', async () => {
    const reply = await recallMessage(
      {
        notifier,
        registry,
        fanOutConcurrency: 4,
        messages: stores.messages,
        groups: stores.groups,
        rooms: stores.rooms,
        presence,
        onlineGroups: audience,
      },
      'ogp-own',
      { room_id: groupId, message_id: message.messageId },
      conn.ownPhone,
    );
    assert.equal(reply.delivered, 3, 'the owner’s laptop, on1 and on2');
    for (const pushes of received('message_deleted', 'ownLaptop', 'on1', 'on2')) {
      assert.deepEqual(
        pushes.map((push) => push.message_id),
        [message.messageId],
      );
    }
    assertNoOfflineRead();
  });
});

describe('delete_group', () => {
  it('every online member is told; no offline member’s presence is read', async () => {
    await groups.deleteGroup(as('ogp-own'), { group_id: groupId }, conn.ownPhone);
    for (const pushes of received('group_updated', 'ownLaptop', 'on1', 'on2')) {
      assert.deepEqual(
        pushes.map((push) => push.change),
        ['deleted'],
      );
    }
    assertNoOfflineRead();
  });
});
