/**
 * The deployed stack's logical ids never change by accident: CloudFormation replaces a
 * resource whose logical id changed, and a replaced table is an empty table. The fixture
 * was written from the stack as it was before ChatBackend became a construct; a change
 * that is meant (a new resource, say) updates it in the same commit, and the review sees
 * every added, removed or renamed id.
 * Run: npx tsx --test test/cdk/logical-ids.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { synthChatStack } from '../support/cdk-stack.ts';
import { LOGICAL_ID_VARIANTS, type LogicalIds, logicalIdsOf } from '../support/logical-ids.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/chat-stack-logical-ids.json', import.meta.url), 'utf8'),
) as Record<keyof typeof LOGICAL_ID_VARIANTS, LogicalIds>;

describe('ChatStack logical ids', () => {
  for (const [variant, props] of Object.entries(LOGICAL_ID_VARIANTS) as [
    keyof typeof LOGICAL_ID_VARIANTS,
    (typeof LOGICAL_ID_VARIANTS)[keyof typeof LOGICAL_ID_VARIANTS],
  ][]) {
    it(`${variant}: every resource and output keeps its logical id and type`, () => {
      const actual = logicalIdsOf(synthChatStack(props).template);
      const expected = fixture[variant];
      const removed = Object.keys(expected.resources).filter((id) => !(id in actual.resources));
      const added = Object.keys(actual.resources).filter((id) => !(id in expected.resources));
      assert.deepEqual({ removed, added }, { removed: [], added: [] }, 'resources added or removed');
      assert.deepEqual(actual, expected);
    });
  }

  it('the tables are among the pinned resources', () => {
    const tables = Object.values(fixture.defaults.resources).filter(
      (type) => type === 'AWS::DynamoDB::GlobalTable',
    );
    assert.ok(tables.length >= 5, `found ${tables.length} tables in the fixture`);
  });
});
