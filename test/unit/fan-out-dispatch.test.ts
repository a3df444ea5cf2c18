/**
 * Large audiences, dispatching side: how a fan-out is cut into chunk jobs, the lanes
 * (every job starts at once; their rate ceilings never add up to more than R posts per
 * second), the threshold between inline delivery and workers, and what the dispatcher
 * hands to Lambda.
 * Run: npx tsx --test test/unit/fan-out-dispatch.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deliver } from '../../functions/core/fan-out/delivery.ts';
import type { Recipient } from '../../functions/core/fan-out/fan-out.ts';
import {
  type ChunkJob,
  FanOutDispatcher,
  type FanOutInvoker,
  type FanOutJob,
  laneCount,
  MAX_JOB_PAYLOAD_BYTES,
  planChunks,
  type ShardJob,
  shardLanes,
  splitRecipients,
  workerSpeed,
} from '../../functions/core/fan-out/fan-out-dispatch.ts';
import { isFanOutJob } from '../../functions/core/fan-out/fan-out-worker.ts';
import { RecordingNotifier } from '../support/recording-notifier.ts';

const recipientsOf = (count: number, prefix = 'c'): Recipient[] =>
  Array.from({ length: count }, (_, i) => ({ connectionId: `${prefix}${i}`, userId: `u${i % 7}` }));

/** Records every job; `refuse` makes the invocation of matching jobs fail. */
class RecordingInvoker implements FanOutInvoker {
  readonly jobs: FanOutJob[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly refuse: (job: FanOutJob) => boolean = () => false,
    private readonly latencyMs = 0,
  ) {}

  async invoke(job: FanOutJob): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (this.refuse(job)) throw new Error('TooManyRequestsException');
      assert.ok(Buffer.byteLength(JSON.stringify(job)) <= MAX_JOB_PAYLOAD_BYTES, 'payload under the limit');
      this.jobs.push(job);
    } finally {
      this.inFlight--;
    }
  }
}

function dispatcher(invoker: FanOutInvoker, settings = { threshold: 3, chunkSize: 2, ratePerSecond: 1000 }) {
  const dispatches: { queued: number; notQueued: number }[] = [];
  let ids = 0;
  const instance = new FanOutDispatcher({
    invoker,
    callbackUrl: 'https://api.example/prod',
    settings,
    now: () => 1_000_000,
    newId: () => `fan${++ids}`,
    onDispatch: (outcome) => dispatches.push(outcome),
  });
  return { instance, dispatches };
}

/** The rate of the whole fan-out when every job posts at its ceiling: they all start at once. */
const totalCeiling = (plan: ReturnType<typeof planChunks>) =>
  plan.reduce((sum, chunk) => sum + chunk.ratePerSecond, 0);

describe('chunking', () => {
  it('cuts at the chunk size, keeping the order', () => {
    const chunks = splitRecipients(recipientsOf(5), 2, 1_000_000);
    assert.deepEqual(
      chunks.map((chunk) => chunk.map((r) => r.connectionId)),
      [['c0', 'c1'], ['c2', 'c3'], ['c4']],
    );
  });

  it('cuts earlier when the payload would pass its byte budget (128-character user ids)', () => {
    const long = 'x'.repeat(128);
    const recipients = Array.from({ length: 5_000 }, (_, i) => ({ connectionId: `conn${i}`, userId: long }));
    const plan = planChunks(recipients, { chunkSize: 5_000, ratePerSecond: 3_000 });
    assert.ok(plan.length > 1, 'split by bytes, not by the chunk size');
    for (const chunk of plan) {
      const bytes = Buffer.byteLength(
        JSON.stringify(chunk.recipients.map((r) => [r.connectionId, r.userId])),
      );
      assert.ok(bytes < MAX_JOB_PAYLOAD_BYTES, `${bytes} bytes`);
    }
    assert.equal(
      plan.reduce((sum, chunk) => sum + chunk.recipients.length, 0),
      5_000,
    );
  });
});

