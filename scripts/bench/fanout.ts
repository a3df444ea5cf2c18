/**
 * Section `fanout`: a broadcast through the local runtime over real sockets, at growing
 * numbers of connected clients (users `f{i}`, one connection each, `f0` an admin). The
 * clients live in this process, the runtime in the host process. Wall time is from the
 * `broadcast` frame sent to the last client's receipt; recipients/s is connections over
 * that. Each broadcast's DynamoDB, Management API and Lambda figures are counted too
 * (scripts/bench/operations.ts): that is where "broadcast to N" costs come from for large N.
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
  readonly log: (line: string) => void;
}

export async function runFanOutSection(options: FanOutOptions): Promise<FanOutSection> {
  const startedAt = performance.now();
  const { log } = options;
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const host = await Host.start();
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
        log(
          `  broadcast to ${size}: delivered ${run.delivered} in ${round(run.deliveredMs, 0)} ms (reply ${round(run.replyMs, 0)} ms)`,
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
    return {
      points,
      rampSeconds,
      ...(host.memory() ? { hostPeakRssMb: host.memory()?.peakMb } : {}),
      ...(memoryOf(process.pid) ? { clientPeakRssMb: memoryOf(process.pid)?.peakMb } : {}),
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
