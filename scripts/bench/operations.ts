/**
 * Running one operation through real sockets and the instrumented host, and turning the
 * host's counters into an `OperationCost`: reset the counters, send, wait for the reply
 * and for every expected push, wait until the host is quiet (async invocations, 410
 * cleanups), read the counters. Repeated; each figure is the median of the repetitions.
 */
import type { Snapshot } from './accounting.ts';
import type { ClientPool, Reply } from './clients.ts';
import type { Host } from './host-client.ts';
import { median, round } from './machine.ts';
import type { OperationCost } from './types.ts';

export interface OperationRun {
  readonly snapshot: Snapshot;
  readonly replyMs: number;
  readonly deliveredMs: number;
  readonly delivered: number;
  readonly reply: Reply;
}

export interface RunOptions {
  readonly pool: ClientPool;
  readonly host: Host;
  /** The sending client. */
  readonly from: number;
  readonly cmd: string;
  /** Builds the command's data around a marker every push of this run contains. */
  readonly data: (marker: string) => unknown;
  /** Pushes to wait for. */
  readonly expectedPushes: number;
  readonly timeoutMs?: number;
}

let runCounter = 0;

/** Runs a command (`cmd` with `data(marker)`) and waits for its reply and pushes. */
export async function runOperation(options: RunOptions): Promise<OperationRun> {
  const marker = `bench-op-${process.pid}-${++runCounter}`;
  const timeoutMs = options.timeoutMs ?? 120_000;
  let reply: Reply = {};
  const run = await measureEvent({
    ...options,
    what: options.cmd,
    timeoutMs,
    isPush: (text) => text.includes(marker),
    act: async () => {
      reply = await options.pool.request(options.from, options.cmd, options.data(marker), timeoutMs);
      if (reply.code !== 0) throw new Error(`${options.cmd} failed: ${JSON.stringify(reply)}`);
    },
  });
  return { ...run, reply };
}

export interface EventOptions {
  readonly pool: ClientPool;
  readonly host: Host;
  /** For warnings: what is measured. */
  readonly what: string;
  /** Does the operation: sends a frame, opens or closes a socket; its time is `replyMs`. */
  readonly act: () => Promise<void>;
  /** Whether a frame that is not a reply is one of this operation's pushes. */
  readonly isPush: (text: string) => boolean;
  /** Pushes to wait for. */
  readonly expectedPushes: number;
  readonly timeoutMs?: number;
}

/**
 * Measures anything a client does (a command, a frame for a mounted route, opening or
 * closing a connection): counters reset, `act`, its pushes, the host quiet, counters read.
 */
export async function measureEvent(options: EventOptions): Promise<OperationRun> {
  const { pool, host } = options;
  let delivered = 0;
  let lastPushAt = 0;
  let allDelivered: () => void = () => {};
  const everyPush = new Promise<void>((resolve) => {
    allDelivered = resolve;
    if (options.expectedPushes === 0) resolve();
  });
  pool.onPush = (_index, text, at) => {
    if (!options.isPush(text)) return;
    delivered++;
    lastPushAt = at;
    if (delivered >= options.expectedPushes) allDelivered();
  };
  await host.quiesce();
  await host.reset();
  const sentAt = performance.now();
  const timeoutMs = options.timeoutMs ?? 120_000;
  await options.act();
  const replyMs = performance.now() - sentAt;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    everyPush,
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const quiet = await host.quiesce(200, 60_000);
  const snapshot = await host.snapshot();
  pool.onPush = () => {};
  if (delivered < options.expectedPushes) {
    process.stderr.write(
      `  warning: ${options.what} delivered ${delivered} of ${options.expectedPushes} pushes within ${timeoutMs} ms\n`,
    );
  }
  if (!quiet) process.stderr.write(`  warning: the host did not become quiet after ${options.what}\n`);
  return {
    snapshot,
    replyMs,
    deliveredMs: delivered > 0 ? lastPushAt - sentAt : Number.NaN,
    delivered,
    reply: {},
  };
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The figures of one run, flat. */
function figuresOf(run: OperationRun) {
  const { dynamo, endpoint, management, lambda } = run.snapshot;
  return {
    dynamoRequests: dynamo.requests,
    endpointRequests: endpoint.requests,
    readUnits: dynamo.readUnits,
    writeUnits: dynamo.writeUnits,
    indexWriteUnits: dynamo.indexWriteUnits,
    failedConditionalWrites: dynamo.failedConditionalWrites,
    managementPosts: sum(
      Object.entries(management).flatMap(([key, n]) => (key.startsWith('POST') ? [n] : [])),
    ),
    lambdaInvocations: sum(Object.values(lambda).map((l) => l.invocations)),
    handlerMs: sum(Object.values(lambda).map((l) => l.handlerMs)),
    billedMs: sum(Object.values(lambda).map((l) => l.billedMs)),
    replyMs: run.replyMs,
    deliveredMs: run.deliveredMs,
  };
}

export function summarize(
  runs: readonly OperationRun[],
  describe: Pick<
    OperationCost,
    'operation' | 'label' | 'background' | 'registeredConnections' | 'recipients'
  >,
): OperationCost {
  const figures = runs.map(figuresOf);
  const med = (pick: (f: ReturnType<typeof figuresOf>) => number, digits = 2) =>
    round(median(figures.map(pick)), digits);
  // The breakdown of the run whose request count is the median one.
  const requests = med((f) => f.dynamoRequests);
  const representative =
    runs[figures.findIndex((f) => f.dynamoRequests === requests)] ?? (runs[0] as OperationRun);
  const lambdaByFunction = Object.fromEntries(
    Object.entries(representative.snapshot.lambda).map(([id, totals]) => [id, totals.invocations]),
  );
  return {
    ...describe,
    repetitions: runs.length,
    dynamoRequests: requests,
    endpointRequests: med((f) => f.endpointRequests),
    readUnits: med((f) => f.readUnits),
    writeUnits: med((f) => f.writeUnits),
    indexWriteUnits: med((f) => f.indexWriteUnits),
    failedConditionalWrites: med((f) => f.failedConditionalWrites),
    byOperation: representative.snapshot.dynamo.byOperation,
    managementPosts: med((f) => f.managementPosts),
    management: representative.snapshot.management,
    lambdaInvocations: med((f) => f.lambdaInvocations),
    lambdaByFunction,
    handlerMs: med((f) => f.handlerMs, 1),
    billedMs: med((f) => f.billedMs, 0),
    replyMs: med((f) => f.replyMs, 1),
    deliveredMs: med((f) => f.deliveredMs, 1),
  };
}
