/**
 * bin/chat-app.ts run the way the CDK CLI runs it: context in CDK_CONTEXT_JSON, the cloud
 * assembly written to CDK_OUTDIR. Bundling is skipped; functions.test.ts covers it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionSpecs } from '../../lib/function-specs.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { lambdaEnvironment, property, render, resourcesOfType } from '../support/cdk-template.ts';

const runApp = cdkAppRunner('chat-cdk-app-');

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
      tracing: 'true',
    });
    assert.equal(run.code, 0, run.stderr);
    const template = run.template('ChatDev');
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
    for (const fn of ofType('AWS::Lambda::Function')) {
      assert.deepEqual(property(fn, 'TracingConfig'), { Mode: 'Active' });
    }
    assert.equal(ofType('AWS::SecretsManager::Secret').length, 0);

    for (const table of ofType('AWS::DynamoDB::GlobalTable')) assert.equal(table.DeletionPolicy, 'Delete');
    const logGroups = ofType('AWS::Logs::LogGroup');
    // One per function, plus the WebSocket and HTTP API access logs.
    assert.equal(logGroups.length, environments.length + 2);
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
