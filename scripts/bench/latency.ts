/**
 * Section `latency`: 1:1 end-to-end latency of the local runtime under load, measured by
 * `npm run soak` (scripts/soak.ts) itself: one soak run per rate, each spawning a fresh
 * runtime (`local/main.ts --in-memory`, rate limit off), opening the connections, sending
 * `send_message`s between random pairs at the rate, and printing its report as a JSON
 * line, which this parses (latency percentiles, loss, errors, the runtime's peak RSS).
 *
 * First the fixed rates, each of `repeatRates` (the targets' rates) `runsPerRate` times,
 * reported as the median of the runs (scripts/bench/latency-runs.ts); then a search, one
 * run per rate, for the highest rate the runtime sustains: p99 ≤
 * `p99LimitMs`, nothing lost or duplicated, no errors, every connection opened, and the
 * rate actually sent. The search doubles (×1.5) from the best passing rate until one
 * fails, then bisects, within `searchSteps` more runs.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { latencyPoint, runSustains } from './latency-runs.ts';
import { round, sampleLoad } from './machine.ts';
import type { LatencyPoint, LatencyRun, LatencySection, LoadWindow } from './types.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface LatencyOptions {
  readonly connections: number;
  readonly rates: readonly number[];
  /** Rates (among `rates`) a target is measured at: each is run `runsPerRate` times. */
  readonly repeatRates: readonly number[];
  readonly runsPerRate: number;
  readonly seconds: number;
  readonly searchSteps: number;
  readonly searchSeconds: number;
  readonly p99LimitMs: number;
  readonly connectConcurrency: number;
  readonly log: (line: string) => void;
}

interface SoakReport {
  connections?: { welcomed?: number; rampUpSeconds?: number };
  sent?: number;
  delivered?: number;
  lost?: number;
  /** Stored, not received, and the runtime still busy when the soak stopped waiting. */
  pending?: number;
  duplicates?: number;
  errors?: Record<string, number>;
  latencyMs?: { p50?: number; p95?: number; p99?: number; max?: number };
  achievedRate?: number;
  runtimePeakRssMb?: number | string;
  runtimeCpuMsPerMessage?: number | string;
  soakClientCpuMsPerMessage?: number;
}

const numberOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

function runSoak(
  options: LatencyOptions,
  rate: number,
  seconds: number,
  seed: number,
): Promise<{ report: SoakReport; code: number | null; output: string }> {
  const args = [
    '--import',
    'tsx',
    'scripts/soak.ts',
    '--connections',
    String(options.connections),
    '--rate',
    String(rate),
    '--minutes',
    String(seconds / 60),
    '--connect-concurrency',
    String(options.connectConcurrency),
    '--drain-seconds',
    '30',
    // An overloaded run may take long to finish its queued work; past this it reports pending.
    '--settle-seconds',
    '30',
    '--seed',
    String(seed),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: REPOSITORY_ROOT,
      // JWT_SECRET unset: the spawned runtime and the soak client both use the development secret.
      env: { ...process.env, JWT_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const line = output
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{') && l.includes('"latencyMs"'));
      if (!line) {
        reject(new Error(`npm run soak printed no report (exit ${code}):\n${output.slice(-2000)}`));
        return;
      }
      resolve({ report: JSON.parse(line) as SoakReport, code, output });
    });
  });
}

function runOf(
  options: LatencyOptions,
  rate: number,
  report: SoakReport,
  code: number | null,
  load: LoadWindow,
): LatencyRun {
  const latency = report.latencyMs ?? {};
  const run: LatencyRun = {
    p50: latency.p50 ?? Number.NaN,
    p95: latency.p95 ?? Number.NaN,
    p99: latency.p99 ?? Number.NaN,
    max: latency.max ?? Number.NaN,
    sent: report.sent ?? 0,
    delivered: report.delivered ?? 0,
    // A message still pending when the soak gave up is not known to arrive: it counts as lost.
    lost: (report.lost ?? 0) + (report.pending ?? 0),
    duplicates: report.duplicates ?? 0,
    errors: report.errors ?? {},
    achievedRate: report.achievedRate ?? 0,
    runtimePeakRssMb: typeof report.runtimePeakRssMb === 'number' ? report.runtimePeakRssMb : null,
    runtimeCpuMsPerMessage: numberOrNull(report.runtimeCpuMsPerMessage),
    clientCpuMsPerMessage: numberOrNull(report.soakClientCpuMsPerMessage),
    rampUpSeconds: report.connections?.rampUpSeconds ?? Number.NaN,
    welcomed: report.connections?.welcomed ?? 0,
    sustained: false,
    soakExitCode: code,
    load,
  };
  // A missing report field counts against the run (lost/duplicates unknown: not clean).
  const known = report.lost !== undefined && report.duplicates !== undefined;
  return { ...run, sustained: known && runSustains(run, rate, options) };
}

