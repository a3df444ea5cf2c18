/**
 * The side-by-side figures of the `sample` section: the AWS sample's message against our
 * 1:1 and against our broadcast, as ratios (sample ÷ ours: above 1 the sample costs more).
 */
import type { OperationCost, SamplePoint } from './types.ts';

export interface PathFigures {
  readonly requests: number;
  readonly readUnits: number;
  /** Base-table write units plus the estimated index writes. */
  readonly writeUnits: number;
  readonly posts: number;
  /** Send → last push, ms (median). */
  readonly wallMs: number;
  /** Handler time, ms (median; all invocations of the operation). */
  readonly handlerMs: number;
}

export type Figure = keyof PathFigures;

export const FIGURES: readonly Figure[] = [
  'requests',
  'readUnits',
  'writeUnits',
  'posts',
  'wallMs',
  'handlerMs',
];

export function pathFigures(cost: OperationCost): PathFigures {
  return {
    requests: cost.dynamoRequests,
    readUnits: cost.readUnits,
    writeUnits: cost.writeUnits + cost.indexWriteUnits,
    posts: cost.managementPosts,
    wallMs: cost.deliveredMs,
    handlerMs: cost.handlerMs,
  };
}

/** `sample ÷ ours`; null when it means nothing: ours is 0 or either is not a number. */
export function ratio(sample: number, ours: number): number | null {
  if (!Number.isFinite(sample) || !Number.isFinite(ours) || ours === 0) return null;
  return sample / ours;
}

export interface Comparison {
  /** `1:1` or `broadcast`. */
  readonly ours: '1:1' | 'broadcast';
  readonly connections: number;
  readonly sample: PathFigures;
  readonly our: PathFigures;
  readonly ratios: Readonly<Record<Figure, number | null>>;
}

function compare(
  ours: Comparison['ours'],
  connections: number,
  sample: OperationCost,
  our: OperationCost,
): Comparison {
  const s = pathFigures(sample);
  const o = pathFigures(our);
  return {
    ours,
    connections,
    sample: s,
    our: o,
    ratios: Object.fromEntries(FIGURES.map((f) => [f, ratio(s[f], o[f])])) as Record<Figure, number | null>,
  };
}

/** The sample against our 1:1, then against our broadcast, at one scale. */
export function comparisons(point: SamplePoint): [Comparison, Comparison] {
  return [
    compare('1:1', point.connections, point.sample, point.direct),
    compare('broadcast', point.connections, point.sample, point.broadcast),
  ];
}

/** `69×`, `1.3×`, `0.52×`; `n/a` for no ratio. */
export function ratioText(value: number | null): string {
  if (value === null) return 'n/a';
  const digits = value >= 10 ? 0 : value >= 1 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}×`;
}
