/**
 * Source maps in the template: every bundle ships its linked map, but Node applies it to
 * stack traces only with `sourceMapsInStackTraces` (NODE_OPTIONS=--enable-source-maps),
 * which costs every cold start the reading of the maps (docs/architecture.md, "Bundling and
 * init"). Off by default; on, every function of the backend gets the option.
 * Run: npx tsx --test test/cdk/source-maps.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ChatStack } from '../../lib/chat-stack.ts';
import { ChatFunction } from '../../lib/constructs/chat-function.ts';
import { functionSpecs } from '../../lib/function-specs.ts';
import { TEST_ENV } from '../support/cdk-stack.ts';
import { resourcesOfType } from '../support/cdk-template.ts';

const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  outdirs.push(dir);
  return dir;
}

/** The ping function bundled by CDK as `cdk synth` would: its environment and its asset's files. */
function pingFunction(sourceMapsInStackTraces?: boolean) {
  const outdir = tempDir('chat-source-maps-');
  const app = new App({ outdir });
  const stack = new Stack(app, 'SourceMapsStack', { env: TEST_ENV });
  new ChatFunction(stack, 'Ping', {
    entry: functionSpecs.ping.entry,
    environment: { LOG_LEVEL: 'info' },
    ...(sourceMapsInStackTraces === undefined ? {} : { sourceMapsInStackTraces }),
  });
  const assembly = app.synth();
  const template = Template.fromStack(stack);
  const fn = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))[0];
  const asset = readdirSync(assembly.directory).find((name) => name.startsWith('asset.'));
  assert.ok(asset, 'no bundle asset');
  const dir = path.join(assembly.directory, asset);
  return {
    environment: (fn?.Properties?.Environment as { Variables?: Record<string, string> } | undefined)
      ?.Variables,
    files: readdirSync(dir),
    entry: readFileSync(path.join(dir, 'index.mjs'), 'utf8'),
  };
}

describe('a function', () => {
  it('by default: no NODE_OPTIONS, and the map ships linked beside the bundle', () => {
    const { environment, files, entry } = pingFunction();
    assert.deepEqual(environment, { LOG_LEVEL: 'info' });
    assert.ok(files.includes('index.mjs.map'), files.join(', '));
    // Linked, so turning the option on later needs no rebuild.
    assert.match(entry, /\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
  });

  it('with sourceMapsInStackTraces: NODE_OPTIONS=--enable-source-maps beside its own variables', () => {
    const { environment } = pingFunction(true);
    assert.deepEqual(environment, { NODE_OPTIONS: '--enable-source-maps', LOG_LEVEL: 'info' });
  });
});

describe('the backend', () => {
  /** The template without bundling (the functions' code is not what is checked here). */
  function functionsOf(props: { sourceMapsInStackTraces?: boolean }) {
    const app = new App({
      outdir: tempDir('chat-source-maps-stack-'),
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    const stack = new ChatStack(app, 'SourceMapsBackend', { env: TEST_ENV, ...props });
    return Object.values(resourcesOfType(Template.fromStack(stack), 'AWS::Lambda::Function'));
  }
  const nodeOptions = (fn: { Properties?: Record<string, unknown> }) =>
    (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
      ?.NODE_OPTIONS;

  it('gives no function NODE_OPTIONS by default', () => {
    const functions = functionsOf({});
    assert.equal(functions.length, Object.keys(functionSpecs).length);
    for (const fn of functions) assert.equal(nodeOptions(fn), undefined);
  });

  it('gives every function --enable-source-maps with sourceMapsInStackTraces', () => {
    const functions = functionsOf({ sourceMapsInStackTraces: true });
    assert.equal(functions.length, Object.keys(functionSpecs).length);
    for (const fn of functions) assert.equal(nodeOptions(fn), '--enable-source-maps');
  });
});
