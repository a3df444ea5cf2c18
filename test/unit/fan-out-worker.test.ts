/**
 * Large audiences, worker side, against the real DynamoDB stores (in-memory dynalite) and
 * a notifier that records posts: what a fan-out worker posts for a chunk or a broadcast
 * shard or a lane of shards, 410 cleanup, 429 retries and failures, the rate ceiling (and
 * no waiting below it), claims against duplicate events, continuations when time runs
 * short, and the services handing large audiences to workers (group messages, rooms,
 * broadcast) with every connection reached once.
 * Run: npx tsx --test test/unit/fan-out-worker.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ConnectionRegistry } from '../../functions/core/connections/connections.ts';
import {
  type ChunkJob,
  FanOutDispatcher,
  type FanOutInvoker,
  type FanOutJob,
  type ShardJob,
} from '../../functions/core/fan-out/fan-out-dispatch.ts';
import {
  type FanOutJobReport,
  type FanOutWorkerDependencies,
  isFanOutJob,
  Pacer,
  runFanOutJob,
} from '../../functions/core/fan-out/fan-out-worker.ts';
import { ChatService } from '../../functions/core/messaging/chat-service.ts';
import { RoomService } from '../../functions/core/rooms/rooms.ts';
import type { UserConnections } from '../../functions/core/shared/ports.ts';
import { DynamoGuardStore } from '../../functions/stores/guards.ts';
import { shardOf } from '../../functions/stores/presence.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';
import { ConnectionOpener, identity, startTestStores, type TestStores } from '../support/stores.ts';
import { VirtualClock } from '../support/virtual-clock.ts';

const CALLBACK = 'https://api.example/prod';
const FRAME = JSON.stringify({ code: 0, message: 'success', data: { type: 'broadcast', message: 'hi' } });
const plenty = { remainingMs: () => 60_000 };

let stores: TestStores;
let registry: ConnectionRegistry;
let notifier: RecordingNotifier;
const opener = new ConnectionOpener('fw');

before(async () => {
  stores = await startTestStores();
  // Connections opened here may be cleaned up by a 410 at once (no handshake window).
  registry = stores.registry({ handshakeWindowMs: 0 });
});
after(() => stores.stop());
beforeEach(() => {
  notifier = new RecordingNotifier();
});

/** Records jobs handed on; `refuse` makes Lambda refuse them. */
class RecordingInvoker implements FanOutInvoker {
  readonly jobs: FanOutJob[] = [];
  refuse = false;
  async invoke(job: FanOutJob): Promise<void> {
    if (this.refuse) throw new Error('TooManyRequestsException');
    this.jobs.push(structuredClone(job));
  }
}

class MemoryClaims {
  readonly taken = new Set<string>();
  async claim(key: string): Promise<boolean> {
    if (this.taken.has(key)) return false;
    this.taken.add(key);
    return true;
  }
}

function workerDeps(overrides: Partial<FanOutWorkerDependencies> = {}): FanOutWorkerDependencies {
  return {
    notifier,
    registry,
    rooms: stores.rooms,
    presence: stores.presence,
    invoker: new RecordingInvoker(),
    claims: new MemoryClaims(),
    fanOutConcurrency: 4,
    ...overrides,
  };
}

function chunkJob(recipients: [string, string][], extra: Partial<ChunkJob> = {}): ChunkJob {
  return {
    kind: 'chunk',
    id: `job-${Math.random().toString(36).slice(2)}`,
    part: 0,
    callbackUrl: CALLBACK,
    frame: FRAME,
    ratePerSecond: 10_000,
    startAt: 0, // due already, on any clock
    recipients,
    ...extra,
  };
}

/** Opens `count` connections of fresh users; returns them as packed recipients. */
async function openConnections(count: number, prefix: string): Promise<[string, string][]> {
  const opened: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const userId = `${prefix}-${i}`;
    opened.push([await opener.open(registry, userId), userId]);
  }
  return opened;
}

describe('Pacer', () => {
  it('spaces calls evenly, also when they come at once, and banks no idle time', async () => {
    const clock = new VirtualClock(1_000);
    const pacer = new Pacer(10, clock);
    await Promise.all([pacer.wait(), pacer.wait(), pacer.wait(), pacer.wait()]);
    assert.deepEqual(clock.requested, [1_010, 1_020, 1_030], 'the first goes at once');
    // Idle for a while: the next call goes at once, the one after it 10 ms later.
    await clock.sleepUntil(5_000);
    clock.requested.length = 0;
    await Promise.all([pacer.wait(), pacer.wait()]);
    assert.deepEqual(clock.requested, [5_010]);
  });
});

