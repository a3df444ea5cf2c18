/**
 * Section `bundles`: every function of lib/function-specs.ts bundled the way
 * lib/constructs/chat-function.ts has CDK bundle it (esbuild, ESM, node22, minified,
 * linked source map without sources, the ESM `require` banner, nothing external), and a
 * second time with `@aws-sdk/*` external — CDK's default, which uses the SDK the Lambda
 * runtime ships (here it resolves from this repository's node_modules, the same major
 * version; a `node_modules` link next to the bundles makes it resolvable).
 *
 * The aliases (BUNDLE_ALIASES) resolve from the repository root, where CDK runs esbuild.
 *
 * For each: bundle size (raw, gzip, source map, and how much of it is the SDK, from
 * esbuild's metafile), and module init time: a fresh `node --enable-source-maps` process
 * (Lambda gets NODE_OPTIONS=--enable-source-maps) imports the bundle and reports how long
 * the import took; median of `runs` after one discarded warm-up, the two variants
 * interleaved so that machine load hits both alike.
 *
 * If the construct's bundling block changes, `optionsMatchConstruct` turns false and the
 * report says so: update `bundleOptions` below and CONSTRUCT_BUNDLING_HASH.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, version as esbuildVersion } from 'esbuild';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { resolveHandlerEnvironment } from '../../local/handler-env.ts';
import { median, percentile, round } from './machine.ts';
import type { BundleFigures, BundlesSection, BundleVariantFigures } from './types.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONSTRUCT_FILE = join(REPOSITORY_ROOT, 'lib/constructs/chat-function.ts');

/**
 * Hash of the construct's `bundling: { … }` block (comments and whitespace removed) that
 * `bundleOptions` mirrors; see `constructBundlingHash`.
 */
export const CONSTRUCT_BUNDLING_HASH = 'd7a88f7ce2f15016';

/** The construct's `bundling` block without comments and whitespace, hashed. */
export function constructBundlingHash(source = readFileSync(CONSTRUCT_FILE, 'utf8')): string {
  const start = source.indexOf('bundling: {');
  if (start < 0) return 'missing';
  let depth = 0;
  let end = start;
  for (let i = source.indexOf('{', start); i < source.length; i++) {
    if (source[i] === '{') depth++;
    else if (source[i] === '}' && --depth === 0) {
      end = i + 1;
      break;
    }
  }
  const block = source
    .slice(start, end)
    .replace(/\/\/.*$/gm, '')
    .replace(/\s+/g, '');
  return createHash('sha256').update(block).digest('hex').slice(0, 16);
}

/** What `bundleOptions` takes from the construct module. */
export interface ConstructBundling {
  /** ESM_REQUIRE_SHIM */
  readonly banner: string;
  /** BUNDLE_ALIASES */
  readonly aliases: Readonly<Record<string, string>>;
  /** TRACING_WIRING when the stack's `tracing` option is on; the default bundles inject nothing. */
  readonly inject?: readonly string[];
}

/** The ESM `require` banner and the aliases, from the construct itself (a dynamic import: it loads aws-cdk-lib). */
async function constructBundling(): Promise<ConstructBundling> {
  const construct = await import('../../lib/constructs/chat-function.ts');
  return { banner: construct.ESM_REQUIRE_SHIM, aliases: construct.BUNDLE_ALIASES };
}

export type Variant = 'bundled' | 'external';

/** `@aws-sdk/*`, `@smithy/*` and `@aws-crypto/*` as one group each; other packages by name; own code as `(this repository)`. */
function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (!match?.[1]) return '(this repository)';
  const scope = /^@(aws-sdk|smithy|aws-crypto)\//.exec(match[1]);
  return scope ? `@${scope[1]}/*` : match[1];
}

/** How the init time is taken: which bundle, with which node flags. */
const MEASUREMENTS = [
  { name: 'bundled', variant: 'bundled', flags: ['--enable-source-maps'] },
  { name: 'external', variant: 'external', flags: ['--enable-source-maps'] },
  // Diagnostic: the deployed bundle without NODE_OPTIONS=--enable-source-maps.
  { name: 'bundledWithoutSourceMaps', variant: 'bundled', flags: [] },
] as const;

/** What NodejsFunction passes esbuild for the construct's `bundling` (see the module comment). */
export function bundleOptions(
  entry: string,
  outfile: string,
  construct: ConstructBundling,
  variant: Variant,
): BuildOptions {
  return {
    absWorkingDir: REPOSITORY_ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: variant === 'external' ? ['@aws-sdk/*'] : [],
    banner: { js: construct.banner },
    alias: { ...construct.aliases },
    ...(construct.inject?.length ? { inject: [...construct.inject] } : {}),
    metafile: true,
    logLevel: 'warning',
  };
}

/**
 * Imports the bundle (argv[1]) and, when `firstCall` is given, runs it with the module as
 * `mod` (e.g. `await mod.handler(event)`); prints the elapsed and the CPU milliseconds
 * (user + system, all threads) on a last line of its own, after whatever the bundle wrote.
 */
function initTimer(firstCall = ''): string {
  return `const t0 = performance.now(); const c0 = process.cpuUsage(); const mod = await import(process.argv[1]); ${firstCall}; const c = process.cpuUsage(c0); process.stdout.write('\\n' + String(performance.now() - t0) + ' ' + String((c.user + c.system) / 1000));`;
}

/** Wall-clock and CPU milliseconds of one init; CPU time is less sensitive to a busy machine. */
export interface InitTime {
  readonly ms: number;
  readonly cpuMs: number;
}

