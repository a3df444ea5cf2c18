/**
 * Large audiences, dispatching side: how a fan-out is cut into chunk jobs, the pacing plan
 * (never more than R posts per second in total), the threshold between inline delivery
 * and workers, and what the dispatcher hands to Lambda.
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
  splitRecipients,
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

/** The highest total rate of the plan at any moment: the sum of the rates of the chunks posting then. */
function peakRate(plan: ReturnType<typeof planChunks>): number {
  const edges = plan.flatMap((chunk) => {
    const end = chunk.offsetMs + (chunk.recipients.length / chunk.ratePerSecond) * 1000;
    return [
      { at: chunk.offsetMs, delta: chunk.ratePerSecond },
      { at: end, delta: -chunk.ratePerSecond },
    ];
  });
  // At the same instant, a chunk that ends makes room for the one that starts.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let rate = 0;
  let peak = 0;
  for (const edge of edges) {
    rate += edge.delta;
    peak = Math.max(peak, rate);
  }
  return peak;
}

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

describe('pacing plan', () => {
  it('defaults: 5,000 connections in 10 chunks of 500, 6 lanes at 500/s, second wave a second later', () => {
    const plan = planChunks(recipientsOf(5_000), { chunkSize: 500, ratePerSecond: 3_000 });
    assert.equal(plan.length, 10);
    assert.equal(laneCount(10, { chunkSize: 500, ratePerSecond: 3_000 }), 6);
    assert.deepEqual(
      plan.map((chunk) => chunk.offsetMs),
      [0, 0, 0, 0, 0, 0, 1000, 1000, 1000, 1000],
    );
    for (const chunk of plan) assert.equal(chunk.ratePerSecond, 500);
    assert.equal(peakRate(plan), 3_000);
  });

  it('few chunks share the whole rate', () => {
    const plan = planChunks(recipientsOf(1_200), { chunkSize: 500, ratePerSecond: 3_000 });
    assert.deepEqual(
      plan.map((chunk) => [chunk.recipients.length, chunk.offsetMs, chunk.ratePerSecond]),
      [
        [500, 0, 1_000],
        [500, 0, 1_000],
        [200, 0, 1_000],
      ],
    );
  });

  it('a low rate puts one chunk after the other', () => {
    const plan = planChunks(recipientsOf(250), { chunkSize: 100, ratePerSecond: 50 });
    assert.deepEqual(
      plan.map((chunk) => chunk.offsetMs),
      [0, 2_000, 4_000],
    );
  });

  it('for any audience, chunk size and rate: every recipient once, in order, never above the rate, done in about N / R', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        (count, chunkSize, ratePerSecond) => {
          const recipients = recipientsOf(count);
          const plan = planChunks(recipients, { chunkSize, ratePerSecond });
          assert.deepEqual(
            plan.flatMap((chunk) => chunk.recipients),
            recipients,
          );
          for (const chunk of plan) assert.ok(chunk.recipients.length <= chunkSize);
          assert.ok(
            peakRate(plan) <= ratePerSecond * (1 + 1e-9),
            `peak ${peakRate(plan)} > ${ratePerSecond}`,
          );
          const end = Math.max(
            ...plan.map((chunk) => chunk.offsetMs + (chunk.recipients.length / chunk.ratePerSecond) * 1000),
          );
          const ideal = (count / ratePerSecond) * 1000;
          const oneChunk = (chunkSize / (plan[0]?.ratePerSecond ?? 1)) * 1000;
          assert.ok(end >= ideal - plan.length, `ends at ${end} ms, before N/R = ${ideal} ms`);
          assert.ok(end <= ideal + oneChunk + plan.length, `ends at ${end} ms; N/R = ${ideal} ms`);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('FanOutDispatcher', () => {
  it('hands each chunk to a worker with its slot, rate, frame and cleanup', async () => {
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
        ['fan1.0', 0, 1_000_000, 2, 2],
        ['fan1.1', 0, 1_001_000, 2, 2],
        ['fan1.2', 0, 1_002_000, 2, 1],
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

  it('broadcast: one job per shard start, sharing the rate, and the estimate shared out', async () => {
    const invoker = new RecordingInvoker((job) => (job as ShardJob).shard === 3);
    const { instance, dispatches } = dispatcher(invoker, {
      threshold: 3,
      chunkSize: 2,
      ratePerSecond: 1_600,
    });
    const starts = [{ shard: 2, after: 'user-9' }, { shard: 3 }, { shard: 4 }, { shard: 5 }];
    const outcome = await instance.dispatchShards(starts, '{"b":1}', { connections: 1_000 });
    assert.deepEqual(outcome.queued, [starts[0], starts[2], starts[3]]);
    assert.deepEqual(outcome.notQueued, [starts[1]]);
    assert.equal(outcome.queuedConnections, 750);
    assert.equal(outcome.notQueuedConnections, 250);
    assert.deepEqual(dispatches, [{ queued: 750, notQueued: 250 }]);
    const jobs = invoker.jobs as ShardJob[];
    for (const job of jobs) {
      assert.ok(isFanOutJob(job));
      assert.equal(job.ratePerSecond, 400);
      assert.equal(job.startAt, 1_000_000);
      assert.equal(job.name, 'broadcast');
    }
    assert.equal(jobs.find((job) => job.shard === 2)?.after, 'user-9');
    assert.equal(jobs.find((job) => job.shard === 4)?.after, undefined);
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
