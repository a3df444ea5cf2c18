/**
 * Presence pushes (the registry's first-open / last-close hook) and single-session kicks,
 * against the real DynamoDB stores (in-memory dynalite) and a recording notifier.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import { type ConnectionCloser, SingleSession } from '../../functions/core/connections/sessions.ts';
import { PresenceNotifier } from '../../functions/core/presence/presence-notifier.ts';
import { newMessageId } from '../../functions/core/shared/ids.ts';
import type { UserConnections } from '../../functions/core/shared/ports.ts';
import type { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import type { DynamoGroupStore } from '../../functions/stores/groups.ts';
import type { DynamoMessageStore } from '../../functions/stores/messages.ts';
import type { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import {
  ConnectionOpener,
  identity,
  privateMessage,
  startTestStores,
  type TestStores,
} from '../support/stores.ts';

class RecordingCloser implements ConnectionCloser {
  readonly closed: string[] = [];
  async close(connectionId: string): Promise<boolean> {
    this.closed.push(connectionId);
    return true;
  }
}

let stores: TestStores;
let notifier: RecordingNotifier;
let presence: DynamoPresenceStore;
let connections: DynamoConnectionStore;
let messages: DynamoMessageStore;
let groups: DynamoGroupStore;
/** Pushes nothing: what 410 cleanups use. */
let plain: ConnectionRegistry;
/** Pushes presence: what `$connect` and `$disconnect` use. */
let hooked: ConnectionRegistry;
/** Opens connections a minute ago: past the handshake window, so a 410 removes them. */
let aMinuteAgo: ConnectionRegistry;
let presenceNotifier: PresenceNotifier;
const opener = new ConnectionOpener('ps-conn');
let clock = Date.parse('2026-04-01T09:00:00.000Z');
const NOW = '2026-04-02T12:00:00.000Z';

const open = (userId: string, registry = hooked) => opener.open(registry, userId);

/** Who is online on which connections (the token expiries beside them left out). */
const idsOf = (users: readonly UserConnections[]) =>
  users.map(({ userId, connectionIds }) => ({ userId, connectionIds }));

async function sendPrivate(from: string, to: string): Promise<void> {
  clock += 1000;
  await messages.put(privateMessage(from, to, new Date(clock), { content: 'hey' }));
}

async function postInGroup(from: string, groupId: string): Promise<void> {
  clock += 1000;
  const at = new Date(clock);
  await messages.put({
    roomId: groupId,
    messageId: newMessageId(at),
    kind: 'group',
    fromUserId: from,
    groupId,
    content: 'hi all',
    messageType: 1,
    createdAt: at.toISOString(),
  });
}

const presencePush = (userId: string, status: string) => ({
  type: 'presence',
  user_id: userId,
  status,
  time: NOW,
});

before(async () => {
  stores = await startTestStores();
  ({ presence, connections, messages, groups } = stores);
  notifier = new RecordingNotifier();
  plain = stores.registry();
  aMinuteAgo = stores.registry({ now: () => new Date(Date.now() - 60_000) });
  presenceNotifier = new PresenceNotifier({
    notifier,
    registry: plain,
    fanOutConcurrency: 4,
    presence,
    conversations: stores.conversations,
    now: () => new Date(NOW),
  });
  hooked = stores.registry({
    onPresenceChange: async (userId, status) => {
      await presenceNotifier.notify(userId, status);
    },
  });
});

after(async () => {
  await stores.stop();
});

describe('presence peers', () => {
  it('are whom the user wrote to and the members of the groups they posted in, never the user', async () => {
    await sendPrivate('pa', 'pb');
    await sendPrivate('pc', 'pa'); // unsolicited: pc does not hear of pa
    await sendPrivate('pa', 'pa');
    await sendPrivate('px', 'py');
    await groups.create({
      groupId: 'group_ps1',
      groupName: 'g',
      createdBy: 'pd',
      createdAt: new Date(clock).toISOString(),
      memberIds: ['pd', 'pa', 'pe', 'pb'],
    });
    // Being in the group is not enough: pa posted in it, pe did not.
    await postInGroup('pa', 'group_ps1');
    assert.deepEqual((await presenceNotifier.peersOf('pa')).sort(), ['pb', 'pd', 'pe']);
    assert.deepEqual(await presenceNotifier.peersOf('pe'), []);
    assert.deepEqual(await presenceNotifier.peersOf('pc'), ['pa']);
    assert.deepEqual(await presenceNotifier.peersOf('nobody'), []);
  });

  it('are bounded', async () => {
    const bounded = new PresenceNotifier({
      notifier,
      registry: plain,
      fanOutConcurrency: 1,
      presence,
      conversations: stores.conversations,
      limits: { recentMessages: 1, maxGroups: 0, maxPeers: 10 },
    });
    await sendPrivate('qa', 'qb');
    await sendPrivate('qa', 'qc');
    await sendPrivate('qd', 'qa');
    // Only the newest sent message: qc (what qd sent counts for nothing).
    assert.deepEqual(await bounded.peersOf('qa'), ['qc']);
  });
});

