/**
 * Section `bundles`: every function of lib/function-specs.ts bundled as the stack bundles it
 * (`handlerBuildOptions` of lib/constructs/chat-function.ts, which ChatFunction and the
 * construct package use too: one source of the options), and a second time with
 * `@aws-sdk/*` external — CDK's default, which uses the SDK the Lambda runtime ships (here
 * it resolves from this repository's node_modules, the same major version; a
 * `node_modules` link next to the bundles makes it resolvable).
 *
 * For each: what a cold start loads (index.mjs and the chunks it imports statically; the
 * chunks of `import()` are counted apart), raw, gzip, source map, the SDK's share, and the
 * init time: a fresh `node` process with the NODE_OPTIONS the stack gives a function (none:
 * `handlerNodeOptions` of lib/constructs/chat-function.ts) imports the bundle and calls its handler once with a
 * representative event (`firstCallEvent`, scripts/bench/first-calls.ts), against a local runtime (scripts/bench/init-runtime.ts:
 * embedded DynamoDB, Management API, Lambda Invoke API, S3; the function's own credentials,
 * so its grants are checked as in AWS). The first call builds the SDK clients and sends their
 * first requests, which a cold start pays as much as the import; the loopback network
 * costs well under a millisecond per request. Import and first call are reported apart.
 * Every first call is a valid request that reaches the store (on data the init runtime seeds):
 * one that answers anything else (a validation error, say) stops the section, naming it.
 *
 * The figure is the median of `runs` runs, each the median of PROCESSES_PER_RUN processes,
 * after one discarded warm-up; functions and variants interleaved so that machine load
 * hits them alike. The load average is recorded at the start and end of every run.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, version as esbuildVersion, type Metafile } from 'esbuild';
import {
  HANDLER_BUNDLING,
  handlerBuildOptions,
  handlerNodeOptions,
  SOURCE_MAPS_NODE_OPTIONS,
} from '../../lib/constructs/chat-function.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { localFunctionName } from '../../local/functions.ts';
import { mintToken } from '../../local/tokens.ts';
import {
  BENCH_USER,
  DESCRIBED_FIXTURES,
  describeEvent,
  type FirstCallFixtures,
  firstCallEvent,
  firstCallRefusal,
} from './first-calls.ts';
import type { InitRuntimeInfo } from './init-runtime.ts';
import { median, percentile, round } from './machine.ts';
import type { BundleFigures, BundleInitFigures, BundlesSection, BundleVariantFigures } from './types.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Fresh processes per function and measurement in each run (their median is the run's figure). */
export const PROCESSES_PER_RUN = 3;

export type Variant = 'bundled' | 'external';

/** `@aws-sdk/*`, `@smithy/*` and `@aws-crypto/*` as one group each; other packages by name; own code as `(this repository)`. */
function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (!match?.[1]) return '(this repository)';
  const scope = /^@(aws-sdk|smithy|aws-crypto)\//.exec(match[1]);
  return scope ? `@${scope[1]}/*` : match[1];
}

/** The node flags of a deployed function: its default NODE_OPTIONS (none). */
export const DEPLOYED_NODE_FLAGS: readonly string[] = handlerNodeOptions(false)?.split(' ') ?? [];

/** How the init time is taken: which bundle, with which node flags, how many processes per run. */
const MEASUREMENTS = [
  { name: 'bundled', variant: 'bundled', flags: DEPLOYED_NODE_FLAGS, processes: PROCESSES_PER_RUN },
  { name: 'external', variant: 'external', flags: DEPLOYED_NODE_FLAGS, processes: 1 },
  // Diagnostic: the deployed bundle with `sourceMapsInStackTraces` (NODE_OPTIONS=--enable-source-maps).
  { name: 'bundledWithSourceMaps', variant: 'bundled', flags: [SOURCE_MAPS_NODE_OPTIONS], processes: 1 },
] as const;

