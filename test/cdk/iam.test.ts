import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FunctionId,
  functionSpecs,
  webSocketAuthorizer,
  webSocketRoutes,
} from '../../lib/function-specs.ts';
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
  for (const grant of spec.attachments ?? []) {
    // Only the bucket's prefixes the spec names, only the actions of the spec there.
    statements.push(
      statement(
        grant.actions.map((action) => `s3:${action}`),
        [`${arnOf(logicalId(stack.attachments.bucket))}/${grant.prefix}*`],
      ),
    );
  }
  for (const target of spec.invokes ?? []) {
    // A function that invokes itself (the fan-out worker's continuations) has a fixed name.
    const arn =
      target === functionId
        ? `arn:\${AWS::Partition}:lambda:${TEST_ENV.region}:${TEST_ENV.account}:function:TestChatStack-${functionId.charAt(0).toUpperCase()}${functionId.slice(1)}`
        : arnOf(logicalId(stack.functions[target].function));
    statements.push(statement(['lambda:InvokeFunction'], [arn]));
  }
  // Asynchronously invoked functions send what failed every retry to the dead-letter queue.
  if (stack.functions[functionId].function.deadLetterQueue) {
    statements.push(statement(['sqs:SendMessage'], [arnOf(logicalId(stack.deadLetterQueue))]));
  }
  // …or, with `asyncInvocation`, to the on-failure destination.
  if (spec.asyncInvocation) {
    statements.push(statement(['sqs:SendMessage'], [arnOf(logicalId(stack.fanOutFailureQueue))]));
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

  describe('closing connections', () => {
    // The whole close path (row, rooms, presence entry with the online counters, `offline`,
    // marks, events) runs in these; every other function that posts hands a 410 over.
    const closers = ['connect', 'disconnect', 'sweepConnections'].sort();
    const tableArn = (tableId: TableId) => arnOf(logicalId(stack.tables.tables[tableId]));
    const holders = (action: string, tableId: TableId) =>
      functionIds
        .filter((id) =>
          expectedStatements(id).some(
            (statement) =>
              statement.actions.includes(action) && statement.resources.includes(tableArn(tableId)),
          ),
        )
        .sort();

    it('only $connect, $disconnect and the sweep function may remove a connection: row, rooms, presence entry, counters', () => {
      assert.deepEqual(holders('dynamodb:DeleteItem', 'connections'), closers);
      assert.deepEqual(holders('dynamodb:BatchWriteItem', 'rooms'), closers);
      assert.deepEqual(holders('dynamodb:UpdateItem', 'presence'), closers);
      assert.deepEqual(holders('dynamodb:DeleteItem', 'presence'), closers);
    });

    it('every other function that posts may hand its 410s to the sweep function', () => {
      const sweep = arnOf(logicalId(stack.functions.sweepConnections.function));
      const posters = functionIds.filter(
        (id) => id !== 'sweepConnections' && functionSpecs[id].manageConnections?.includes('POST'),
      );
      assert.ok(posters.length > 20, `found only ${posters.length} functions that post`);
      for (const id of posters) {
        const invokesSweep = expectedStatements(id).some(
          (statement) =>
            statement.actions.includes('lambda:InvokeFunction') && statement.resources.includes(sweep),
        );
        assert.ok(invokesSweep, id);
      }
    });
  });

  describe('token verification moved to the $connect authorizer', () => {
    const statementsOf = (functionId: FunctionId) => expectedStatements(functionId);
    const touches = (functionId: FunctionId, action: string, resource: string) =>
      statementsOf(functionId).some(
        (statement) => statement.actions.includes(action) && statement.resources.includes(resource),
      );
    const secret = () =>
      ref(logicalId(stack.jwt.generatedSecret as NonNullable<typeof stack.jwt.generatedSecret>));
    const connectionsTable = arnOf(logicalId(stack.tables.tables.connections));

    it('the authorizer may write its log and read the signing secret, nothing else', () => {
      assert.deepEqual(functionSpecs[webSocketAuthorizer.functionId].tables, {});
      assert.deepEqual(
        statementsOf(webSocketAuthorizer.functionId),
        sortStatements([
          {
            effect: 'Allow',
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            resources: [arnOf(logicalId(stack.functions.authorizer.logGroup))],
          },
          { effect: 'Allow', actions: ['secretsmanager:GetSecretValue'], resources: [secret()] },
        ]),
      );
    });

    it('only the authorizer and the HTTP API read the signing secret ($connect no longer does)', () => {
      const readers = functionIds.filter((id) => touches(id, 'secretsmanager:GetSecretValue', secret()));
      // createUpload: POST /api/ws/uploads verifies the JWT as the HTTP API does.
      assert.deepEqual(readers.sort(), [webSocketAuthorizer.functionId, 'httpApi', 'createUpload'].sort());
    });

    it('every read command and route can count the reader in the read window (READ_RATE_LIMIT_PER_MINUTE)', () => {
      const guardsTable = arnOf(logicalId(stack.tables.tables.guards));
      for (const reader of [
        'history',
        'sync',
        'listConversations',
        'listGroups',
        'groupInfo',
        'listGroupInvites',
        'httpApi',
      ] as const) {
        assert.ok(touches(reader, 'dynamodb:UpdateItem', guardsTable), reader);
      }
    });

    it('message routes do not read connection rows for the sender', () => {
      // Reading a row is left to what needs more than the sender: $connect (its own
      // connection count, single session) and the room commands (the connection's rooms).
      const readers = functionIds.filter((id) => touches(id, 'dynamodb:GetItem', connectionsTable));
      assert.deepEqual(readers.sort(), ['connect', 'joinRoom', 'leaveRoom', 'sendRoomMessage'].sort());
      for (const routed of [
        'sendMessage',
        'sendGroupMessage',
        'broadcast',
        'createGroup',
        'history',
        'sync',
      ] as const) {
        assert.ok(Object.values(webSocketRoutes).includes(routed));
        assert.ok(!readers.includes(routed), routed);
      }
    });
  });
});
