/** Facts about the machine a run was taken on, process memory, and small statistics helpers. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';

export interface MachineFacts {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  /** 1-minute load average when the run started and when it ended. */
  readonly loadAverageAtStart: number;
  loadAverageAtEnd?: number;
  /** The highest 1-minute load average sampled during the run. */
  loadAverageMax?: number;
  readonly gitCommit: string;
  /**
   * Files changed in the work tree when the run started (it may measure uncommitted code),
   * not counting the bench's own output (BENCH_OUTPUT_PATHS), which one section leaves
   * behind for the next when they are run one at a time.
   */
  readonly gitDirty: boolean;
}

/** What `npm run bench` writes into docs/: a change there is a figure, not code. */
export const BENCH_OUTPUT_PATHS = ['docs/performance.json', 'docs/performance.md', 'docs/charts'];

function git(args: string[], cwd?: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function machineFacts(): MachineFacts {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    os: `${type()} ${release()}`,
    node: process.version,
    loadAverageAtStart: round(loadavg()[0] ?? 0, 2),
    gitCommit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    gitDirty: workTreeDirty(),
  };
}

/** Whether the work tree at `cwd` has changes besides the bench's own output. */
export function workTreeDirty(cwd?: string): boolean {
  const excluded = BENCH_OUTPUT_PATHS.map((path) => `:(top,exclude)${path}`);
  return git(['status', '--porcelain', '--', ':/', ...excluded], cwd).length > 0;
}

/** Samples the load average every 5 s until stopped; returns the maximum seen. */
export function sampleLoad(): () => number {
  let max = loadavg()[0] ?? 0;
  const timer = setInterval(() => {
    max = Math.max(max, loadavg()[0] ?? 0);
  }, 5_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    return round(Math.max(max, loadavg()[0] ?? 0), 2);
  };
}

/** VmHWM (peak RSS) and VmRSS of a process, in MB, from /proc (Linux); undefined elsewhere. */
export function memoryOf(pid: number): { peakMb: number; rssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakMb: round(kb('VmHWM') / 1024, 0), rssMb: round(kb('VmRSS') / 1024, 0) };
  } catch {
    return undefined;
  }
}

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
