/**
 * Section `groups`: what each step of a group's life costs in DynamoDB when the group has
 * `members` members. The owner (online) creates `repetitions` groups of `members` in one
 * `create_group` each (not in batches); the first gets every change, one at a time
 * (add one member, remove one, one member leaves, a message with no other member online,
 * a role change, a rename, `group_info`,
 * `list_groups`); then every group is deleted. The other members are offline, so the
 * figures are the table work (and the presence lookup), not the pushes.
 */
import { ClientPool } from './clients.ts';
import { Host } from './host-client.ts';
import { type OperationRun, runOperation, summarize } from './operations.ts';
import type { GroupsSection, OperationCost } from './types.ts';

export interface GroupsOptions {
  /** Members of each group, the owner included. */
  readonly members: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

export async function runGroupsSection(options: GroupsOptions): Promise<GroupsSection> {
  const startedAt = performance.now();
  const { log, members, repetitions } = options;
  const host = await Host.start({
    RATE_LIMIT_PER_MINUTE: '0',
    READ_RATE_LIMIT_PER_MINUTE: '0',
    GROUP_CREATES_PER_MINUTE: '0',
    MAX_GROUP_MEMBERS: String(members + repetitions),
  });
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const operations: OperationCost[] = [];
  const label = `group of ${members.toLocaleString('en-US')}`;
  const measure = async (
    operation: string,
    text: string,
    times: number,
    run: (i: number) => Promise<OperationRun>,
  ) => {
    log(`  ${text}`);
    const runs: OperationRun[] = [];
    for (let i = 0; i < times; i++) runs.push(await run(i));
    operations.push(
      summarize(runs, {
        operation,
        label: `${text}, ${label}`,
        background: 0,
        registeredConnections: 1 + repetitions,
        recipients: 0,
      }),
    );
    return runs;
  };
  try {
    const leavers = Array.from({ length: repetitions }, (_, i) => `leaver${i}`);
    const [owner, ...leaving] = await pool.open([
      { userId: 'owner' },
      ...leavers.map((userId) => ({ userId })),
    ]);
    const others = [
      ...leavers,
      ...Array.from({ length: members - 1 - leavers.length }, (_, i) => `member${i}`),
    ];
    const op = (from: number, cmd: string, data: (marker: string) => unknown) =>
      runOperation({ pool, host, from: from, cmd, data, expectedPushes: 0 });

    const created = await measure(
      `group-create-${members}`,
      `create_group with ${members} members`,
      repetitions,
      () => op(owner as number, 'create_group', (marker) => ({ group_name: marker, member_ids: others })),
    );
    const groupIds = created.map((run) => String(run.reply.data?.group_id));
    const groupId = groupIds[0] as string;
    for (const run of created) {
      const added = run.reply.data?.member_ids;
      if (!Array.isArray(added) || added.length !== members) {
        throw new Error(`create_group admitted ${Array.isArray(added) ? added.length : '?'} of ${members}`);
      }
    }
    await measure('group-add', 'add_group_members (1 new member)', repetitions, (i) =>
      op(owner as number, 'add_group_members', () => ({ group_id: groupId, member_ids: [`newcomer${i}`] })),
    );
    await measure('group-remove', 'remove_group_member', repetitions, (i) =>
      op(owner as number, 'remove_group_member', () => ({ group_id: groupId, user_id: `newcomer${i}` })),
    );
    await measure('group-leave', 'leave_group (a member)', repetitions, (i) =>
      op(leaving[i] as number, 'leave_group', () => ({ group_id: groupId })),
    );
    // The leavers are gone: the owner is the only member online, so this is the group
    // message with no other member online (its reads follow the online members).
    await measure('group-send-none-online', 'send_group_message (no other member online)', repetitions, () =>
      op(owner as number, 'send_group_message', (marker) => ({ group_id: groupId, content: marker })),
    );
    await measure('group-role', 'set_group_role (member → admin)', repetitions, (i) =>
      op(owner as number, 'set_group_role', () => ({
        group_id: groupId,
        user_id: `member${i}`,
        role: 'admin',
      })),
    );
    await measure('group-rename', 'update_group (rename)', repetitions, () =>
      op(owner as number, 'update_group', (marker) => ({ group_id: groupId, group_name: marker })),
    );
    await measure('group-info', 'group_info', repetitions, () =>
      op(owner as number, 'group_info', () => ({ group_id: groupId })),
    );
    await measure('group-list', `list_groups (the owner's ${repetitions} groups)`, repetitions, () =>
      op(owner as number, 'list_groups', () => ({})),
    );
    await measure('group-delete', 'delete_group', repetitions, (i) =>
      op(owner as number, 'delete_group', () => ({ group_id: groupIds[i] })),
    );
    return {
      members,
      operations,
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