describe('chunk jobs', () => {
  it('posts the frame as is to every recipient once', async () => {
    const recipients = await openConnections(6, 'chunk-all');
    const report = await runFanOutJob(workerDeps(), chunkJob(recipients), plenty);
    assert.equal(report.outcome, 'done');
    assert.deepEqual(
      { delivered: report.delivered, gone: report.gone, failed: report.failed },
      {
        delivered: 6,
        gone: 0,
        failed: 0,
      },
    );
    for (const [connectionId] of recipients) {
      assert.deepEqual(notifier.received(connectionId), [JSON.parse(FRAME)]);
    }
  });

  it('a 410 removes that connection (row and presence); 429s are retried; a 403 is reported, never thrown', async () => {
    const [gone, throttled, forbidden, fine] = await openConnections(4, 'chunk-faults');
    notifier.gone.add(gone?.[0] as string);
    notifier.scripted.set(throttled?.[0] as string, ['retryable', 'retryable']);
    notifier.failing.set(forbidden?.[0] as string, 'permanent');
    const report = await runFanOutJob(
      workerDeps(),
      chunkJob([gone, throttled, forbidden, fine] as [string, string][]),
      plenty,
    );
    assert.deepEqual(
      { outcome: report.outcome, delivered: report.delivered, gone: report.gone, failed: report.failed },
      { outcome: 'done', delivered: 2, gone: 1, failed: 1 },
    );
    assert.equal(notifier.attempts.filter((id) => id === throttled?.[0]).length, 3);
    assert.equal(await stores.connections.get(gone?.[0] as string), undefined, 'the gone row is deleted');
    assert.deepEqual(await stores.presence.connectionsOf([gone?.[1] as string]), []);
    assert.ok(await stores.connections.get(fine?.[0] as string), 'the others stay');
  });

  it("a room fan-out's 410 also removes the room's member row", async () => {
    const [[connectionId, userId]] = (await openConnections(1, 'chunk-room')) as [[string, string]];
    const now = Math.floor(Date.now() / 1000);
    await stores.connections.addRoom(connectionId, 'big-room', 50);
    await stores.rooms.join({
      roomId: 'big-room',
      connectionId,
      userId,
      joinedAt: new Date().toISOString(),
      expiresAt: now + 3600,
    });
    // The connection row is already gone: only the room cleanup can remove the member row.
    await stores.connections.delete(connectionId);
    notifier.gone.add(connectionId);
    const report = await runFanOutJob(
      workerDeps(),
      chunkJob([[connectionId, userId]], { cleanup: { leaveRoom: 'big-room' }, name: 'room' }),
      plenty,
    );
    assert.equal(report.gone, 1);
    assert.equal(await stores.rooms.member('big-room', connectionId), undefined);
  });

  it('posts once when Lambda delivers the same event twice (claims in the guards table)', async () => {
    const guards = new DynamoGuardStore(stores.dynamo.client, stores.dynamo.tables.guards);
    const claims = {
      claim: (key: string) => guards.countHit(`fanout#${key}`, 1, Math.floor(Date.now() / 1000) + 60),
    };
    const recipients = await openConnections(3, 'chunk-twice');
    const job = chunkJob(recipients);
    const reports = await Promise.all([
      runFanOutJob(workerDeps({ claims }), job, plenty),
      runFanOutJob(workerDeps({ claims }), structuredClone(job), plenty),
    ]);
    assert.deepEqual(reports.map((r) => r.outcome).sort(), ['done', 'duplicate']);
    for (const [connectionId] of recipients) assert.equal(notifier.received(connectionId).length, 1);
    // Another part of the same job is another claim.
    const next = await runFanOutJob(workerDeps({ claims }), { ...job, part: 1 }, plenty);
    assert.equal(next.outcome, 'done');
  });

  it('posts anyway when the claim store fails (a possible duplicate beats a certain loss)', async () => {
    const recipients = await openConnections(2, 'chunk-claim-down');
    const logged: string[] = [];
    const report = await runFanOutJob(
      workerDeps({
        claims: { claim: () => Promise.reject(new Error('ProvisionedThroughputExceeded')) },
        log: (message) => logged.push(message),
      }),
      chunkJob(recipients),
      plenty,
    );
    assert.equal(report.delivered, 2);
    assert.deepEqual(logged, ['fan-out job claim failed; posting anyway']);
  });

  it('starts at once, even with a slot ahead from an older dispatcher, and never posts above its ceiling', async () => {
    const recipients = await openConnections(20, 'chunk-paced');
    const clock = new VirtualClock();
    const start = clock.now();
    const postedAt: number[] = [];
    const timing = {
      post: async (id: string, frame: string) => {
        postedAt.push(clock.now());
        await notifier.post(id, frame);
      },
    };
    await runFanOutJob(
      workerDeps({ notifier: timing, clock }),
      chunkJob(recipients, { startAt: start + 3_600_000, ratePerSecond: 100 }),
      plenty,
    );
    assert.equal(postedAt.length, 20);
    // No sleep until the slot; posts that return at once would outrun 100/s, so the ceiling
    // gives each after the first (due at once) a turn 10 ms apart.
    assert.deepEqual(
      clock.requested,
      Array.from({ length: 19 }, (_, i) => start + (i + 1) * 10),
    );
  });

  it('waits for nothing while its posts are no faster than its ceiling', async () => {
    const clock = new VirtualClock();
    // Each post takes 30 ms; the ceiling allows one every 20 ms (50/s).
    const slow = {
      post: async (id: string, frame: string) => {
        clock.advance(30);
        await notifier.post(id, frame);
      },
    };
    const recipients = Array.from({ length: 25 }, (_, i): [string, string] => [`slow-${i}`, `u${i}`]);
    const report = await runFanOutJob(
      workerDeps({ notifier: slow, clock, fanOutConcurrency: 1 }),
      chunkJob(recipients, { ratePerSecond: 50 }),
      plenty,
    );
    assert.equal(report.delivered, 25);
    assert.deepEqual(clock.requested, [], 'no sleep was asked for');
  });

  it('judges the time left by the speed it sees, not only by its ceiling', async () => {
    const clock = new VirtualClock();
    const start = clock.now();
    // Posts take 1 s each; the ceiling (2/s) alone would promise 0.5 s.
    const slow = {
      post: async (id: string, frame: string) => {
        clock.advance(1_000);
        await notifier.post(id, frame);
      },
    };
    const invoker = new RecordingInvoker();
    const recipients = Array.from({ length: 30 }, (_, i): [string, string] => [`judged-${i}`, `u${i}`]);
    const report = await runFanOutJob(
      workerDeps({ notifier: slow, clock, invoker, fanOutConcurrency: 1 }),
      chunkJob(recipients, { ratePerSecond: 2 }), // slices of 10 (5 s at 2/s)
      { remainingMs: () => 30_000 - (clock.now() - start) },
    );
    // After two slices (20 s), 10 s are left, 5 s kept back: 10 more posts need 10 s at the
    // speed seen, so they go to a continuation (at the ceiling's 0.5 s they would have "fitted").
    assert.deepEqual(
      { outcome: report.outcome, delivered: report.delivered, remaining: report.remaining },
      { outcome: 'handed-off', delivered: 20, remaining: 10 },
    );
    assert.deepEqual((invoker.jobs[0] as ChunkJob).recipients, recipients.slice(20));
  });

  it('hands the rest to a continuation when its time runs short, and the continuation posts it', async () => {
    const recipients = await openConnections(120, 'chunk-continue');
    const invoker = new RecordingInvoker();
    // Time runs with the posts: 1 s per post, 30 s to start with, 5 s kept back.
    const budget = { remainingMs: () => 30_000 - notifier.attempts.length * 1_000 };
    const deps = workerDeps({ invoker, fanOutConcurrency: 1, clock: new VirtualClock() });
    const job = chunkJob(recipients, { ratePerSecond: 10 }); // slices of 50 (5 s at 10/s)
    const first = await runFanOutJob(deps, job, budget);
    assert.deepEqual(
      { outcome: first.outcome, delivered: first.delivered, remaining: first.remaining },
      {
        outcome: 'handed-off',
        delivered: 50,
        remaining: 70,
      },
    );
    const [continuation] = invoker.jobs as [ChunkJob];
    assert.equal(invoker.jobs.length, 1);
    assert.equal(continuation.id, job.id);
    assert.equal(continuation.part, 1);
    assert.ok(isFanOutJob(continuation));
    assert.deepEqual(continuation.recipients, recipients.slice(50));

    const rest = await runFanOutJob(deps, continuation, plenty);
    assert.equal(rest.outcome, 'done');
    assert.equal(rest.delivered, 70);
    for (const [connectionId] of recipients) assert.equal(notifier.received(connectionId).length, 1);
  });

  it('reports what it could not hand on when Lambda refuses the continuation', async () => {
    const recipients = await openConnections(60, 'chunk-abandon');
    const invoker = new RecordingInvoker();
    invoker.refuse = true;
    const budget = { remainingMs: () => 30_000 - notifier.attempts.length * 1_000 };
    const logged: string[] = [];
    const report = await runFanOutJob(
      workerDeps({ invoker, fanOutConcurrency: 1, clock: new VirtualClock(), log: (m) => logged.push(m) }),
      chunkJob(recipients, { ratePerSecond: 10 }),
      budget,
    );
    assert.deepEqual(
      { outcome: report.outcome, delivered: report.delivered, remaining: report.remaining },
      {
        outcome: 'abandoned',
        delivered: 50,
        remaining: 10,
      },
    );
    assert.ok(logged.includes('fan-out continuation not queued; the rest of the job is not posted'));
  });
});

