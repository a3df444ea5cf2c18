/**
 * The stack pieces of the conversation list, spelled out literally (the generic tests
 * derive their expectations from lib/function-specs.ts): the `list_conversations` and
 * `GET /api/ws/conversations` routes, the conversations table and its `byActivity` index,
 * the list function's statements (reads only), and the writes the send paths gained.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FunctionId } from '../../lib/function-specs.ts';
import type { TableId } from '../../lib/table-definitions.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  asArray,
  normalizeStatement,
  type PolicyStatement,
  render,
  resourcesOfType,
  sortStatements,
} from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const tableArn = (id: TableId) => `\${${logicalId(stack.tables.tables[id])}.Arn}`;
const indexArn = (id: TableId, index: string) => `${tableArn(id)}/index/${index}`;
const manageArn = (method: string) =>
  `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${logicalId(stack.webSocket.api)}}/prod/${method}/@connections/*`;

type Statement = ReturnType<typeof normalizeStatement>;

function statementsOf(functionId: FunctionId): Statement[] {
  const roleId = logicalId(stack.functions[functionId].role);
  const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((policy) =>
    asArray(policy.Properties?.Roles as unknown[] | undefined).some(
      (role) => render(role) === `\${${roleId}}`,
    ),
  );
  assert.equal(policies.length, 1);
  const document = policies[0]?.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
  return sortStatements(
    document.Statement.map(normalizeStatement).filter((s) => !s.actions.some((a) => a.startsWith('logs:'))),
  );
}

const allow = (actions: string[], resources: string[]): Statement => ({
  effect: 'Allow',
  actions: actions.map((action) => (action.includes(':') ? action : `dynamodb:${action}`)).sort(),
  resources: resources.slice().sort(),
});

const routeKeys = (protocol: string) => {
  const apiId = Object.entries(resourcesOfType(template, 'AWS::ApiGatewayV2::Api')).find(
    ([, api]) => api.Properties?.ProtocolType === protocol,
  )?.[0];
  return Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'))
    .filter((route) => render(route.Properties?.ApiId) === `\${${apiId}}`)
    .map((route) => [route.Properties?.RouteKey, render(route.Properties?.Target)] as const);
};

describe('conversation list: routes', () => {
  it('routes list_conversations to its own function', () => {
    const [, target] = routeKeys('WEBSOCKET').find(([key]) => key === 'list_conversations') ?? [];
    assert.ok(target, 'no list_conversations route');
    const integrationId = /^integrations\/\$\{(\w+)\}$/.exec(target)?.[1] ?? '';
    const integration = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')[integrationId];
    assert.equal(
      render(integration?.Properties?.IntegrationUri),
      `arn:\${AWS::Partition}:apigateway:${TEST_ENV.region}:lambda:path/2015-03-31/functions/` +
        `\${${logicalId(stack.functions.listConversations.function)}.Arn}/invocations`,
    );
  });

  it('serves GET /api/ws/conversations on the HTTP API', () => {
    assert.ok(routeKeys('HTTP').some(([key]) => key === 'GET /api/ws/conversations'));
  });
});

describe('conversation list: the table', () => {
  const table =
    resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')[logicalId(stack.tables.tables.conversations)]
      ?.Properties ?? {};

  it('keys rows by user and room, orders them by last message id, expires them with it', () => {
    assert.deepEqual(table.KeySchema, [
      { AttributeName: 'userId', KeyType: 'HASH' },
      { AttributeName: 'roomId', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(table.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
    const [index] = table.GlobalSecondaryIndexes as {
      IndexName: string;
      KeySchema: unknown;
      Projection: unknown;
    }[];
    assert.equal(index?.IndexName, 'byActivity');
    assert.deepEqual(index?.KeySchema, [
      { AttributeName: 'userId', KeyType: 'HASH' },
      { AttributeName: 'lastMessageId', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(index?.Projection, {
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['peerId', 'expiresAt'],
    });
  });
});

describe('conversation list: grants', () => {
  it('list_conversations only reads: rows by activity, groups and metas, last messages, counts, positions', () => {
    assert.deepEqual(
      statementsOf('listConversations'),
      sortStatements([
        allow(['Query'], [tableArn('conversations'), indexArn('conversations', 'byActivity')]),
        allow(['Query', 'BatchGetItem'], [tableArn('groups'), indexArn('groups', 'byMember')]),
        allow(['BatchGetItem', 'Query'], [tableArn('messages')]),
        allow(['BatchGetItem'], [tableArn('readState')]),
        // The per-user read window (READ_RATE_LIMIT_PER_MINUTE).
        allow(['UpdateItem'], [tableArn('guards')]),
        allow(['execute-api:ManageConnections'], [manageArn('DELETE')]),
      ]),
    );
  });

  it('send_message writes conversation rows in one BatchWriteItem with the message, nothing else', () => {
    const statements = statementsOf('sendMessage');
    assert.ok(
      statements.some(
        (s) => JSON.stringify(s) === JSON.stringify(allow(['BatchWriteItem'], [tableArn('conversations')])),
      ),
    );
    assert.ok(
      statements.some(
        (s) =>
          JSON.stringify(s) ===
          JSON.stringify(allow(['PutItem', 'BatchWriteItem', 'GetItem'], [tableArn('messages')])),
      ),
    );
  });

  it('send_group_message may move the group meta item’s lastMessageId (UpdateItem), and reads members', () => {
    const groups = statementsOf('sendGroupMessage').filter((s) => s.resources.includes(tableArn('groups')));
    assert.deepEqual(groups, [
      allow(
        ['Query', 'BatchGetItem', 'UpdateItem'],
        [tableArn('groups'), indexArn('groups', 'byOnlineGroup')],
      ),
    ]);
  });

  it('no other function touches the conversations table', () => {
    for (const functionId of Object.keys(stack.functions) as FunctionId[]) {
      const touches = statementsOf(functionId).some((s) => s.resources.includes(tableArn('conversations')));
      assert.equal(touches, ['listConversations', 'sendMessage', 'httpApi'].includes(functionId), functionId);
    }
  });
});
