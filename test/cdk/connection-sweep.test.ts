/**
 * The stale-connection sweep in the stack: an EventBridge rule runs `sweepConnections`
 * every 5 minutes (or `connectionSweepIntervalMinutes`), EventBridge alone may invoke it,
 * and it may touch exactly what the sweep and its `offline` pushes need: no Scan, no
 * Lambda invoke, no table beyond presence, connections, rooms and the peers' lookups.
 * Run: npx tsx --test test/cdk/connection-sweep.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ChatStack, type ChatStackProps } from '../../lib/chat-stack.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import {
  normalizeStatement,
  policyStatements,
  property,
  render,
  resourcesOfType,
} from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const sweepId = logicalId(stack.functions.sweepConnections.function);

function rulesOf(synthesized: ReturnType<typeof synthChatStack>['template']) {
  return Object.values(resourcesOfType(synthesized, 'AWS::Events::Rule'));
}

describe('the sweepConnections schedule', () => {
  it('runs the function every 5 minutes by default, and only it', () => {
    const rules = rulesOf(template);
    assert.equal(rules.length, 1);
    const rule = rules[0];
    assert.equal(property(rule, 'ScheduleExpression'), 'rate(5 minutes)');
    assert.equal(property(rule, 'State'), 'ENABLED');
    const targets = property<{ Arn: unknown }[]>(rule, 'Targets');
    assert.deepEqual(
      targets.map((target) => render(target.Arn)),
      [`\${${sweepId}.Arn}`],
    );
  });

  it('lets EventBridge, and nothing else, invoke it', () => {
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
      (permission) => render(permission.Properties?.FunctionName) === `\${${sweepId}.Arn}`,
    );
    assert.equal(permissions.length, 1);
    assert.equal(property(permissions[0], 'Principal'), 'events.amazonaws.com');
  });

  it('follows connectionSweepIntervalMinutes', () => {
    const rules = rulesOf(synthChatStack({ connectionSweepIntervalMinutes: 15 }).template);
    assert.equal(property(rules[0], 'ScheduleExpression'), 'rate(15 minutes)');
  });

  it('refuses an interval that is not 1 to 1440 whole minutes', () => {
    const attempt = (props: ChatStackProps) => () => new ChatStack(new App(), 'Invalid', props);
    assert.throws(
      attempt({ connectionSweepIntervalMinutes: 0 }),
      /connectionSweepIntervalMinutes must be an integer >= 1/,
    );
    assert.throws(
      attempt({ connectionSweepIntervalMinutes: 2.5 }),
      /connectionSweepIntervalMinutes must be an integer/,
    );
    assert.throws(
      attempt({ connectionSweepIntervalMinutes: 1441 }),
      /connectionSweepIntervalMinutes must be at most 1440/,
    );
  });
});

describe('the sweepConnections function', () => {
  const fn = resourcesOfType(template, 'AWS::Lambda::Function')[sweepId];
  const roleId = logicalId(stack.functions.sweepConnections.role);
  const statements = policyStatements(
    Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties?.Roles).includes(`"${roleId}"`))
      .map((policy) => policy.Properties?.PolicyDocument),
  ).map(({ statement }) => normalizeStatement(statement));

  it('stops before 240 s and knows the callback URL', () => {
    assert.equal(property(fn, 'Timeout'), 240);
    const variables = property<{ Variables: Record<string, unknown> }>(fn, 'Environment').Variables;
    assert.ok(variables.WS_CALLBACK_URL, 'WS_CALLBACK_URL');
  });

  it('may read presence by shard, remove connections, look up peers and push; nothing else', () => {
    const dynamo = statements.filter((s) => s.actions.some((action) => action.startsWith('dynamodb:')));
    const actions = new Set(dynamo.flatMap((s) => s.actions));
    assert.ok(!actions.has('dynamodb:Scan'), 'no Scan');
    for (const action of actions) {
      assert.ok(
        [
          'dynamodb:Query',
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
        ].includes(action),
        action,
      );
    }
    const tablesTouched = new Set(
      dynamo.flatMap((s) => s.resources.map((resource) => resource.replace(/\/index\/.*/, ''))),
    );
    const tableLogicalIds = Object.fromEntries(
      Object.entries(stack.tables.tables).map(([id, table]) => [`\${${logicalId(table)}.Arn}`, id]),
    );
    assert.deepEqual([...tablesTouched].map((arn) => tableLogicalIds[arn] ?? arn).sort(), [
      'blocks',
      'connections',
      'groups',
      'messages',
      'presence',
      'rooms',
    ]);
    const presenceIndex = dynamo.find((s) => s.resources.some((r) => r.endsWith('/index/byShard')));
    assert.ok(presenceIndex?.actions.includes('dynamodb:Query'), 'Query on presence/index/byShard');
    assert.ok(
      !statements.some((s) => s.actions.includes('lambda:InvokeFunction')),
      'invokes no function (its pushes are posted inline)',
    );
    const manage = statements.find((s) => s.actions.includes('execute-api:ManageConnections'));
    assert.deepEqual(manage?.resources.map((resource) => resource.split('/').slice(-3, -2)[0]).sort(), [
      'DELETE',
      'GET',
      'POST',
    ]);
  });
});
