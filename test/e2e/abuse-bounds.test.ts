/**
 * One ordinary user cannot make the local runtime unavailable (issue 15, red-team finding 2):
 * - a connection pipelining thousands of `history` frames without reading gets 1029
 *   refusals beyond 10 commands in flight (their handlers never run), while another user's
 *   handshake and a 1:1 message still complete;
 * - reads are rate limited per user (READ_RATE_LIMIT_PER_MINUTE), over WebSocket and HTTP;
 * - never-reading clients under broadcasts are closed (1013) once their outbound buffer
 *   passes its bound, while a reading client keeps getting every broadcast.
 * Responsiveness is shown by frames that arrive (generous timeouts), never by timing; the
 * bounds by the gateway's counts (handlers run, frames refused, peak in flight). The read
 * window is the server's UTC minute, dated by pongs around the reads, never by a clock here.
 * Run: npx tsx --test test/e2e/abuse-bounds.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { LocalRuntime } from '../../local/runtime.ts';
import { DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION } from '../../local/websocket-gateway.ts';
import { connectWelcomed, disconnect, sendCommand } from '../support/chat.ts';
import { callApi } from '../support/http.ts';
import { type ReceivedFrame, startTestRuntime, type TestClient, tokenFor } from '../support/local-runtime.ts';

const READ_LIMIT = 20;
const PIPELINED = 5_000;
const BROADCAST_CHARS = 30_000;
const GENEROUS_MS = 60_000;
/** A private conversation of `pipeliner`: theirs to read, empty or not. */
const OWN_CHAT = 'private_heavy-reader_pipeliner';

let runtime: LocalRuntime;

before(async () => {
  runtime = await startTestRuntime({
    env: { READ_RATE_LIMIT_PER_MINUTE: String(READ_LIMIT), MAX_CONTENT_LENGTH: String(BROADCAST_CHARS) },
  });
});
after(() => runtime.stop());

/**
 * The read window is the server's UTC minute: the minute of a pong's `time` on `client`.
 * Pongs before and after a sequence of reads on one connection bracket them, so the
 * server's own clock says how many windows the reads could span (no clock here).
 */
async function serverMinute(client: TestClient): Promise<number> {
  const pong = await sendCommand(client, 'ping');
  assert.equal(pong.data?.type, 'pong');
  return Math.floor(Date.parse(String(pong.data?.time)) / 60_000);
}

/** Frames that answer one of `ids` (by request_id). */
function answersTo(client: TestClient, ids: ReadonlySet<string>): ReceivedFrame[] {
  return client.frames.filter((frame) => ids.has(String(frame.json?.request_id)));
}

