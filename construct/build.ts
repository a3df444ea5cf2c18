/**
 * Builds the construct package in construct/dist: the CDK code of lib/ compiled to
 * JavaScript and declarations (tsc, construct/tsconfig.json), and every handler of
 * `functionSpecs` bundled with esbuild as ChatFunction bundles it at synth
 * (handlerBuildOptions), once plain and once with tracing, so the package's users need
 * neither esbuild nor TypeScript nor this repository.
 * Run: npm --prefix construct run build (npm pack runs it too).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { handlerBuildOptions, PROJECT_ROOT, prebuiltBundleDir } from '../lib/constructs/chat-function.ts';
import { functionSpecs } from '../lib/function-specs.ts';

const packageDir = fileURLToPath(new URL('./', import.meta.url));
const distDir = path.join(packageDir, 'dist');
/** PREBUILT_BUNDLES_DIR as the compiled dist/constructs/chat-function.js sees it. */
const bundlesDir = path.join(distDir, 'lambda-bundles');

export async function buildPackage(): Promise<void> {
  rmSync(distDir, { recursive: true, force: true });
  compile();
  await bundleHandlers();
  copyFileSync(path.join(PROJECT_ROOT, 'LICENSE'), path.join(packageDir, 'LICENSE'));
}

function compile(): void {
  const tsc = createRequire(path.join(PROJECT_ROOT, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(packageDir, 'tsconfig.json')], { stdio: 'inherit' });
  // tsc rewrites `./x.ts` to `./x.js` in the JavaScript only; declarations get the same
  // specifiers, so consumers without allowImportingTsExtensions can read them.
  for (const file of filesUnder(distDir).filter((name) => name.endsWith('.d.ts'))) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/((?:from\s+|import\()['"]\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1.js$2'));
  }
}

async function bundleHandlers(): Promise<void> {
  const entries = [...new Set(Object.values(functionSpecs).map((spec) => spec.entry))];
  // One build per handler: chunks (HANDLER_BUNDLING.splitting) are a handler's own.
  await Promise.all(
    [false, true].flatMap((tracing) =>
      entries.map((entry) =>
        build(
          handlerBuildOptions({
            projectRoot: PROJECT_ROOT,
            entry,
            outdir: prebuiltBundleDir(bundlesDir, entry, tracing),
            tracing,
          }),
        ),
      ),
    ),
  );
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPackage();
