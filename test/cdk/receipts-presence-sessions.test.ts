/**
 * The stack pieces of read receipts, presence pushes and sessions, spelled out literally
 * (the generic tests derive their expectations from lib/function-specs.ts, so they would
 * not notice a grant that went missing from the spec): the `mark_read` and
 * `GET /api/ws/unread` routes, the read-state table and the indexes these features query,
 * each function's statements, and the `sessionMode` prop / context.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ChatStack, type ChatStackProps } from '../../lib/chat-stack.ts';
import type { FunctionId } from '../../lib/function-specs.ts';
import type { TableId } from '../../lib/table-definitions.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  asArray,
  lambdaEnvironment,
  normalizeStatement,
  type PolicyStatement,
  render,
  resourcesOfType,
  sortStatements,
} from '../support/cdk-template.ts';

const synth = synthChatStack();
const { template, stack, logicalId } = synth;
const tableArn = (id: TableId) => `\${${logicalId(stack.tables.tables[id])}.Arn}`;
const indexArn = (id: TableId, index: string) => `${tableArn(id)}/index/${index}`;
const manageArn = (method: string) =>
  `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${logicalId(stack.webSocket.api)}}/prod/${method}/@connections/*`;

type Statement = ReturnType<typeof normalizeStatement>;

/** The statements of a function's policy, without its log statement. */
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

describe('routes', () => {
  const routeKeys = (protocol: string) => {
    const apiId = Object.entries(resourcesOfType(template, 'AWS::ApiGatewayV2::Api')).find(
      ([, api]) => api.Properties?.ProtocolType === protocol,
    )?.[0];
    return Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'))
      .filter((route) => render(route.Properties?.ApiId) === `\${${apiId}}`)
      .map((route) => [route.Properties?.RouteKey, render(route.Properties?.Target)] as const);
  };

  it('routes mark_read to the markRead function', () => {
    const [, target] = routeKeys('WEBSOCKET').find(([key]) => key === 'mark_read') ?? [];
    assert.ok(target, 'no mark_read route');
    const integrationId = /^integrations\/\$\{(\w+)\}$/.exec(target)?.[1] ?? '';
    const integration = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')[integrationId];
    assert.equal(
      render(integration?.Properties?.IntegrationUri),
      `arn:\${AWS::Partition}:apigateway:${TEST_ENV.region}:lambda:path/2015-03-31/functions/` +
        `\${${logicalId(stack.functions.markRead.function)}.Arn}/invocations`,
    );
  });

  it('serves GET /api/ws/unread on the HTTP API', () => {
    assert.ok(routeKeys('HTTP').some(([key]) => key === 'GET /api/ws/unread'));
  });
});

