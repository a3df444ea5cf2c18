/**
 * Section `groups`: what each step of a group's life costs in DynamoDB when the group has
 * `members` members. The owner (online) creates `repetitions` groups of `members` in one
 * `create_group` each (not in batches); the first gets every change, one at a time
 * (add one member, remove one, one member leaves, a message with no other member online,
 * a role change, a rename, `group_info`,
 * `list_groups`), with the other members offline, so those figures are the table work (and
 * the presence lookup), not the pushes. Then `online` of its members connect (the owner
 * among them) and the pushes that go to the online members are measured with them: a
 * message, a rename (`group_updated`), a read receipt (`mark_read`) and a recall
 * (`delete_message`); they disconnect, and every group is deleted. Last, one invitee blocks
 * the owner and a `create_group` naming all the members again is refused (1403): the block
 * check's cost (who blocked the owner, one `byBlocked` Query) without the writes.
 */
import { ClientPool } from './clients.ts';
import { Host } from './host-client.ts';
import { measureEvent, type OperationRun, runOperation, summarize } from './operations.ts';
import type { GroupsSection, OperationCost } from './types.ts';

export interface GroupsOptions {
  /** Members of each group, the owner included. */
  readonly members: number;
  readonly repetitions: number;
  /** Members online (the owner included) for the push rows; default min(100, members). */
  readonly online?: number;
  readonly log: (line: string) => void;
}

