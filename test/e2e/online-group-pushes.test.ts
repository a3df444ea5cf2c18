/**
 * Over real sockets, the group pushes other than messages reach the online members, and
 * the offline members cause no reads: a group of 2 online users (one with two devices)
 * and 150 offline members, so reading every member's presence would take 2 BatchGetItems
 * (100 keys each) and reading the online ones takes 1. `group_updated` (rename, add,
 * remove, delete), `message_read` and `message_deleted`; the removed and the added get
 * their own notices. The runtime runs against a dynalite that records every request.
 * Run: npx tsx --test test/e2e/online-group-pushes.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  nextPush,
  sendCommand,
  withMessageId,
} from '../support/chat.ts';
import {
  type CountingDynamo,
  localTableLabel,
  startCountingDynamo,
  tally,
} from '../support/counting-dynamo.ts';
import { startTestRuntime } from '../support/local-runtime.ts';

const OFFLINE_MEMBERS = Array.from({ length: 150 }, (_, i) => `ogp-off-${i}`);

let dynamo: CountingDynamo;
let runtime: LocalRuntime;
let annPhone: ChatConnection;
let annLaptop: ChatConnection;
let bob: ChatConnection;
let groupId: string;

before(async () => {
  dynamo = await startCountingDynamo();
  runtime = await startTestRuntime({ env: { DYNAMODB_ENDPOINT: dynamo.endpoint } });
  annPhone = await connectWelcomed(runtime, 'ogp-ann');
  annLaptop = await connectWelcomed(runtime, 'ogp-ann');
  bob = await connectWelcomed(runtime, 'ogp-bob');
  const created = await sendCommand(annPhone.client, 'create_group', {
    group_name: 'Mostly offline',
    member_ids: ['ogp-bob', ...OFFLINE_MEMBERS],
  });
  assert.equal(created.code, 0, JSON.stringify(created));
  groupId = String(created.data?.group_id);
});

after(async () => {
  await runtime.stop();
  await dynamo.close();
});

/**
 * Runs `act` (a command and the pushes it waits for) and returns the DynamoDB requests it
 * set off, by operation and table.
 */
async function requestsOf(act: () => Promise<void>): Promise<Record<string, number>> {
  // Generous: on a loaded machine the runtime's earlier work may take a while to settle.
  await dynamo.idle(300, 60_000);
  dynamo.start();
  await act();
  await dynamo.idle(300, 60_000);
  return tally(dynamo.stop(), localTableLabel);
}

async function command(connection: ChatConnection, cmd: string, data: Record<string, unknown>) {
  const reply = await sendCommand(connection.client, cmd, data);
  assert.equal(reply.code, 0, JSON.stringify(reply));
  return reply.data ?? {};
}

const ofChange = (change: string) => (data: Record<string, unknown>) =>
  data.group_id === groupId && data.change === change;

test('update_group: the online members and the renamer’s other device are told; one presence batch for 152 members', async () => {
  const counts = await requestsOf(async () => {
    await command(annPhone, 'update_group', { group_id: groupId, group_name: 'Renamed' });
    for (const device of [bob, annLaptop]) {
      const push = await nextPush(device.client, 'group_updated', ofChange('renamed'));
      assert.equal(push.group_name, 'Renamed');
    }
  });
  assert.equal(counts['BatchGetItem presence'], 1, JSON.stringify(counts));
});

test('add_group_members and remove_group_member: the member added while online, then removed, gets both notices', async () => {
  const dee = await connectWelcomed(runtime, 'ogp-dee');
  const counts = await requestsOf(async () => {
    const added = await command(annPhone, 'add_group_members', {
      group_id: groupId,
      member_ids: ['ogp-dee'],
    });
    assert.deepEqual(added.added, ['ogp-dee']);
    for (const device of [dee, bob]) {
      const push = await nextPush(device.client, 'group_updated', ofChange('members_added'));
      assert.deepEqual(push.user_ids, ['ogp-dee']);
    }
  });
  // The added user's presence (read to mark the row, reused for the push), then the others'.
  assert.ok((counts['BatchGetItem presence'] ?? 0) <= 2, JSON.stringify(counts));

  const removal = await requestsOf(async () => {
    await command(annPhone, 'remove_group_member', { group_id: groupId, user_id: 'ogp-dee' });
    for (const device of [dee, bob, annLaptop]) {
      const push = await nextPush(device.client, 'group_updated', ofChange('member_removed'));
      assert.deepEqual(push.user_ids, ['ogp-dee']);
    }
  });
  assert.equal(removal['BatchGetItem presence'], 1, JSON.stringify(removal));
  await dee.client.close();
});

test('mark_read and delete_message in the group: the online members are told; one presence batch each', async () => {
  const sent = await command(annPhone, 'send_group_message', {
    group_id: groupId,
    content: 'read, then recall',
  });
  const messageId = sent.message_id;
  await nextPush(bob.client, 'group_message', withMessageId(messageId));

  const read = await requestsOf(async () => {
    await command(bob, 'mark_read', { room_id: groupId, message_id: messageId });
    for (const device of [annPhone, annLaptop]) {
      const push = await nextPush(device.client, 'message_read', withMessageId(messageId));
      assert.equal(push.user_id, 'ogp-bob');
    }
  });
  assert.equal(read['BatchGetItem presence'], 1, JSON.stringify(read));

  const recalled = await requestsOf(async () => {
    const reply = await command(annPhone, 'delete_message', { room_id: groupId, message_id: messageId });
    assert.equal(reply.delivered, 2, 'bob and ann’s laptop');
    for (const device of [bob, annLaptop]) {
      const push = await nextPush(device.client, 'message_deleted', withMessageId(messageId));
      assert.equal(push.deleted_by, 'ogp-ann');
    }
  });
  assert.equal(recalled['BatchGetItem presence'], 1, JSON.stringify(recalled));
});

test('delete_group: the online members are told; one presence batch', async () => {
  const counts = await requestsOf(async () => {
    await command(annPhone, 'delete_group', { group_id: groupId });
    for (const device of [bob, annLaptop])
      await nextPush(device.client, 'group_updated', ofChange('deleted'));
  });
  assert.equal(counts['BatchGetItem presence'], 1, JSON.stringify(counts));
});