/**
 * Imports the bundle (argv[1]), calls `handler` with the event (argv[2], JSON) and a Lambda
 * context, then runs `after` (with the module as `mod`; timed with the first call), and prints, on a last line of its own after whatever the bundle wrote: import
 * ms, first call ms, CPU ms (user + system, all threads) and the outcome (status code, policy,
 * a worker's `outcome` or welcome's `delivered`, then frame type and error code). Exits at once: keep-alive sockets must not hold it.
 * Also the CPU ms of the first call alone (all threads, so it may exceed the wall time): well
 * below the wall time, the process waited, mostly for the local runtime's answers.
 */
const initTimer = (after: string) => `
const t0 = performance.now(); const c0 = process.cpuUsage();
const mod = await import(process.argv[1]);
const t1 = performance.now(); const c1 = process.cpuUsage();
let outcome;
try {
  const context = { functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, awsRequestId: 'bench', getRemainingTimeInMillis: () => 28000, callbackWaitsForEmptyEventLoop: true };
  const result = await mod.handler(JSON.parse(process.argv[2]), context);
  let body; try { body = JSON.parse(result?.body ?? 'null'); } catch { body = undefined; }
  const summary = result?.statusCode ?? (result?.policyDocument ? 'policy ' + result.policyDocument.Statement[0].Effect : typeof result?.outcome === 'string' ? result.outcome : typeof result?.delivered === 'boolean' ? 'delivered=' + result.delivered : typeof result);
  outcome = [summary, body?.type, body?.code ?? body?.error?.code ?? body?.data?.code].filter((part) => part !== undefined).join(' ');
} catch (error) { outcome = 'threw ' + (error?.name ?? 'Error'); }
${after};
const t2 = performance.now(); const c = process.cpuUsage(c0); const call = process.cpuUsage(c1);
process.stdout.write('\\n' + [t1 - t0, t2 - t1, (c.user + c.system) / 1000, (call.user + call.system) / 1000].map(String).join(' ') + ' ' + outcome.replace(/\\s+/g, '_'));
process.exit(0);`;

/** Import, first call and CPU milliseconds of one init, and what the first call answered. */
export interface InitTime {
  readonly importMs: number;
  readonly firstCallMs: number;
  readonly ms: number;
  readonly cpuMs: number;
  /** CPU ms (user + system, all threads) of the first call alone. */
  readonly firstCallCpuMs: number;
  readonly outcome: string;
}

/**
 * One init of `file` in a fresh `node` process: its import and its handler's first call
 * with `event` (and `after`, code run after it with the module as `mod`).
 */
export function timeInit(
  file: string,
  env: NodeJS.ProcessEnv,
  nodeFlags: readonly string[],
  event: unknown,
  after = '',
): Promise<InitTime> {
  return new Promise((resolveTime, reject) => {
    execFile(
      process.execPath,
      [
        ...nodeFlags,
        '--input-type=module',
        '-e',
        initTimer(after),
        pathToFileURL(file).href,
        JSON.stringify(event),
      ],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`importing ${file} failed: ${stderr || error.message}`));
        else {
          const [importMs, firstCallMs, cpuMs, firstCallCpuMs, outcome] = stdout
            .slice(stdout.lastIndexOf('\n') + 1)
            .split(' ');
          const time = {
            importMs: Number(importMs),
            firstCallMs: Number(firstCallMs),
            cpuMs: Number(cpuMs),
            firstCallCpuMs: Number(firstCallCpuMs),
          };
          resolveTime({
            ...time,
            ms: time.importMs + time.firstCallMs,
            outcome: (outcome ?? '').replace(/_/g, ' '),
          });
        }
      },
    );
  });
}

