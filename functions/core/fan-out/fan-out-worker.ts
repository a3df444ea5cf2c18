/**
 * What a fan-out worker does with one job (see fan-out-dispatch.ts): claim the job
 * (Lambda may deliver an asynchronous event twice), post at once and at full speed
 * through the shared fan-out (retries, 410 cleanup), never above the job's rate ceiling,
 * and hand what is left to a new invocation of itself before its time runs out. It never
 * sleeps while billed except where the ceiling or a 429's backoff makes it.
 *
 * Failure rules, so a re-drive from the on-failure destination never duplicates:
 * - a job fails (throws) only before its first post: a broadcast shard
 *   whose first page cannot be read;
 * - after the first post nothing is thrown: what could not be posted is handed on (a
 *   continuation: same id, next part) or, when even that fails, reported and logged.
 */

import type { ConnectionRegistry } from '../connections/connections.ts';
import { delay } from '../shared/concurrency.ts';
import type { ConnectionNotifier, PresenceStore, RoomStore } from '../shared/ports.ts';
import { connectionsOf, deliverFrame } from './delivery.ts';
import type { FanOutResult, Recipient } from './fan-out.ts';
import type { ChunkJob, FanOutInvoker, FanOutJob, PackedRecipient, ShardJob } from './fan-out-dispatch.ts';

/** Takes a job part once: false when another invocation already took it. */
export interface FanOutJobClaims {
  claim(key: string): Promise<boolean>;
}

/**
 * The worker's time: when it is, and a wait until a given moment. The rate ceiling asks
 * for the moments it wants (each post's turn), and the time left is judged from the
 * posting speed seen so far, so a test can check both with a clock of its own instead of
 * measuring elapsed time.
 */
export interface WorkerClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves at `epochMs` (at once when that has passed). */
  sleepUntil(epochMs: number): Promise<void>;
}

export const systemClock: WorkerClock = {
  now: () => Date.now(),
  sleepUntil: (epochMs) => delay(Math.max(0, epochMs - Date.now())),
};

/** The worker's remaining time (Lambda's `context.getRemainingTimeInMillis`). */
export interface WorkerBudget {
  remainingMs(): number;
}

export interface FanOutWorkerDependencies {
  readonly notifier: ConnectionNotifier;
  readonly registry: Pick<ConnectionRegistry, 'closeGone'>;
  readonly rooms: Pick<RoomStore, 'leave'>;
  readonly presence: Pick<PresenceStore, 'onlineInShard'>;
  /** Hands the rest of a job to a new invocation. */
  readonly invoker: FanOutInvoker;
  /** Unset: no duplicate check. */
  readonly claims?: FanOutJobClaims;
  readonly fanOutConcurrency: number;
  /** Users per `byShard` page a shard job reads (at most). @default SHARD_PAGE_USERS */
  readonly shardPageSize?: number;
  /** Time kept back to hand the rest on and return. @default SAFETY_MARGIN_MS */
  readonly safetyMarginMs?: number;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  readonly onFanOut?: (result: FanOutResult, size: number) => void;
  /** @default systemClock */
  readonly clock?: WorkerClock;
}

/** As many as an inline broadcast reads per page (`BROADCAST_PAGE_USERS`). */
export const SHARD_PAGE_USERS = 500;
export const SAFETY_MARGIN_MS = 5_000;
/**
 * A chunk is posted in slices of about this many seconds at its ceiling, and never more
 * than `MAX_SLICE_POSTS` posts, checking the time left between them.
 */
export const SLICE_SECONDS = 5;
export const MAX_SLICE_POSTS = 2_000;

export type FanOutJobOutcome =
  /** Everything this part was given was posted (or met 410 / failed after retries). */
  | 'done'
  /** Another invocation had already claimed this part: nothing posted. */
  | 'duplicate'
  /** Posted what fitted in this invocation; the rest went to a continuation. */
  | 'handed-off'
  /** The continuation could not be invoked: `remaining` recipients were not posted. */
  | 'abandoned';

