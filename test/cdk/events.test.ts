/**
 * The stack side of application events (docs/events.md): off by default; with `events`
 * a new bus or an existing one, `events:PutEvents` on exactly that bus and EVENT_BUS_NAME
 * only for the functions with `publishesEvents`, an alarm per publishing function on the
 * metric the handlers write, and the context keys of bin/chat-app.ts.
 * Run: npx tsx --test test/cdk/events.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import { DEFAULT_METRICS_NAMESPACE, Metric } from '../../functions/runtime/metrics.ts';
import { ChatBackend, EVENTS_METRIC } from '../../lib/chat-backend.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  asArray,
  lambdaEnvironment,
  normalizeStatement,
  type PolicyStatement,
  policyStatements,
  render,
  resourcesOfType,
} from '../support/cdk-template.ts';

const functionIds = Object.keys(functionSpecs) as FunctionId[];
const publishers = functionIds.filter((id) => functionSpecs[id].publishesEvents);

/** Every PutEvents statement in the template, with the role(s) of its policy. */
function putEventsStatements(template: Template) {
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap((policy) =>
    policyStatements(policy.Properties?.PolicyDocument)
      .map(({ statement }) => normalizeStatement(statement as PolicyStatement))
      .filter((statement) => statement.actions.some((action) => action.startsWith('events:')))
      .map((statement) => ({
        ...statement,
        roles: asArray(policy.Properties?.Roles as unknown[] | undefined).map(render),
      })),
  );
}

describe('events off (the default)', () => {
  const { template } = synthChatStack();

  it('no bus, no events:* grant, no EVENT_BUS_NAME', () => {
    assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::Events::EventBus')), []);
    assert.deepEqual(putEventsStatements(template), []);
    for (const fn of Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))) {
      assert.equal(lambdaEnvironment(fn).EVENT_BUS_NAME, undefined);
    }
  });
});

describe('events on a new bus', () => {
  const { template, stack, logicalId } = synthChatStack({ events: {} });
  const bus = stack.backend.eventBus;

  it('creates one bus, the backend exposes it', () => {
    assert.ok(bus);
    assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::Events::EventBus')), [
      logicalId(bus as events.EventBus),
    ]);
  });

  it('publishing functions (and only they) get EVENT_BUS_NAME and events:PutEvents on that bus alone', () => {
    assert.ok(publishers.includes('sendMessage') && publishers.includes('connect'));
    assert.ok(!publishers.includes('welcome') && !publishers.includes('fanOutWorker'));
    const busArn = `\${${logicalId(bus as events.EventBus)}.Arn}`;
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const statements = putEventsStatements(template);
    for (const id of functionIds) {
      const fn = stack.functions[id];
      const environment = lambdaEnvironment(functions[logicalId(fn.function)]);
      const role = `\${${logicalId(fn.role)}}`;
      const mine = statements.filter((statement) => statement.roles.includes(role));
      if (functionSpecs[id].publishesEvents) {
        assert.equal(environment.EVENT_BUS_NAME, busArn, id);
        assert.deepEqual(
          mine.map(({ effect, actions, resources }) => ({ effect, actions, resources })),
          [{ effect: 'Allow', actions: ['events:PutEvents'], resources: [busArn] }],
          id,
        );
      } else {
        assert.equal(environment.EVENT_BUS_NAME, undefined, id);
        assert.deepEqual(mine, [], id);
      }
    }
  });

  it('alarms on EventsNotPublished of each publishing function', () => {
    assert.deepEqual(EVENTS_METRIC, {
      namespace: DEFAULT_METRICS_NAMESPACE,
      name: Metric.eventsNotPublished,
    });
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).filter(
      (alarm) => alarm.Properties?.MetricName === 'EventsNotPublished',
    );
    assert.equal(alarms.length, publishers.length);
    const alarmed = alarms.map((alarm) => {
      assert.equal(alarm.Properties?.Namespace, 'ChatBackend');
      assert.equal(alarm.Properties?.Threshold, 1);
      const [dimension] = (alarm.Properties?.Dimensions ?? []) as { Name: string; Value: unknown }[];
      assert.equal(dimension?.Name, 'Function');
      return render(dimension?.Value);
    });
    assert.deepEqual(
      alarmed.sort(),
      publishers.map((id) => `\${${logicalId(stack.functions[id].function)}}`).sort(),
    );
  });
});

describe('events on an existing bus', () => {
  it('takes an IEventBus: no new bus, the grant names that bus', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Existing', { env: TEST_ENV });
    const eventBus = events.EventBus.fromEventBusArn(
      stack,
      'Theirs',
      'arn:aws:events:us-east-1:210987654321:event-bus/central',
    );
    const backend = new ChatBackend(stack, 'Chat', { events: { eventBus } });
    assert.equal(backend.eventBus, eventBus);
    const template = Template.fromStack(stack);
    assert.deepEqual(Object.keys(resourcesOfType(template, 'AWS::Events::EventBus')), []);
    const resources = new Set(putEventsStatements(template).flatMap((statement) => statement.resources));
    assert.deepEqual([...resources], ['arn:aws:events:us-east-1:210987654321:event-bus/central']);
  });

  it('refuses eventBus and eventBusName together', () => {
    const stack = new Stack(new App(), 'Both');
    const eventBus = events.EventBus.fromEventBusName(stack, 'Default', 'default');
    assert.throws(
      () => new ChatBackend(stack, 'Chat', { events: { eventBus, eventBusName: 'other' } }),
      /eventBus or eventBusName, not both/,
    );
  });
});

describe('from the app context', () => {
  const runApp = cdkAppRunner('chat-cdk-events-');

  it('-c events=true creates a bus; -c eventBusName=default uses that one; neither: none', async () => {
    const created = await runApp({ events: 'true' });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(
      Object.keys(resourcesOfType(created.template('ChatStack'), 'AWS::Events::EventBus')).length,
      1,
    );

    const existing = await runApp({ eventBusName: 'default' });
    assert.equal(existing.code, 0, existing.stderr);
    const template = existing.template('ChatStack');
    assert.equal(Object.keys(resourcesOfType(template, 'AWS::Events::EventBus')).length, 0);
    const resources = new Set(putEventsStatements(template).flatMap((statement) => statement.resources));
    assert.equal(resources.size, 1);
    assert.match([...resources][0] ?? '', /:event-bus\/default$/);

    const off = await runApp({});
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(putEventsStatements(off.template('ChatStack')), []);
  });
});
