/**
 * Large audiences: beyond a threshold, a fan-out is not posted by the route handler but
 * split into jobs that fan-out workers (the `fanOutWorker` function, invoked
 * asynchronously) post, paced so that one fan-out never exceeds a configured rate. The
 * handler's time then no longer grows with the audience. See docs/architecture.md,
 * "Large audiences", for the pacing math.
 *
 * Two kinds of job:
 * - `chunk`: an explicit list of recipients (groups, rooms, presence, receipts, recalls,
 *   notifications: audiences the handler has already read);
 * - `shard`: one shard of the presence table's `byShard` index (broadcast), which the
 *   worker reads itself page by page, so the handler never reads the whole audience.
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
  /** Posts per second this job may make (retries included). */
  readonly ratePerSecond: number;
  /** Epoch milliseconds before which the job posts nothing (its slot in the pacing plan). */
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
  /** Milliseconds after the dispatch at which this chunk may start posting. */
  readonly offsetMs: number;
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
 * Lanes of a fan-out split into `chunks` chunks: ⌈R / c⌉ (so that one lane posts about a
 * chunk per second), never more than there are chunks.
 */
export function laneCount(chunks: number, pacing: FanOutPacing): number {
  return Math.max(1, Math.min(chunks, Math.ceil(pacing.ratePerSecond / pacing.chunkSize)));
}

/**
 * The pacing plan. With R posts per second for the whole fan-out and L lanes, each
 * chunk posts at R / L; a lane runs its chunks one after another (each chunk's start is
 * the previous one's start plus its size / (R / L)), and the lanes run side by side, so
 * at any moment at most L chunks post, at R / L each: at most R in total.
 * Each chunk goes to the lane that frees up first.
 */
export function planChunks(
  recipients: readonly Recipient[],
  pacing: FanOutPacing,
  byteBudget = MAX_JOB_PAYLOAD_BYTES - JOB_OVERHEAD_BYTES,
): PlannedChunk[] {
  const chunks = splitRecipients(recipients, pacing.chunkSize, byteBudget);
  const lanes = laneCount(chunks.length, pacing);
  const ratePerSecond = pacing.ratePerSecond / lanes;
  const laneFreeAt = new Array<number>(lanes).fill(0);
  return chunks.map((chunk) => {
    let lane = 0;
    for (let i = 1; i < lanes; i++) if ((laneFreeAt[i] as number) < (laneFreeAt[lane] as number)) lane = i;
    // Whole milliseconds, rounded up: a chunk never starts before the one ahead of it is done.
    const offsetMs = Math.ceil(laneFreeAt[lane] as number);
    laneFreeAt[lane] = offsetMs + (chunk.length / ratePerSecond) * 1000;
    return { recipients: chunk, offsetMs, ratePerSecond };
  });
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
   * Splits `recipients` into paced chunk jobs and invokes a worker per chunk, several
   * invocations in flight. A frame that `canCarry` refuses is a RangeError.
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
          startAt: startedAt + chunk.offsetMs,
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
   * One job per shard start, all starting now, each at R / (number of starts): every
   * shard is posted in parallel and the whole broadcast stays at R. `connections` is what
   * the caller expects the starts to hold (an estimate: workers read the shards
   * themselves); it is shared out evenly to count what was queued and what was not.
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
    const ratePerSecond = this.deps.settings.ratePerSecond / starts.length;
    const results = await mapConcurrent(starts, this.invokeConcurrency(), (start) =>
      this.invoke({
        kind: 'shard',
        id: `${id}.s${start.shard}`,
        part: 0,
        callbackUrl: this.deps.callbackUrl,
        frame,
        ratePerSecond,
        startAt,
        shard: start.shard,
        ...(start.after !== undefined ? { after: start.after } : {}),
        name: options.name ?? 'broadcast',
      }),
    );
    const queued = starts.filter((_, index) => results[index]);
    const notQueued = starts.filter((_, index) => !results[index]);
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