/**
 * Module init of `file` in a fresh `node` process: its import, and with `firstCall` also
 * that code's run (import plus first call).
 */
export function timeInit(
  file: string,
  env: NodeJS.ProcessEnv,
  nodeFlags: readonly string[],
  firstCall?: string,
): Promise<InitTime> {
  return new Promise((resolveTime, reject) => {
    execFile(
      process.execPath,
      [...nodeFlags, '--input-type=module', '-e', initTimer(firstCall), pathToFileURL(file).href],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`importing ${file} failed: ${stderr || error.message}`));
        else {
          const [ms, cpuMs] = stdout
            .slice(stdout.lastIndexOf('\n') + 1)
            .split(' ')
            .map(Number);
          resolveTime({ ms: ms as number, cpuMs: cpuMs as number });
        }
      },
    );
  });
}

/** The import's wall-clock milliseconds (what the section reports). */
function timeImport(file: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[]): Promise<number> {
  return timeInit(file, env, nodeFlags).then((time) => time.ms);
}

type BundleSizes = Omit<BundleVariantFigures, 'initMsMedian' | 'initMsP90' | 'initMsRuns'>;

export interface BundlesOptions {
  readonly runs: number;
  /** Limit to these functions (smoke); default every function. */
  readonly functions?: readonly string[];
  readonly log: (line: string) => void;
}

export async function runBundlesSection(options: BundlesOptions): Promise<BundlesSection> {
  const startedAt = performance.now();
  const construct = await constructBundling();
  const ids = (Object.keys(functionSpecs) as FunctionId[]).filter(
    (id) => !options.functions || options.functions.includes(id),
  );
  const dir = mkdtempSync(join(tmpdir(), 'chat-bench-bundles-'));
  // External @aws-sdk/* imports resolve through this link, as from /var/runtime on Lambda.
  symlinkSync(join(REPOSITORY_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const variants: Variant[] = ['bundled', 'external'];
  // The handler configuration the stack would give (table names, region…), as locally.
  const { vars } = resolveHandlerEnvironment({ baseUrl: 'http://127.0.0.1:9', stage: 'local', extra: {} });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...vars,
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
  };
  try {
    options.log(
      `  bundling ${ids.length} functions × ${variants.length} variants (esbuild ${esbuildVersion})`,
    );
    const built = new Map<string, { file: string; sizes: BundleSizes }>();
    await Promise.all(
      ids.flatMap((id) =>
        variants.map(async (variant) => {
          const outDir = join(dir, variant, id);
          mkdirSync(outDir, { recursive: true });
          const file = join(outDir, 'index.mjs');
          const entry = resolve(REPOSITORY_ROOT, functionSpecs[id].entry);
          const result = await build(bundleOptions(entry, file, construct, variant));
          const output = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint);
          const inputs = Object.entries(output?.inputs ?? {});
          const sdkBytes = inputs
            .filter(([path]) => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(path))
            .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
          const byPackage = new Map<string, number>();
          for (const [path, input] of inputs) {
            const name = packageOf(path);
            byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
          }
          const topPackages = [...byPackage]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([name, bytes]) => ({ name, bytes }));
          const code = readFileSync(file);
          built.set(`${variant}/${id}`, {
            file,
            sizes: {
              bytes: code.length,
              gzipBytes: gzipSync(code, { level: 9 }).length,
              mapBytes: statSync(`${file}.map`).size,
              sdkBytes,
              topPackages,
            },
          });
        }),
      ),
    );
    const times = new Map<string, number[]>();
    for (let run = 0; run <= options.runs; run++) {
      options.log(`  init run ${run === 0 ? 'warm-up' : `${run}/${options.runs}`}`);
      for (const id of ids) {
        for (const measurement of run % 2 ? MEASUREMENTS : [...MEASUREMENTS].reverse()) {
          const file = (built.get(`${measurement.variant}/${id}`) as { file: string }).file;
          const ms = await timeImport(file, env, measurement.flags);
          const key = `${measurement.name}/${id}`;
          if (run > 0) times.set(key, [...(times.get(key) ?? []), round(ms, 2)]);
        }
      }
    }
    const initOf = (id: string, name: string) => {
      const runs = times.get(`${name}/${id}`) ?? [];
      return {
        initMsMedian: round(median(runs), 1),
        initMsP90: round(percentile(runs, 90), 1),
        initMsRuns: runs,
      };
    };
    const figures = (id: string, variant: Variant): BundleVariantFigures => ({
      ...(built.get(`${variant}/${id}`) as { sizes: BundleSizes }).sizes,
      ...initOf(id, variant),
    });
    const functions: BundleFigures[] = ids.map((id) => ({
      functionId: id,
      entry: functionSpecs[id].entry,
      bundled: figures(id, 'bundled'),
      external: figures(id, 'external'),
      bundledWithoutSourceMaps: initOf(id, 'bundledWithoutSourceMaps'),
    }));
    const {
      absWorkingDir: _w,
      entryPoints: _e,
      outfile: _o,
      metafile: _m,
      ...shown
    } = bundleOptions('', '', { ...construct, banner: '…' }, 'bundled');
    const hash = constructBundlingHash();
    return {
      runs: options.runs,
      functions,
      esbuildVersion,
      options: { ...shown, banner: 'ESM_REQUIRE_SHIM (lib/constructs/chat-function.ts)' },
      optionsMatchConstruct: hash === CONSTRUCT_BUNDLING_HASH,
      constructBundlingHash: hash,
      nodeFlags: ['--enable-source-maps'],
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