describe('presence pushes', () => {
  it('tell every online peer connection once per transition, not once per device', async () => {
    await sendPrivate('ra', 'rb');
    const [peerPhone, peerLaptop] = [await open('rb'), await open('rb')];
    const bystander = await open('rz');

    const first = await open('ra');
    assert.deepEqual(notifier.take(peerPhone), [presencePush('ra', 'online')]);
    assert.deepEqual(notifier.take(peerLaptop), [presencePush('ra', 'online')]);
    assert.deepEqual(notifier.take(first), [], 'not the connecting connection');

    const second = await open('ra');
    await hooked.close(first);
    assert.deepEqual([notifier.take(peerPhone), notifier.take(peerLaptop)], [[], []], 'ra stayed online');

    await hooked.close(second);
    await hooked.close(second); // a repeated $disconnect pushes nothing more
    assert.deepEqual(notifier.take(peerPhone), [presencePush('ra', 'offline')]);
    assert.deepEqual(notifier.take(peerLaptop), [presencePush('ra', 'offline')]);
    assert.deepEqual(notifier.take(bystander), [], 'not someone who is no peer');
  });

  it('remove a peer connection that answers 410 without pushing about that peer', async () => {
    await sendPrivate('sa', 'sb');
    await sendPrivate('sb', 'sc');
    const sbGone = await open('sb', aMinuteAgo);
    const sc = await open('sc');
    notifier.take(sc);
    notifier.gone.add(sbGone);
    await open('sa');
    assert.deepEqual(await presence.connectionsOf(['sb']), [], 'the gone connection was removed');
    assert.deepEqual(notifier.take(sc), [], 'a 410 cleanup announces no offline (documented)');
  });
});

describe('single session', () => {
  const closer = new RecordingCloser();
  const session = () =>
    new SingleSession({ presence, registry: plain, notifier, closer, now: () => new Date(NOW) });

  it('kicks and closes the user’s older connections, removing them from presence', async () => {
    const old1 = await open('ta', plain);
    const old2 = await open('ta', plain);
    const other = await open('tb', plain);
    const newest = opener.nextId();
    const record = await plain.open(newest, identity('ta'));

    const { connectionIds } = await session().kickOlder('ta', newest, record.connectedAt);
    assert.deepEqual(connectionIds.sort(), [old1, old2].sort());
    for (const id of [old1, old2]) {
      assert.deepEqual(notifier.take(id), [{ type: 'kicked', reason: 'signed_in_elsewhere', time: NOW }]);
      assert.equal(await connections.get(id), undefined);
    }
    assert.deepEqual(closer.closed.sort(), [old1, old2].sort());
    assert.deepEqual(idsOf(await presence.connectionsOf(['ta'])), [
      { userId: 'ta', connectionIds: [newest] },
    ]);
    assert.deepEqual([notifier.take(newest), notifier.take(other)], [[], []]);
  });

  it('leaves a connection that opened later alone, so one of two simultaneous logins survives', async () => {
    closer.closed.length = 0;
    const earlier = await open('ua', plain);
    const earlierRow = await connections.get(earlier);
    const later = await open('ua', plain);
    assert.ok(earlierRow);
    // The earlier connection's $connect runs its kick after the later one registered.
    const { connectionIds } = await session().kickOlder('ua', earlier, earlierRow.connectedAt);
    assert.deepEqual(connectionIds, []);
    assert.deepEqual(closer.closed, []);
    const kicked = await session().kickOlder('ua', later, (await connections.get(later))?.connectedAt ?? '');
    assert.deepEqual(kicked.connectionIds, [earlier]);
  });

  it('still closes and removes a connection whose kicked push answers 410', async () => {
    closer.closed.length = 0;
    const stale = await open('va', plain);
    notifier.gone.add(stale);
    const fresh = opener.nextId();
    const record = await plain.open(fresh, identity('va'));
    await session().kickOlder('va', fresh, record.connectedAt);
    assert.deepEqual(closer.closed, [stale]);
    assert.deepEqual(idsOf(await presence.connectionsOf(['va'])), [{ userId: 'va', connectionIds: [fresh] }]);
  });
});
