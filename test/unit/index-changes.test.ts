/**
 * CloudFormation creates or deletes at most one global secondary index per table in one
 * stack update ("Cannot perform more than one GSI creation or deletion in a single update"),
 * so a release that changes two indexes of one table cannot be deployed over the last one.
 * lib/released-indexes.json records the indexes of the last released version.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type IndexDefinition, tableDefinitions } from '../../lib/table-definitions.ts';

interface ReleasedIndexes {
  readonly tables: Record<string, Record<string, string>>;
}

const released = JSON.parse(
  readFileSync(new URL('../../lib/released-indexes.json', import.meta.url), 'utf8'),
) as ReleasedIndexes;

/** Key schema and projection: changing either makes CloudFormation delete and recreate the index. */
function indexSignature(index: IndexDefinition): string {
  const keys = index.sortKey ? `${index.partitionKey.name}/${index.sortKey.name}` : index.partitionKey.name;
  const projection = Array.isArray(index.projection) ? index.projection.join(',') : index.projection;
  return `${keys} ${projection}`;
}

/** Index creations and deletions one update needs to go from `before` to `after`. */
function indexOperations(before: Record<string, string>, after: Record<string, string>): string[] {
  const operations: string[] = [];
  for (const [name, signature] of Object.entries(after)) {
    if (before[name] === undefined) operations.push(`create ${name}`);
    else if (before[name] !== signature) operations.push(`delete ${name}`, `create ${name}`);
  }
  for (const name of Object.keys(before)) if (after[name] === undefined) operations.push(`delete ${name}`);
  return operations;
}

test('each table changes at most one global secondary index since the last release', () => {
  for (const [tableId, table] of Object.entries(tableDefinitions)) {
    const current = Object.fromEntries(
      table.indexes.map((index) => [index.indexName, indexSignature(index)]),
    );
    const operations = indexOperations(released.tables[tableId] ?? {}, current);
    assert.ok(
      operations.length <= 1,
      `table ${tableId} needs ${operations.join(', ')} in one deployment; CloudFormation allows one GSI creation or ` +
        'deletion per table per update. Ship the others in a later release (or, after releasing, update ' +
        'lib/released-indexes.json).',
    );
  }
});

test('a changed key or projection counts as a deletion and a creation', () => {
  assert.deepEqual(indexOperations({ byX: 'a/b ALL' }, { byX: 'a/b KEYS_ONLY' }), [
    'delete byX',
    'create byX',
  ]);
  assert.deepEqual(indexOperations({ byX: 'a/b ALL' }, { byX: 'a/b ALL', byY: 'c KEYS_ONLY' }), [
    'create byY',
  ]);
  assert.deepEqual(indexOperations({ byX: 'a/b ALL' }, {}), ['delete byX']);
});

test('the release record names every table the stack defines', () => {
  assert.deepEqual(Object.keys(released.tables).sort(), Object.keys(tableDefinitions).sort());
});