/** Runs one operation `times` times, records its cost row (`recipients`: default 0) and returns the runs. */
type Measure = (
  operation: string,
  text: string,
  times: number,
  run: (i: number) => Promise<OperationRun>,
  recipients?: number,
) => Promise<OperationRun[]>;

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
  let registeredConnections = 1 + repetitions;
  const measure: Measure = async (operation, text, times, run, recipients = 0) => {
    log(`  ${text}`);
    const runs: OperationRun[] = [];
    for (let i = 0; i < times; i++) runs.push(await run(i));
    operations.push(
      summarize(runs, {
        operation,
        label: `${text}, ${label}`,
        background: 0,
        registeredConnections,
        recipients,
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
    // `online` members connected, the owner among them (the leavers left the group).
    const online = Math.max(2, Math.min(options.online ?? 100, members));
    const onlineNames = others.filter((userId) => !leavers.includes(userId)).slice(0, online - 1);
    const onlineClients = await pool.open(onlineNames.map((userId) => ({ userId })));
    registeredConnections += onlineClients.length;
    try {
      await measurePushes({
        pool,
        host,
        measure,
        groupId,
        owner: owner as number,
        clients: onlineClients,
        members,
        repetitions,
      });
    } finally {
      // Offline again for the deletes, which then measure the table work as before.
      for (const client of onlineClients) await pool.close(client);
      registeredConnections = 1 + repetitions;
    }
    await measure('group-delete', 'delete_group', repetitions, (i) =>
      op(owner as number, 'delete_group', () => ({ group_id: groupIds[i] })),
    );
    await measureRefusedCreate({
      pool,
      host,
      measure,
      repetitions,
      owner: owner as number,
      invitees: others,
    });
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

/**
 * The pushes to the online members, with `online` of them connected (the owner and
 * members who never left, one connection each): a message, a rename, a read receipt by
 * one of them, a recall by the owner. Each reads the online members (`byOnlineGroup`) and
 * their presence only: the figures follow the online members, not the group's size.
 * The members disconnect afterwards, so the deletes that follow find them offline.
 */
async function measurePushes(context: {
  readonly pool: ClientPool;
  readonly host: Host;
  readonly measure: Measure;
  readonly groupId: string;
  readonly owner: number;
  /** The online members' clients but the owner's, one connection each. */
  readonly clients: readonly number[];
  readonly members: number;
  readonly repetitions: number;
}): Promise<void> {
  const { pool, host, measure, groupId, owner, clients, repetitions } = context;
  const reader = clients[0] as number;
  const pushes = clients.length; // every online member but the one who acts
  const suffix = `${clients.length + 1} of ${context.members.toLocaleString('en-US')} online`;
  const op = (cmd: string, data: (marker: string) => unknown) =>
    runOperation({ pool, host, from: owner, cmd, data, expectedPushes: pushes });
  /** A message of the owner's, not measured, whose pushes have arrived. */
  const sendOne = async (): Promise<string> => {
    const sent = await op('send_group_message', (marker) => ({ group_id: groupId, content: marker }));
    return String(sent.reply.data?.message_id);
  };
  const ofMessage = (type: string, messageId: string) => (text: string) =>
    text.includes(`"${type}"`) && text.includes(messageId);
  await measure(
    'group-send-online',
    `send_group_message (${suffix})`,
    repetitions,
    () => op('send_group_message', (marker) => ({ group_id: groupId, content: marker })),
    pushes,
  );
  await measure(
    'group-rename-online',
    `update_group (rename: group_updated to ${suffix})`,
    repetitions,
    () => op('update_group', (marker) => ({ group_id: groupId, group_name: marker })),
    pushes,
  );
  const messageIds: string[] = [];
  await measure(
    'group-read-online',
    `mark_read (a member: message_read to ${suffix})`,
    repetitions,
    async () => {
      const messageId = await sendOne();
      messageIds.push(messageId);
      return measureEvent({
        pool,
        host,
        what: 'mark_read',
        expectedPushes: pushes,
        isPush: ofMessage('message_read', messageId),
        act: async () => {
          const reply = await pool.request(reader, 'mark_read', {
            room_id: groupId,
            message_id: messageId,
          });
          if (reply.code !== 0) throw new Error(`mark_read failed: ${JSON.stringify(reply)}`);
        },
      });
    },
    pushes,
  );
  await measure(
    'group-recall-online',
    `delete_message (message_deleted to ${suffix})`,
    repetitions,
    (i) => {
      const messageId = messageIds[i] as string;
      return measureEvent({
        pool,
        host,
        what: 'delete_message',
        expectedPushes: pushes,
        isPush: ofMessage('message_deleted', messageId),
        act: async () => {
          const reply = await pool.request(owner, 'delete_message', {
            room_id: groupId,
            message_id: messageId,
          });
          if (reply.code !== 0) throw new Error(`delete_message failed: ${JSON.stringify(reply)}`);
        },
      });
    },
    pushes,
  );
}

/**
 * `create_group` naming `invitees` (the group's size) once one of them, `blocker`, blocked
 * the owner: refused with 1403 before anything is written, so the row is the block check
 * alone. The blocker connects only to block, and is gone before the measurement.
 */
async function measureRefusedCreate(context: {
  readonly pool: ClientPool;
  readonly host: Host;
  readonly measure: Measure;
  readonly repetitions: number;
  readonly owner: number;
  readonly invitees: readonly string[];
}): Promise<void> {
  const { pool, host, measure, repetitions, owner, invitees } = context;
  const [blocker] = await pool.open([{ userId: 'blocker' }]);
  const blocked = await pool.request(blocker as number, 'block_user', { user_id: 'owner' });
  if (blocked.code !== 0) throw new Error(`block_user failed: ${JSON.stringify(blocked)}`);
  await pool.close(blocker as number);
  const memberIds = [...invitees.slice(0, -1), 'blocker'];
  await measure(
    'group-create-refused',
    `create_group refused (1 of ${memberIds.length.toLocaleString('en-US')} invitees blocked the owner)`,
    repetitions,
    () =>
      measureEvent({
        pool,
        host,
        what: 'create_group (refused)',
        expectedPushes: 0,
        isPush: () => false,
        act: async () => {
          const reply = await pool.request(owner, 'create_group', {
            group_name: 'refused',
            member_ids: memberIds,
          });
          if (reply.code !== 1403) throw new Error(`create_group was not refused: ${JSON.stringify(reply)}`);
        },
      }),
  );
}
