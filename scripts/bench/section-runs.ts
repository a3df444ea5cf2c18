/**
 * Where and under what load each section was measured. A partial run (`--only X`)
 * re-measures some sections and keeps the others from performance.json, so one run's
 * commit and load average cannot describe the page: each section keeps its own, and the
 * page's header shows their range.
 */
import { loadavg } from 'node:os';
import { type MachineFacts, round, sampleLoad } from './machine.ts';
import { SECTIONS, type SectionName } from './types.ts';

export interface SectionRun {
  /** When the section finished (ISO). */
  readonly at: string;
  readonly gitCommit: string;
  /** The work tree had uncommitted changes. */
  readonly gitDirty: boolean;
  /** 1-minute load average when the section started, and the highest sampled during it. */
  readonly loadAverageAtStart: number;
  readonly loadAverageMax: number;
  /**
   * Taken from the whole run that measured it (a file written before sections kept their
   * own): that run's commit and load average, not the section's alone.
   */
  readonly fromRun?: true;
}

export type SectionRuns = Partial<Record<SectionName, SectionRun>>;

/** What a kept file says about its sections; older files only know their run's machine. */
export function sectionRunsOf(previous: {
  readonly sectionRuns?: SectionRuns;
  readonly measuredAt?: Partial<Record<SectionName, string>>;
  readonly machine?: MachineFacts;
}): SectionRuns {
  const runs: SectionRuns = { ...previous.sectionRuns };
  const machine = previous.machine;
  for (const section of SECTIONS) {
    const at = previous.measuredAt?.[section];
    if (runs[section] || !at || !machine) continue;
    runs[section] = {
      at,
      gitCommit: machine.gitCommit,
      gitDirty: machine.gitDirty,
      loadAverageAtStart: machine.loadAverageAtStart,
      loadAverageMax: machine.loadAverageMax ?? machine.loadAverageAtStart,
      fromRun: true,
    };
  }
  return runs;
}

/** Starts watching one section; the returned function, called when it ends, describes it. */
export function startSectionRun(machine: MachineFacts): () => SectionRun {
  const loadAverageAtStart = round(loadavg()[0] ?? 0, 2);
  const stop = sampleLoad();
  return () => ({
    at: new Date().toISOString(),
    gitCommit: machine.gitCommit,
    gitDirty: machine.gitDirty,
    loadAverageAtStart,
    loadAverageMax: stop(),
  });
}

/** The sections' runs in page order. */
export function orderedRuns(runs: SectionRuns): [SectionName, SectionRun][] {
  return SECTIONS.flatMap((section) => {
    const run = runs[section];
    return run ? [[section, run] as [SectionName, SectionRun]] : [];
  });
}

/** The load averages over all sections: the lowest at a section's start, the highest sampled. */
export function loadRange(runs: SectionRuns): { low: number; high: number } | undefined {
  const all = orderedRuns(runs).map(([, run]) => run);
  if (all.length === 0) return undefined;
  return {
    low: Math.min(...all.map((run) => run.loadAverageAtStart)),
    high: Math.max(...all.map((run) => run.loadAverageMax)),
  };
}

/** `commit abc (dynamo, fanout), def plus uncommitted changes (latency)`; one commit: just it. */
export function commitsLine(runs: SectionRuns): string {
  const byCommit = new Map<string, SectionName[]>();
  for (const [section, run] of orderedRuns(runs)) {
    const label = `${run.gitCommit}${run.gitDirty ? ' plus uncommitted changes in the work tree' : ''}`;
    byCommit.set(label, [...(byCommit.get(label) ?? []), section]);
  }
  if (byCommit.size === 1) return `commit ${[...byCommit.keys()][0]}`;
  return `commits ${[...byCommit].map(([label, sections]) => `${label} (${sections.join(', ')})`).join('; ')}`;
}
