/**
 * Large audiences: beyond a threshold, a fan-out is not posted by the route handler but
 * split into jobs that fan-out workers (the `fanOutWorker` function, invoked
 * asynchronously) post. The handler's time then no longer grows with the audience.
 *
 * Every job starts at once and posts at full speed: a worker is billed while it runs, so
 * it never sleeps until a slot. One fan-out stays under its rate R by how many workers
 * it runs at once (lanes: ⌊R / one worker's speed⌋, at least one), not by slowing each
 * one down; each job still carries its share of R as a ceiling, which only bites when
 * posts return faster than assumed. See docs/architecture.md, "Large audiences", for the math.
 *
 * Two kinds of job:
 * - `chunk`: an explicit list of recipients (groups, rooms, presence, receipts, recalls,
 *   notifications: audiences the handler has already read);
 * - `shard`: a lane of shards of the presence table's `byShard` index (broadcast), which
 *   the worker reads itself page by page, one shard after the other, so the handler never
 *   reads the whole audience.
 */
import { randomUUID } from 'node:crypto';
import { mapConcurrent } from '../shared/concurrency.ts';
import type { Recipient } from './fan-out.ts';

/** A recipient in a job payload: `[connectionId, userId]` (compact, so payloads stay small). */
export type PackedRecipient = readonly [connectionId: string, userId: string];

/** Extra cleanup a worker does for a recipient that answered 410 (besides closing the connection). */
export interface GoneCleanup {
  /** The recipients are this room's members: remove the gone connection's member row too. */
  readonly leaveRoom?: string;
}

interface JobBase {
  /** Same for every part of one job (a continuation keeps it); with `part`, the idempotency key. */
  readonly id: string;
  /** 0 for the job the handler dispatched, +1 for each continuation a worker hands on. */
  readonly part: number;
  /** Management API endpoint including the stage. */
  readonly callbackUrl: string;
  /** The whole frame (`{"code":0,…}`), posted as is. */
  readonly frame: string;
  /**
   * Posts per second this job makes at most (retries included): its share of the
   * fan-out's rate. A ceiling, not a pace: a worker slower than it never waits.
   */
  readonly ratePerSecond: number;
  /**
   * Epoch milliseconds at which the job was dispatched (or handed on): how late a worker
   * started is logged from it. The worker posts at once. (Dispatchers before issue 14 put
   * a later slot here and workers slept until it; a worker now ignores that.)
   */
  readonly startAt: number;
  /** Names the fan-out in logs (`broadcast`, `room`, …). */
  readonly name?: string;
}

export interface ChunkJob extends JobBase {
  readonly kind: 'chunk';
  readonly recipients: readonly PackedRecipient[];
  readonly cleanup?: GoneCleanup;
}

export interface ShardJob extends JobBase {
  readonly kind: 'shard';
  /** Presence shard, 0 … shardCount − 1. */
  readonly shard: number;
  /** Start after this user id (a continuation, or the rest of a shard the handler began). */
  readonly after?: string;
  /** The shards of this lane to post after `shard`, in order, each whole. */
  readonly nextShards?: readonly number[];
}

export type FanOutJob = ChunkJob | ShardJob;

/** Starts a fan-out worker on a job without waiting for it (Lambda `Invoke`, `InvocationType: Event`). */
export interface FanOutInvoker {
  /** Resolves once the job is accepted (queued); rejects when it was not. */
  invoke(job: FanOutJob): Promise<void>;
}

export interface FanOutPacing {
  /** Recipients per chunk job at most (`FANOUT_CHUNK_SIZE`). */
  readonly chunkSize: number;
  /** Posts per second of one fan-out across all its workers (`FANOUT_RATE_PER_SECOND`). */
  readonly ratePerSecond: number;
  /** Posts one worker keeps in flight (`FANOUT_CONCURRENCY`). @default DEFAULT_WORKER_POSTS_IN_FLIGHT */
  readonly workerPostsInFlight?: number;
}