export interface FanOutJobReport {
  readonly jobId: string;
  readonly part: number;
  readonly kind: FanOutJob['kind'];
  readonly outcome: FanOutJobOutcome;
  readonly delivered: number;
  readonly gone: number;
  readonly failed: number;
  /** Chunk jobs: recipients handed on or abandoned. */
  readonly remaining?: number;
}

/**
 * Spaces calls at least `intervalMs` apart; an idle pacer banks no time (no bursts). A
 * ceiling: callers that come no faster than that never wait.
 */
export class Pacer {
  private nextAt = 0;
  constructor(
    private readonly intervalMs: number,
    private readonly clock: WorkerClock = systemClock,
  ) {}

  /** Waits for the caller's turn; a turn that is due now does not wait. */
  async wait(): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    if (at > now) await this.clock.sleepUntil(at);
  }
}

/** `notifier` with every post (retries included) waiting for `pacer`. */
export function pacedNotifier(notifier: ConnectionNotifier, pacer: Pacer): ConnectionNotifier {
  return {
    async post(connectionId, frame) {
      await pacer.wait();
      await notifier.post(connectionId, frame);
    },
  };
}

/** Milliseconds `count` posts take at `ratePerSecond`. */
export function postingTimeMs(count: number, ratePerSecond: number): number {
  return (count / ratePerSecond) * 1000;
}

const unpack = ([connectionId, userId]: PackedRecipient): Recipient => ({ connectionId, userId });
const pack = (recipient: Recipient): PackedRecipient => [recipient.connectionId, recipient.userId];

interface Totals {
  delivered: number;
  gone: number;
  failed: number;
}

/** Runs one job part. Throws only before its first post (see the module comment). */
export async function runFanOutJob(
  deps: FanOutWorkerDependencies,
  job: FanOutJob,
  budget: WorkerBudget,
): Promise<FanOutJobReport> {
  return job.kind === 'chunk' ? runChunk(deps, job, budget) : runShard(deps, job, budget);
}

class JobRun {
  readonly totals: Totals = { delivered: 0, gone: 0, failed: 0 };
  private readonly clock: WorkerClock;
  private readonly pacer: Pacer;
  private claimed = false;
  /** Posts made so far and the time they took: the speed the time left is judged by. */
  private posted = 0;
  private postingMs = 0;

  constructor(
    private readonly deps: FanOutWorkerDependencies,
    private readonly job: FanOutJob,
    private readonly budget: WorkerBudget,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.pacer = new Pacer(1000 / job.ratePerSecond, this.clock);
  }

  readonly now = (): number => this.clock.now();

  get margin(): number {
    return this.deps.safetyMarginMs ?? SAFETY_MARGIN_MS;
  }

  /**
   * Whether `posts` more posts fit in the time left, at the speed seen so far (the
   * ceiling's before the first post, and never faster than it).
   */
  fits(posts: number): boolean {
    const ceilingMs = postingTimeMs(1, this.job.ratePerSecond);
    const msPerPost = this.posted > 0 ? Math.max(ceilingMs, this.postingMs / this.posted) : ceilingMs;
    return this.budget.remainingMs() - this.margin >= posts * msPerPost;
  }

  /**
   * Claims this part before its first post; false when it was claimed already. A failing
   * claim store does not stop the job: a possible duplicate beats a certain loss.
   */
  async claimOnce(): Promise<boolean> {
    if (this.claimed || !this.deps.claims) {
      this.claimed = true;
      return true;
    }
    const key = `${this.job.id}#${this.job.part}`;
    try {
      if (!(await this.deps.claims.claim(key))) return false;
    } catch (error) {
      this.deps.log?.('fan-out job claim failed; posting anyway', {
        jobId: this.job.id,
        part: this.job.part,
        error,
      });
    }
    this.claimed = true;
    return true;
  }

