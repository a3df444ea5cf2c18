/**
 * Latency figures of a rate from its soak runs: a target's rate is run several times and
 * reported as the median of the runs' percentiles, so one lucky or unlucky run decides
 * nothing; losses, duplicates and errors are the worst run's, so none is hidden.
 */

import { mergedWindow } from './load.ts';
import { median, round } from './machine.ts';
import type { LatencyPoint, LatencyRun } from './types.ts';

export interface SustainCriteria {
  readonly connections: number;
  readonly p99LimitMs: number;
}

/** Nothing lost, duplicated or refused, every client connected, and the rate sent. */
function clean(run: LatencyRun, rate: number, criteria: SustainCriteria): boolean {
  return (
    run.lost === 0 &&
    run.duplicates === 0 &&
    Object.keys(run.errors).length === 0 &&
    run.welcomed >= criteria.connections &&
    run.achievedRate >= rate * 0.95
  );
}

/** A run sustains the rate: p99 within the limit and clean. */
export function runSustains(run: LatencyRun, rate: number, criteria: SustainCriteria): boolean {
  return run.p99 <= criteria.p99LimitMs && clean(run, rate, criteria);
}

function mergedErrors(runs: readonly LatencyRun[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const run of runs)
    for (const [code, count] of Object.entries(run.errors)) errors[code] = (errors[code] ?? 0) + count;
  return errors;
}

/**
 * The point of a rate from its runs (at least one). One run: that run. Several: median
 * p50/p95/p99/max/rate sent/CPU per message, the most lost/duplicated, every error, the fewest welcomed;
 * sustained when the median p99 is within the limit and every run was clean.
 */
export function latencyPoint(
  at: Pick<LatencyPoint, 'rate' | 'seconds' | 'phase'>,
  runs: readonly LatencyRun[],
  criteria: SustainCriteria,
): LatencyPoint {
  const [first] = runs;
  if (!first) throw new Error(`No soak run at ${at.rate} msg/s.`);
  if (runs.length === 1) return { ...at, ...first };
  const med = (pick: (run: LatencyRun) => number) => round(median(runs.map(pick)), 1);
  const medianKnown = (pick: (run: LatencyRun) => number | null | undefined): number | null => {
    const known = runs.map(pick).filter((value): value is number => typeof value === 'number');
    return known.length ? round(median(known), 2) : null;
  };
  const peaks = runs.map((run) => run.runtimePeakRssMb).filter((mb): mb is number => mb !== null);
  const load = mergedWindow(runs.flatMap((run) => (run.load ? [run.load] : [])));
  const combined: LatencyRun = {
    p50: med((run) => run.p50),
    p95: med((run) => run.p95),
    p99: med((run) => run.p99),
    max: med((run) => run.max),
    sent: med((run) => run.sent),
    delivered: med((run) => run.delivered),
    lost: Math.max(...runs.map((run) => run.lost)),
    duplicates: Math.max(...runs.map((run) => run.duplicates)),
    errors: mergedErrors(runs),
    achievedRate: med((run) => run.achievedRate),
    runtimePeakRssMb: peaks.length ? Math.max(...peaks) : null,
    rampUpSeconds: med((run) => run.rampUpSeconds),
    welcomed: Math.min(...runs.map((run) => run.welcomed)),
    sustained: false,
    soakExitCode: runs.find((run) => run.soakExitCode !== 0)?.soakExitCode ?? first.soakExitCode,
    ...(load ? { load } : {}),
    runtimeCpuMsPerMessage: medianKnown((run) => run.runtimeCpuMsPerMessage),
    clientCpuMsPerMessage: medianKnown((run) => run.clientCpuMsPerMessage),
  };
  const sustained = combined.p99 <= criteria.p99LimitMs && runs.every((run) => clean(run, at.rate, criteria));
  return { ...at, ...combined, sustained, runs };
}
