/**
 * ChatBackend inside someone else's app, from the source (the packed package is
 * test/cdk/construct-package.test.ts): the stack's resource budget, the fixed name of its
 * self-invoking fan-out worker, the grants' methods, and a backend in a nested stack used
 * from the parent stack (what to do when the parent has no room for it).
 * Run: npx tsx --test test/cdk/chat-backend.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, type CfnElement, NestedStack, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ChatBackend } from '../../lib/chat-backend.ts';
import { TEST_ENV } from '../support/cdk-stack.ts';
import { normalizeStatement, policyStatements, resourcesOfType } from '../support/cdk-template.ts';

function appStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Shop', { env: TEST_ENV });
}

describe('ChatBackend in an app of its own', () => {
  const stack = appStack();
  const europe = new ChatBackend(stack, 'Europe', { retainData: false });
  const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  europe.grantManageConnections(operator, ['GET', 'DELETE']);
  const template = Template.fromStack(stack);

  it('leaves room in the stack: CloudFormation allows 500 resources', () => {
    const count = Object.keys(template.toJSON().Resources).length;
    assert.ok(count <= 480, `one backend uses ${count} resources of the stack's 500`);
  });

  it('names its fan-out worker after the stack and the construct id', () => {
    const names = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))
      .map((fn) => fn.Properties?.FunctionName)
      .filter((name) => name !== undefined);
    assert.deepEqual(names, ['Shop-Europe-FanOutWorker']);
  });

  it('grants the Management API methods asked for, on its own stage only', () => {
    const roleId = stack.getLogicalId(operator.node.defaultChild as iam.CfnRole);
    const statements = Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap((policy) => policyStatements(policy).map(({ statement }) => normalizeStatement(statement)));
    const apiId = stack.getLogicalId(europe.webSocketApi.node.defaultChild as CfnElement);
    assert.deepEqual(statements, [
      {
        effect: 'Allow',
        actions: ['execute-api:ManageConnections'],
        resources: ['DELETE', 'GET'].map(
          (method) =>
            `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${apiId}}/prod/${method}/@connections/*`,
        ),
      },
    ]);
  });

  it('refuses a construct id that makes the fan-out worker name too long for Lambda', () => {
    assert.throws(() => new ChatBackend(appStack(), 'A'.repeat(60)), /which Lambda refuses/);
  });
});

describe('ChatBackend in a nested stack, used from the parent stack', () => {
  const stack = appStack();
  const nested = new NestedStack(stack, 'Chat');
  const chat = new ChatBackend(nested, 'Backend', { retainData: false });
  const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  chat.grantReadMessages(operator);

  it('keeps the backend in the nested stack and passes the table ARN to the parent', () => {
    const parent = Template.fromStack(stack);
    assert.equal(Object.keys(resourcesOfType(parent, 'AWS::DynamoDB::GlobalTable')).length, 0);
    assert.equal(Object.keys(resourcesOfType(parent, 'AWS::CloudFormation::Stack')).length, 1);
    const child = Template.fromStack(nested);
    assert.equal(
      Object.keys(resourcesOfType(child, 'AWS::DynamoDB::GlobalTable')).length,
      Object.keys(chat.tables).length,
    );
    const statements = policyStatements(parent.toJSON()).map(({ statement }) =>
      normalizeStatement(statement),
    );
    const read = statements.find((statement) => statement.actions.includes('dynamodb:Query'));
    assert.ok(read, 'no read statement in the parent stack');
    assert.equal(read.resources.length, 3, 'the table and its two indexes');
    assert.ok(
      read.resources.every((resource) => resource.includes('Outputs.')),
      JSON.stringify(read.resources),
    );
    const [workerName] = Object.values(resourcesOfType(child, 'AWS::Lambda::Function'))
      .map((fn) => fn.Properties?.FunctionName)
      .filter((name): name is string => typeof name === 'string');
    assert.match(workerName ?? '', /^Shop-Chat-Backend-[A-Za-z0-9]+-FanOutWorker$/);
    assert.ok((workerName ?? '').length <= 64);
  });
});