describe('shard jobs (broadcast)', () => {
  /** Users online in `shard`, `count` of them, with two connections each. */
  async function fillShard(shard: number, count: number, prefix: string): Promise<UserConnections[]> {
    const users: UserConnections[] = [];
    for (let i = 0; users.length < count; i++) {
      const userId = `${prefix}-${i}`;
      if (shardOf(userId) !== `s${String(shard).padStart(2, '0')}`) continue;
      users.push({
        userId,
        connectionIds: [await opener.open(registry, userId), await opener.open(registry, userId)],
      });
    }
    return users;
  }

  function shardJob(shard: number, extra: Partial<ShardJob> = {}): ShardJob {
    return {
      kind: 'shard',
      id: `b-${Math.random().toString(36).slice(2)}.s${shard}`,
      part: 0,
      callbackUrl: CALLBACK,
      frame: FRAME,
      ratePerSecond: 10_000,
      startAt: 0, // due already, on any clock
      shard,
      name: 'broadcast',
      ...extra,
    };
  }

  it("reads its shard page by page and posts to each of its connections once, and nobody else's", async () => {
    const users = await fillShard(7, 9, 'shard7');
    const others = await fillShard(8, 2, 'shard8');
    const report = await runFanOutJob(workerDeps({ shardPageSize: 2 }), shardJob(7), plenty);
    assert.equal(report.outcome, 'done');
    const online = await stores.presence.onlineInShard(7, 1_000);
    const expected = online.users.flatMap((user) => user.connectionIds);
    assert.equal(report.delivered, expected.length);
    for (const user of users) {
      for (const id of user.connectionIds) assert.equal(notifier.received(id).length, 1, id);
    }
    for (const user of others)
      for (const id of user.connectionIds) assert.equal(notifier.received(id).length, 0);
  });

  it('a lane posts its shards one after the other, each connection once', async () => {
    const lane = [11, 12, 13];
    for (const shard of lane) await fillShard(shard, 3, `lane${shard}`);
    const byShard: string[][] = [];
    for (const shard of lane) {
      byShard.push((await stores.presence.onlineInShard(shard, 1_000)).users.flatMap((u) => u.connectionIds));
    }
    const expected = byShard.flat();
    const report = await runFanOutJob(
      workerDeps({ shardPageSize: 2 }),
      shardJob(11, { nextShards: [12, 13] }),
      plenty,
    );
    assert.equal(report.outcome, 'done');
    assert.equal(report.delivered, expected.length);
    for (const id of expected) assert.equal(notifier.received(id).length, 1, id);
    // Shard 11's connections first, then 12's, then 13's (within a page, in any order).
    let from = 0;
    for (const connections of byShard) {
      const posted = notifier.attempts.slice(from, from + connections.length);
      assert.deepEqual([...posted].sort(), [...connections].sort());
      from += connections.length;
    }
  });

  it("a continuation carries the rest of the lane: the shard it stopped in, from where, and the lane's later shards", async () => {
    for (const shard of [14, 15]) await fillShard(shard, 4, `cont${shard}`);
    const expected: string[] = [];
    for (const shard of [14, 15]) {
      expected.push(
        ...(await stores.presence.onlineInShard(shard, 1_000)).users.flatMap((u) => u.connectionIds),
      );
    }
    const invoker = new RecordingInvoker();
    const deps = workerDeps({ invoker, shardPageSize: 2, fanOutConcurrency: 1, clock: new VirtualClock() });
    // 1 s per post, 10 s: the first page (4 connections) posts, the next would not fit.
    const first = await runFanOutJob(deps, shardJob(14, { ratePerSecond: 1, nextShards: [15] }), {
      remainingMs: () => 10_000 - notifier.attempts.length * 1_000,
    });
    assert.equal(first.outcome, 'handed-off');
    const [next] = invoker.jobs as [ShardJob];
    assert.equal(next.shard, 14);
    assert.ok(next.after, 'from the page it stopped at');
    assert.deepEqual(next.nextShards, [15]);
    const rest = await runFanOutJob(deps, next, plenty);
    assert.equal(rest.outcome, 'done');
    for (const id of expected) assert.equal(notifier.received(id).length, 1, id);
  });

  it('continues from where it stopped when time runs short', async () => {
    await fillShard(9, 8, 'shard9');
    const expected = (await stores.presence.onlineInShard(9, 1_000)).users.flatMap((u) => u.connectionIds);
    const invoker = new RecordingInvoker();
    const budget = { remainingMs: () => 30_000 - notifier.attempts.length * 1_000 };
    const deps = workerDeps({
      invoker,
      shardPageSize: 3,
      fanOutConcurrency: 1,
      clock: new VirtualClock(),
    });
    const reports: FanOutJobReport[] = [await runFanOutJob(deps, shardJob(9, { ratePerSecond: 2 }), budget)];
    // Run each continuation with a fresh budget, as a new invocation would have.
    while (invoker.jobs.length > 0) {
      const next = invoker.jobs.shift() as ShardJob;
      assert.ok(isFanOutJob(next));
      const start = notifier.attempts.length;
      reports.push(
        await runFanOutJob(deps, next, {
          remainingMs: () => 30_000 - (notifier.attempts.length - start) * 1_000,
        }),
      );
    }
    assert.ok(reports.length > 1, 'it needed continuations');
    assert.equal(reports.at(-1)?.outcome, 'done');
    assert.deepEqual(
      reports.map((r) => r.part),
      reports.map((_, i) => i),
    );
    for (const id of expected) assert.equal(notifier.received(id).length, 1, id);
    assert.equal(
      reports.reduce((sum, r) => sum + r.delivered, 0),
      expected.length,
    );
  });

  it('fails (re-drivably) when its first page cannot be read, and hands on when a later one cannot', async () => {
    await fillShard(10, 4, 'shard10');
    const broken = {
      onlineInShard: () => Promise.reject(new Error('ProvisionedThroughputExceededException')),
    };
    await assert.rejects(runFanOutJob(workerDeps({ presence: broken }), shardJob(10), plenty), /Provisioned/);
    assert.equal(notifier.attempts.length, 0);

    let reads = 0;
    const flaky = {
      onlineInShard: (shard: number, limit: number, after?: string) =>
        ++reads === 1
          ? stores.presence.onlineInShard(shard, limit, after)
          : Promise.reject(new Error('throttled')),
    };
    const invoker = new RecordingInvoker();
    const report = await runFanOutJob(
      workerDeps({ presence: flaky, invoker, shardPageSize: 2 }),
      shardJob(10),
      plenty,
    );
    assert.equal(report.outcome, 'handed-off');
    const firstPage = await stores.presence.onlineInShard(10, 2);
    assert.equal(
      report.delivered,
      firstPage.users.flatMap((user) => user.connectionIds).length,
      'the first page was posted',
    );
    const [next] = invoker.jobs as [ShardJob];
    assert.equal(next.part, 1);
    assert.ok(next.after, 'the continuation starts after the page that was posted');
  });
});

