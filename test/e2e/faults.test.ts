/**
 * Delivery under injected faults: the local runtime's Management API fails ~10% of posts
 * (429 / 500) with added latency and its DynamoDB throttles ~7% of requests, while users
 * on one or two devices talk in private chats and groups. Clients retry a send that got
 * an error (or no reply) with the same client_msg_id. Afterwards every stored message must
 * have reached every connection of its recipients exactly once (after dedupe by
 * message_id), no frame may arrive twice (an injected failure sends nothing), and no
 * client_msg_id may be stored twice. A separate test: an injected 410 removes exactly the
 * connection that answered it.
 * Run: npx tsx --test test/e2e/faults.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prng } from '../../local/faults.ts';
import { INTEGRATION_TIMEOUT_MS } from '../../local/functions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, sendCommand, settle, welcomed } from '../support/chat.ts';
import { pollUntil } from '../support/http.ts';
import {
  type FrameJson,
  HandshakeRefusedError,
  startTestRuntime,
  TestClient,
  usesEmbeddedDynamoDb,
} from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const FAULTS = {
  postRate: 0.1,
  postStatuses: [429, 500],
  postLatencyMs: 15,
  dynamoDbThrottleRate: 0.07,
  seed: 20260501,
} as const;

const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
/** Users with a second device. */
const TWO_DEVICES = new Set(['u1', 'u2', 'u3', 'u4']);
const MESSAGES = 240;
const IN_FLIGHT = 12;
const REPLY_TIMEOUT_MS = 8_000;
const MAX_ATTEMPTS = 6;

let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  runtime = await startTestRuntime({ env: { RATE_LIMIT_PER_MINUTE: '0' }, faults: FAULTS });
  tables = runtimeTables(runtime);
});
after(async () => {
  tables?.destroy();
  await runtime?.stop();
});

/**
 * How long a handshake may take under throttling: the gateway answers once the authorizer and
 * `$connect` have returned or run out their integration timeouts, however loaded the machine
 * (a fixed 15 s failed once on a loaded machine: "Timed out … opening").
 */
const HANDSHAKE_BOUND_MS = 2 * INTEGRATION_TIMEOUT_MS + 5_000;

/** Connects and waits for the welcome; a `$connect` that failed under throttling (500) is retried. */
async function connectResilient(userId: string): Promise<ChatConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await TestClient.connectAs(runtime, userId, { timeoutMs: HANDSHAKE_BOUND_MS });
      // The welcome is an asynchronous invocation whose posts and claims meet the same faults.
      return await welcomed(client, HANDSHAKE_BOUND_MS);
    } catch (error) {
      if (!(error instanceof HandshakeRefusedError) || attempt >= 4) throw error;
    }
  }
}

/** Sends a command until it succeeds, with the same client_msg_id every time. */
async function sendUntilAccepted(
  client: TestClient,
  cmd: string,
  data: Record<string, unknown>,
  label: string,
  errors: Map<string, number>,
): Promise<FrameJson | undefined> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const requestId = `${label}-a${attempt}`;
    client.send({ cmd, data, request_id: requestId });
    let reply: FrameJson | undefined;
    try {
      reply = (await client.waitFor((f) => f.json?.request_id === requestId, REPLY_TIMEOUT_MS)).json;
    } catch {
      errors.set('timeout', (errors.get('timeout') ?? 0) + 1);
      continue;
    }
    if (reply?.code === 0) return reply;
    const code = String(reply?.code ?? reply?.message);
    errors.set(code, (errors.get(code) ?? 0) + 1);
  }
  return undefined;
}

const PUSH_TYPES = new Set(['new_message', 'group_message']);

