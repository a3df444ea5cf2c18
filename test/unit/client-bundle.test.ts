/**
 * The client SDK stays browser-safe and dependency-free: it bundles for the browser
 * platform from client/src alone (no Node built-ins, no packages), and its package.json
 * declares no runtime dependencies and exports the built files. The packed tarball is
 * consistent: every source map points at sources the tarball ships.
 * Run: npx tsx --test test/unit/client-bundle.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('bundles for the browser from client/src only', async () => {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['client/src/index.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  assert.deepEqual(result.errors, []);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.length > 5);
  for (const input of inputs) assert.match(input, /^client\/src\/[a-z-]+\.ts$/, `only SDK sources: ${input}`);
  const size = result.outputFiles?.[0]?.contents.byteLength ?? 0;
  assert.ok(size > 0 && size < 150_000, `bundle size ${size}`);
});

test('package.json: zero runtime dependencies, ESM, exports the built dist/', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../client/package.json', import.meta.url), 'utf8')) as {
    name: string;
    type: string;
    dependencies?: Record<string, string>;
    exports: Record<string, { types: string; import: string }>;
    scripts: Record<string, string>;
  };
  assert.equal(pkg.name, '@serverless-chat/client');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.dependencies ?? {}, {});
  assert.equal(pkg.exports['.']?.import, './dist/index.js');
  assert.equal(pkg.exports['.']?.types, './dist/index.d.ts');
  assert.match(pkg.scripts.build ?? '', /tsc -p tsconfig\.build\.json/);
});

test('npm pack: every .map in the tarball points at sources the tarball ships', () => {
  const clientDir = join(root, 'client');
  // --dry-run still runs prepack (the build), so the maps it lists exist in client/dist.
  const output = execFileSync('npm', ['pack', '--dry-run', '--json'], {
    cwd: clientDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [packed] = JSON.parse(output) as [{ files: { path: string }[] }];
  const files = new Set(packed.files.map((file) => file.path));
  const maps = [...files].filter((path) => path.endsWith('.map'));
  assert.ok(maps.length > 0, 'source maps are shipped');
  assert.ok(files.has('dist/index.js') && files.has('dist/index.d.ts'));
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(clientDir, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const shipped = normalize(join(dirname(map), source));
      assert.ok(files.has(shipped), `${map} points at ${source}, which the tarball does not ship`);
    }
  }
  for (const path of files) assert.doesNotMatch(path, /^test\//, 'no tests in the tarball');
});
