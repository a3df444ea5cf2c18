/**
 * Access logs without tokens, alarms, and the dead-letter queue of the asynchronous
 * welcome function.
 * Run: npx tsx --test test/cdk/observability.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionSpecs } from '../../lib/function-specs.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import { resourcesOfType } from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();

/** What may never appear in an access log format: anything that can carry a token. */
const FORBIDDEN_LOG_VARIABLES = /querystring|\$context\.path|header|authorization|\$request|\$input|rawPath/i;

describe('access logs', () => {
  const stages = [
    ['WebSocket', resourcesOfType(template, 'AWS::ApiGatewayV2::Stage')[logicalId(stack.webSocket.stage)]],
    ['HTTP', resourcesOfType(template, 'AWS::ApiGatewayV2::Stage')[logicalId(stack.httpApi.stage)]],
  ] as const;
  for (const [name, stage] of stages) {
    it(`${name} stage logs JSON with ids, route and status, but no query string or header`, () => {
      const settings = stage?.Properties?.AccessLogSettings as { Format: string; DestinationArn: unknown };
      assert.ok(settings, `${name} stage has no access logs`);
      const format = JSON.parse(settings.Format) as Record<string, string>;
      for (const field of ['requestId', 'ip', 'routeKey', 'status', 'requestTime']) {
        assert.ok(format[field]?.startsWith('$context.'), `${name}: ${field}`);
      }
      if (name === 'WebSocket') {
        assert.equal(format.connectionId, '$context.connectionId');
        assert.equal(format.eventType, '$context.eventType');
      }
      assert.doesNotMatch(settings.Format, FORBIDDEN_LOG_VARIABLES);
    });
  }

  it('WebSocket access logging has the account-level CloudWatch role (retained), unless turned off', () => {
    const accounts = resourcesOfType(template, 'AWS::ApiGateway::Account');
    assert.equal(Object.keys(accounts).length, 1);
    assert.equal(Object.values(accounts)[0]?.DeletionPolicy, 'Retain');
    const without = synthChatStack({ apiGatewayCloudWatchRole: false });
    assert.equal(Object.keys(resourcesOfType(without.template, 'AWS::ApiGateway::Account')).length, 0);
  });

  it('access log groups have a retention', () => {
    for (const group of [stack.webSocket.accessLogGroup, stack.httpApi.accessLogGroup]) {
      const resource = resourcesOfType(template, 'AWS::Logs::LogGroup')[logicalId(group)];
      assert.equal(resource?.Properties?.RetentionInDays, 30);
    }
  });
});

describe('alarms', () => {
  const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
  const byMetric = (metric: string) => alarms.filter((alarm) => alarm.Properties?.MetricName === metric);

  it('one Errors and one Throttles alarm per function, at >= 1 in 5 minutes', () => {
    const count = Object.keys(functionSpecs).length;
    for (const metric of ['Errors', 'Throttles']) {
      const found = byMetric(metric);
      assert.equal(found.length, count, metric);
      for (const alarm of found) {
        assert.equal(alarm.Properties?.Threshold, 1);
        assert.equal(alarm.Properties?.Period, 300);
        assert.equal(alarm.Properties?.TreatMissingData, 'notBreaching');
      }
    }
  });

  it('alarms on API Gateway integration/execution errors and HTTP 5xx', () => {
    for (const metric of ['IntegrationError', 'ExecutionError', '5xx']) {
      assert.equal(byMetric(metric).length, 1, metric);
    }
  });

  it('notifies an SNS topic (TLS only) only when alarmEmail is set', () => {
    assert.equal(Object.keys(resourcesOfType(template, 'AWS::SNS::Topic')).length, 0);
    const withEmail = synthChatStack({ alarmEmail: 'ops@example.com' });
    const topics = resourcesOfType(withEmail.template, 'AWS::SNS::Topic');
    assert.equal(Object.keys(topics).length, 1);
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    for (const alarm of Object.values(resourcesOfType(withEmail.template, 'AWS::CloudWatch::Alarm'))) {
      assert.equal((alarm.Properties?.AlarmActions as unknown[] | undefined)?.length, 1);
    }
  });
});

describe('dead-letter queue', () => {
  it('receives the welcome function’s failed asynchronous invocations and is alarmed on depth', () => {
    const queueId = logicalId(stack.deadLetterQueue);
    const welcome = resourcesOfType(template, 'AWS::Lambda::Function')[
      logicalId(stack.functions.welcome.function)
    ];
    assert.match(JSON.stringify(welcome?.Properties?.DeadLetterConfig), new RegExp(queueId));
    const queue = resourcesOfType(template, 'AWS::SQS::Queue')[queueId];
    assert.equal(queue?.Properties?.SqsManagedSseEnabled, true);
    assert.equal(queue?.Properties?.MessageRetentionPeriod, 14 * 24 * 3600);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      },
    });
    const depth = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        alarm.Properties?.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        JSON.stringify(alarm.Properties?.Dimensions).includes(queueId),
    );
    assert.equal(depth.length, 1);
    assert.equal(depth[0]?.Properties?.Threshold, 1);
  });

  it('only asynchronously invoked functions have one: welcome and the scheduled sweep', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const withDlq = Object.keys(functions).filter((id) => functions[id]?.Properties?.DeadLetterConfig);
    assert.deepEqual(
      withDlq.sort(),
      [
        logicalId(stack.functions.welcome.function),
        logicalId(stack.functions.sweepConnections.function),
      ].sort(),
    );
  });
});
