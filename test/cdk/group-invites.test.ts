/**
 * The stack side of `GROUP_INVITES`: the `groupInvites` prop and `-c groupInvites` reach
 * every function, a bad value fails the synth, the `byInvitee` index exists, and the
 * invitation routes hold exactly what they use (spelled out, not derived from the spec).
 * Run: npx tsx --test test/cdk/group-invites.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ChatStack } from '../../lib/chat-stack.ts';
import type { FunctionId } from '../../lib/function-specs.ts';
import type { TableId } from '../../lib/table-definitions.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import {
  asArray,
  lambdaEnvironment,
  normalizeStatement,
  type PolicyStatement,
  render,
  resourcesOfType,
} from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack({ groupInvites: 'required' });
const tableArn = (id: TableId) => `\${${logicalId(stack.tables.tables[id])}.Arn}`;

/** The DynamoDB statement of a function's policy on the groups table. */
function groupsStatementOf(functionId: FunctionId) {
  const roleId = logicalId(stack.functions[functionId].role);
  const statements = Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      asArray(policy.Properties?.Roles as unknown[] | undefined).some(
        (role) => render(role) === `\${${roleId}}`,
      ),
    )
    .flatMap(
      (policy) =>
        (policy.Properties?.PolicyDocument as { Statement: PolicyStatement[] } | undefined)?.Statement ?? [],
    )
    .map(normalizeStatement)
    .filter((statement) => statement.resources.includes(tableArn('groups')));
  assert.equal(statements.length, 1, functionId);
  return statements[0];
}

describe('groupInvites', () => {
  it('is passed to every function as GROUP_INVITES', () => {
    const functions = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
    assert.ok(functions.length > 0);
    for (const fn of functions) assert.equal(lambdaEnvironment(fn).GROUP_INVITES, 'required');
  });

  it('rejects anything but off and required', () => {
    assert.throws(
      () => new ChatStack(new App(), 'InvalidInvites', { groupInvites: 'maybe' as never }),
      /groupInvites must be "off" or "required"; received "maybe"/,
    );
  });

  it('gives the groups table the byInvitee index (invitee, group; keys only)', () => {
    const table = resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')[
      logicalId(stack.tables.tables.groups)
    ];
    const indexes = table?.Properties?.GlobalSecondaryIndexes as { IndexName: string }[];
    assert.deepEqual(
      indexes.find((index) => index.IndexName === 'byInvitee'),
      {
        IndexName: 'byInvitee',
        KeySchema: [
          { AttributeName: 'invitedUserId', KeyType: 'HASH' },
          { AttributeName: 'groupId', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    );
  });

  it('grants each invitation route only what it uses on the groups table', () => {
    const actions = (...names: string[]) => names.map((name) => `dynamodb:${name}`).sort();
    assert.deepEqual(groupsStatementOf('listGroupInvites')?.actions, actions('BatchGetItem', 'Query'));
    assert.deepEqual(groupsStatementOf('listGroupInvites')?.resources.sort(), [
      tableArn('groups'),
      `${tableArn('groups')}/index/byInvitee`,
    ]);
    assert.deepEqual(
      groupsStatementOf('acceptGroupInvite')?.actions,
      actions('DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'),
    );
    // byOnlineGroup: the online members told of the new member.
    assert.deepEqual(groupsStatementOf('acceptGroupInvite')?.resources.sort(), [
      tableArn('groups'),
      `${tableArn('groups')}/index/byOnlineGroup`,
    ]);
    assert.deepEqual(
      groupsStatementOf('declineGroupInvite')?.actions,
      actions('DeleteItem', 'Query', 'UpdateItem'),
    );
    assert.deepEqual(groupsStatementOf('declineGroupInvite')?.resources, [tableArn('groups')]);
  });

  describe('from the app context', () => {
    const runApp = cdkAppRunner('chat-cdk-invites-');

    it('-c groupInvites=required reaches every function; a bad value fails the synth', async () => {
      const run = await runApp({ groupInvites: 'required' });
      assert.equal(run.code, 0, run.stderr);
      const functions = Object.values(resourcesOfType(run.template('ChatStack'), 'AWS::Lambda::Function'));
      assert.ok(functions.length > 0);
      for (const fn of functions) assert.equal(lambdaEnvironment(fn).GROUP_INVITES, 'required');
      const bad = await runApp({ groupInvites: 'yes' });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /groupInvites must be "off" or "required"; received "yes"/);
    });
  });
});
