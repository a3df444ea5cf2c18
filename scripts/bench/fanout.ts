/**
 * Section `fanout`: a broadcast through the local runtime over real sockets, at growing
 * numbers of connected clients (users `f{i}`, one connection each, `f0` an admin). The
 * clients live in this process, the runtime in the host process. Wall time is from the
 * `broadcast` frame sent to the last client's receipt; recipients/s is connections over
 * that. Each broadcast's DynamoDB, Management API and Lambda figures are counted too
 * (scripts/bench/operations.ts): that is where "broadcast to N" costs come from for large N.
 *
 * Above the fan-out worker threshold the broadcast goes to fan-out workers. The same
 * audiences are then measured again on a second host where every fan-out is posted
 * inline (`inline` points), so the worker path's summed handler time — every invocation
 * it took, dispatcher and workers, as Lambda would bill them — stands next to the inline
 * path's for the same audience, in the same run (`workerVersusInline`).
 */
import { ClientPool } from './clients.ts';
import { Host } from './host-client.ts';
import { median, memoryOf, round } from './machine.ts';
import { type OperationRun, runOperation, summarize } from './operations.ts';
import type { FanOutPoint, FanOutSection } from './types.ts';

export interface FanOutOptions {
  /** Audience sizes, ascending; connections are added between steps. */
  readonly sizes: readonly number[];
  readonly repetitions: number;
  readonly connectConcurrency: number;
  /** `FANOUT_WORKER_THRESHOLD` of the first host. @default the runtime's (1,000) */
  readonly workerThreshold?: number;
  readonly log: (line: string) => void;
}

/** The runtime's `FANOUT_WORKER_THRESHOLD` default (functions/runtime/config.ts). */
const DEFAULT_WORKER_THRESHOLD = 1_000;
/** A threshold no audience here reaches: every fan-out posted by the route handler. */
const INLINE_ONLY = { FANOUT_WORKER_THRESHOLD: String(1_000_000_000) };

export async function runFanOutSection(options: FanOutOptions): Promise<FanOutSection> {
  const startedAt = performance.now();
  const { log } = options;
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const workerThreshold = options.workerThreshold ?? DEFAULT_WORKER_THRESHOLD;
  const env: Record<string, string> =
    options.workerThreshold !== undefined ? { FANOUT_WORKER_THRESHOLD: String(options.workerThreshold) } : {};
  const measured = await measureBroadcasts(sizes, env, options);
  const offloaded = sizes.filter((size) => size > workerThreshold);
  let inline: Measured | undefined;
  if (offloaded.length > 0) {
    log(`  the same audiences with every fan-out inline (${offloaded.join(', ')})`);
    inline = await measureBroadcasts(offloaded, INLINE_ONLY, options);
  }
  return {
    points: measured.points,
    rampSeconds: measured.rampSeconds,
    workerThreshold,
    ...(inline ? { inline: inline.points } : {}),
    ...(measured.hostPeakRssMb !== undefined ? { hostPeakRssMb: measured.hostPeakRssMb } : {}),
    ...(memoryOf(process.pid) ? { clientPeakRssMb: memoryOf(process.pid)?.peakMb } : {}),
    seconds: Math.round((performance.now() - startedAt) / 1000),
  };
}

interface Measured {
  readonly points: FanOutPoint[];
  readonly rampSeconds: Record<string, number>;
  readonly hostPeakRssMb?: number;
}

/** Broadcasts to each size on a fresh host started with `env`, `repetitions` times each. */
async function measureBroadcasts(
  sizes: readonly number[],
  env: Record<string, string>,
  options: FanOutOptions,
): Promise<Measured> {
  const { log } = options;
  const host = await Host.start(env);
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const points: FanOutPoint[] = [];
  const rampSeconds: Record<string, number> = {};
  try {
    for (const size of sizes) {
      const from = pool.size;
      if (size > from) {
        const rampStarted = performance.now();
        log(`  opening connections ${from}..${size - 1}`);
        await pool.open(
          Array.from({ length: size - from }, (_, i) => ({
            userId: `f${from + i}`,
            ...(from + i === 0 ? { role: 'admin' } : {}),
          })),
          options.connectConcurrency,
        );
        rampSeconds[String(size)] = round((performance.now() - rampStarted) / 1000, 1);
        await host.quiesce(500, 120_000);
      }
      const runs: OperationRun[] = [];
      for (let i = 0; i < options.repetitions; i++) {
        const run = await runOperation({
          pool,
          host,
          from: 0,
          cmd: 'broadcast',
          data: (marker) => ({ message: marker }),
          expectedPushes: size,
          timeoutMs: 300_000,
        });
        const invocations = Object.values(run.snapshot.lambda);
        const handlerMs = invocations.reduce((sum, l) => sum + l.handlerMs, 0);
        const count = invocations.reduce((sum, l) => sum + l.invocations, 0);
        log(
          `  broadcast to ${size}: delivered ${run.delivered} in ${round(run.deliveredMs, 0)} ms (reply ${round(run.replyMs, 0)} ms; ${count} invocation(s), summed handler time ${round(handlerMs, 0)} ms)`,
        );
        runs.push(run);
      }
      const wallMsRuns = runs.map((run) => round(run.deliveredMs, 1));
      const wallMs = median(wallMsRuns);
      points.push({
        connections: size,
        repetitions: runs.length,
        wallMs: round(wallMs, 1),
        wallMsRuns,
        recipientsPerSecond: round(size / (wallMs / 1000), 0),
        replyMs: round(median(runs.map((run) => run.replyMs)), 1),
        delivered: Math.min(...runs.map((run) => run.delivered)),
        cost: summarize(runs, {
          operation: 'broadcast',
          label: `broadcast to ${size.toLocaleString('en-US')}`,
          background: size,
          registeredConnections: size,
          recipients: size,
        }),
      });
    }
    const memory = host.memory();
    return { points, rampSeconds, ...(memory ? { hostPeakRssMb: memory.peakMb } : {}) };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}

/** One audience through fan-out workers and inline, from the same run. */
export interface WorkerVersusInline {
  readonly connections: number;
  readonly workers: PathFigures;
  readonly inline: PathFigures;
  /** Summed handler time of the worker path over the inline path's (target: ≤ 2). */
  readonly handlerRatio: number;
  /** Wall time of the worker path over the inline path's. */
  readonly wallRatio: number;
}

export interface PathFigures {
  /** Median send → last recipient, ms. */
  readonly wallMs: number;
  /** Median over the runs of the sum of every invocation's duration (dispatcher + workers), ms. */
  readonly handlerMs: number;
  /** The same, rounded up per invocation to the millisecond, as Lambda bills. */
  readonly billedMs: number;
  readonly invocations: number;
}

function pathFigures(point: FanOutPoint): PathFigures {
  return {
    wallMs: point.wallMs,
    handlerMs: point.cost.handlerMs,
    billedMs: point.cost.billedMs,
    invocations: point.cost.lambdaInvocations,
  };
}

/** The audiences measured both ways, ascending. */
export function workerVersusInline(section: FanOutSection): WorkerVersusInline[] {
  return (section.inline ?? []).flatMap((inlinePoint) => {
    const workerPoint = section.points.find((p) => p.connections === inlinePoint.connections);
    if (!workerPoint) return [];
    const workers = pathFigures(workerPoint);
    const inline = pathFigures(inlinePoint);
    return [
      {
        connections: inlinePoint.connections,
        workers,
        inline,
        handlerRatio: round(workers.handlerMs / inline.handlerMs, 2),
        wallRatio: round(workers.wallMs / inline.wallMs, 2),
      },
    ];
  });
}