/** The outputs a cold start loads (the entry and its static imports) and the others (`import()`). */
function loadedOutputs(metafile: Metafile): { initial: string[]; lazy: string[] } {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint);
  const initial = new Set<string>();
  const visit = (path: string | undefined) => {
    if (!path || initial.has(path)) return;
    initial.add(path);
    for (const imported of outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entry);
  const code = Object.keys(outputs).filter((path) => path.endsWith('.mjs'));
  return { initial: [...initial], lazy: code.filter((path) => !initial.has(path)) };
}

type BundleSizes = Omit<BundleVariantFigures, keyof BundleInitFigures>;

function sizesOf(metafile: Metafile, absWorkingDir: string): BundleSizes {
  const { initial, lazy } = loadedOutputs(metafile);
  const file = (path: string) => resolve(absWorkingDir, path);
  const inputs = initial.flatMap((path) => Object.entries(metafile.outputs[path]?.inputs ?? {}));
  const byPackage = new Map<string, number>();
  for (const [path, input] of inputs) {
    const name = packageOf(path);
    byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
  }
  const bytesOf = (paths: string[]) =>
    paths.reduce((sum, path) => sum + (metafile.outputs[path]?.bytes ?? 0), 0);
  return {
    bytes: bytesOf(initial),
    lazyBytes: bytesOf(lazy),
    gzipBytes: initial.reduce(
      (sum, path) => sum + gzipSync(readFileSync(file(path)), { level: 9 }).length,
      0,
    ),
    mapBytes: initial.reduce((sum, path) => sum + statSync(`${file(path)}.map`).size, 0),
    sdkBytes: inputs
      .filter(([path]) => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(path))
      .reduce((sum, [, input]) => sum + input.bytesInOutput, 0),
    topPackages: [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, bytes]) => ({ name, bytes })),
  };
}

export interface BundlesOptions {
  readonly runs: number;
  /** Limit to these functions (smoke); default every function. */
  readonly functions?: readonly string[];
  readonly log: (line: string) => void;
}

/** Starts scripts/bench/init-runtime.ts; resolves once it listens. */
export async function startInitRuntime(): Promise<{ child: ChildProcess; info: InitRuntimeInfo }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/init-runtime.ts'], {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const info = await new Promise<InitRuntimeInfo>((resolveInfo, reject) => {
    child.once('exit', (code) => reject(new Error(`The init runtime exited with ${code} while starting.`)));
    child.once('message', (message: { result: InitRuntimeInfo }) => resolveInfo(message.result));
  });
  return { child, info };
}

/** What a function's process gets: the stack's variables pointing at the runtime, its own name and credentials. */
export function functionEnvironment(runtime: InitRuntimeInfo, id: FunctionId): NodeJS.ProcessEnv {
  const { accessKeyId, secretAccessKey } = runtime.credentials[id] as InitRuntimeInfo['credentials'][string];
  const invokes = new Set(functionSpecs[id].invokes ?? []);
  // As the stack: a function gets the names of only the functions it invokes.
  const handlerEnv = Object.fromEntries(
    Object.entries(runtime.handlerEnv).filter(
      ([name]) =>
        !(Object.entries(functionSpecs) as [FunctionId, (typeof functionSpecs)[FunctionId]][]).some(
          ([other, spec]) => spec.nameEnvVar === name && !invokes.has(other),
        ),
    ),
  );
  return {
    PATH: process.env.PATH,
    ...handlerEnv,
    // The welcome push of `$connect` goes to a function the runtime does not have: the
    // Invoke request is made (and refused at once) instead of a welcome run in this process.
    ...(id === 'connect' ? { WELCOME_FUNCTION_NAME: 'chat-local-bench-absent' } : {}),
    LOG_LEVEL: 'off',
    METRICS_FORMAT: 'off',
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: localFunctionName(id),
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(functionSpecs[id].memorySize ?? 256),
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
  };
}

/** A token of BENCH_USER and the runtime's seed: what the first-call events are built from. */
async function firstCallFixtures(runtime: InitRuntimeInfo): Promise<FirstCallFixtures> {
  return { token: await mintToken(BENCH_USER, { secret: runtime.jwtSecret }), seed: runtime.seed };
}

