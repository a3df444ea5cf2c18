/**
 * Each handler imports the wiring its function needs (functions/runtime/container.ts),
 * and no more, so that its Lambda bundle holds only the SDK clients it uses:
 * - functions with tables: wiring/dynamo.ts;
 * - functions that invoke the fan-out worker (which gives them FANOUT_WORKER_FUNCTION_NAME):
 *   wiring/fan-out-invoker.ts, the only way to the Lambda client besides `$connect`'s welcome;
 * - functions that manage connections, and every message route (an expired token closes the
 *   connection): the Management API, wiring/management-api.ts;
 * - functions that publish application events (`publishesEvents`): wiring/app-events.ts,
 *   the only way to the EventBridge client;
 * - no zod where no command is validated (schemas are `@__PURE__`, see functions/core/shared/schema.ts).
 * And the container fails loudly, naming the module, when something is not wired.
 * Run: npx tsx --test test/unit/wiring.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

const DYNAMO = 'functions/runtime/wiring/dynamo.ts';
const FAN_OUT_INVOKER = 'functions/runtime/wiring/fan-out-invoker.ts';
const MANAGEMENT_API = 'functions/runtime/wiring/management-api.ts';
const APP_EVENTS = 'functions/runtime/wiring/app-events.ts';

/** Functions that validate no command with a schema. */
const WITHOUT_SCHEMAS = new Set<FunctionId>([
  'authorizer',
  'connect',
  'disconnect',
  'welcome',
  'ping',
  'default',
  'history',
  'fanOutWorker',
  'sweepConnections',
]);

/** The repository modules and the packages a handler's bundle reaches, as esbuild sees them. */
async function graphOf(entry: string): Promise<{ modules: Set<string>; packages: Set<string> }> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const modules = new Set<string>();
  const packages = new Set<string>();
  for (const [path, input] of Object.entries(result.metafile.outputs).flatMap(([, o]) =>
    Object.entries(o.inputs),
  )) {
    if (input.bytesInOutput === 0) continue;
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (match?.[1]) packages.add(match[1]);
    else modules.add(path);
  }
  return { modules, packages };
}

describe('what each handler wires', () => {
  const graphs = new Map<FunctionId, { modules: Set<string>; packages: Set<string> }>();

  before(async () => {
    await Promise.all(
      (Object.keys(functionSpecs) as FunctionId[]).map(async (id) => {
        graphs.set(id, await graphOf(functionSpecs[id].entry));
      }),
    );
  });

  for (const [id, spec] of Object.entries(functionSpecs) as [
    FunctionId,
    (typeof functionSpecs)[FunctionId],
  ][]) {
    it(id, () => {
      const graph = graphs.get(id);
      assert.ok(graph);
      const source = readFileSync(new URL(`../../${spec.entry}`, import.meta.url), 'utf8');
      const hasTables = Object.keys(spec.tables).length > 0;
      const invokesWorker = spec.invokes?.includes('fanOutWorker') ?? false;
      assert.equal(graph.modules.has(DYNAMO), hasTables, `${DYNAMO} iff the function has tables`);
      assert.equal(
        graph.modules.has(FAN_OUT_INVOKER),
        invokesWorker,
        `${FAN_OUT_INVOKER} iff it invokes the worker`,
      );
      assert.equal(
        graph.packages.has('@aws-sdk/client-lambda'),
        (spec.invokes?.length ?? 0) > 0,
        'the Lambda client iff it invokes a function',
      );
      assert.equal(
        graph.packages.has('@aws-sdk/client-dynamodb'),
        hasTables,
        'the DynamoDB client iff it has tables',
      );
      assert.equal(
        graph.packages.has('@aws-sdk/client-s3'),
        (spec.attachments?.length ?? 0) > 0,
        'the S3 client iff it has the attachments bucket',
      );
      assert.equal(
        graph.modules.has(APP_EVENTS),
        spec.publishesEvents === true,
        `${APP_EVENTS} iff it publishes events`,
      );
      assert.equal(
        graph.packages.has('@aws-sdk/client-eventbridge'),
        spec.publishesEvents === true,
        'the EventBridge client iff it publishes events',
      );
      if (spec.manageConnections?.length || source.includes('messageRoute(')) {
        assert.ok(graph.modules.has(MANAGEMENT_API), `${MANAGEMENT_API}: it posts to or closes connections`);
      }
      if (WITHOUT_SCHEMAS.has(id)) assert.ok(!graph.packages.has('zod'), 'no zod: it validates no command');
    });
  }
});

describe('the container', () => {
  const saved = { ...process.env };

  before(() => {
    for (const table of Object.values(tableDefinitions))
      process.env[table.envVar] = `wiring-${table.localName}`;
    Object.assign(process.env, {
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'wiring',
      AWS_SECRET_ACCESS_KEY: 'wiring',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      FANOUT_WORKER_FUNCTION_NAME: 'worker',
    });
  });

  after(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  // In this order: the wiring modules register for the life of the process.
  it('builds the configuration alone, and names the module a missing service needs', async () => {
    const { getServices, setServices } = await import('../../functions/runtime/container.ts');
    setServices(undefined);
    const services = getServices();
    assert.equal(services.config.tables.messages, 'wiring-chat-messages');
    assert.throws(() => services.registry, /services\.registry is not wired.*wiring\/dynamo\.ts/);
    assert.throws(() => services.notifier, /services\.notifier is not wired.*wiring\/management-api\.ts/);
  });

  it('refuses a fan-out worker name without the Lambda client', async () => {
    await import('../../functions/runtime/wiring/dynamo.ts');
    const { getServices, setServices } = await import('../../functions/runtime/container.ts');
    setServices(undefined);
    assert.throws(() => getServices(), /FANOUT_WORKER_FUNCTION_NAME is set.*wiring\/fan-out-invoker\.ts/);
    delete process.env.FANOUT_WORKER_FUNCTION_NAME;
    setServices(undefined);
    assert.equal(getServices().delivery('http://127.0.0.1:9/local').offload, undefined);
  });

  it('hands large fan-outs to the worker once the invoker is wired', async () => {
    await import('../../functions/runtime/wiring/fan-out-invoker.ts');
    const { getServices, setServices } = await import('../../functions/runtime/container.ts');
    process.env.FANOUT_WORKER_FUNCTION_NAME = 'worker';
    setServices(undefined);
    const services = getServices();
    assert.ok(services.delivery('http://127.0.0.1:9/local').offload);
    assert.equal(typeof services.notifier('http://127.0.0.1:9/local').post, 'function');
    setServices(undefined);
  });
});