describe('tables and indexes', () => {
  const tableOf = (id: TableId) =>
    resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')[logicalId(stack.tables.tables[id])]?.Properties ??
    {};
  const index = (id: TableId, name: string) =>
    (tableOf(id).GlobalSecondaryIndexes as { IndexName: string }[]).find((i) => i.IndexName === name);

  it('keeps read positions by user and conversation, without expiry', () => {
    assert.deepEqual(tableOf('readState').KeySchema, [
      { AttributeName: 'userId', KeyType: 'HASH' },
      { AttributeName: 'roomId', KeyType: 'RANGE' },
    ]);
    assert.equal(tableOf('readState').TimeToLiveSpecification, undefined);
    assert.equal(tableOf('readState').GlobalSecondaryIndexes, undefined);
  });

  it('has the indexes presence peers and unread counts query', () => {
    for (const [name, key] of [
      ['byInbox', 'inboxUserId'],
      ['byOutbox', 'outboxUserId'],
    ] as const) {
      assert.deepEqual(index('messages', name), {
        IndexName: name,
        KeySchema: [
          { AttributeName: key, KeyType: 'HASH' },
          { AttributeName: 'messageId', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      });
    }
    assert.deepEqual(index('groups', 'byMember'), {
      IndexName: 'byMember',
      KeySchema: [
        { AttributeName: 'memberUserId', KeyType: 'HASH' },
        { AttributeName: 'groupId', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
  });
});

describe('grants', () => {
  // Presence pushes and receipts to many connections go to fan-out workers.
  const invokesFanOutWorker = allow(
    ['lambda:InvokeFunction'],
    [`\${${logicalId(stack.functions.fanOutWorker.function)}.Arn}`],
  );
  // Connections that answer 410 go to the sweep function for the whole close path.
  const handsGoneToSweep = allow(
    ['lambda:InvokeFunction'],
    [`\${${logicalId(stack.functions.sweepConnections.function)}.Arn}`],
  );
  // Peers by consent: where the user's own messages went (byOutbox), the online members
  // of the groups they posted in (their own member items, byOnlineGroup), and whom they
  // blocked. The online marks on the user's member items: byMember, UpdateItem.
  const peers = [
    allow(['Query'], [tableArn('messages'), indexArn('messages', 'byOutbox')]),
    allow(
      ['Query', 'BatchGetItem', 'UpdateItem'],
      [tableArn('groups'), indexArn('groups', 'byMember'), indexArn('groups', 'byOnlineGroup')],
    ),
    allow(['Query'], [tableArn('blocks')]),
    allow(['BatchWriteItem'], [tableArn('rooms')]),
    allow(['UpdateItem', 'DeleteItem', 'GetItem', 'BatchGetItem'], [tableArn('presence')]),
  ];

  it('$connect: registers, finds peers, pushes presence and kicked, closes older sessions, invokes welcome', () => {
    const expected = sortStatements([
      ...peers,
      // BatchGetItem: the rows behind a full presence record, pruned at the connection limit.
      allow(['PutItem', 'GetItem', 'DeleteItem', 'BatchGetItem'], [tableArn('connections')]),
      allow(['execute-api:ManageConnections'], [manageArn('POST'), manageArn('DELETE')]),
      allow(['lambda:InvokeFunction'], [`\${${logicalId(stack.functions.welcome.function)}.Arn}`]),
      invokesFanOutWorker,
      handsGoneToSweep,
    ]);
    const actual = statementsOf('connect').filter(
      (s) => !s.actions.includes('secretsmanager:GetSecretValue'),
    );
    assert.deepEqual(actual, expected);
  });

  it('$disconnect: removes, finds peers, pushes presence, closes peers whose token expired', () => {
    assert.deepEqual(
      statementsOf('disconnect'),
      sortStatements([
        ...peers,
        allow(['DeleteItem'], [tableArn('connections')]),
        allow(['execute-api:ManageConnections'], [manageArn('DELETE'), manageArn('POST')]),
        invokesFanOutWorker,
        handsGoneToSweep,
      ]),
    );
  });

  it('mark_read: the position (readState only), the message and the count, members, pushes', () => {
    assert.deepEqual(
      statementsOf('markRead'),
      sortStatements([
        allow(['UpdateItem', 'GetItem'], [tableArn('readState')]),
        allow(['GetItem', 'Query'], [tableArn('messages')]),
        // The reader's membership (meta and member item), the group's online members.
        allow(['Query', 'BatchGetItem'], [tableArn('groups'), indexArn('groups', 'byOnlineGroup')]),
        // Nothing on connections or rooms and presence reads only: the reader comes from the
        // $connect authorizer's context, and connections that answer 410 are the sweep
        // function's to remove.
        allow(['GetItem', 'BatchGetItem'], [tableArn('presence')]),
        allow(['execute-api:ManageConnections'], [manageArn('DELETE'), manageArn('POST')]),
        invokesFanOutWorker,
        handsGoneToSweep,
      ]),
    );
  });

  it('the HTTP API reads positions (Query) and the indexes the unread counts need', () => {
    const statements = statementsOf('httpApi');
    // Query: every position (unread counts); BatchGetItem: a conversation-list page's.
    assert.ok(
      statements.some(
        (s) =>
          JSON.stringify(s) === JSON.stringify(allow(['Query', 'BatchGetItem'], [tableArn('readState')])),
      ),
    );
    const messages = statements.find((s) => s.resources.includes(tableArn('messages')));
    assert.ok(messages?.actions.includes('dynamodb:Query'));
    assert.ok(messages?.resources.includes(indexArn('messages', 'byInbox')));
    const groups = statements.find((s) => s.resources.includes(tableArn('groups')));
    assert.ok(groups?.actions.includes('dynamodb:Query'));
    assert.ok(groups?.resources.includes(indexArn('groups', 'byMember')));
  });

  it('only mark_read writes read positions; $connect and the routes that check a sender close connections', () => {
    for (const functionId of Object.keys(stack.functions) as FunctionId[]) {
      const statements = statementsOf(functionId);
      const writesReadState = statements.some(
        (s) =>
          s.resources.includes(tableArn('readState')) &&
          s.actions.some(
            (a) => a !== 'dynamodb:Query' && a !== 'dynamodb:GetItem' && a !== 'dynamodb:BatchGetItem',
          ),
      );
      assert.equal(writesReadState, functionId === 'markRead', functionId);
      const closes = statements.some((s) => s.resources.includes(manageArn('DELETE')));
      // $connect closes older sessions; routes that resolve a sender (ping too) close a
      // connection whose token has expired, and every function that pushes closes a
      // recipient's. Welcome, $default, the $connect authorizer (which runs before there is
      // a connection) and the fan-out worker (410s go to the sweep function; its
      // recipients were checked by the function that queued them) never do; nor does
      // createUpload, which only signs a URL and pushes nothing.
      const neverCloses = ['welcome', 'default', 'authorizer', 'fanOutWorker', 'createUpload'];
      assert.equal(closes, !neverCloses.includes(functionId), functionId);
    }
  });
});

describe('sessionMode', () => {
  const environments = (props: ChatStackProps) => {
    const { template, stack, logicalId } = synthChatStack(props);
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    return (Object.keys(stack.functions) as FunctionId[]).map((id) =>
      lambdaEnvironment(functions[logicalId(stack.functions[id].function)]),
    );
  };

  it('is left to the handlers’ default (multi) unless given', () => {
    for (const env of environments({})) assert.equal(env.SESSION_MODE, undefined);
  });

  it('is passed to the functions as SESSION_MODE', () => {
    for (const mode of ['single', 'multi'] as const) {
      for (const env of environments({ sessionMode: mode })) assert.equal(env.SESSION_MODE, mode);
    }
  });

  it('rejects anything but multi and single, saying what was received', () => {
    assert.throws(
      () => new ChatStack(new App(), 'Invalid', { sessionMode: 'one' as never }),
      /sessionMode must be "multi" or "single"; received "one"/,
    );
  });

  describe('from the app context', () => {
    const runApp = cdkAppRunner('chat-cdk-session-');

    it('-c sessionMode=single reaches every function', async () => {
      const run = await runApp({ sessionMode: 'single' });
      assert.equal(run.code, 0, run.stderr);
      const template = run.template('ChatStack');
      const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
      assert.ok(functions.length > 0);
      for (const fn of functions) assert.equal(lambdaEnvironment(fn).SESSION_MODE, 'single');
    });

    it('a bad value fails the synth with the value and how to fix it', async () => {
      const run = await runApp({ sessionMode: 'solo' });
      assert.notEqual(run.code, 0);
      assert.match(
        run.stderr,
        /sessionMode must be "multi" or "single"; received "solo".*-c sessionMode=single/,
      );
    });
  });
});

describe('onlineUsersVisibility', () => {
  it('is passed to the functions as ONLINE_USERS_VISIBILITY; unset leaves the default (all)', () => {
    const { template } = synthChatStack({ onlineUsersVisibility: 'peers' });
    const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
    assert.ok(functions.length > 0);
    for (const fn of functions) assert.equal(lambdaEnvironment(fn).ONLINE_USERS_VISIBILITY, 'peers');
  });

  it('rejects anything but all, admins and peers', () => {
    assert.throws(
      () => new ChatStack(new App(), 'InvalidVisibility', { onlineUsersVisibility: 'friends' as never }),
      /onlineUsersVisibility must be "all", "admins" or "peers"; received "friends"/,
    );
  });
});