  get hasClaimed(): boolean {
    return this.claimed;
  }

  async post(recipients: readonly Recipient[]): Promise<void> {
    const startedAt = this.now();
    const roomId = this.job.kind === 'chunk' ? this.job.cleanup?.leaveRoom : undefined;
    const result = await deliverFrame(
      {
        notifier: pacedNotifier(this.deps.notifier, this.pacer),
        registry: this.deps.registry,
        fanOutConcurrency: this.deps.fanOutConcurrency,
        log: this.deps.log,
        onFanOut: this.deps.onFanOut,
      },
      recipients,
      this.job.frame,
      {
        ...(roomId
          ? { alsoOnGone: (recipient: Recipient) => this.deps.rooms.leave(roomId, recipient.connectionId) }
          : {}),
        name: this.job.name ? `${this.job.name} worker` : 'worker',
        logDetails: { jobId: this.job.id, part: this.job.part },
      },
    );
    this.totals.delivered += result.delivered;
    this.totals.gone += result.gone;
    this.totals.failed += result.failed.length;
    this.posted += recipients.length;
    this.postingMs += this.now() - startedAt;
  }

  /** Invokes `next` (a continuation or the same job again); false when Lambda refused it. */
  async handOn(next: FanOutJob): Promise<boolean> {
    try {
      await this.deps.invoker.invoke(next);
      return true;
    } catch (error) {
      this.deps.log?.('fan-out continuation not queued; the rest of the job is not posted', {
        jobId: this.job.id,
        part: next.part,
        error,
      });
      return false;
    }
  }

  report(outcome: FanOutJobOutcome, remaining?: number): FanOutJobReport {
    return {
      jobId: this.job.id,
      part: this.job.part,
      kind: this.job.kind,
      outcome,
      ...this.totals,
      ...(remaining !== undefined ? { remaining } : {}),
    };
  }
}

async function runChunk(
  deps: FanOutWorkerDependencies,
  job: ChunkJob,
  budget: WorkerBudget,
): Promise<FanOutJobReport> {
  const run = new JobRun(deps, job, budget);
  const recipients = job.recipients.map(unpack);
  const sliceSize = Math.max(1, Math.min(MAX_SLICE_POSTS, Math.floor(job.ratePerSecond * SLICE_SECONDS)));
  if (!(await run.claimOnce())) return run.report('duplicate');
  for (let index = 0; index < recipients.length; ) {
    const slice = recipients.slice(index, index + sliceSize);
    if (index > 0 && !run.fits(slice.length)) {
      const rest = recipients.slice(index);
      const handedOn = await run.handOn({
        ...job,
        part: job.part + 1,
        startAt: run.now(),
        recipients: rest.map(pack),
      });
      return run.report(handedOn ? 'handed-off' : 'abandoned', rest.length);
    }
    await run.post(slice);
    index += slice.length;
  }
  return run.report('done');
}

/** Where a shard job reads next: a shard, after a user id or from its start. */
interface ShardPosition {
  readonly shard: number;
  readonly after?: string;
}

/** A lane's place: where to read, and the lane's shards after that one. */
interface LanePlace {
  readonly at: ShardPosition;
  readonly later: readonly number[];
}