function refusalLine(id: FunctionId, event: unknown, outcome: string, refusal: string): string {
  return `  ${id}: ${describeEvent(event)} answered "${outcome}" (${refusal})`;
}

function refusedMessage(lines: readonly string[]): string {
  return [
    'These first calls did not measure their usual path (refused before reaching the store?):',
    ...new Set(lines),
    'Fix their events in scripts/bench/first-calls.ts: every first call must be a valid request.',
  ].join('\n');
}

/** Bundles `id` as the stack does (`external`: with @aws-sdk/* left out) into `dir`/variant/id. */
async function buildFunction(
  id: FunctionId,
  variant: Variant,
  dir: string,
): Promise<{ file: string; sizes: BundleSizes }> {
  const outdir = join(dir, variant, id);
  mkdirSync(outdir, { recursive: true });
  const buildOptions = handlerBuildOptions({
    projectRoot: REPOSITORY_ROOT,
    entry: functionSpecs[id].entry,
    outdir,
    tracing: false,
    ...(variant === 'external' ? { external: ['@aws-sdk/*'] } : {}),
  });
  const result = await build({ ...buildOptions, metafile: true });
  return { file: join(outdir, 'index.mjs'), sizes: sizesOf(result.metafile, REPOSITORY_ROOT) };
}

/** What one function's first call was and answered, and why it does not count (undefined: it does). */
export interface FirstCallCheck {
  readonly functionId: FunctionId;
  readonly event: string;
  readonly outcome: string;
  readonly refusal: string | undefined;
}

/**
 * Each function's first call once, in its deployed bundle and a fresh process, against the
 * init runtime and its seed, in lib/function-specs.ts order as the section runs them: what
 * each answered. For the test of the fixtures (test/e2e/bench-first-calls.test.ts); no timing.
 */
