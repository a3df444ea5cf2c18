/**
 * The fan-out worker in the stack: the function (timeout, memory, no retries, event age),
 * its on-failure destination queue and the alarm on it, exactly its grants, who may
 * invoke it and how they learn its name, and the fan-out settings from props to the
 * environment (with bad values refused at synth).
 * Run: npx tsx --test test/cdk/fan-out-worker.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ChatStack } from '../../lib/chat-stack.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  lambdaEnvironment,
  normalizeStatement,
  policyStatements,
  property,
  resourcesOfType,
} from '../support/cdk-template.ts';

const synth = synthChatStack();
const runApp = cdkAppRunner('chat-cdk-fan-out-');
const { template, stack, logicalId } = synth;
const functionIds = Object.keys(functionSpecs) as FunctionId[];
const workerId = logicalId(stack.functions.fanOutWorker.function);
const queueId = logicalId(stack.fanOutFailureQueue);
const WORKER_NAME = 'TestChatStack-FanOutWorker';
const WORKER_ARN = `arn:\${AWS::Partition}:lambda:${TEST_ENV.region}:${TEST_ENV.account}:function:${WORKER_NAME}`;

const functionResource = (id: FunctionId) =>
  resourcesOfType(template, 'AWS::Lambda::Function')[logicalId(stack.functions[id].function)];
/** The statements of the policy on the function's role. */
const statementsOf = (id: FunctionId) => {
  const roleId = logicalId(stack.functions[id].role);
  const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((policy) =>
    JSON.stringify(policy.Properties?.Roles).includes(`"${roleId}"`),
  );
  return policyStatements(policies.map((policy) => policy.Properties?.PolicyDocument)).map(({ statement }) =>
    normalizeStatement(statement),
  );
};

