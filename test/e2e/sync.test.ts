/**
 * Catch-up after reconnecting (`sync`), driven over real WebSocket connections and the
 * HTTP API of the local runtime: a user goes offline on every device, misses messages in
 * three conversations and a system notification, reconnects and pages through them.
 * Run: npx tsx --test test/e2e/sync.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SyncReply } from '../../functions/core/messaging/sync.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  connectWelcomed,
  disconnect,
  nextPush,
  sendCommand,
  ULID,
  withMessageId,
} from '../support/chat.ts';
import { postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { okData } from '../support/replies.ts';

let runtime: LocalRuntime;
let groupId: string;
/**
 * Connections stay open until the runtime stops: closing one pushes `presence` to its
 * peers, and a test should not race that against the next test's connects.
 */
let pat: ChatConnection;
let quin: ChatConnection;
let rae: ChatConnection;
/** sam, back online after the catch-up scenario. */
let sam: ChatConnection;

before(async () => {
  runtime = await startTestRuntime();
});
after(() => runtime.stop());

async function send(connection: ChatConnection, to: string, content: string): Promise<string> {
  const data = okData(await sendCommand(connection.client, 'send_message', { to_user_id: to, content }));
  return String(data.message_id);
}

async function sendGroup(connection: ChatConnection, content: string): Promise<string> {
  const data = okData(
    await sendCommand(connection.client, 'send_group_message', { group_id: groupId, content }),
  );
  return String(data.message_id);
}

/** Pages through `sync` from `since`; returns every page. */
async function syncPages(connection: ChatConnection, limit: number, since?: string): Promise<SyncReply[]> {
  const pages: SyncReply[] = [];
  let cursor = since;
  for (;;) {
    const reply = await sendCommand(connection.client, 'sync', {
      limit,
      ...(cursor ? { since: cursor } : {}),
    });
    const page = okData(reply) as unknown as SyncReply;
    pages.push(page);
    if (!page.has_more) return pages;
    assert.ok(page.next_since, 'has_more without next_since');
    cursor = page.next_since;
    assert.ok(pages.length < 100, 'sync pages terminate');
  }
}

const ascending = (ids: readonly string[]) => [...ids].sort();