/** message_id → how many frames carried it, on one connection. */
function receivedCounts(client: TestClient): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frame of client.frames) {
    const data = frame.json?.data;
    if (!data || frame.json?.request_id !== undefined || !PUSH_TYPES.has(String(data.type))) continue;
    const id = String(data.message_id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('delivery under injected faults', () => {
  test('every stored message reaches every connected recipient exactly once; nothing is stored twice', async () => {
    const random = prng(7);
    const devices = new Map<string, ChatConnection[]>();
    const all: ChatConnection[] = [];
    await Promise.all(
      USERS.flatMap((userId) =>
        Array.from({ length: TWO_DEVICES.has(userId) ? 2 : 1 }, async () => {
          const connection = await connectResilient(userId);
          devices.set(userId, [...(devices.get(userId) ?? []), connection]);
          all.push(connection);
        }),
      ),
    );

    const errors = new Map<string, number>();
    const groups: { id: string; members: string[] }[] = [];
    for (const [index, members] of [
      ['u1', 'u2', 'u3', 'u4', 'u5'],
      ['u4', 'u5', 'u6', 'u7', 'u8'],
      ['u1', 'u3', 'u6', 'u8'],
    ].entries()) {
      const [creator = 'u1', ...others] = members;
      const reply = await sendUntilAccepted(
        devices.get(creator)?.[0]?.client as TestClient,
        'create_group',
        { group_name: `team ${index}`, member_ids: others },
        `group-${index}`,
        errors,
      );
      assert.ok(reply, `group ${index} was created`);
      groups.push({ id: String(reply.data?.group_id), members });
    }

    /** client_msg_id → the message_id of the accepted reply. */
    const accepted = new Map<string, string>();
    const unaccepted: string[] = [];
    let next = 0;
    const sendOne = async (index: number) => {
      const sender = all[Math.floor(random() * all.length)] as ChatConnection;
      const clientMsgId = `cm-${index}`;
      const myGroups = groups.filter((g) => g.members.includes(sender.userId));
      const toGroup = myGroups.length > 0 && random() < 0.4;
      const group = myGroups[Math.floor(random() * myGroups.length)];
      const others = USERS.filter((u) => u !== sender.userId);
      const to = others[Math.floor(random() * others.length)] as string;
      const reply =
        toGroup && group
          ? await sendUntilAccepted(
              sender.client,
              'send_group_message',
              { group_id: group.id, content: `g${index}`, client_msg_id: clientMsgId },
              clientMsgId,
              errors,
            )
          : await sendUntilAccepted(
              sender.client,
              'send_message',
              { to_user_id: to, content: `p${index}`, client_msg_id: clientMsgId },
              clientMsgId,
              errors,
            );
      if (reply) accepted.set(clientMsgId, String(reply.data?.message_id));
      else unaccepted.push(clientMsgId);
    };
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < MESSAGES) await sendOne(next++);
      }),
    );

    // What was stored, read with faults off (the test's own reads are not the subject).
    runtime.faults.configure({ postRate: 0, postLatencyMs: 0, dynamoDbThrottleRate: 0 });
    const stored = (await tables.scan('messages')).filter((m) =>
      String(m.clientMsgId ?? '').startsWith('cm-'),
    );
    const byClientMsgId = new Map<string, string[]>();
    for (const m of stored) {
      const key = String(m.clientMsgId);
      byClientMsgId.set(key, [...(byClientMsgId.get(key) ?? []), String(m.messageId)]);
    }
    const storedTwice = [...byClientMsgId].filter(([, ids]) => ids.length > 1);

    /** connection → the message ids it must receive. */
    const expected = new Map<ChatConnection, Set<string>>(all.map((c) => [c, new Set()]));
    for (const m of stored) {
      const recipients =
        m.kind === 'private'
          ? [String(m.toUserId)]
          : (groups.find((g) => g.id === m.groupId)?.members ?? []).filter((u) => u !== m.fromUserId);
      for (const userId of recipients) {
        for (const device of devices.get(userId) ?? []) expected.get(device)?.add(String(m.messageId));
      }
    }
    const missing = () =>
      all.flatMap((c) => {
        const got = receivedCounts(c.client);
        return [...(expected.get(c) ?? [])]
          .filter((id) => !got.has(id))
          .map((id) => `${c.connectionId}:${id}`);
      });
    // Pushes still in retry backoff may land after the last reply: wait for them, bounded.
    const deadline = Date.now() + 10_000;
    while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await Promise.all(all.map((c) => settle(c.client)));

    let rawDuplicates = 0;
    const unexpected: string[] = [];
    for (const c of all) {
      for (const [id, count] of receivedCounts(c.client)) {
        rawDuplicates += count - 1;
        if (!expected.get(c)?.has(id)) unexpected.push(`${c.connectionId}:${id}`);
      }
    }
    const stats = runtime.faults.stats();
    const summary = {
      messages: MESSAGES,
      accepted: accepted.size,
      unaccepted: unaccepted.length,
      stored: stored.length,
      errorsBeforeRetry: Object.fromEntries(errors),
      injected: stats,
    };
    process.stderr.write(`faults.test summary: ${JSON.stringify(summary)}\n`);

    assert.ok((stats.postFaults[429] ?? 0) > 0 && (stats.postFaults[500] ?? 0) > 0, 'posts failed');
    const throttlesInjected = usesEmbeddedDynamoDb(
      runtime,
      'DynamoDB throttles were injected',
      'the runtime injects them on its embedded endpoint; the handlers call the external one directly',
    );
    if (throttlesInjected) assert.ok(stats.dynamoDbThrottles > 0, 'DynamoDB throttled');
    assert.deepEqual(storedTwice, [], 'no client_msg_id is stored twice');
    assert.deepEqual(unaccepted, [], 'every send was accepted within its retries');
    for (const [clientMsgId, messageId] of accepted) {
      assert.deepEqual(
        byClientMsgId.get(clientMsgId),
        [messageId],
        `${clientMsgId}: the reply names the stored message`,
      );
    }
    assert.equal(stored.length, MESSAGES, 'every message is stored once');
    assert.deepEqual(missing(), [], 'every stored message reached every connected recipient');
    assert.deepEqual(unexpected, [], 'nothing arrived that was not stored for that connection');
    assert.equal(rawDuplicates, 0, 'no frame was delivered twice (an injected failure sends nothing)');

    await Promise.all(all.map((c) => c.client.close()));
  });

  test('an injected 410 removes exactly the connection that answered it (once past its handshake window)', async () => {
    runtime.faults.configure({
      postRate: 0,
      postLatencyMs: 0,
      dynamoDbThrottleRate: 0,
      postTargets: undefined,
    });
    const sender = await connectWelcomed(runtime, 'g-sender');
    const victim = await connectWelcomed(runtime, 'g-recipient');
    const bystander = await connectWelcomed(runtime, 'g-recipient');
    runtime.faults.configure({
      postRate: 1,
      postStatuses: [410],
      postMaxConsecutive: Number.POSITIVE_INFINITY,
      postTargets: new Set([victim.connectionId]),
    });
    try {
      // A young connection answering 410 may still be in its handshake: it is kept.
      const first = await sendCommand(sender.client, 'send_message', {
        to_user_id: 'g-recipient',
        content: 'a',
      });
      assert.equal(first.data?.delivered, 1, 'only the bystander accepted the push');
      assert.ok(await tables.connectionRow(victim.connectionId), 'a young connection is kept');

      // Connected an hour ago and really gone (dropped without $disconnect; an injected 410
      // alone is not enough: the sweep function checks with GetConnection before it closes):
      // the next 410 removes it, and only it.
      await tables.backdateConnection(victim.connectionId, 3_600_000);
      assert.equal(runtime.dropWithoutDisconnect(victim.connectionId), true);
      await victim.client.waitForClose();
      const second = await sendCommand(sender.client, 'send_message', {
        to_user_id: 'g-recipient',
        content: 'b',
      });
      assert.equal(second.data?.delivered, 1);
      // The 410 went to the sweep function, which closes it after the reply.
      await pollUntil(
        () => tables.presenceOf('g-recipient'),
        (ids) => JSON.stringify(ids) === JSON.stringify([bystander.connectionId]),
        'the 410 connection out of presence',
      );
      assert.equal(
        await tables.connectionRow(victim.connectionId),
        undefined,
        'the 410 connection is removed',
      );
      assert.ok(await tables.connectionRow(bystander.connectionId), 'the other device is untouched');
      assert.ok(await tables.connectionRow(sender.connectionId), 'the sender is untouched');
      assert.ok((runtime.faults.stats().postFaults[410] ?? 0) >= 1);
    } finally {
      runtime.faults.configure({ postRate: 0, postTargets: undefined });
      await Promise.all([sender, bystander].map((c) => c.client.close()));
    }
  });
});
