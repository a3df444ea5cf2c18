/**
 * `GROUP_INVITES` is read once, at a cold start: `off` unless set, `required`, and any
 * other value fails the start with a message naming the accepted values.
 * Run: npx tsx --test test/unit/group-invites-config.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../functions/runtime/config.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';

const tables = Object.fromEntries(Object.values(tableDefinitions).map((table) => [table.envVar, 't']));

test('GROUP_INVITES: off by default, required when set, anything else refused', () => {
  assert.equal(loadConfig(tables).groupInvites, 'off');
  assert.equal(loadConfig({ ...tables, GROUP_INVITES: '' }).groupInvites, 'off');
  assert.equal(loadConfig({ ...tables, GROUP_INVITES: 'off' }).groupInvites, 'off');
  assert.equal(loadConfig({ ...tables, GROUP_INVITES: 'required' }).groupInvites, 'required');
  for (const bad of ['Required', 'on', 'true']) {
    assert.throws(
      () => loadConfig({ ...tables, GROUP_INVITES: bad }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message === `GROUP_INVITES must be one of off, required; received "${bad}".`,
    );
  }
});