describe('sync after a reconnect', () => {
  /** sam is the user who goes offline; pat and quin write to sam, rae is in the group. */
  let lastSeen: string;
  let seenBefore: string[];
  let missed: string[];
  let noticeId: string;

  before(async () => {
    const samPhone = await connectWelcomed(runtime, 'sam');
    const samLaptop = await connectWelcomed(runtime, 'sam');
    pat = await connectWelcomed(runtime, 'pat');
    quin = await connectWelcomed(runtime, 'quin');
    rae = await connectWelcomed(runtime, 'rae');
    groupId = String(
      okData(
        await sendCommand(rae.client, 'create_group', { group_name: 'Trip', member_ids: ['sam', 'pat'] }),
      ).group_id,
    );

    // What sam saw while online: the last of these is the `since` of the catch-up.
    seenBefore = [await send(pat, 'sam', 'before 1'), await sendGroup(rae, 'before 2')];
    seenBefore.push(await send(quin, 'sam', 'before 3'));
    lastSeen = String(
      (await nextPush(samPhone.client, 'new_message', withMessageId(seenBefore[2]))).message_id,
    );

    await disconnect(runtime, samPhone, samLaptop);

    missed = [];
    const admin = await tokenFor(runtime, 'ops', { role: 'admin' });
    for (let round = 1; round <= 2; round++) {
      missed.push(await send(pat, 'sam', `pat ${round}`));
      missed.push(await sendGroup(rae, `rae ${round}`));
      missed.push(await send(quin, 'sam', `quin ${round}`));
      missed.push(await sendGroup(pat, `pat in group ${round}`));
      // Not sam's: must not show up.
      await send(pat, 'quin', `pat to quin ${round}`);
    }
    const notified = await postApi(
      runtime,
      '/api/ws/notify',
      { user_ids: ['sam'], type: 'maintenance', data: { at: '02:00' } },
      admin,
    );
    assert.equal(notified.status, 200, JSON.stringify(notified.body));
    assert.deepEqual(notified.body.data, { recipients: 0, stored: 1 });
    missed.push(await send(quin, 'sam', 'quin last'));
  });

  test('pages through every missed message exactly once, in id order, from three conversations and a notice', async () => {
    sam = await connectWelcomed(runtime, 'sam');
    const pages = await syncPages(sam, 2, lastSeen);
    const items = pages.flatMap((page) => page.messages);
    const ids = items.map((item) => item.message_id);

    for (const page of pages) assert.ok(page.messages.length <= 2);
    assert.ok(pages.length >= 5, `several pages (${pages.length})`);
    for (const page of pages.slice(0, -1)) {
      assert.equal(page.has_more, true);
      assert.equal(page.next_since, page.messages.at(-1)?.message_id);
    }
    assert.equal(pages.at(-1)?.has_more, false);

    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.deepEqual(ids, ascending(ids), 'ascending message ids');
    for (const id of ids) assert.ok(id > lastSeen, 'nothing from before since');
    const notice = items.find((item) => item.kind === 'system');
    assert.ok(notice, 'the system notice');
    noticeId = notice.message_id;
    assert.deepEqual(ids, ascending([...missed, noticeId]), 'everything missed, nothing else');

    assert.deepEqual(
      items
        .map((item) => item.room_id)
        .filter((room, i, all) => all.indexOf(room) === i)
        .sort(),
      ['private_pat_sam', 'private_quin_sam', groupId, 'system_sam'].sort(),
    );
    const first = items.find((item) => item.message_id === missed[0]);
    assert.deepEqual(first, {
      kind: 'private',
      message_id: missed[0],
      room_id: 'private_pat_sam',
      from_user_id: 'pat',
      to_user_id: 'sam',
      peer_id: 'pat',
      content: 'pat 1',
      message_type: 1,
      time: first?.time,
    });
    const group = items.find((item) => item.message_id === missed[1]);
    assert.equal(group?.kind, 'group');
    assert.equal(group?.group_id, groupId);
    assert.equal(group?.content, 'rae 1');
    assert.equal(notice.notification_type, 'maintenance');
    assert.deepEqual(notice.data, { at: '02:00' });
    assert.equal(notice.to_user_id, 'sam');
    assert.match(notice.message_id, ULID);

    // Without since, the whole past: what sam had seen comes first.
    const everything = (await syncPages(sam, 100)).flatMap((page) => page.messages.map((m) => m.message_id));
    assert.deepEqual(everything, ascending([...seenBefore, ...missed, noticeId]));
  });

  test('a second device’s own sent messages appear in sync, once', async () => {
    const samPhone = sam;
    const samLaptop = await connectWelcomed(runtime, 'sam');
    const mark = String(okData(await sendCommand(samPhone.client, 'sync', { limit: 100 })).next_since);
    const own = [
      await send(samLaptop, 'pat', 'from my laptop'),
      await sendGroup(samLaptop, 'laptop to the group'),
      await send(samLaptop, 'sam', 'note to self'),
    ];
    const items = (await syncPages(samPhone, 2, mark)).flatMap((page) => page.messages);
    assert.deepEqual(
      items.map((item) => item.message_id),
      ascending(own),
    );
    assert.deepEqual(
      items.map((item) => [item.kind, item.from_user_id, item.content]),
      [
        ['private', 'sam', 'from my laptop'],
        ['group', 'sam', 'laptop to the group'],
        ['private', 'sam', 'note to self'],
      ],
    );
  });

  test('a non-member gets none of the group’s messages and none of anyone else’s', async () => {
    const nox = await connectWelcomed(runtime, 'nox');
    const reply = okData(await sendCommand(nox.client, 'sync', {}));
    assert.deepEqual(reply, { type: 'sync', messages: [], has_more: false });
  });

  test('bad since or limit answer 1001; sync without data starts at the beginning', async () => {
    for (const data of [{ since: 'yesterday' }, { since: 12 }, { limit: 0 }, { limit: 'all' }, [1]]) {
      assertErrorReply(await sendCommand(quin.client, 'sync', data), 1001, JSON.stringify(data));
    }
    const reply = await sendCommand(quin.client, 'sync');
    const page = okData(reply) as unknown as SyncReply;
    assert.ok(page.messages.length > 0);
    assert.equal(
      page.messages.every((m) => m.from_user_id === 'quin' || m.to_user_id === 'quin'),
      true,
    );
  });
});
