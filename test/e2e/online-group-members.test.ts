/**
 * Group messages reach the online members through their marked member rows (the sparse
 * `byOnlineGroup` index; docs/architecture.md, "Online group members"), over real sockets:
 * members online when the group is created, members who connect later, members added
 * while online get the push; a member who disconnects is no longer marked; a burst of
 * reconnects (each connect racing the previous last disconnect) ends marked.
 * Run: npx tsx --test test/e2e/online-group-members.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
  withMessageId,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { pollUntil } from '../support/http.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import { createGroup, sendMessageId } from '../support/replies.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

let runtime: LocalRuntime;
let tables: RuntimeTables;
let ann: ChatConnection;
let bob: ChatConnection;
let groupId: string;

before(async () => {
  runtime = await startTestRuntime();
  tables = runtimeTables(runtime);
  [ann, bob] = await connectEach(runtime, ['og-ann', 'og-bob']);
  // og-cy is offline when the group is created.
  groupId = await createGroup(ann, 'Online', ['og-bob', 'og-cy']);
});

after(async () => {
  tables.destroy();
  await runtime.stop();
});

async function memberRow(userId: string): Promise<Record<string, unknown> | undefined> {
  const rows = await tables.scan('groups');
  return rows.find((row) => row.groupId === groupId && row.sk === `member#${userId}`);
}

async function presenceToken(userId: string): Promise<unknown> {
  const rows = await tables.scan('presence');
  return rows.find((row) => row.userId === userId)?.onlineSince;
}

function post(content: string): Promise<string> {
  return sendMessageId(ann, 'send_group_message', { group_id: groupId, content });
}

describe('group messages reach the online members', () => {
  test('a member online when the group was created is marked and gets the push', async () => {
    const row = await memberRow('og-bob');
    assert.equal(row?.onlineGroupId, groupId);
    assert.equal(row?.onlineSince, await presenceToken('og-bob'));
    assert.equal((await memberRow('og-cy'))?.onlineGroupId, undefined, 'og-cy is offline');
    const messageId = await post('hello');
    const push = await nextPush(bob.client, 'group_message', withMessageId(messageId));
    assert.equal(push.content, 'hello');
  });

  test('a member who connects later is marked by their connect and gets the push', async () => {
    const cy = await connectWelcomed(runtime, 'og-cy');
    assert.equal((await memberRow('og-cy'))?.onlineGroupId, groupId, 'marked before $connect returned');
    const messageId = await post('welcome cy');
    await nextPush(cy.client, 'group_message', withMessageId(messageId));
    await disconnect(runtime, cy);
  });

  test('a member whose last connection closed is no longer marked, and is not pushed to', async () => {
    const cy = await connectWelcomed(runtime, 'og-cy');
    const laptop = await connectWelcomed(runtime, 'og-cy');
    await disconnect(runtime, cy);
    assert.equal((await memberRow('og-cy'))?.onlineGroupId, groupId, 'one device is still open');
    await disconnect(runtime, laptop);
    const row = await pollUntil(
      () => memberRow('og-cy'),
      (found) => found?.onlineGroupId === undefined,
      'og-cy’s mark to be cleared by the last $disconnect',
    );
    assert.equal(row?.memberUserId, 'og-cy', 'still a member');
    const sent = await sendCommand(ann.client, 'send_group_message', {
      group_id: groupId,
      content: 'cy gone',
    });
    assert.equal(sent.data?.sent_count, 1, 'og-bob only');
  });

  test('a member added while online is marked at once and gets the next message', async () => {
    const dee = await connectWelcomed(runtime, 'og-dee');
    const added = await sendCommand(ann.client, 'add_group_members', {
      group_id: groupId,
      member_ids: ['og-dee'],
    });
    assert.deepEqual(added.data?.added, ['og-dee']);
    assert.equal((await memberRow('og-dee'))?.onlineGroupId, groupId);
    const messageId = await post('welcome dee');
    await nextPush(dee.client, 'group_message', withMessageId(messageId));
    await disconnect(runtime, dee);
  });

  test('a burst of reconnects, each racing the previous last disconnect, ends marked with the live session', async () => {
    let eve = await connectWelcomed(runtime, 'og-eve');
    const added = await sendCommand(ann.client, 'add_group_members', {
      group_id: groupId,
      member_ids: ['og-eve'],
    });
    assert.deepEqual(added.data?.added, ['og-eve']);
    const closed: ChatConnection[] = [];
    for (let round = 0; round < 5; round++) {
      // Close without waiting for $disconnect, and open the next connection at once.
      const closing = eve.client.close();
      closed.push(eve);
      eve = await connectWelcomed(runtime, 'og-eve');
      await closing;
    }
    // Every old $disconnect has run (its row is gone): nothing of theirs is still clearing.
    for (const old of closed) {
      await pollUntil(
        () => tables.connectionRow(old.connectionId),
        (row) => row === undefined,
        `the row of ${old.connectionId} to be deleted by $disconnect`,
      );
    }
    const row = await pollUntil(
      () => memberRow('og-eve'),
      (found) => found?.onlineGroupId === groupId,
      'og-eve to be marked',
    );
    assert.equal(row?.onlineSince, await presenceToken('og-eve'), 'the live session’s token');
    const messageId = await post('still here?');
    await nextPush(eve.client, 'group_message', withMessageId(messageId));
    await settle(eve.client);
    assert.equal(pushesOf(eve.client, 'group_message').length, 1, 'pushed once');
    await disconnect(runtime, eve);
  });

  test('a member removed from the group is unmarked with its row and gets no push', async () => {
    const fay = await connectWelcomed(runtime, 'og-fay');
    await sendCommand(ann.client, 'add_group_members', { group_id: groupId, member_ids: ['og-fay'] });
    assert.equal((await memberRow('og-fay'))?.onlineGroupId, groupId);
    const removed = await sendCommand(ann.client, 'remove_group_member', {
      group_id: groupId,
      user_id: 'og-fay',
    });
    assert.equal(removed.code, 0, JSON.stringify(removed));
    assert.equal(await memberRow('og-fay'), undefined);
    const messageId = await post('after fay left');
    await nextPush(bob.client, 'group_message', withMessageId(messageId));
    await settle(fay.client);
    assert.equal(
      pushesOf(fay.client, 'group_message').some((push) => push.message_id === messageId),
      false,
    );
    await disconnect(runtime, fay);
  });
});