async function runShard(
  deps: FanOutWorkerDependencies,
  job: ShardJob,
  budget: WorkerBudget,
): Promise<FanOutJobReport> {
  const run = new JobRun(deps, job, budget);
  // A page (up to ten connections per user) should post in about SLICE_SECONDS at the ceiling.
  const pageSize = Math.max(
    1,
    Math.min(deps.shardPageSize ?? SHARD_PAGE_USERS, Math.floor(job.ratePerSecond * SLICE_SECONDS)),
  );
  const continuation = ({ at, later }: LanePlace): ShardJob => {
    const { after: _after, nextShards: _nextShards, ...rest } = job;
    return {
      ...rest,
      part: job.part + 1,
      startAt: run.now(),
      shard: at.shard,
      ...(at.after !== undefined ? { after: at.after } : {}),
      ...(later.length > 0 ? { nextShards: [...later] } : {}),
    };
  };
  const handOn = async (place: LanePlace) =>
    run.report((await run.handOn(continuation(place))) ? 'handed-off' : 'abandoned');
  const read = ({ shard, after }: ShardPosition) => {
    const page = deps.presence.onlineInShard(shard, pageSize, after);
    // Read ahead while the previous page posts; a read never awaited must not go unhandled.
    page.catch(() => undefined);
    return page;
  };
  let place: LanePlace = {
    at: { shard: job.shard, ...(job.after !== undefined ? { after: job.after } : {}) },
    later: job.nextShards ?? [],
  };
  let pending = read(place.at);
  for (;;) {
    let page: Awaited<ReturnType<typeof read>>;
    try {
      page = await pending;
    } catch (error) {
      // Nothing posted yet: fail, so the on-failure destination keeps a re-drivable job.
      if (!run.hasClaimed) throw error;
      deps.log?.('fan-out shard page could not be read; handing the rest on', {
        jobId: job.id,
        part: job.part,
        shard: place.at.shard,
        error,
      });
      return handOn(place);
    }
    // The rest of this shard, else the lane's next shard from its start, else nothing.
    const next: LanePlace | undefined =
      page.after !== undefined
        ? { at: { shard: place.at.shard, after: page.after }, later: place.later }
        : place.later.length > 0
          ? { at: { shard: place.later[0] as number }, later: place.later.slice(1) }
          : undefined;
    const recipients = connectionsOf(page.users);
    if (recipients.length > 0) {
      // The first page of an invocation always posts, so a continuation always makes
      // progress; a later one that would not fit is read again by the continuation.
      if (run.hasClaimed && !run.fits(recipients.length)) return handOn(place);
      if (!(await run.claimOnce())) return run.report('duplicate');
      if (next) pending = read(next.at);
      await run.post(recipients);
    } else if (next) {
      pending = read(next.at);
    }
    if (!next) return run.report('done');
    place = next;
  }
}

/** Whether `value` has the shape of a fan-out job (the worker's payload is checked before use). */
export function isFanOutJob(value: unknown): value is FanOutJob {
  if (typeof value !== 'object' || value === null) return false;
  const job = value as Record<string, unknown>;
  const base =
    typeof job.id === 'string' &&
    job.id.length > 0 &&
    Number.isInteger(job.part) &&
    (job.part as number) >= 0 &&
    typeof job.callbackUrl === 'string' &&
    /^https?:\/\//.test(job.callbackUrl) &&
    typeof job.frame === 'string' &&
    typeof job.ratePerSecond === 'number' &&
    job.ratePerSecond > 0 &&
    Number.isFinite(job.ratePerSecond) &&
    typeof job.startAt === 'number' &&
    Number.isFinite(job.startAt) &&
    (job.name === undefined || typeof job.name === 'string');
  if (!base) return false;
  if (job.kind === 'chunk') {
    const cleanup = job.cleanup as Record<string, unknown> | undefined;
    return (
      Array.isArray(job.recipients) &&
      job.recipients.every(
        (r) => Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && typeof r[1] === 'string',
      ) &&
      (cleanup === undefined ||
        (typeof cleanup === 'object' &&
          cleanup !== null &&
          (cleanup.leaveRoom === undefined || typeof cleanup.leaveRoom === 'string')))
    );
  }
  if (job.kind === 'shard') {
    const isShard = (shard: unknown) => Number.isInteger(shard) && (shard as number) >= 0;
    return (
      isShard(job.shard) &&
      (job.after === undefined || typeof job.after === 'string') &&
      (job.nextShards === undefined || (Array.isArray(job.nextShards) && job.nextShards.every(isShard)))
    );
  }
  return false;
}