/** The next rate to try, or undefined when the search is done. */
function nextRate(points: readonly LatencyPoint[], resolution: number): number | undefined {
  const passing = points.filter((p) => p.sustained).map((p) => p.rate);
  const best = passing.length ? Math.max(...passing) : undefined;
  const failingAbove = points.filter((p) => !p.sustained && (best === undefined || p.rate > best));
  const fail = failingAbove.length ? Math.min(...failingAbove.map((p) => p.rate)) : undefined;
  const roundRate = (r: number) => Math.max(1, Math.round(r / resolution) * resolution);
  let candidate: number;
  if (best === undefined) candidate = roundRate((fail ?? 100) / 2);
  else if (fail === undefined) candidate = roundRate(best * 1.5);
  else {
    if (fail - best <= resolution) return undefined;
    candidate = roundRate((best + fail) / 2);
  }
  return points.some((p) => p.rate === candidate) ? undefined : candidate;
}

export async function runLatencySection(options: LatencyOptions): Promise<LatencySection> {
  const startedAt = performance.now();
  const points: LatencyPoint[] = [];
  const measure = async (rate: number, seconds: number, phase: LatencyPoint['phase']) => {
    const times = phase === 'fixed' && options.repeatRates.includes(rate) ? options.runsPerRate : 1;
    const runs: LatencyRun[] = [];
    for (let i = 0; i < times; i++) {
      options.log(
        `  soak: ${options.connections} connections at ${rate} msg/s for ${seconds} s${times > 1 ? ` (run ${i + 1} of ${times})` : ''}`,
      );
      const atStart = round(loadavg()[0] ?? 0, 2);
      const stopSampling = sampleLoad();
      const { report, code } = await runSoak(options, rate, seconds, points.length + runs.length + 1);
      const run = runOf(options, rate, report, code, { atStart, max: stopSampling() });
      options.log(
        `    p50 ${run.p50} / p95 ${run.p95} / p99 ${run.p99} ms, sent ${run.achievedRate}/s, lost ${run.lost}, ` +
          `errors ${JSON.stringify(run.errors)}, CPU/message ${run.runtimeCpuMsPerMessage} ms runtime + ${run.clientCpuMsPerMessage} ms clients, runtime peak RSS ${run.runtimePeakRssMb} MB, load ${run.load?.atStart}-${run.load?.max} → ${run.sustained ? 'sustained' : 'not sustained'}`,
      );
      runs.push(run);
    }
    const point = latencyPoint({ rate, seconds, phase }, runs, options);
    if (runs.length > 1) {
      options.log(
        `    median of ${runs.length}: p50 ${point.p50} / p95 ${point.p95} / p99 ${point.p99} ms → ${point.sustained ? 'sustained' : 'not sustained'}`,
      );
    }
    points.push(point);
  };
  for (const rate of options.rates) await measure(rate, options.seconds, 'fixed');
  const resolution = Math.max(1, Math.round(Math.min(...options.rates) / 4));
  for (let step = 0; step < options.searchSteps; step++) {
    const rate = nextRate(points, resolution);
    if (rate === undefined) break;
    await measure(rate, options.searchSeconds, 'search');
  }
  const passing = points.filter((p) => p.sustained).map((p) => p.rate);
  const maxSustainedRate = passing.length ? Math.max(...passing) : null;
  const failing = points
    .filter((p) => !p.sustained && (maxSustainedRate === null || p.rate > maxSustainedRate))
    .map((p) => p.rate);
  const peaks = points.map((p) => p.runtimePeakRssMb).filter((m): m is number => m !== null);
  return {
    connections: options.connections,
    p99LimitMs: options.p99LimitMs,
    points: [...points].sort((a, b) => a.rate - b.rate || a.seconds - b.seconds),
    maxSustainedRate,
    firstFailingRate: failing.length ? Math.min(...failing) : null,
    peakRssMb: peaks.length ? Math.max(...peaks) : null,
    seconds: round((performance.now() - startedAt) / 1000, 0),
  };
}
