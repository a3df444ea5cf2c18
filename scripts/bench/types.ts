/** The shape of docs/performance.json (and of a smoke run's JSON). */

import type { OperationTotals } from './accounting.ts';
import type { MachineFacts } from './machine.ts';
import type { PresenceAccuracySection } from './presence-accuracy.ts';
import type { SectionRuns } from './section-runs.ts';

export const SECTIONS = [
  'dynamo',
  'fanout',
  'sample',
  'bundles',
  'latency',
  'conversations',
  'groups',
  'rich',
  'attachments',
  'presence',
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** What one operation cost: the median over its repetitions of each figure. */
export interface OperationCost {
  /** `direct`, `group-100`, `group-1000`, `broadcast` */
  readonly operation: string;
  readonly label: string;
  /** Registered connections in the tables besides the operation's own participants. */
  readonly background: number;
  /** All registered connections (background + participants). */
  readonly registeredConnections: number;
  /** Connections the operation pushes to. */
  readonly recipients: number;
  /**
   * API Gateway messages besides the pushes: the frame received and its reply (2) unless
   * set; 1 for `$connect` / `$disconnect` (the handshake or the close, counted as one).
   */
  readonly clientMessages?: number;
  readonly repetitions: number;
  readonly dynamoRequests: number;
  /** Requests that reached the DynamoDB endpoint (a cross-check: equals dynamoRequests unless a client bypassed the middleware or the SDK retried). */
  readonly endpointRequests: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly indexWriteUnits: number;
  readonly failedConditionalWrites: number;
  /** `Operation table` → totals of the median repetition. */
  readonly byOperation: Readonly<Record<string, OperationTotals>>;
  readonly managementPosts: number;
  /** Management API calls by `METHOD status`. */
  readonly management: Readonly<Record<string, number>>;
  readonly lambdaInvocations: number;
  readonly lambdaByFunction: Readonly<Record<string, number>>;
  readonly handlerMs: number;
  readonly billedMs: number;
  /** Send → reply, ms (the integration response). */
  readonly replyMs: number;
  /** Send → last push received, ms. */
  readonly deliveredMs: number;
}

export interface DynamoSection {
  readonly scales: readonly number[];
  readonly groupSizes: readonly number[];
  readonly onlineShare: number;
  readonly operations: readonly OperationCost[];
  /** Handler configuration the host set beyond the defaults. */
  readonly hostEnv: Readonly<Record<string, string>>;
  readonly functions: readonly string[];
  readonly seconds: number;
}

export interface FanOutPoint {
  readonly connections: number;
  readonly repetitions: number;
  /** Median send → last recipient, ms. */
  readonly wallMs: number;
  readonly wallMsRuns: readonly number[];
  readonly recipientsPerSecond: number;
  /** Median send → `broadcast_sent` reply, ms. */
  readonly replyMs: number;
  readonly delivered: number;
  readonly cost: OperationCost;
}

export interface FanOutSection {
  readonly points: readonly FanOutPoint[];
  /** Seconds to open each step's new connections. */
  readonly rampSeconds: Readonly<Record<string, number>>;
  /** `FANOUT_WORKER_THRESHOLD` of the host of `points`: larger audiences went to fan-out workers. */
  readonly workerThreshold?: number;
  /** The audiences above `workerThreshold` again, on a host that posts every fan-out inline. */
  readonly inline?: readonly FanOutPoint[];
  readonly hostPeakRssMb?: number;
  readonly clientPeakRssMb?: number;
  readonly seconds: number;
}

/** A 1-minute load average at the start of a measurement and the highest sampled during it. */
export interface LoadWindow {
  readonly atStart: number;
  readonly max: number;
}

/** One scale of the side-by-side section (scripts/bench/sample.ts). */
export interface SamplePoint {
  /** Real sockets open, each registered in our tables and in the sample's. */
  readonly connections: number;
  /** Seconds to open this scale's new connections and write their sample rows. */
  readonly rampSeconds: number;
  /** Our 1:1 (`send_message` to a user with one device). */
  readonly direct: OperationCost;
  /** The sample's message (Scan + PostToConnection to every row). */
  readonly sample: OperationCost;
  /** Our broadcast to every connection. */
  readonly broadcast: OperationCost;
  /** Each repetition's send → last push, ms. */
  readonly wallMsRuns: {
    readonly direct: readonly number[];
    readonly sample: readonly number[];
    readonly broadcast: readonly number[];
  };
  /** Pushes that arrived, the fewest over the repetitions. */
  readonly delivered: { readonly sample: number; readonly broadcast: number };
  readonly load: LoadWindow;
}

export interface SampleSection {
  readonly scales: readonly number[];
  readonly repetitions: number;
  readonly points: readonly SamplePoint[];
  readonly seconds: number;
}

export interface BundleVariantFigures {
  /** What a cold start loads: index.mjs and the chunks it imports statically (sizes below too). */
  readonly bytes: number;
  /** The chunks loaded only by `import()`, when an invocation needs them. */
  readonly lazyBytes?: number;
  readonly gzipBytes: number;
  readonly mapBytes: number;
  /** Bytes of the output that came from @aws-sdk/* and @smithy/* (esbuild metafile). */
  readonly sdkBytes: number;
  /** The largest contributors to the bundle, by package. */
  readonly topPackages: readonly { readonly name: string; readonly bytes: number }[];
  /** Import plus first call: median of the runs' medians. */
  readonly initMsMedian: number;
  /** Over every process. */
  readonly initMsP90: number;
  /** Each run's median. */
  readonly initMsRuns: readonly number[];
  readonly importMsMedian?: number;
  readonly firstCallMsMedian?: number;
  /**
   * CPU ms of the function's process (all its threads, so it may exceed the wall time) during
   * the first call: well below the wall time, the process waited, mostly for the local runtime.
   */
  readonly firstCallCpuMsMedian?: number;
}

export type BundleInitFigures = Pick<
  BundleVariantFigures,
  | 'initMsMedian'
  | 'initMsP90'
  | 'initMsRuns'
  | 'importMsMedian'
  | 'firstCallMsMedian'
  | 'firstCallCpuMsMedian'
>;

export interface BundleFigures {
  readonly functionId: string;
  readonly entry: string;
  /** The event of the handler's first call and what it answered (status, frame type, code). */
  readonly firstCall?: { readonly event: string; readonly outcome: string };
  readonly bundled: BundleVariantFigures;
  readonly external: BundleVariantFigures;
  /** Init of the `bundled` file with --enable-source-maps (diagnostic; `sourceMapsInStackTraces`). */
  readonly bundledWithSourceMaps?: BundleInitFigures;
  /** Results from before source maps were off by default (deployed with --enable-source-maps): init without. */
  readonly bundledWithoutSourceMaps?: BundleInitFigures;
}

export interface BundlesSection {
  readonly runs: number;
  readonly functions: readonly BundleFigures[];
  readonly esbuildVersion: string;
  /** Fresh processes per run (the run's figure is their median). */
  readonly processesPerRun?: number;
  readonly options: Readonly<Record<string, unknown>>;
  readonly nodeFlags: readonly string[];
  /** 1-minute load average at the start and end of each run. */
  readonly loadAverage1m?: { readonly start: number; readonly end: number; readonly max: number };
  readonly seconds: number;
}

/** One soak run (`npm run soak`) at one rate. */
export interface LatencyRun {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly achievedRate: number;
  readonly runtimePeakRssMb: number | null;
  readonly rampUpSeconds: number;
  readonly welcomed: number;
  readonly sustained: boolean;
  readonly soakExitCode: number | null;
  /** The 1-minute load average when the run started and the highest sampled during it. */
  readonly load?: LoadWindow;
  /**
   * CPU time per message sent, from the first send to the end of the drain: the runtime's
   * process (every thread, /proc) and the soak's own clients (process.cpuUsage).
   */
  readonly runtimeCpuMsPerMessage?: number | null;
  readonly clientCpuMsPerMessage?: number | null;
}

/**
 * A rate's figures: one run's, or for a repeated rate (a target's) the median of its runs'
 * percentiles, the worst of their losses and errors (`runs` holds each).
 */
export interface LatencyPoint extends LatencyRun {
  readonly rate: number;
  readonly seconds: number;
  readonly phase: 'fixed' | 'search';
  /** Each run of a repeated rate (absent for a single run). */
  readonly runs?: readonly LatencyRun[];
}

export interface LatencySection {
  readonly connections: number;
  readonly p99LimitMs: number;
  readonly points: readonly LatencyPoint[];
  /** Highest rate tested that met p99 ≤ the limit with nothing lost; null when none did. */
  readonly maxSustainedRate: number | null;
  /** Lowest rate tested above it that did not. */
  readonly firstFailingRate: number | null;
  readonly peakRssMb: number | null;
  readonly seconds: number;
}

/** The conversation list for one user with many conversations, and what sending gained (scripts/bench/conversations.ts). */
export interface ConversationsSection {
  readonly conversations: number;
  readonly groups: number;
  readonly operations: readonly OperationCost[];
  readonly seconds: number;
}

/** Each step of a group's life in a group of `members` (scripts/bench/groups.ts). */
export interface GroupsSection {
  readonly members: number;
  readonly operations: readonly OperationCost[];
  readonly seconds: number;
}

/** Edits, reactions and typing in a private chat (scripts/bench/rich.ts). */
export interface RichSection {
  readonly operations: readonly OperationCost[];
  readonly seconds: number;
}

/** S3 requests of one image message, counted by the local S3 (scripts/bench/attachments.ts). */
export interface AttachmentsSection {
  readonly members: number;
  readonly repetitions: number;
  readonly steps: readonly { readonly step: string; readonly s3Requests: number }[];
  readonly seconds: number;
}

export interface Results {
  schemaVersion: 1;
  generatedAt: string;
  command: string;
  smoke: boolean;
  machine: MachineFacts;
  dynamo?: DynamoSection;
  fanout?: FanOutSection;
  sample?: SampleSection;
  bundles?: BundlesSection;
  latency?: LatencySection;
  conversations?: ConversationsSection;
  groups?: GroupsSection;
  rich?: RichSection;
  attachments?: AttachmentsSection;
  presence?: PresenceAccuracySection;
  /** When each section was last measured (a partial run keeps the others from the file). */
  measuredAt: Partial<Record<SectionName, string>>;
  /** Each section's commit and load average (`machine` describes the latest run only). */
  sectionRuns?: SectionRuns;
  cost?: unknown;
  targets?: unknown;
  totalSeconds: number;
}
