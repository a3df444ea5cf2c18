import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import type { TableId } from '../../lib/table-definitions.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  asArray,
  normalizeStatement,
  policyStatements,
  render,
  resourcesOfType,
  sortStatements,
} from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const ref = (id: string) => `\${${id}}`;
const arnOf = (id: string) => `\${${id}.Arn}`;
const functionIds = Object.keys(functionSpecs) as FunctionId[];

/** What functionSpecs says a function may do, in the shape of `normalizeStatement`. */
function expectedStatements(functionId: FunctionId) {
  const spec = functionSpecs[functionId];
  const statement = (actions: string[], resources: string[]) => ({
    effect: 'Allow',
    actions: actions.slice().sort(),
    resources: resources.slice().sort(),
  });
  const statements = [
    statement(
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [arnOf(logicalId(stack.functions[functionId].logGroup))],
    ),
  ];
  for (const [tableId, access] of Object.entries(spec.tables) as [TableId, (typeof spec.tables)[TableId]][]) {
    if (!access) continue;
    const tableArn = arnOf(logicalId(stack.tables.tables[tableId]));
    statements.push(
      statement(
        access.actions.map((action) => `dynamodb:${action}`),
        [tableArn, ...(access.indexes ?? []).map((index) => `${tableArn}/index/${index}`)],
      ),
    );
  }
  if (spec.manageConnections) {
    const api = ref(logicalId(stack.webSocket.api));
    statements.push(
      statement(
        ['execute-api:ManageConnections'],
        spec.manageConnections.map(
          (method) =>
            `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:${api}/prod/${method}/@connections/*`,
        ),
      ),
    );
  }
  for (const target of spec.invokes ?? []) {
    statements.push(
      statement(['lambda:InvokeFunction'], [arnOf(logicalId(stack.functions[target].function))]),
    );
  }
  // Asynchronously invoked functions send what failed every retry to the dead-letter queue.
  if (stack.functions[functionId].function.deadLetterQueue) {
    statements.push(statement(['sqs:SendMessage'], [arnOf(logicalId(stack.deadLetterQueue))]));
  }
  if (spec.verifiesTokens) {
    assert.ok(stack.jwt.generatedSecret);
    statements.push(
      statement(['secretsmanager:GetSecretValue'], [ref(logicalId(stack.jwt.generatedSecret))]),
    );
  }
  return sortStatements(statements);
}

describe('IAM', () => {
  const roles = resourcesOfType(template, 'AWS::IAM::Role');
  const policies = resourcesOfType(template, 'AWS::IAM::Policy');
  const functions = resourcesOfType(template, 'AWS::Lambda::Function');

  it('has one role and one policy per function and nothing else', () => {
    assert.equal(Object.keys(functions).length, functionIds.length);
    // Besides the functions' roles, only API Gateway's account-level CloudWatch role
    // (WebSocket access logs), with AWS's managed push-to-CloudWatch policy.
    const apiGatewayRoles = Object.values(roles).filter((role) =>
      JSON.stringify(role.Properties?.AssumeRolePolicyDocument).includes('apigateway.amazonaws.com'),
    );
    assert.equal(apiGatewayRoles.length, 1);
    assert.match(
      JSON.stringify(apiGatewayRoles[0]?.Properties?.ManagedPolicyArns),
      /service-role\/AmazonAPIGatewayPushToCloudWatchLogs/,
    );
    assert.equal(Object.keys(roles).length, functionIds.length + 1);
    assert.equal(Object.keys(policies).length, functionIds.length);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  for (const functionId of functionIds) {
    describe(functionId, () => {
      const fn = functions[logicalId(stack.functions[functionId].function)];
      const roleId = /^\$\{(\w+)\.Arn\}$/.exec(render(fn?.Properties?.Role))?.[1] ?? '';
      const role = roles[roleId];
      const attached = Object.values(policies).filter((policy) =>
        asArray(policy.Properties?.Roles).some((r) => render(r) === ref(roleId)),
      );

      it('runs with its own role that only Lambda can assume and that has no managed policies', () => {
        assert.ok(role, `no role for ${functionId}`);
        const sharing = Object.values(functions).filter(
          (other) => render(other.Properties?.Role) === arnOf(roleId),
        );
        assert.equal(sharing.length, 1);
        assert.deepEqual(role.Properties?.AssumeRolePolicyDocument, {
          Version: '2012-10-17',
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
          ],
        });
        // No AWSLambdaBasicExecutionRole: its log permissions cover every log group.
        assert.equal(role.Properties?.ManagedPolicyArns, undefined);
        assert.equal(role.Properties?.Policies, undefined);
      });

      it('may do exactly what functionSpecs lists, on exact ARNs', () => {
        assert.equal(attached.length, 1, `expected one policy on the role of ${functionId}`);
        const document = attached[0]?.Properties?.PolicyDocument as { Statement: unknown[] };
        const actual = sortStatements(
          document.Statement.map((statement) =>
            normalizeStatement(statement as Parameters<typeof normalizeStatement>[0]),
          ),
        );
        assert.deepEqual(actual, expectedStatements(functionId));
      });

      it('is created after its permissions', () => {
        const policyId = Object.entries(policies).find(([, policy]) => policy === attached[0])?.[0];
        assert.ok(policyId && fn?.DependsOn?.includes(policyId));
      });
    });
  }

  it('has no statement anywhere with a wildcard resource or action', () => {
    const statements = policyStatements(template.toJSON());
    assert.ok(statements.length > functionIds.length, 'found no policy statements to check');
    for (const { path, statement } of statements) {
      // A Deny only takes away (e.g. the queue's deny of non-TLS requests, `sqs:*`).
      if ((statement as { Effect?: unknown }).Effect === 'Deny') continue;
      assert.equal(statement.NotResource, undefined, path);
      assert.equal((statement as { NotAction?: unknown }).NotAction, undefined, path);
      if (statement.Resource !== undefined) {
        for (const resource of asArray(statement.Resource as unknown)) {
          assert.notEqual(resource, '*', `${path} has Resource "*"`);
          assert.notEqual(render(resource), '*', `${path} has Resource "*"`);
          assert.doesNotMatch(render(resource), /\/index\/\*$/, `${path} grants every index`);
        }
      }
      for (const action of asArray(statement.Action)) {
        assert.doesNotMatch(action, /\*/, `${path} has wildcard action ${action}`);
      }
    }
  });
});
