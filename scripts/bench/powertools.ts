/**
 * `npx tsx scripts/bench/powertools.ts [--runs 15] [--compare <checkout>]`: what Powertools
 * for AWS Lambda (logger, metrics, tracer) would cost a handler's cold start, measured the
 * way the bench's `bundles` section measures init (bundles.ts: the construct's esbuild
 * options, a fresh `node --enable-source-maps` process per run, one discarded warm-up,
 * variants interleaved so machine load hits them alike, median), but timing the import
 * plus a first call: `handler` with a `send_message` whose data is invalid (it builds the
 * container's services and SDK clients, and logs `route refused`) and then the variant's
 * own first use of the package (a log line, a published metric).
 *
 * Variants of `functions/handlers/send-message.ts`:
 * - `default`: the bundle as deployed (tracing off);
 * - `logger`, `metrics`: plus the Powertools package, instantiated as its docs show, and
 *   its first log line / published metric (added beside the hand-written logger.ts and
 *   metrics.ts, whose own share is a few hundred bytes);
 * - `tracing`: the bundle of a stack deployed with `tracing` (wiring/tracing.ts injected),
 *   in a Lambda-like environment (`AWS_EXECUTION_ENV`, `LAMBDA_TASK_ROOT`, `_X_AMZN_TRACE_ID`)
 *   so the tracer is on and wraps the DynamoDB client;
 * - `compare-default` (with `--compare`): the default bundle built from another checkout
 *   (e.g. main), to show the tracing hook leaves the default bundle as it was.
 *
 * Prints a JSON report (sizes, medians, runs, load averages, commit).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { handlerBuildOptions } from '../../lib/constructs/chat-function.ts';
import { resolveHandlerEnvironment } from '../../local/handler-env.ts';
import { type InitTime, timeInit } from './bundles.ts';
import { machineFacts, median, percentile, round } from './machine.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HANDLER = './functions/handlers/send-message.ts';

interface Variant {
  readonly name: string;
  /** The entry module's source (resolved from `root`). */
  readonly entry: string;
  readonly root: string;
  /** The stack's `tracing` option on. */
  readonly tracing?: boolean;
  /** Code run after `handler`'s first call, with the bundle's module as `mod`. */
  readonly firstUse?: string;
  /** A package the variant needs that package.json may no longer list. */
  readonly needs?: string;
}

/** Whether `name` resolves from the repository (the packages not adopted are not in package.json). */
function installed(name: string): boolean {
  try {
    createRequire(join(REPOSITORY_ROOT, 'package.json')).resolve(name);
    return true;
  } catch {
    return false;
  }
}

const reexport = `export { handler } from '${HANDLER}';`;

function variants(compare: string | undefined): Variant[] {
  const list: Variant[] = [
    { name: 'default', entry: reexport, root: REPOSITORY_ROOT },
    {
      name: 'logger',
      needs: '@aws-lambda-powertools/logger',
      root: REPOSITORY_ROOT,
      entry: `${reexport}
import { Logger } from '@aws-lambda-powertools/logger';
const logger = new Logger({ serviceName: 'chat-backend' });
export function firstUse() { logger.info('route refused', { code: 1001 }); }`,
      firstUse: 'mod.firstUse()',
    },
    {
      name: 'metrics',
      needs: '@aws-lambda-powertools/metrics',
      root: REPOSITORY_ROOT,
      entry: `${reexport}
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
const metrics = new Metrics({ namespace: 'ChatBackend', serviceName: 'chat-backend' });
export function firstUse() { metrics.addMetric('MessagesStored', MetricUnit.Count, 1); metrics.publishStoredMetrics(); }`,
      firstUse: 'mod.firstUse()',
    },
    { name: 'tracing', entry: reexport, root: REPOSITORY_ROOT, tracing: true },
  ];
  if (compare) list.push({ name: 'compare-default', entry: reexport, root: compare });
  return list.filter((variant) => {
    if (!variant.needs || installed(variant.needs)) return true;
    process.stderr.write(
      `skipping ${variant.name}: ${variant.needs} is not installed (not adopted; to measure it: npm install --no-save ${variant.needs}@2.36.0)\n`,
    );
    return false;
  });
}