describe('the fan-out worker function', () => {
  const worker = functionResource('fanOutWorker');

  it('has a fixed name (it invokes itself), 120 s, 512 MB, and no dead-letter queue', () => {
    assert.equal(property(worker, 'FunctionName'), WORKER_NAME);
    assert.equal(property(worker, 'Timeout'), 120);
    assert.equal(property(worker, 'MemorySize'), 512);
    assert.equal(worker?.Properties?.DeadLetterConfig, undefined);
  });

  it('is not retried by Lambda, drops events older than 5 minutes, and sends failures to its queue', () => {
    const configs = Object.values(resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig'));
    assert.equal(configs.length, 1);
    const config = configs[0];
    assert.deepEqual(property(config, 'FunctionName'), { Ref: workerId });
    assert.equal(property(config, 'MaximumRetryAttempts'), 0);
    assert.equal(property(config, 'MaximumEventAgeInSeconds'), 300);
    assert.deepEqual(property(config, 'DestinationConfig'), {
      OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
  });

  it('has an encrypted, TLS-only failure queue kept 14 days, alarmed at one message', () => {
    const queue = resourcesOfType(template, 'AWS::SQS::Queue')[queueId];
    assert.equal(queue?.Properties?.SqsManagedSseEnabled, true);
    assert.equal(queue?.Properties?.MessageRetentionPeriod, 14 * 24 * 3600);
    const policies = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy')).filter((policy) =>
      JSON.stringify(policy.Properties?.Queues).includes(queueId),
    );
    assert.equal(policies.length, 1);
    assert.match(JSON.stringify(policies[0]?.Properties?.PolicyDocument), /"aws:SecureTransport":"false"/);
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        alarm.Properties?.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(alarm.Properties?.Dimensions).includes(queueId),
    );
    assert.equal(alarms.length, 1);
    assert.equal(alarms[0]?.Properties?.Threshold, 1);
  });

  it('may post (not delete or read connections), read broadcast shards, remove a room row of a 410, claim jobs, invoke itself and the sweep (410s), fill its queue; nothing else', () => {
    const tableArn = (table: 'connections' | 'presence' | 'rooms' | 'guards') =>
      `\${${logicalId(stack.tables.tables[table])}.Arn}`;
    const statements = statementsOf('fanOutWorker')
      .filter((statement) => !statement.actions.some((action) => action.startsWith('logs:')))
      .map((statement) => ({ actions: statement.actions, resources: statement.resources }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const api = `\${${logicalId(stack.webSocket.api)}}`;
    const expected = [
      // Reads only: the connection, its rooms and its presence entry are the sweep function's
      // to remove (no DeleteItem on connections, no presence or counter writes).
      {
        actions: ['dynamodb:Query'],
        resources: [tableArn('presence'), `${tableArn('presence')}/index/byShard`],
      },
      // A room fan-out's member row of a connection that answered 410.
      { actions: ['dynamodb:DeleteItem'], resources: [tableArn('rooms')] },
      { actions: ['dynamodb:UpdateItem'], resources: [tableArn('guards')] },
      {
        actions: ['execute-api:ManageConnections'],
        resources: [
          `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:${api}/prod/POST/@connections/*`,
        ],
      },
      { actions: ['lambda:InvokeFunction'], resources: [WORKER_ARN] },
      // 410s go to the sweep function for the whole close path.
      {
        actions: ['lambda:InvokeFunction'],
        resources: [`\${${logicalId(stack.functions.sweepConnections.function)}.Arn}`],
      },
      { actions: ['sqs:SendMessage'], resources: [`\${${queueId}.Arn}`] },
    ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.deepEqual(statements, expected);
  });

  it('knows its own name for continuations; every dispatching function knows it and may invoke it', () => {
    assert.equal(
      lambdaEnvironment(functionResource('fanOutWorker')).FANOUT_WORKER_FUNCTION_NAME,
      WORKER_NAME,
    );
    const dispatchers = functionIds.filter(
      (id) => id !== 'fanOutWorker' && functionSpecs[id].invokes?.includes('fanOutWorker'),
    );
    assert.deepEqual(
      dispatchers.sort(),
      [
        // Group changes push group_updated to every member: large groups go to workers.
        'acceptGroupInvite',
        'addGroupMembers',
        'broadcast',
        'connect',
        'declineGroupInvite',
        'deleteGroup',
        'deleteMessage',
        'disconnect',
        'editMessage',
        'httpApi',
        'leaveGroup',
        'markRead',
        'react',
        'removeGroupMember',
        'sendGroupMessage',
        'sendRoomMessage',
        'setGroupRole',
        'typing',
        'unreact',
        'updateGroup',
      ].sort(),
    );
    for (const id of functionIds) {
      const env = lambdaEnvironment(functionResource(id));
      const invokesWorker = statementsOf(id).some(
        (statement) =>
          statement.actions.includes('lambda:InvokeFunction') &&
          statement.resources.some((resource) => resource.includes(workerId) || resource === WORKER_ARN),
      );
      const dispatches = dispatchers.includes(id) || id === 'fanOutWorker';
      assert.equal(invokesWorker, dispatches, `${id} may invoke the worker: ${dispatches}`);
      assert.equal(
        env.FANOUT_WORKER_FUNCTION_NAME !== undefined,
        dispatches,
        `${id} knows the worker's name`,
      );
      if (id !== 'fanOutWorker' && dispatches)
        assert.equal(env.FANOUT_WORKER_FUNCTION_NAME, `\${${workerId}}`);
    }
  });
});

describe('fan-out settings', () => {
  it('leave the handlers’ defaults unless set, then reach every function', () => {
    for (const id of functionIds) {
      const env = lambdaEnvironment(functionResource(id));
      for (const name of ['FANOUT_WORKER_THRESHOLD', 'FANOUT_CHUNK_SIZE', 'FANOUT_RATE_PER_SECOND']) {
        assert.equal(env[name], undefined, `${id} ${name}`);
      }
    }
    const custom = synthChatStack({
      fanOutWorkerThreshold: 2000,
      fanOutChunkSize: 250,
      fanOutRatePerSecond: 5000,
    });
    for (const fn of Object.values(resourcesOfType(custom.template, 'AWS::Lambda::Function'))) {
      const env = lambdaEnvironment(fn);
      assert.equal(env.FANOUT_WORKER_THRESHOLD, '2000');
      assert.equal(env.FANOUT_CHUNK_SIZE, '250');
      assert.equal(env.FANOUT_RATE_PER_SECOND, '5000');
    }
  });

  it('come from context keys through bin/chat-app.ts (strings from -c, numbers from cdk.json)', async () => {
    const run = await runApp({
      stackName: 'ChatFanOut',
      fanOutWorkerThreshold: '1500',
      fanOutChunkSize: 400,
      fanOutRatePerSecond: '4000',
    });
    assert.equal(run.code, 0, run.stderr);
    for (const fn of Object.values(resourcesOfType(run.template('ChatFanOut'), 'AWS::Lambda::Function'))) {
      const env = lambdaEnvironment(fn);
      assert.deepEqual(
        [env.FANOUT_WORKER_THRESHOLD, env.FANOUT_CHUNK_SIZE, env.FANOUT_RATE_PER_SECOND],
        ['1500', '400', '4000'],
      );
    }
    const refused = await runApp({ fanOutRatePerSecond: '20000' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /fanOutRatePerSecond must be at most 10000/);
  });

  it('refuses values the handlers would refuse, at synth', () => {
    const build = (props: ConstructorParameters<typeof ChatStack>[2]) => () =>
      new ChatStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad', {
        env: TEST_ENV,
        ...props,
      });
    assert.throws(build({ fanOutWorkerThreshold: 0 }), /fanOutWorkerThreshold must be an integer >= 1/);
    assert.throws(build({ fanOutChunkSize: 5001 }), /fanOutChunkSize must be at most 5000/);
    assert.throws(build({ fanOutRatePerSecond: 12_000 }), /fanOutRatePerSecond must be at most 10000/);
    assert.throws(build({ fanOutRatePerSecond: 1.5 }), /fanOutRatePerSecond must be an integer/);
  });

  it('refuses a stack name too long for the worker’s fixed function name', () => {
    assert.throws(
      () =>
        new ChatStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S'.repeat(60), {
          env: TEST_ENV,
        }),
      /use a shorter stack name/,
    );
  });
});