test(`a connection pipelining ${PIPELINED} history frames without reading cannot starve other users`, async () => {
  const attacker = await connectWelcomed(runtime, 'pipeliner');
  const firstMinute = await serverMinute(attacker.client);
  const before = runtime.webSocketStats();
  attacker.client.socket.pause();
  const ids = new Set<string>();
  for (let i = 0; i < PIPELINED; i++) {
    const requestId = `p${i}`;
    ids.add(requestId);
    attacker.client.send({ cmd: 'history', data: { room_id: OWN_CHAT, limit: 1 }, request_id: requestId });
  }

  // Others are served meanwhile: a fresh handshake, and a 1:1 message that arrives.
  const alice = await connectWelcomed(runtime, 'bystander-alice', { timeoutMs: GENEROUS_MS });
  const bob = await connectWelcomed(runtime, 'bystander-bob', { timeoutMs: GENEROUS_MS });
  const sent = await sendCommand(alice.client, 'send_message', {
    to_user_id: 'bystander-bob',
    content: 'still here',
  });
  assert.equal(sent.code, 0, JSON.stringify(sent));
  const push = await bob.client.waitForType('new_message', GENEROUS_MS);
  assert.equal(push.json?.data?.content, 'still here');

  // The attacker gets one answer per frame: a few served, the rest refused without a handler run.
  attacker.client.socket.resume();
  await attacker.client.waitFor(
    () => answersTo(attacker.client, ids).length === PIPELINED,
    GENEROUS_MS,
    'an answer to every frame',
  );
  const answers = answersTo(attacker.client, ids);
  const served = answers.filter((frame) => frame.json?.code === 0);
  const inFlightRefusals = answers.filter((frame) =>
    /too many commands in flight/.test(String(frame.json?.message)),
  );
  const readRefusals = answers.filter((frame) => /reads per minute/.test(String(frame.json?.message)));
  assert.equal(served.length + inFlightRefusals.length + readRefusals.length, PIPELINED);
  for (const frame of [...inFlightRefusals, ...readRefusals]) assert.equal(frame.json?.code, 1029);
  // Every read ran between the two pongs: at most READ_LIMIT per minute they span.
  const windows = (await serverMinute(attacker.client)) - firstMinute + 1;
  assert.ok(
    served.length <= READ_LIMIT * windows,
    `${served.length} history pages served in ${windows} minute(s)`,
  );
  assert.ok(inFlightRefusals.length > 0, 'frames beyond the in-flight bound are refused');

  const stats = runtime.webSocketStats();
  const frames = PIPELINED + 2; // alice's send_message, the closing ping
  assert.equal(
    stats.commandsRun - before.commandsRun + stats.commandsRefused - before.commandsRefused,
    frames,
  );
  assert.equal(stats.commandsRefused - before.commandsRefused, inFlightRefusals.length);
  assert.ok(
    stats.peakInFlight <= DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
    `peak in flight ${stats.peakInFlight}`,
  );
  // Served and read-limited frames are the handler runs: never the whole pipeline.
  assert.equal(stats.commandsRun - before.commandsRun, served.length + readRefusals.length + 2);
  await disconnect(runtime, attacker, alice, bob);
});

/**
 * One user's reads up to READ_LIMIT and past it, every answer recorded, then checked. False
 * (nothing asserted) when the server's pongs around them fall in different minutes: the
 * window started over inside, so the caller tries again with a fresh user.
 */
async function readsPastTheLimit(readerId: string): Promise<boolean> {
  const reader = await connectWelcomed(runtime, readerId);
  const token = await tokenFor(runtime, readerId);
  const ownChat = `private_${readerId}_pipeliner`;
  try {
    const created = await sendCommand(reader.client, 'create_group', {
      group_name: 'g',
      member_ids: ['zed'],
    });
    assert.equal(created.code, 0, JSON.stringify(created));
    const groupId = String(created.data?.group_id);
    const answers: [string, unknown][] = [];
    const ws = async (cmd: string, data: Record<string, unknown>) => {
      const reply = await sendCommand(reader.client, cmd, data);
      answers.push([cmd, reply.code]);
      return reply;
    };
    const http = async (path: string) => {
      const { status, body } = await callApi(runtime, 'GET', path, { token });
      answers.push([`GET ${path}`, `${status} ${body.code}`]);
    };
    const history = `/api/ws/messages?room_id=${encodeURIComponent(ownChat)}`;
    const allowed = (): [string, unknown][] => [
      ...Array.from({ length: READ_LIMIT - 6 }, (): [string, unknown] => ['history', 0]),
      ['sync', 0],
      [`GET ${history}`, '200 0'],
      // Group reads count in the same window; a malformed one (1001) does not.
      ['list_groups', 1001],
      ['list_groups', 0],
      ['group_info', 0],
      ['GET /api/ws/groups', '200 0'],
      [`GET /api/ws/groups/${groupId}`, '200 0'],
    ];
    const refused: [string, unknown][] = [
      ['history', 1029],
      ['sync', 1029],
      ['list_conversations', 1029],
      [`GET ${history}`, '429 1029'],
      ['GET /api/ws/conversations', '429 1029'],
      ['list_groups', 1029],
      ['group_info', 1029],
      ['GET /api/ws/groups', '429 1029'],
      [`GET /api/ws/groups/${groupId}`, '429 1029'],
    ];

    const firstMinute = await serverMinute(reader.client);
    for (let i = 0; i < READ_LIMIT - 6; i++) await ws('history', { room_id: ownChat });
    await ws('sync', {});
    await http(history);
    await ws('list_groups', { limit: 0 });
    await ws('list_groups', {});
    await ws('group_info', { group_id: groupId });
    await http('/api/ws/groups');
    await http(`/api/ws/groups/${groupId}`);
    const firstRefused = await ws('history', { room_id: ownChat });
    await ws('sync', {});
    await ws('list_conversations', {});
    await http(history);
    await http('/api/ws/conversations');
    await ws('list_groups', {});
    await ws('group_info', { group_id: groupId });
    await http('/api/ws/groups');
    await http(`/api/ws/groups/${groupId}`);
    // The limit only limits reads: the closing ping is answered (and dates the reads).
    if ((await serverMinute(reader.client)) !== firstMinute) return false;

    assert.deepEqual(answers, [...allowed(), ...refused]);
    assert.match(
      String(firstRefused.message),
      new RegExp(`at most ${READ_LIMIT} reads per minute; retry after \\d+ s`),
    );
    return true;
  } finally {
    await disconnect(runtime, reader);
  }
}