/** `FANOUT_CONCURRENCY`'s default. */
export const DEFAULT_WORKER_POSTS_IN_FLIGHT = 32;
/**
 * What one `PostToConnection` is assumed to take from a worker in the Region. Only the
 * number of lanes depends on it: if posts return faster, the per-job ceiling holds R.
 */
export const ASSUMED_POST_MS = 20;

/** Posts per second one worker makes at full speed: its posts in flight, each `ASSUMED_POST_MS`. */
export function workerSpeed(pacing: FanOutPacing): number {
  return ((pacing.workerPostsInFlight ?? DEFAULT_WORKER_POSTS_IN_FLIGHT) * 1000) / ASSUMED_POST_MS;
}

/**
 * Workers one fan-out runs at once: as many as fit under R at full speed, ⌊R / one
 * worker's speed⌋, and at least one (defaults: ⌊3,000 / 1,600⌋ = 1; R = 3,200 makes 2).
 * Each lane's ceiling R / lanes is then at least a worker's speed, so a worker whose posts
 * take the assumed time never waits while billed. Rounding up instead would hold every
 * lane below its speed (⌈3,000 / 1,600⌉ = 2 lanes at 1,500/s each: ~7% of each worker's
 * billed time spent waiting at 20 ms per post, half of it at 10 ms).
 */
export function laneCount(pacing: FanOutPacing): number {
  return Math.max(1, Math.floor(pacing.ratePerSecond / workerSpeed(pacing)));
}

export interface DispatchSettings extends FanOutPacing {
  /** A fan-out to more connections than this goes to workers (`FANOUT_WORKER_THRESHOLD`). */
  readonly threshold: number;
  /** `Invoke` calls in flight at once while dispatching. @default DISPATCH_CONCURRENCY */
  readonly invokeConcurrency?: number;
}

/**
 * Job payloads stay under 256 KB: a quarter of Lambda's 1 MB asynchronous payload limit,
 * and within SQS's classic message size, should the transport ever change.
 */
export const MAX_JOB_PAYLOAD_BYTES = 256 * 1024;
/** Room left in a payload for everything but the recipients and the frame. */
const JOB_OVERHEAD_BYTES = 2 * 1024;
/** `Invoke` calls a dispatching handler keeps in flight. */
export const DISPATCH_CONCURRENCY = 16;

/** Bytes of a job payload left for recipients once `frame` is in it. */
function recipientBudget(frame: string): number {
  return MAX_JOB_PAYLOAD_BYTES - JOB_OVERHEAD_BYTES - Buffer.byteLength(JSON.stringify(frame));
}

/** Below this, a job would carry a handful of recipients: not worth a worker. */
const MIN_RECIPIENT_BUDGET_BYTES = 16 * 1024;

export interface PlannedChunk {
  readonly recipients: readonly Recipient[];
  /** This chunk's share of the fan-out's rate: a ceiling for its worker. */
  readonly ratePerSecond: number;
}

function packedBytes(recipient: Recipient): number {
  // `["id","user"],` as it appears in the payload.
  return Buffer.byteLength(JSON.stringify([recipient.connectionId, recipient.userId])) + 1;
}

