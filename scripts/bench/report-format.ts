/** Formatting and lookups the bench report and its targets share. */
import { idleLoadLimit, isLoaded, loadLabel } from './load.ts';
import { type SectionRun, sectionRunsOf } from './section-runs.ts';
import type { LoadWindow, OperationCost, Results, SectionName } from './types.ts';

export const n = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
    : 'n/a';
export const kb = (bytes: number) => `${n(bytes / 1024, 0)} KB`;
/** Milliseconds with their unit, or `n/a`. */
export const ms = (value: number | null, digits = 1) =>
  Number.isFinite(value) ? `${n(value as number, digits)} ms` : 'n/a';
export const usd = (value: number) =>
  value >= 100 ? `$${n(value, 0)}` : value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(3)}`;
export const pct = (part: number, whole: number) => (whole > 0 ? `${n((part / whole) * 100, 0)}%` : 'n/a');

/** The breakdown of an operation's requests: `2× Query chat-groups, 1× PutItem chat-messages`. */
export function breakdown(cost: OperationCost): string {
  return breakdownOf(cost.byOperation);
}

export function breakdownOf(byOperation: OperationCost['byOperation']): string {
  return Object.entries(byOperation)
    .sort((a, b) => b[1].requests - a[1].requests)
    .map(([key, totals]) => `${totals.requests}× ${key}`)
    .join(', ');
}

/** A section's load window: at its start and the highest sampled (the whole run's for old files). */
export function sectionWindow(results: Results, section: SectionName): LoadWindow | undefined {
  const run: SectionRun | undefined = sectionRunsOf(results)[section];
  return run ? { atStart: run.loadAverageAtStart, max: run.loadAverageMax } : undefined;
}

/** What a timing row says about the machine: `**loaded** (up to 3.85)`, `idle (up to 0.9)`, or `n/a`. */
export function machineCell(results: Results, window: LoadWindow | undefined): string {
  return window ? loadLabel(window, results.machine.cores) : 'n/a';
}

/** For a timing target's *measured*: `; measured **loaded** (up to 3.85)` when it was, or idle. */
export function loadSuffix(results: Results, window: LoadWindow | undefined): string {
  return window ? `; measured ${machineCell(results, window)}` : '';
}

/** For a timing target's *why*, when its section was loaded. */
export function loadNote(results: Results, window: LoadWindow | undefined): string {
  const { cores } = results.machine;
  if (!window || !isLoaded(window, cores)) return '';
  const limit = idleLoadLimit(cores);
  // Idle at the start and loaded later: the load is the section's own processes, and says so.
  return window.atStart <= limit
    ? ` The machine was idle when the section started (1-minute load average ${window.atStart}); the section's own processes raised it to ${window.max} on ${cores} cores, above the idle limit of ${limit}, so the page calls it loaded: its timings include that contention.`
    : ` The machine was loaded (1-minute load average up to ${Math.max(window.atStart, window.max)} on ${cores} cores, above the idle limit of ${limit}), which inflates every timing.`;
}

export function operationsOf(results: Results, operation: string): OperationCost[] {
  return (results.dynamo?.operations ?? []).filter((op) => op.operation === operation);
}

/** Write units of the requests named `operation` on a table whose name contains `table`. */
export function writeUnitsOf(cost: OperationCost, operation: string, table: string): number {
  return Object.entries(cost.byOperation)
    .filter(([key]) => key.startsWith(`${operation} `) && key.includes(table))
    .reduce((sum, [, totals]) => sum + totals.writeUnits, 0);
}
