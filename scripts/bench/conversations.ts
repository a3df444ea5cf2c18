/**
 * Section `conversations`: what the conversation list costs for a user with many
 * conversations, and what it added to sending. One user (`lister`) writes to
 * `conversations` peers (each a private chat, so each a row of the `conversations`
 * table) and is in `groups` groups with a message each; nobody has read anything, so
 * every listed conversation gets an unread count (the most a page can cost). Then
 * `list_conversations` with a page of 20 and of 50, and one more `send_message` and
 * `send_group_message` whose breakdown shows the conversation rows and the group's
 * `lastMessageId` update.
 */
import { ClientPool, expectSuccess } from './clients.ts';
import { Host } from './host-client.ts';
import { type OperationRun, runOperation, summarize } from './operations.ts';
import type { ConversationsSection, OperationCost } from './types.ts';

export interface ConversationsOptions {
  readonly conversations: number;
  readonly groups: number;
  readonly pageSizes: readonly number[];
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

async function repeat(times: number, run: () => Promise<OperationRun>): Promise<OperationRun[]> {
  const runs: OperationRun[] = [];
  for (let i = 0; i < times; i++) runs.push(await run());
  return runs;
}

export async function runConversationsSection(options: ConversationsOptions): Promise<ConversationsSection> {
  const startedAt = performance.now();
  const { log } = options;
  const host = await Host.start({ RATE_LIMIT_PER_MINUTE: '0', READ_RATE_LIMIT_PER_MINUTE: '0' });
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const operations: OperationCost[] = [];
  try {
    const [lister] = (await pool.open([{ userId: 'lister' }])) as [number];
    const privates = options.conversations - options.groups;
    log(`  ${privates} private chats and ${options.groups} groups for one user`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < privates) {
          const i = next++;
          expectSuccess(
            await pool.request(lister, 'send_message', { to_user_id: `peer${i}`, content: `hello ${i}` }),
            'send_message',
          );
        }
      }),
    );
    let lastGroup = '';
    for (let i = 0; i < options.groups; i++) {
      const created = expectSuccess(
        await pool.request(lister, 'create_group', { group_name: `bench ${i}`, member_ids: [`peer${i}`] }),
        'create_group',
      );
      lastGroup = String(created.group_id);
      expectSuccess(
        await pool.request(lister, 'send_group_message', { group_id: lastGroup, content: `group ${i}` }),
        'send_group_message',
      );
    }
    await host.quiesce(300);
    const label = `${options.conversations.toLocaleString('en-US')} conversations (${options.groups} groups)`;
    for (const limit of options.pageSizes) {
      log(`  list_conversations, page of ${limit}`);
      const runs = await repeat(options.repetitions, () =>
        runOperation({
          pool,
          host,
          from: lister,
          cmd: 'list_conversations',
          data: () => ({ limit }),
          expectedPushes: 0,
        }),
      );
      operations.push(
        summarize(runs, {
          operation: `list-${limit}`,
          label: `list_conversations, page of ${limit}, ${label}`,
          background: 0,
          registeredConnections: 1,
          recipients: 0,
        }),
      );
    }
    log('  send_message and send_group_message with the list bookkeeping');
    const direct = await repeat(options.repetitions, () =>
      runOperation({
        pool,
        host,
        from: lister,
        cmd: 'send_message',
        data: (marker) => ({ to_user_id: 'peer0', content: marker }),
        expectedPushes: 0,
      }),
    );
    operations.push(
      summarize(direct, {
        operation: 'list-send-direct',
        label: '1:1 (recipient offline): message + 2 conversation rows in one BatchWriteItem',
        background: 0,
        registeredConnections: 1,
        recipients: 0,
      }),
    );
    if (lastGroup) {
      const group = await repeat(options.repetitions, () =>
        runOperation({
          pool,
          host,
          from: lister,
          cmd: 'send_group_message',
          data: (marker) => ({ group_id: lastGroup, content: marker }),
          expectedPushes: 0,
        }),
      );
      operations.push(
        summarize(group, {
          operation: 'list-send-group',
          label: 'group of 2 (other member offline): + the meta item’s lastMessageId UpdateItem',
          background: 0,
          registeredConnections: 1,
          recipients: 0,
        }),
      );
    }
    return {
      conversations: options.conversations,
      groups: options.groups,
      operations,
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
