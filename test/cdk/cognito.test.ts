/**
 * The `cognito` prop: the functions that verify tokens (and only they) get the COGNITO_*
 * variables, from a pool and clients of the app or from their ids; no secret is created
 * or granted; nothing else in the template differs from a stack verifying with a JWKS URL.
 * Run: npx tsx --test test/cdk/cognito.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { ChatStack, type ChatStackProps } from '../../lib/chat-stack.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  type CfnResource,
  lambdaEnvironment,
  normalizeStatement,
  policyStatements,
  resourcesOfType,
} from '../support/cdk-template.ts';

const functionIds = Object.keys(functionSpecs) as FunctionId[];
const KEY_VARIABLES = /^(JWT_|JWKS_URL$|COGNITO_)/;

function keyEnvironments(template: Template, stack: ChatStack): Record<FunctionId, Record<string, unknown>> {
  const functions = resourcesOfType(template, 'AWS::Lambda::Function');
  const result = {} as Record<FunctionId, Record<string, unknown>>;
  for (const id of functionIds) {
    const logicalId = stack.getLogicalId(stack.functions[id].function.node.defaultChild as never);
    const env = functions[logicalId]?.Properties?.Environment as
      | { Variables?: Record<string, unknown> }
      | undefined;
    result[id] = Object.fromEntries(
      Object.entries(env?.Variables ?? {}).filter(([name]) => KEY_VARIABLES.test(name)),
    );
  }
  return result;
}

function assertNoSecret(template: Template): void {
  template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  const secretActions = policyStatements(template.toJSON())
    .map(({ statement }) => normalizeStatement(statement))
    .filter((statement) => statement.actions.some((action) => action.startsWith('secretsmanager:')));
  assert.deepEqual(secretActions, []);
  const outputs = Object.keys(template.toJSON().Outputs ?? {});
  assert.ok(!outputs.some((name) => name.startsWith('JwtSecret')), outputs.join(', '));
}

describe('cognito with a user pool and app clients of the app', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const identity = new Stack(app, 'Identity', { env: TEST_ENV });
  const pool = new cognito.UserPool(identity, 'Users');
  const web = pool.addClient('Web');
  const mobile = pool.addClient('Mobile');
  const stack = new ChatStack(app, 'Chat', {
    env: TEST_ENV,
    cognito: { userPool: pool, clients: [web, mobile], tokenUse: 'any', adminGroup: 'ChatAdmins' },
  });
  const template = Template.fromStack(stack);
  const poolRef = stack.resolve(pool.userPoolId);

  it('sets the pool, clients, token use and admin group on the functions that verify tokens only', () => {
    const environments = keyEnvironments(template, stack);
    assert.ok(functionIds.some((id) => functionSpecs[id].verifiesTokens));
    for (const id of functionIds) {
      if (!functionSpecs[id].verifiesTokens) {
        assert.deepEqual(environments[id], {}, id);
        continue;
      }
      const env = environments[id];
      assert.deepEqual(Object.keys(env).sort(), [
        'COGNITO_ADMIN_GROUP',
        'COGNITO_CLIENT_IDS',
        'COGNITO_TOKEN_USE',
        'COGNITO_USER_POOL_ID',
      ]);
      // Cross-stack references: the ids are imported from the identity stack.
      assert.deepEqual(env.COGNITO_USER_POOL_ID, poolRef, id);
      assert.deepEqual(env.COGNITO_CLIENT_IDS, {
        'Fn::Join': ['', [stack.resolve(web.userPoolClientId), ',', stack.resolve(mobile.userPoolClientId)]],
      });
      assert.equal(env.COGNITO_TOKEN_USE, 'any');
      assert.equal(env.COGNITO_ADMIN_GROUP, 'ChatAdmins');
    }
  });

  it('creates and grants no secret', () => assertNoSecret(template));
});

describe('cognito from ids (context)', () => {
  const cognitoProps: ChatStackProps['cognito'] = {
    userPool: 'eu-west-1_AbCdEf123',
    clients: ['1example23456789', '2example23456789'],
  };
  const withCognito = synthChatStack({ cognito: cognitoProps });
  const withJwks = synthChatStack({
    jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
    jwtIssuer: 'https://idp.example.com/',
    jwtAudience: 'chat',
  });

  it('passes the ids, access tokens only and the admin group "admin" by default', () => {
    const environments = keyEnvironments(withCognito.template, withCognito.stack);
    for (const id of functionIds) {
      const expected = functionSpecs[id].verifiesTokens
        ? {
            COGNITO_USER_POOL_ID: 'eu-west-1_AbCdEf123',
            COGNITO_CLIENT_IDS: '1example23456789,2example23456789',
            COGNITO_TOKEN_USE: 'access',
            COGNITO_ADMIN_GROUP: 'admin',
          }
        : {};
      assert.deepEqual(environments[id], expected, id);
    }
    assertNoSecret(withCognito.template);
  });

  it('changes nothing but those variables, compared with a stack that verifies with a JWKS URL', () => {
    const withoutKeyVariables = (template: Template) => {
      const json = template.toJSON();
      const resources = json.Resources as Record<string, CfnResource>;
      for (const resource of Object.values(resources)) {
        const environment = resource.Properties?.Environment as
          | { Variables?: Record<string, unknown> }
          | undefined;
        const variables = environment?.Variables;
        if (resource.Type !== 'AWS::Lambda::Function' || !variables) continue;
        for (const name of Object.keys(variables)) if (KEY_VARIABLES.test(name)) delete variables[name];
      }
      return json;
    };
    assert.deepEqual(withoutKeyVariables(withCognito.template), withoutKeyVariables(withJwks.template));
  });

  it('leaves every COGNITO_ variable out when the prop is absent', () => {
    for (const synth of [withJwks, synthChatStack()]) {
      for (const fn of Object.values(resourcesOfType(synth.template, 'AWS::Lambda::Function'))) {
        const names = Object.keys(lambdaEnvironment(fn)).filter((name) => name.startsWith('COGNITO_'));
        assert.deepEqual(names, []);
      }
    }
  });
});

describe('cognito props validation', () => {
  const attempt = (props: ChatStackProps) => () => new ChatStack(new App(), 'Invalid', props);
  const ok = { userPool: 'us-east-1_AbC123', clients: ['1example23456789'] };

  it('refuses what is not a pool id or client id, and no clients, saying what it received', () => {
    assert.throws(
      attempt({ cognito: { ...ok, userPool: 'AbC123' } }),
      /cognito\.userPool .*received "AbC123"/,
    );
    assert.throws(
      attempt({ cognito: { ...ok, clients: [] } }),
      /cognito\.clients is empty.*-c cognitoClientIds=/,
    );
    assert.throws(attempt({ cognito: { ...ok, clients: ['a b'] } }), /cognito\.clients holds "a b"/);
    assert.throws(
      attempt({ cognito: { ...ok, tokenUse: 'refresh' as 'id' } }),
      /cognito\.tokenUse must be one of access, id, any; received "refresh"/,
    );
    assert.throws(attempt({ cognito: { ...ok, adminGroup: ' ' } }), /cognito\.adminGroup is empty/);
  });

  it('refuses cognito together with another key source', () => {
    assert.throws(
      attempt({ cognito: ok, jwtSecretName: 'chat/key', jwtAudience: 'chat' }),
      /Received cognito together with jwtSecretName, jwtAudience/,
    );
  });
});

describe('bin/chat-app.ts context', () => {
  const runApp = cdkAppRunner('chat-cdk-cognito-');

  it('builds the Cognito settings from cognitoUserPoolId, cognitoClientIds, cognitoTokenUse, cognitoAdminGroup', async () => {
    const run = await runApp({
      stackName: 'ChatCognito',
      cognitoUserPoolId: 'us-east-1_AbC123',
      cognitoClientIds: '1example23456789, 2example23456789',
      cognitoTokenUse: 'id',
      cognitoAdminGroup: 'ChatAdmins',
    });
    assert.equal(run.code, 0, run.stderr);
    const environments = Object.values(
      resourcesOfType(run.template('ChatCognito'), 'AWS::Lambda::Function'),
    ).map(lambdaEnvironment);
    const verifying = environments.filter((env) => env.COGNITO_USER_POOL_ID !== undefined);
    assert.equal(verifying.length, Object.values(functionSpecs).filter((spec) => spec.verifiesTokens).length);
    for (const env of verifying) {
      assert.equal(env.COGNITO_USER_POOL_ID, 'us-east-1_AbC123');
      assert.equal(env.COGNITO_CLIENT_IDS, '1example23456789,2example23456789');
      assert.equal(env.COGNITO_TOKEN_USE, 'id');
      assert.equal(env.COGNITO_ADMIN_GROUP, 'ChatAdmins');
      assert.equal(env.JWT_SECRET_ID, undefined);
    }
  });

  it('reports client ids without a pool id', async () => {
    const run = await runApp({ cognitoClientIds: '1example23456789' });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /cognito\.userPool must be a user pool or its id.*received ""/);
  });
});