/** Splits recipients into chunks of at most `chunkSize` recipients and `byteBudget` bytes each. */
export function splitRecipients(
  recipients: readonly Recipient[],
  chunkSize: number,
  byteBudget: number,
): Recipient[][] {
  const chunks: Recipient[][] = [];
  let current: Recipient[] = [];
  let bytes = 0;
  for (const recipient of recipients) {
    const size = packedBytes(recipient);
    if (current.length > 0 && (current.length >= chunkSize || bytes + size > byteBudget)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(recipient);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The chunk jobs of a fan-out, all starting at once: one per lane (`laneCount`) when the
 * chunk size and the payload budget allow, else as few as they allow, evenly filled. The
 * chunks share R evenly, so their ceilings add up to R; with more chunks than lanes each
 * ceiling is below a worker's speed, and its worker waits between posts: the price of an
 * audience larger than the lanes can carry (lanes × `FANOUT_CHUNK_SIZE`, or the payload).
 */
export function planChunks(
  recipients: readonly Recipient[],
  pacing: FanOutPacing,
  byteBudget = MAX_JOB_PAYLOAD_BYTES - JOB_OVERHEAD_BYTES,
): PlannedChunk[] {
  const perLane = Math.ceil(recipients.length / laneCount(pacing));
  const greedy = splitRecipients(recipients, Math.max(1, Math.min(pacing.chunkSize, perLane)), byteBudget);
  // Refill the same number of chunks evenly, so that no worker is left with a short tail.
  const even = Math.ceil(recipients.length / Math.max(1, greedy.length));
  const chunks = splitRecipients(recipients, Math.max(1, Math.min(pacing.chunkSize, even)), byteBudget);
  const ratePerSecond = pacing.ratePerSecond / Math.max(1, chunks.length);
  return chunks.map((chunk) => ({ recipients: chunk, ratePerSecond }));
}

/** Where a broadcast shard job starts: a whole shard, or the rest of one after `after`. */
export interface ShardStart {
  readonly shard: number;
  readonly after?: string;
}

export interface RecipientDispatch {
  /** Connections handed to workers. */
  readonly queued: number;
  /** Connections whose job Lambda refused (after the SDK's retries): nobody will post to them. */
  readonly notQueued: readonly Recipient[];
  readonly jobs: number;
}

export interface ShardDispatch {
  readonly queued: readonly ShardStart[];
  readonly notQueued: readonly ShardStart[];
  /** `connections` shared out over the starts, for the queued ones (an estimate). */
  readonly queuedConnections: number;
  /** The rest of `connections`: the share of the starts Lambda refused. */
  readonly notQueuedConnections: number;
}

export interface FanOutDispatcherDependencies {
  readonly invoker: FanOutInvoker;
  readonly callbackUrl: string;
  readonly settings: DispatchSettings;
  readonly now?: () => number;
  readonly newId?: () => string;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  /** Told what each dispatch handed to workers, for metrics; must not throw. */
  readonly onDispatch?: (outcome: { readonly queued: number; readonly notQueued: number }) => void;
}

/** Hands fan-outs to workers: what a dispatching route handler uses (through `deliver` and broadcast). */
export class FanOutDispatcher {
  constructor(private readonly deps: FanOutDispatcherDependencies) {}

  get threshold(): number {
    return this.deps.settings.threshold;
  }

  /** Whether a fan-out to `connections` connections goes to workers. */
  offloads(connections: number): boolean {
    return connections > this.deps.settings.threshold;
  }

  /**
   * Whether a job can carry `frame` with room for recipients. Chat frames always fit (API
   * Gateway posts at most 128 KB); a larger one is posted inline, where the post fails.
   */
  canCarry(frame: string): boolean {
    return recipientBudget(frame) >= MIN_RECIPIENT_BUDGET_BYTES;
  }

  /**
   * Splits `recipients` into chunk jobs (`planChunks`) and invokes a worker per chunk,
   * several invocations in flight. A frame that `canCarry` refuses is a RangeError.
   */
  async dispatchRecipients(
    recipients: readonly Recipient[],
    frame: string,
    options: { readonly cleanup?: GoneCleanup; readonly name?: string } = {},
  ): Promise<RecipientDispatch> {
    const byteBudget = recipientBudget(frame);
    if (byteBudget < MIN_RECIPIENT_BUDGET_BYTES) {
      throw new RangeError(`a frame of ${frame.length} characters leaves no room for recipients in a job`);
    }
    const plan = planChunks(recipients, this.deps.settings, byteBudget);
    const id = this.newId();
    const startedAt = this.now();
    const notQueued: Recipient[] = [];
    await mapConcurrent(
      plan.map((chunk, index) => ({ chunk, index })),
      this.invokeConcurrency(),
      async ({ chunk, index }) => {
        const job: FanOutJob = {
          kind: 'chunk',
          id: `${id}.${index}`,
          part: 0,
          callbackUrl: this.deps.callbackUrl,
          frame,
          ratePerSecond: chunk.ratePerSecond,
          startAt: startedAt,
          recipients: chunk.recipients.map((r) => [r.connectionId, r.userId] as const),
          ...(options.cleanup ? { cleanup: options.cleanup } : {}),
          ...(options.name ? { name: options.name } : {}),
        };
        if (!(await this.invoke(job))) notQueued.push(...chunk.recipients);
      },
    );
    const outcome = { queued: recipients.length - notQueued.length, notQueued, jobs: plan.length };
    this.deps.onDispatch?.({ queued: outcome.queued, notQueued: notQueued.length });
    return outcome;
  }

  /**
   * One job per lane (`laneCount`, at most one per start), all starting now, each at
   * R / lanes: a lane posts its starts one after the other (start i goes to lane i mod L),
   * so the lanes together stay at R without any worker waiting for a slot. A start that
   * begins mid-shard (`after`) heads its lane. `connections` is what the caller expects
   * the starts to hold (an estimate: workers read the shards themselves); it is shared
   * out evenly over the starts to count what was queued and what was not.
   */
  async dispatchShards(
    starts: readonly ShardStart[],
    frame: string,
    options: { readonly connections: number; readonly name?: string },
  ): Promise<ShardDispatch> {
    if (starts.length === 0)
      return { queued: [], notQueued: [], queuedConnections: 0, notQueuedConnections: 0 };
    const id = this.newId();
    const startAt = this.now();
    const lanes = shardLanes(starts, laneCount(this.deps.settings));
    const ratePerSecond = this.deps.settings.ratePerSecond / lanes.length;
    const results = await mapConcurrent(lanes, this.invokeConcurrency(), ([head, ...rest]) => {
      const first = head as ShardStart;
      return this.invoke({
        kind: 'shard',
        id: `${id}.s${first.shard}`,
        part: 0,
        callbackUrl: this.deps.callbackUrl,
        frame,
        ratePerSecond,
        startAt,
        shard: first.shard,
        ...(first.after !== undefined ? { after: first.after } : {}),
        ...(rest.length > 0 ? { nextShards: rest.map((start) => start.shard) } : {}),
        name: options.name ?? 'broadcast',
      });
    });
    const queued = lanes.filter((_, index) => results[index]).flat();
    const notQueued = lanes.filter((_, index) => !results[index]).flat();
    const queuedConnections = Math.round((options.connections * queued.length) / starts.length);
    const notQueuedConnections = options.connections - queuedConnections;
    this.deps.onDispatch?.({ queued: queuedConnections, notQueued: notQueuedConnections });
    return { queued, notQueued, queuedConnections, notQueuedConnections };
  }

  private async invoke(job: FanOutJob): Promise<boolean> {
    try {
      await this.deps.invoker.invoke(job);
      return true;
    } catch (error) {
      this.deps.log?.('fan-out job not queued', {
        jobId: job.id,
        kind: job.kind,
        ...(job.kind === 'chunk' ? { recipients: job.recipients.length } : { shard: job.shard }),
        error,
      });
      return false;
    }
  }

  private invokeConcurrency(): number {
    return this.deps.settings.invokeConcurrency ?? DISPATCH_CONCURRENCY;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private newId(): string {
    return this.deps.newId?.() ?? randomUUID();
  }
}

/**
 * `starts` dealt round-robin into `lanes` lanes (fewer when there are fewer starts). Only
 * a lane's first start can begin mid-shard, so starts with `after` go first, and every
 * one of them heads a lane of its own.
 */
export function shardLanes(starts: readonly ShardStart[], lanes: number): ShardStart[][] {
  const ordered = [
    ...starts.filter((start) => start.after !== undefined),
    ...starts.filter((start) => start.after === undefined),
  ];
  const resumed = ordered.length - starts.filter((start) => start.after === undefined).length;
  const count = Math.min(ordered.length, Math.max(lanes, resumed));
  const dealt: ShardStart[][] = Array.from({ length: count }, () => []);
  ordered.forEach((start, index) => {
    dealt[index % count]?.push(start);
  });
  return dealt;
}