/** A `send_message` with invalid data from an authorized connection: refused with 1001, no network. */
const FIRST_EVENT = {
  requestContext: {
    connectionId: 'bench-connection',
    routeKey: 'send_message',
    requestId: 'bench-request',
    domainName: 'bench.invalid',
    stage: 'local',
    authorizer: {
      principalId: 'bench-user',
      userId: 'bench-user',
      roles: '[]',
      tokenExpiresAt: String(2 ** 31),
    },
  },
  body: JSON.stringify({ cmd: 'send_message', data: {} }),
  isBase64Encoded: false,
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, compare: { type: 'string' } } });
  const runs = Number(values.runs ?? 15);
  const facts = machineFacts();
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-powertools-'));
  const taskRoot = join(dir, 'task');
  mkdirSync(taskRoot);
  const { vars } = resolveHandlerEnvironment({ baseUrl: 'http://127.0.0.1:9', stage: 'local', extra: {} });
  // As in Lambda: the variables the runtime sets, so Powertools and the X-Ray SDK act as there.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...vars,
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_FUNCTION_NAME: 'chat-sendMessage',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: taskRoot,
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    // Nobody listens there: segments go out as UDP datagrams and are lost, as without a daemon.
    AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  };
  try {
    const built = await Promise.all(
      variants(values.compare).map(async (variant) => {
        const outfile = join(dir, variant.name, 'index.mjs');
        const options = handlerBuildOptions({
          projectRoot: variant.root,
          entry: HANDLER,
          outdir: '',
          tracing: variant.tracing ?? false,
        });
        // The stack's options, but one file from stdin (the variants' entries are code, not files).
        const { entryPoints: _entryPoints, outdir: _outdir, outExtension: _outExtension, ...rest } = options;
        const result = await build({
          ...rest,
          splitting: false,
          outfile,
          metafile: true,
          stdin: { contents: variant.entry, resolveDir: variant.root, loader: 'ts', sourcefile: 'entry.ts' },
        });
        const code = readFileSync(outfile);
        const inputs = Object.values(result.metafile?.outputs ?? {}).flatMap((o) => Object.entries(o.inputs));
        const packageBytes = (pattern: RegExp) =>
          inputs
            .filter(([path]) => pattern.test(path))
            .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
        return {
          variant,
          outfile,
          bytes: code.length,
          gzipBytes: gzipSync(code, { level: 9 }).length,
          powertoolsBytes: packageBytes(/node_modules\/@aws-lambda-powertools\//),
          xraySdkBytes: packageBytes(
            /node_modules\/(aws-xray-sdk-core|cls-hooked|atomic-batcher|semver|emitter-listener|async-hook-jl|shimmer|stack-chain)\//,
          ),
        };
      }),
    );
    const times = new Map<string, InitTime[]>();
    const loads: number[] = [round(loadavg()[0] ?? 0, 2)];
    for (let run = 0; run <= runs; run++) {
      const order = run % 2 ? built : [...built].reverse();
      for (const bundle of order) {
        const firstUse = bundle.variant.firstUse ? `await ${bundle.variant.firstUse}` : '';
        const time = await timeInit(bundle.outfile, env, ['--enable-source-maps'], FIRST_EVENT, firstUse);
        if (run > 0) times.set(bundle.variant.name, [...(times.get(bundle.variant.name) ?? []), time]);
      }
      loads.push(round(loadavg()[0] ?? 0, 2));
      process.stderr.write(`run ${run}/${runs} load ${loads.at(-1)}\n`);
    }
    const report = {
      method:
        'import + first call (handler with an invalid send_message, then the package first use), fresh node --enable-source-maps process per run, median',
      commit: facts.gitCommit,
      dirty: facts.gitDirty,
      node: facts.node,
      cores: facts.cores,
      runs,
      loadAverage1m: { start: loads[0], end: loads.at(-1), max: Math.max(...loads), min: Math.min(...loads) },
      variants: built.map((bundle) => {
        const measured = (times.get(bundle.variant.name) ?? []).map((time) => round(time.ms, 1));
        // Paired with the default bundle's run of the same round (adjacent in time), so that
        // load drifting between rounds cancels out.
        const baseline = times.get('default') ?? [];
        const paired = (pick: (time: InitTime) => number) =>
          round(
            median(
              (times.get(bundle.variant.name) ?? []).map(
                (time, run) => pick(time) - pick(baseline[run] as InitTime),
              ),
            ),
            1,
          );
        const cpu = (times.get(bundle.variant.name) ?? []).map((time) => round(time.cpuMs, 1));
        return {
          name: bundle.variant.name,
          bytes: bundle.bytes,
          gzipBytes: bundle.gzipBytes,
          powertoolsBytes: bundle.powertoolsBytes,
          xraySdkBytes: bundle.xraySdkBytes,
          initMsMedian: round(median(measured), 1),
          initMsP90: round(percentile(measured, 90), 1),
          initMsRuns: measured,
          initCpuMsMedian: round(median(cpu), 1),
          initCpuMsRuns: cpu,
          pairedDeltaMsMedian: paired((time) => time.ms),
          pairedDeltaCpuMsMedian: paired((time) => time.cpuMs),
        };
      }),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