describe('services hand large audiences to workers', () => {
  /** Runs every job it is given as a worker would (after a JSON round trip), continuations included. */
  class InlineLambda implements FanOutInvoker {
    readonly jobs: FanOutJob[] = [];
    private readonly running: Promise<unknown>[] = [];
    constructor(private readonly deps: () => FanOutWorkerDependencies) {}
    async invoke(job: FanOutJob): Promise<void> {
      const event = JSON.parse(JSON.stringify(job)) as FanOutJob;
      this.jobs.push(event);
      this.running.push(runFanOutJob(this.deps(), event, plenty));
    }
    async settle(): Promise<void> {
      while (this.running.length > 0) await Promise.all(this.running.splice(0));
    }
  }

  function setup(threshold: number) {
    const claims = new MemoryClaims();
    const lambda: InlineLambda = new InlineLambda(() =>
      workerDeps({ invoker: lambda, claims, shardPageSize: 2 }),
    );
    const offload = new FanOutDispatcher({
      invoker: lambda,
      callbackUrl: CALLBACK,
      settings: { threshold, chunkSize: 2, ratePerSecond: 5_000 },
    });
    const deps = { notifier, registry, fanOutConcurrency: 4, offload };
    return { lambda, deps };
  }

  it('a group message above the threshold: the sender is told `queued`, every other connection gets it once', async () => {
    const { lambda, deps } = setup(3);
    const members = ['gm-a', 'gm-b', 'gm-c', 'gm-sender'];
    const connections: string[] = [];
    for (const member of members.slice(0, 3)) {
      connections.push(await opener.open(registry, member), await opener.open(registry, member));
    }
    const senderConnection = await opener.open(registry, 'gm-sender');
    await stores.groups.create({
      groupId: 'group_big',
      groupName: 'Big',
      createdBy: 'gm-sender',
      createdAt: new Date().toISOString(),
      memberIds: members,
    });
    const chat = new ChatService({
      ...deps,
      presence: stores.presence,
      messages: stores.messages,
      groups: stores.groups,
      settings: { maxContentLength: 100, broadcastAllowAll: false },
    });
    const reply = await chat.sendGroupMessage(identity('gm-sender'), {
      group_id: 'group_big',
      content: 'to all',
      message_type: 1,
    });
    assert.deepEqual(
      { sent: reply.sent_count, failed: reply.failed, queued: reply.queued },
      {
        sent: 0,
        failed: 0,
        queued: 6,
      },
    );
    assert.equal(lambda.jobs.length, 3);
    await lambda.settle();
    for (const id of connections) assert.deepEqual(notifier.pushes(id, 'group_message').length, 1, id);
    assert.equal(notifier.received(senderConnection).length, 0);
  });

  it('at the threshold a group message is still posted inline (no `queued`)', async () => {
    const { lambda, deps } = setup(3);
    const members = ['gi-a', 'gi-b', 'gi-c', 'gi-sender'];
    for (const member of members.slice(0, 3)) await opener.open(registry, member);
    await stores.groups.create({
      groupId: 'group_small',
      groupName: 'Small',
      createdBy: 'gi-sender',
      createdAt: new Date().toISOString(),
      memberIds: members,
    });
    const chat = new ChatService({
      ...deps,
      presence: stores.presence,
      messages: stores.messages,
      groups: stores.groups,
      settings: { maxContentLength: 100, broadcastAllowAll: false },
    });
    const reply = await chat.sendGroupMessage(identity('gi-sender'), {
      group_id: 'group_small',
      content: 'few',
      message_type: 1,
    });
    assert.equal(reply.sent_count, 3);
    assert.equal('queued' in reply, false);
    assert.equal(lambda.jobs.length, 0);
  });

  it('a room message above the threshold: workers carry the room cleanup of a gone member', async () => {
    const { lambda, deps } = setup(2);
    const service = new RoomService({
      ...deps,
      connections: stores.connections,
      rooms: stores.rooms,
      messages: stores.messages,
      settings: { maxContentLength: 100, maxRoomsPerConnection: 3 },
    });
    const ids: string[] = [];
    for (const user of ['rm-a', 'rm-b', 'rm-c', 'rm-sender']) {
      const id = await opener.open(registry, user);
      await service.join(id, { room_id: 'hall' });
      ids.push(id);
    }
    notifier.gone.add(ids[1] as string);
    const reply = await service.send(ids[3] as string, {
      room_id: 'hall',
      content: 'hello hall',
      message_type: 1,
    });
    assert.equal(reply.queued, 3);
    assert.ok((lambda.jobs as ChunkJob[]).every((job) => job.cleanup?.leaveRoom === 'hall'));
    await lambda.settle();
    assert.equal(notifier.pushes(ids[0] as string, 'room_message').length, 1);
    assert.equal(notifier.pushes(ids[2] as string, 'room_message').length, 1);
    assert.equal(
      await stores.rooms.member('hall', ids[1] as string),
      undefined,
      'the gone member left the room',
    );
  });

  describe('broadcast', () => {
    const admin = identity('bc-admin', ['admin']);
    const settings = { maxContentLength: 100, broadcastAllowAll: false };

    it('when the online counter is above the threshold: one job per lane, the lanes cover every shard once, every connection once', async () => {
      const { lambda, deps } = setup(3);
      const chat = new ChatService({
        ...deps,
        presence: stores.presence,
        messages: stores.messages,
        groups: stores.groups,
        settings,
      });
      const counted = (await stores.presence.counts()).connections;
      const reply = await chat.broadcast(admin, { message: 'everyone' });
      assert.deepEqual(reply, { type: 'broadcast_sent', sent_count: 0, failed: 0, queued: counted });
      // 5,000/s at 1,600/s a worker: ⌊5,000 / 1,600⌋ = 3 lanes (6, 5 and 5 shards); no
      // continuations with plenty of time.
      assert.equal(lambda.jobs.length, 3);
      assert.deepEqual(
        lambda.jobs
          .flatMap((job) => [(job as ShardJob).shard, ...((job as ShardJob).nextShards ?? [])])
          .sort((a, b) => a - b),
        Array.from({ length: stores.presence.shardCount }, (_, i) => i),
      );
      await lambda.settle();
      const everyone: string[] = [];
      for (let shard = 0; shard < stores.presence.shardCount; shard++) {
        everyone.push(
          ...(await stores.presence.onlineInShard(shard, 10_000)).users.flatMap((u) => u.connectionIds),
        );
      }
      assert.ok(everyone.length > 3);
      for (const id of everyone) assert.equal(notifier.pushes(id, 'broadcast').length, 1, id);
    });

    it('when the counter runs low: the pages beyond the threshold go to workers, nobody twice', async () => {
      const { lambda, deps } = setup(5);
      // The counter says 0 connections; the shards hold many more.
      const lying = Object.assign(Object.create(stores.presence), {
        counts: async () => ({ users: 0, connections: 0 }),
      }) as typeof stores.presence;
      const chat = new ChatService({
        ...deps,
        presence: lying,
        messages: stores.messages,
        groups: stores.groups,
        settings,
      });
      const reply = await chat.broadcast(admin, { message: 'overflow' });
      assert.ok(reply.sent_count <= 5, `inline part ${reply.sent_count} within the threshold`);
      assert.ok((reply.queued ?? 0) >= 1);
      assert.ok(lambda.jobs.length >= 1);
      await lambda.settle();
      const everyone: string[] = [];
      for (let shard = 0; shard < stores.presence.shardCount; shard++) {
        everyone.push(
          ...(await stores.presence.onlineInShard(shard, 10_000)).users.flatMap((u) => u.connectionIds),
        );
      }
      for (const id of everyone) assert.equal(notifier.pushes(id, 'broadcast').length, 1, id);
    });

    it('answers 10006 when nothing was posted and no shard could be handed to a worker', async () => {
      const refusing = new RecordingInvoker();
      refusing.refuse = true;
      const offload = new FanOutDispatcher({
        invoker: refusing,
        callbackUrl: CALLBACK,
        settings: { threshold: 1, chunkSize: 2, ratePerSecond: 100 },
      });
      const chat = new ChatService({
        notifier,
        registry,
        fanOutConcurrency: 4,
        offload,
        presence: stores.presence,
        messages: stores.messages,
        groups: stores.groups,
        settings,
      });
      await assert.rejects(
        chat.broadcast(admin, { message: 'lost' }),
        (error: { code?: number }) => error.code === 10006,
      );
      assert.equal(notifier.attempts.length, 0);
    });
  });
});