test(`reads beyond READ_RATE_LIMIT_PER_MINUTE (${READ_LIMIT}) answer 1029 over WebSocket and HTTP; other users still read`, async () => {
  const other = await connectWelcomed(runtime, 'light-reader');
  let checked = false;
  for (let attempt = 0; attempt < 3 && !checked; attempt++) {
    checked = await readsPastTheLimit(`heavy-reader-${attempt}`);
  }
  assert.ok(checked, 'a minute boundary fell inside each of 3 tries');

  // The limit is per user.
  const otherChat = await sendCommand(other.client, 'history', { room_id: 'private_light-reader_zed' });
  assert.equal(otherChat.code, 0, JSON.stringify(otherChat));
  await disconnect(runtime, other);
});

test('never-reading clients under broadcasts are closed; a reading client gets every broadcast', async () => {
  const admin = await connectWelcomed(runtime, 'announcer', { role: 'admin' });
  const reader = await connectWelcomed(runtime, 'keeps-reading');
  const sleepers = await Promise.all(['sleeper-1', 'sleeper-2'].map((id) => connectWelcomed(runtime, id)));
  for (const sleeper of sleepers) sleeper.client.socket.pause();
  const before = runtime.webSocketStats();
  const content = 'x'.repeat(BROADCAST_CHARS);

  // 30 KB a broadcast; at most 20 MB a sleeper if nobody were ever closed.
  let broadcasts = 0;
  let audience = 0;
  while (runtime.webSocketStats().slowConsumersClosed - before.slowConsumersClosed < sleepers.length) {
    assert.ok(broadcasts < 700, `sleepers still open after ${broadcasts} broadcasts`);
    const reply = await sendCommand(admin.client, 'broadcast', { message: content }, `b${broadcasts}`);
    assert.equal(reply.code, 0, JSON.stringify(reply).slice(0, 300));
    if (broadcasts === 0) audience = Number(reply.data?.sent_count);
    broadcasts++;
  }
  // The reading client got every one of them and is still open.
  await reader.client.waitFor(
    () =>
      reader.client.frames.filter((frame) => frame.json?.data?.type === 'broadcast').length === broadcasts,
    GENEROUS_MS,
    `${broadcasts} broadcasts`,
  );
  assert.equal((await sendCommand(reader.client, 'ping')).data?.type, 'pong');

  // The sleepers are gone: later broadcasts do not reach them, and their sockets end.
  const after = await sendCommand(admin.client, 'broadcast', { message: 'after the sleepers' });
  assert.equal(after.data?.sent_count, audience - sleepers.length, JSON.stringify(after));
  console.log(`sleepers closed after ${broadcasts} broadcasts of ${BROADCAST_CHARS} characters`);
  for (const sleeper of sleepers) {
    sleeper.client.socket.resume();
    await sleeper.client.waitForClose(GENEROUS_MS);
  }
  await disconnect(runtime, admin, reader);
});
