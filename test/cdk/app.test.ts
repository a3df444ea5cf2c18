/**
 * bin/chat-app.ts run the way the CDK CLI runs it: context in CDK_CONTEXT_JSON, the cloud
 * assembly written to CDK_OUTDIR. Bundling is skipped; functions.test.ts covers it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { functionSpecs } from '../../lib/function-specs.ts';
import { lambdaEnvironment, property, render, resourcesOfType } from '../support/cdk-template.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stderr: string;
  readonly outdir: string;
}

function runApp(context: Record<string, unknown>): Promise<Run> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'chat-cdk-app-'));
  outdirs.push(outdir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
  };
  // No account or region known, as when synthesizing without credentials.
  delete env.CDK_DEFAULT_ACCOUNT;
  delete env.CDK_DEFAULT_REGION;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/chat-app.ts'],
      { cwd: root, env },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, outdir });
      },
    );
  });
}

describe('bin/chat-app.ts', () => {
  it('builds the stack from context, environment-agnostic without CDK_DEFAULT_*', async () => {
    const run = await runApp({
      stackName: 'ChatDev',
      stageName: 'dev',
      throttleRateLimit: '50',
      throttleBurstLimit: 100,
      jwksUrl: 'https://idp.example.com/jwks.json',
      jwtIssuer: 'https://idp.example.com/',
      jwtAudience: 'chat',
      broadcastAllowAll: 'TRUE',
      retainData: 'false',
      logRetentionDays: '7',
    });
    assert.equal(run.code, 0, run.stderr);
    const template = Template.fromJSON(
      JSON.parse(readFileSync(path.join(run.outdir, 'ChatDev.template.json'), 'utf8')),
    );
    const ofType = (type: string) => Object.values(resourcesOfType(template, type));

    const stages = ofType('AWS::ApiGatewayV2::Stage');
    assert.deepEqual(stages.map((stage) => property(stage, 'StageName')).sort(), ['$default', 'dev']);
    for (const stage of stages) {
      assert.deepEqual(property(stage, 'DefaultRouteSettings'), {
        ThrottlingRateLimit: 50,
        ThrottlingBurstLimit: 100,
      });
    }

    const environments = ofType('AWS::Lambda::Function').map(lambdaEnvironment);
    const verifying = environments.filter((env) => env.JWKS_URL === 'https://idp.example.com/jwks.json');
    assert.equal(verifying.length, Object.values(functionSpecs).filter((spec) => spec.verifiesTokens).length);
    for (const env of verifying) {
      assert.equal(env.JWT_ISSUER, 'https://idp.example.com/');
      assert.equal(env.JWT_AUDIENCE, 'chat');
    }
    for (const env of environments) assert.equal(env.BROADCAST_ALLOW_ALL, 'true');
    assert.equal(ofType('AWS::SecretsManager::Secret').length, 0);

    for (const table of ofType('AWS::DynamoDB::GlobalTable')) assert.equal(table.DeletionPolicy, 'Delete');
    const logGroups = ofType('AWS::Logs::LogGroup');
    assert.equal(logGroups.length, environments.length);
    for (const logGroup of logGroups) assert.equal(property(logGroup, 'RetentionInDays'), 7);
    assert.match(
      render(template.toJSON().Outputs.CallbackUrl.Value),
      /\.execute-api\.\$\{AWS::Region\}\..*\/dev$/,
    );
  });

  it('rejects a context value of the wrong type, naming the key and the value', async () => {
    const run = await runApp({ retainData: 'maybe' });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /Context "retainData" must be true or false; received "maybe"/);
  });

  it('rejects a log retention CloudWatch does not offer', async () => {
    const run = await runApp({ logRetentionDays: 45 });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /Context "logRetentionDays" must be one of .*received 45/);
  });

  it('passes JWT settings through to the stack validation', async () => {
    const run = await runApp({ jwksUrl: 'https://idp.example.com/jwks.json', jwtAudience: 'chat' });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /was given without jwtIssuer.*-c jwtIssuer=/);
  });
});