describe('lanes', () => {
  it('as many workers at once as fit under R at full speed (32 posts in flight, 20 ms each), at least one', () => {
    assert.equal(workerSpeed({ chunkSize: 5_000, ratePerSecond: 3_000 }), 1_600);
    assert.equal(laneCount({ chunkSize: 5_000, ratePerSecond: 3_000 }), 1, 'defaults: one worker');
    assert.equal(laneCount({ chunkSize: 5_000, ratePerSecond: 3_199 }), 1);
    assert.equal(laneCount({ chunkSize: 5_000, ratePerSecond: 3_200 }), 2, 'two workers at full speed');
    assert.equal(
      laneCount({ chunkSize: 5_000, ratePerSecond: 1_000 }),
      1,
      'below one worker: one, held to R',
    );
    assert.equal(laneCount({ chunkSize: 5_000, ratePerSecond: 10_000 }), 6);
    assert.equal(laneCount({ chunkSize: 5_000, ratePerSecond: 3_000, workerPostsInFlight: 8 }), 7);
  });

  it('for any rate: the lanes together never pass R at full speed, and no lane is held below full speed unless R is', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 64 }),
        (ratePerSecond, workerPostsInFlight) => {
          const pacing = { chunkSize: 5_000, ratePerSecond, workerPostsInFlight };
          const lanes = laneCount(pacing);
          const speed = workerSpeed(pacing);
          assert.ok(lanes >= 1);
          if (ratePerSecond >= speed) {
            assert.ok(lanes * speed <= ratePerSecond, `${lanes} lanes at ${speed}/s pass ${ratePerSecond}/s`);
            assert.ok(ratePerSecond / lanes >= speed, 'each ceiling at least a worker at full speed');
            assert.ok((lanes + 1) * speed > ratePerSecond, 'no room left for another worker at full speed');
          } else {
            assert.equal(lanes, 1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('defaults: 3,000 connections in one chunk whose ceiling is R, above a worker at full speed', () => {
    const plan = planChunks(recipientsOf(3_000), { chunkSize: 5_000, ratePerSecond: 3_000 });
    assert.deepEqual(
      plan.map((chunk) => [chunk.recipients.length, chunk.ratePerSecond]),
      [[3_000, 3_000]],
    );
  });

  it('defaults: 10,000 connections in 2 chunks of 5,000 (the chunk size) at 1,500/s each, both at once', () => {
    const plan = planChunks(recipientsOf(10_000), { chunkSize: 5_000, ratePerSecond: 3_000 });
    assert.deepEqual(
      plan.map((chunk) => [chunk.recipients.length, chunk.ratePerSecond]),
      [
        [5_000, 1_500],
        [5_000, 1_500],
      ],
    );
  });

  it('a small chunk size makes more chunks, which share R', () => {
    const plan = planChunks(recipientsOf(1_200), { chunkSize: 500, ratePerSecond: 3_000 });
    assert.deepEqual(
      plan.map((chunk) => [chunk.recipients.length, chunk.ratePerSecond]),
      [
        [400, 1_000],
        [400, 1_000],
        [400, 1_000],
      ],
      'evenly filled: no short tail',
    );
  });

  it('for any audience, chunk size and rate: every recipient once, in order, within R, one chunk per lane when they fit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 64 }),
        (count, chunkSize, ratePerSecond, workerPostsInFlight) => {
          const pacing = { chunkSize, ratePerSecond, workerPostsInFlight };
          const recipients = recipientsOf(count);
          const plan = planChunks(recipients, pacing);
          assert.deepEqual(
            plan.flatMap((chunk) => chunk.recipients),
            recipients,
          );
          for (const chunk of plan) assert.ok(chunk.recipients.length <= chunkSize);
          assert.ok(
            totalCeiling(plan) <= ratePerSecond * (1 + 1e-9),
            `${totalCeiling(plan)} > ${ratePerSecond}`,
          );
          const lanes = laneCount(pacing);
          if (count <= lanes * chunkSize) {
            assert.ok(plan.length <= Math.min(count, lanes) + 1, `${plan.length} chunks for ${lanes} lanes`);
          } else {
            assert.ok(
              plan.length <= Math.ceil(count / chunkSize) + 1,
              `${plan.length} chunks of ${chunkSize}`,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('shards are dealt round-robin to the lanes; a start mid-shard heads its lane', () => {
    const starts = [{ shard: 3 }, { shard: 4 }, { shard: 2, after: 'user-9' }, { shard: 5 }, { shard: 6 }];
    assert.deepEqual(shardLanes(starts, 2), [
      [{ shard: 2, after: 'user-9' }, { shard: 4 }, { shard: 6 }],
      [{ shard: 3 }, { shard: 5 }],
    ]);
    assert.deepEqual(shardLanes(starts.slice(0, 1), 4), [[{ shard: 3 }]], 'never more lanes than starts');
    const resumed = [{ shard: 1, after: 'a' }, { shard: 2, after: 'b' }, { shard: 3 }];
    assert.deepEqual(
      shardLanes(resumed, 1).map((lane) => lane[0]),
      [resumed[0], resumed[1]],
      'each resumed shard heads a lane, even beyond the lane count',
    );
  });
});

describe('FanOutDispatcher', () => {
  it('hands each chunk to a worker with its rate ceiling, frame and cleanup, all starting now', async () => {
    const invoker = new RecordingInvoker();
    const { instance, dispatches } = dispatcher(invoker, { threshold: 3, chunkSize: 2, ratePerSecond: 2 });
    const outcome = await instance.dispatchRecipients(recipientsOf(5), '{"code":0}', {
      cleanup: { leaveRoom: 'lobby' },
      name: 'room',
    });
    assert.deepEqual(outcome, { queued: 5, notQueued: [], jobs: 3 });
    assert.deepEqual(dispatches, [{ queued: 5, notQueued: 0 }]);
    const jobs = (invoker.jobs as ChunkJob[]).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(
      jobs.map((job) => [job.id, job.part, job.startAt, job.ratePerSecond, job.recipients.length]),
      [
        ['fan1.0', 0, 1_000_000, 2 / 3, 2],
        ['fan1.1', 0, 1_000_000, 2 / 3, 2],
        ['fan1.2', 0, 1_000_000, 2 / 3, 1],
      ],
    );
    for (const job of jobs) {
      assert.ok(isFanOutJob(job), 'the worker accepts the payload');
      assert.equal(job.kind, 'chunk');
      assert.equal(job.callbackUrl, 'https://api.example/prod');
      assert.equal(job.frame, '{"code":0}');
      assert.deepEqual(job.cleanup, { leaveRoom: 'lobby' });
      assert.equal(job.name, 'room');
    }
    assert.deepEqual(jobs[2]?.recipients, [['c4', 'u4']]);
  });

  it('keeps several invocations in flight, but bounded', async () => {
    const invoker = new RecordingInvoker(() => false, 5);
    const instance = new FanOutDispatcher({
      invoker,
      callbackUrl: 'https://api.example/prod',
      settings: { threshold: 1, chunkSize: 1, ratePerSecond: 100, invokeConcurrency: 4 },
    });
    await instance.dispatchRecipients(recipientsOf(20), '{}');
    assert.equal(invoker.jobs.length, 20);
    assert.equal(invoker.maxInFlight, 4);
    assert.equal(new Set(invoker.jobs.map((job) => job.id)).size, 20, 'job ids are unique');
  });

  it('reports the connections of the chunks Lambda refused, and queues the rest', async () => {
    const invoker = new RecordingInvoker((job) => job.id.endsWith('.1'));
    const logged: string[] = [];
    const instance = new FanOutDispatcher({
      invoker,
      callbackUrl: 'https://api.example/prod',
      settings: { threshold: 3, chunkSize: 2, ratePerSecond: 1000 },
      log: (message) => logged.push(message),
    });
    const outcome = await instance.dispatchRecipients(recipientsOf(5), '{}');
    assert.equal(outcome.queued, 3);
    assert.deepEqual(
      outcome.notQueued.map((r) => r.connectionId),
      ['c2', 'c3'],
    );
    assert.deepEqual(logged, ['fan-out job not queued']);
  });

  it('broadcast: one job per lane carrying its shards, sharing the rate, and the estimate shared out', async () => {
    const invoker = new RecordingInvoker((job) => (job as ShardJob).shard === 3);
    // 4,800/s: three lanes of 1,600/s.
    const { instance, dispatches } = dispatcher(invoker, {
      threshold: 3,
      chunkSize: 2,
      ratePerSecond: 4_800,
    });
    const starts = [{ shard: 2, after: 'user-9' }, { shard: 3 }, { shard: 4 }, { shard: 5 }];
    const outcome = await instance.dispatchShards(starts, '{"b":1}', { connections: 1_000 });
    // Lanes: [2 (after user-9), 5], [3], [4]; Lambda refused the lane of shard 3.
    assert.deepEqual(outcome.queued, [starts[0], starts[3], starts[2]]);
    assert.deepEqual(outcome.notQueued, [starts[1]]);
    assert.equal(outcome.queuedConnections, 750);
    assert.equal(outcome.notQueuedConnections, 250);
    assert.deepEqual(dispatches, [{ queued: 750, notQueued: 250 }]);
    const jobs = invoker.jobs as ShardJob[];
    assert.equal(jobs.length, 2);
    for (const job of jobs) {
      assert.ok(isFanOutJob(job));
      assert.equal(job.ratePerSecond, 1_600);
      assert.equal(job.startAt, 1_000_000, 'no job waits for a slot');
      assert.equal(job.name, 'broadcast');
    }
    const first = jobs.find((job) => job.shard === 2);
    assert.equal(first?.after, 'user-9');
    assert.deepEqual(first?.nextShards, [5]);
    assert.equal(jobs.find((job) => job.shard === 4)?.after, undefined);
    assert.equal(jobs.find((job) => job.shard === 4)?.nextShards, undefined);
  });
});

describe('deliver and the threshold', () => {
  const registry = { closeGone: async () => undefined };

  it('posts inline up to the threshold, and hands off above it', async () => {
    const invoker = new RecordingInvoker();
    const { instance } = dispatcher(invoker);
    const notifier = new RecordingNotifier();
    const deps = { notifier, registry, fanOutConcurrency: 4, offload: instance };

    const inline = await deliver(deps, recipientsOf(3, 'in'), { type: 'x' });
    assert.deepEqual({ delivered: inline.delivered, queued: inline.queued }, { delivered: 3, queued: 0 });
    assert.equal(invoker.jobs.length, 0);

    const offloaded = await deliver(deps, recipientsOf(4, 'off'), { type: 'x' }, { name: 'group' });
    assert.deepEqual(offloaded, { delivered: 0, gone: 0, failed: [], queued: 4 });
    assert.equal(invoker.jobs.length, 2);
    assert.equal(
      notifier.attempts.filter((id) => id.startsWith('off')).length,
      0,
      'the handler posts nothing',
    );
    assert.equal(
      (invoker.jobs[0] as ChunkJob).frame,
      JSON.stringify({ code: 0, message: 'success', data: { type: 'x' } }),
    );
  });

  it('counts connections whose job was refused as failed', async () => {
    const { instance } = dispatcher(new RecordingInvoker(() => true));
    const logged: string[] = [];
    const result = await deliver(
      {
        notifier: new RecordingNotifier(),
        registry,
        fanOutConcurrency: 4,
        offload: instance,
        log: (m) => logged.push(m),
      },
      recipientsOf(4),
      { type: 'x' },
      { name: 'group' },
    );
    assert.equal(result.queued, 0);
    assert.equal(result.failed.length, 4);
    assert.deepEqual(logged, ['group fan-out could not hand connections to workers']);
  });

  it('posts inline a frame no job could carry', async () => {
    const invoker = new RecordingInvoker();
    const { instance } = dispatcher(invoker);
    const notifier = new RecordingNotifier();
    const result = await deliver(
      { notifier, registry, fanOutConcurrency: 4, offload: instance },
      recipientsOf(4),
      { type: 'x', content: 'y'.repeat(MAX_JOB_PAYLOAD_BYTES) },
    );
    assert.equal(result.delivered, 4);
    assert.equal(invoker.jobs.length, 0);
  });
});