export async function checkFirstCalls(): Promise<FirstCallCheck[]> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-first-calls-'));
  const { child, info: runtime } = await startInitRuntime();
  try {
    const fixtures = await firstCallFixtures(runtime);
    const ids = Object.keys(functionSpecs) as FunctionId[];
    const files = new Map<FunctionId, string>();
    await Promise.all(ids.map(async (id) => files.set(id, (await buildFunction(id, 'bundled', dir)).file)));
    const checks: FirstCallCheck[] = [];
    for (const [sequence, id] of ids.entries()) {
      const event = firstCallEvent(id, fixtures, sequence);
      const { outcome } = await timeInit(
        files.get(id) as string,
        functionEnvironment(runtime, id),
        DEPLOYED_NODE_FLAGS,
        event,
      );
      checks.push({
        functionId: id,
        event: describeEvent(event),
        outcome,
        refusal: firstCallRefusal(id, outcome),
      });
    }
    return checks;
  } finally {
    await stopInitRuntime(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function stopInitRuntime(child: ChildProcess): Promise<void> {
  child.disconnect();
  await new Promise((resolveExit) => child.once('exit', resolveExit));
}

export async function runBundlesSection(options: BundlesOptions): Promise<BundlesSection> {
  const startedAt = performance.now();
  const ids = (Object.keys(functionSpecs) as FunctionId[]).filter(
    (id) => !options.functions || options.functions.includes(id),
  );
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-bundles-'));
  // External @aws-sdk/* imports resolve through this link, as from /var/runtime on Lambda.
  symlinkSync(join(REPOSITORY_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const variants: Variant[] = ['bundled', 'external'];
  const { child, info: runtime } = await startInitRuntime();
  try {
    const fixtures = await firstCallFixtures(runtime);
    options.log(
      `  bundling ${ids.length} functions × ${variants.length} variants (esbuild ${esbuildVersion})`,
    );
    const built = new Map<string, { file: string; sizes: BundleSizes }>();
    await Promise.all(
      ids.flatMap((id) =>
        variants.map(async (variant) => built.set(`${variant}/${id}`, await buildFunction(id, variant, dir))),
      ),
    );
    const times = new Map<string, InitTime[][]>();
    const loads: number[] = [];
    let sequence = 0;
    for (let run = 0; run <= options.runs; run++) {
      const refusals: string[] = [];
      loads.push(round(loadavg()[0] ?? 0, 2));
      options.log(`  init run ${run === 0 ? 'warm-up' : `${run}/${options.runs}`} (load ${loads.at(-1)})`);
      for (const id of ids) {
        const env = functionEnvironment(runtime, id);
        const order = run % 2 ? MEASUREMENTS : [...MEASUREMENTS].reverse();
        for (let process = 0; process < PROCESSES_PER_RUN; process++) {
          for (const measurement of order) {
            if (process >= (run === 0 ? 1 : measurement.processes)) continue;
            const file = (built.get(`${measurement.variant}/${id}`) as { file: string }).file;
            const event = firstCallEvent(id, fixtures, sequence++);
            const time = await timeInit(file, env, measurement.flags, event);
            const refusal = firstCallRefusal(id, time.outcome);
            if (refusal) refusals.push(refusalLine(id, event, time.outcome, refusal));
            if (run === 0) continue;
            const key = `${measurement.name}/${id}`;
            const runsOf = times.get(key) ?? [];
            runsOf[run - 1] = [...(runsOf[run - 1] ?? []), time];
            times.set(key, runsOf);
          }
        }
      }
      // Not a timing check: a first call refused before its requests would flatter the figure.
      if (refusals.length > 0) throw new Error(refusedMessage(refusals));
    }
    loads.push(round(loadavg()[0] ?? 0, 2));
    const initOf = (id: string, name: string) => {
      const runs = times.get(`${name}/${id}`) ?? [];
      const runMedian = (pick: (time: InitTime) => number) => runs.map((run) => median(run.map(pick)));
      return {
        initMsMedian: round(median(runMedian((time) => time.ms)), 1),
        initMsP90: round(
          percentile(
            runs.flat().map((time) => time.ms),
            90,
          ),
          1,
        ),
        initMsRuns: runMedian((time) => time.ms).map((ms) => round(ms, 1)),
        importMsMedian: round(median(runMedian((time) => time.importMs)), 1),
        firstCallMsMedian: round(median(runMedian((time) => time.firstCallMs)), 1),
        firstCallCpuMsMedian: round(median(runMedian((time) => time.firstCallCpuMs)), 1),
      };
    };
    const figures = (id: string, variant: Variant): BundleVariantFigures => ({
      ...(built.get(`${variant}/${id}`) as { sizes: BundleSizes }).sizes,
      ...initOf(id, variant),
    });
    const functions: BundleFigures[] = ids.map((id) => ({
      functionId: id,
      entry: functionSpecs[id].entry,
      firstCall: {
        event: describeEvent(firstCallEvent(id, DESCRIBED_FIXTURES)),
        outcome: times.get(`bundled/${id}`)?.[0]?.[0]?.outcome ?? '',
      },
      bundled: figures(id, 'bundled'),
      external: figures(id, 'external'),
      bundledWithSourceMaps: initOf(id, 'bundledWithSourceMaps'),
    }));
    const { banner: _banner, ...shown } = HANDLER_BUNDLING;
    return {
      runs: options.runs,
      processesPerRun: PROCESSES_PER_RUN,
      functions,
      esbuildVersion,
      options: { ...shown, banner: 'ESM_REQUIRE_SHIM (lib/constructs/chat-function.ts)' },
      nodeFlags: [...DEPLOYED_NODE_FLAGS],
      loadAverage1m: { start: loads[0] ?? 0, end: loads.at(-1) ?? 0, max: Math.max(...loads) },
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await stopInitRuntime(child);
    rmSync(dir, { recursive: true, force: true });
  }
}
