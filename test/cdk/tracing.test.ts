/**
 * The `tracing` option in the template: off (the default), no function has a tracing
 * configuration and no role may write to X-Ray; on, every function has active tracing and
 * its role exactly the two X-Ray writes (on `*`, the only wildcard resource, since X-Ray
 * has no resource-level permissions), cdk-nag passes, and the bundles CDK builds contain
 * the tracer (functions/runtime/wiring/tracing.ts injected) only then.
 * Run: npx tsx --test test/cdk/tracing.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { ChatStack } from '../../lib/chat-stack.ts';
import { ChatFunction } from '../../lib/constructs/chat-function.ts';
import { functionSpecs } from '../../lib/function-specs.ts';
import { checkWithCdkNag } from '../../lib/nag-check.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import { policyStatements, render, resourcesOfType } from '../support/cdk-template.ts';

const X_RAY_ACTIONS = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
const functionCount = Object.keys(functionSpecs).length;

const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function xrayStatements(template: ReturnType<typeof synthChatStack>['template']) {
  return policyStatements(template.toJSON()).filter(({ statement }) =>
    asArray(statement.Action).some((action) => action.startsWith('xray:')),
  );
}

describe('tracing off (default)', () => {
  const { template } = synthChatStack();

  it('no function has a tracing configuration', () => {
    const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
    assert.equal(functions.length, functionCount);
    for (const fn of functions) assert.equal(fn.Properties?.TracingConfig, undefined);
  });

  it('no role may write to X-Ray', () => {
    assert.deepEqual(xrayStatements(template), []);
  });
});

describe('tracing on', () => {
  const { template } = synthChatStack({ tracing: true });
  const functions = resourcesOfType(template, 'AWS::Lambda::Function');
  const policies = resourcesOfType(template, 'AWS::IAM::Policy');

  it('every function has active tracing', () => {
    assert.equal(Object.keys(functions).length, functionCount);
    for (const [id, fn] of Object.entries(functions)) {
      assert.deepEqual(fn.Properties?.TracingConfig, { Mode: 'Active' }, id);
    }
  });

  it("every function's role may write segments and telemetry to X-Ray, and nothing more of X-Ray", () => {
    for (const [id, fn] of Object.entries(functions)) {
      const roleId = /^\$\{(\w+)\.Arn\}$/.exec(render(fn.Properties?.Role))?.[1];
      const policy = Object.values(policies).find((p) =>
        asArray(p.Properties?.Roles as unknown).some((role) => render(role) === `\${${roleId}}`),
      );
      assert.ok(policy, `no policy on the role of ${id}`);
      const document = policy.Properties?.PolicyDocument as {
        Statement: { Action: unknown; Resource: unknown }[];
      };
      const statements = document.Statement;
      const xray = statements.filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('xray:')));
      assert.equal(xray.length, 1, id);
      assert.deepEqual([...asArray(xray[0]?.Action as string[])].sort(), X_RAY_ACTIONS, id);
      assert.equal(xray[0]?.Resource, '*', id);
    }
  });

  it('the X-Ray statements are the only ones on a wildcard resource', () => {
    const wildcard = policyStatements(template.toJSON()).filter(
      ({ statement }) =>
        statement.Effect === 'Allow' && asArray(statement.Resource as unknown).some((r) => render(r) === '*'),
    );
    assert.equal(wildcard.length, functionCount);
    for (const { path: where, statement } of wildcard) {
      assert.deepEqual([...asArray(statement.Action)].sort(), X_RAY_ACTIONS, where);
    }
  });

  it('cdk-nag has no unacknowledged finding', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'chat-nag-tracing-'));
    outdirs.push(outdir);
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    new ChatStack(app, 'NagTracingStack', { env: TEST_ENV, tracing: true });
    checkWithCdkNag(app);
    let findings = '';
    try {
      app.synth();
    } catch (error) {
      const report = path.join(outdir, 'validation-report.json');
      findings = existsSync(report) ? readFileSync(report, 'utf8') : String(error);
    }
    assert.equal(findings, '', `unacknowledged cdk-nag findings:\n${findings.slice(0, 4000)}`);
  });
});

describe('the bundle CDK builds', () => {
  /** Bundles the ping function with CDK itself, as `cdk synth` would; returns the code (every file). */
  function bundledPing(tracing: boolean): string {
    const outdir = mkdtempSync(path.join(tmpdir(), 'chat-tracing-bundle-'));
    outdirs.push(outdir);
    const app = new App({ outdir });
    const stack = new Stack(app, 'BundleStack', { env: TEST_ENV });
    new ChatFunction(stack, 'Ping', { entry: functionSpecs.ping.entry, tracing });
    app.synth();
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    assert.equal(assets.length, 1);
    // index.mjs and its chunks (HANDLER_BUNDLING.splitting): the tracer may sit in a shared one.
    const dir = path.join(outdir, assets[0] as string);
    return readdirSync(dir)
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => readFileSync(path.join(dir, file), 'utf8'))
      .join('\n');
  }

  it('holds the tracer and the X-Ray SDK only with tracing on', () => {
    assert.doesNotMatch(bundledPing(false), /AWS_XRAY_DAEMON_ADDRESS/);
    assert.match(bundledPing(true), /AWS_XRAY_DAEMON_ADDRESS/);
  });
});
