/**
 * Section `dynamo`: what each operation costs in DynamoDB requests and capacity,
 * Management API calls and Lambda invocations, at a small and a large number of
 * registered connections, to show which costs do not grow with that number.
 *
 * At the first scale the background connections are real sockets (users `bg{i}`, `bg0` an
 * admin), so a broadcast reaches them all without 410s. Then the participants connect: a
 * sender and a recipient with two devices (`direct`; also with a `client_msg_id`, short and
 * 4,000 characters long: `direct-id`, `direct-id-4000`), and per group size G a group of G
 * members of whom `onlineShare` are connected, the sender among them (created with
 * `create_group`; MAX_GROUP_MEMBERS is raised to the largest G). For the larger scales
 * the extra background is seeded as rows (connection row + presence entry per user, as
 * `$connect` writes them) straight into the tables: 10,000 sockets are not needed to show
 * that a private or group message does not read them.
 */
import { ClientPool, expectSuccess } from './clients.ts';
import { Host } from './host-client.ts';
import { type OperationRun, runOperation, summarize } from './operations.ts';
import type { DynamoSection, OperationCost } from './types.ts';

export interface DynamoOptions {
  readonly scales: readonly number[];
  readonly groupSizes: readonly number[];
  readonly onlineShare: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

/** The 1:1 rows sent with a `client_msg_id`; `characters` 0: the marker alone. */
export const DIRECT_WITH_CLIENT_MSG_ID = [
  { operation: 'direct-id', label: '1:1 to a user with 2 devices, with client_msg_id', characters: 0 },
  {
    operation: 'direct-id-4000',
    label: '1:1 to a user with 2 devices, with client_msg_id, 4,000 characters',
    characters: 4_000,
  },
] as const;

/** `marker`, padded to `characters` (the push is recognized by the marker). */
function padded(marker: string, characters: number): string {
  return characters > marker.length ? `${marker} ${'x'.repeat(characters - marker.length - 1)}` : marker;
}

async function repeat(times: number, run: () => Promise<OperationRun>): Promise<OperationRun[]> {
  const runs: OperationRun[] = [];
  for (let i = 0; i < times; i++) runs.push(await run());
  return runs;
}

export async function runDynamoSection(options: DynamoOptions): Promise<DynamoSection> {
  const startedAt = performance.now();
  const { log } = options;
  const scales = [...options.scales].sort((a, b) => a - b);
  const firstScale = scales[0] ?? 100;
  const hostEnv = { MAX_GROUP_MEMBERS: String(Math.max(500, ...options.groupSizes)) };
  const host = await Host.start(hostEnv);
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const operations: OperationCost[] = [];
  try {
    // Background at the first scale: real connections.
    log(`  opening ${firstScale} background connections`);
    const background = await pool.open(
      Array.from({ length: firstScale }, (_, i) => ({
        userId: `bg${i}`,
        ...(i === 0 ? { role: 'admin' } : {}),
      })),
    );
    const admin = background[0] as number;
    await host.quiesce(300);
    log(`  broadcast to ${firstScale}`);
    const broadcastRuns = await repeat(options.repetitions, () =>
      runOperation({
        pool,
        host,
        from: admin,
        cmd: 'broadcast',
        data: (marker) => ({ message: marker }),
        expectedPushes: firstScale,
      }),
    );
    operations.push(
      summarize(broadcastRuns, {
        operation: 'broadcast',
        label: `broadcast to ${firstScale.toLocaleString('en-US')}`,
        background: firstScale,
        registeredConnections: firstScale,
        recipients: firstScale,
      }),
    );

    // Participants.
    log('  opening the participants and creating the groups');
    const [directFrom] = await pool.open([{ userId: 'direct-from' }]);
    await pool.open([{ userId: 'direct-to' }, { userId: 'direct-to' }]);
    let participants = 3;
    const groups: { size: number; groupId: string; sender: number; online: number }[] = [];
    for (const size of options.groupSizes) {
      const members = Array.from({ length: size }, (_, i) => `g${size}-m${i}`);
      const online = Math.max(1, Math.round(size * options.onlineShare));
      const [sender] = await pool.open(members.slice(0, online).map((userId) => ({ userId })));
      participants += online;
      const created = expectSuccess(
        await pool.request(sender as number, 'create_group', {
          group_name: `bench ${size}`,
          member_ids: members.slice(1),
        }),
        `create_group (${size} members)`,
      );
      groups.push({ size, groupId: String(created.group_id), sender: sender as number, online });
    }
    await host.quiesce(300);

    let registeredBackground = firstScale;
    for (const scale of scales) {
      if (scale > registeredBackground) {
        log(`  seeding ${scale - registeredBackground} registered connections (rows) to reach ${scale}`);
        await host.seed({ prefix: 'seeded', from: registeredBackground, to: scale });
        registeredBackground = scale;
        await host.quiesce(300);
      }
      const registeredConnections = registeredBackground + participants;
      log(`  at ${scale} registered: 1:1 to a user with 2 devices`);
      const directRuns = await repeat(options.repetitions, () =>
        runOperation({
          pool,
          host,
          from: directFrom as number,
          cmd: 'send_message',
          data: (marker) => ({ to_user_id: 'direct-to', content: marker }),
          expectedPushes: 2,
        }),
      );
      operations.push(
        summarize(directRuns, {
          operation: 'direct',
          label: '1:1 to a user with 2 devices',
          background: scale,
          registeredConnections,
          recipients: 2,
        }),
      );
      // As the SDK sends them: with a client_msg_id (a fresh one each run), short and at the
      // default MAX_CONTENT_LENGTH (4,000 characters).
      for (const variant of DIRECT_WITH_CLIENT_MSG_ID) {
        log(`  at ${scale} registered: ${variant.label}`);
        const runs = await repeat(options.repetitions, () =>
          runOperation({
            pool,
            host,
            from: directFrom as number,
            cmd: 'send_message',
            data: (marker) => ({
              to_user_id: 'direct-to',
              content: padded(marker, variant.characters),
              client_msg_id: marker,
            }),
            expectedPushes: 2,
          }),
        );
        operations.push(
          summarize(runs, {
            operation: variant.operation,
            label: variant.label,
            background: scale,
            registeredConnections,
            recipients: 2,
          }),
        );
      }
      for (const group of groups) {
        log(`  at ${scale} registered: group of ${group.size} (${group.online} online)`);
        const runs = await repeat(options.repetitions, () =>
          runOperation({
            pool,
            host,
            from: group.sender,
            cmd: 'send_group_message',
            data: (marker) => ({ group_id: group.groupId, content: marker }),
            expectedPushes: group.online - 1,
          }),
        );
        operations.push(
          summarize(runs, {
            operation: `group-${group.size}`,
            label: `group of ${group.size.toLocaleString('en-US')}, ${Math.round(options.onlineShare * 100)}% online`,
            background: scale,
            registeredConnections,
            recipients: group.online - 1,
          }),
        );
      }
    }
    return {
      scales,
      groupSizes: options.groupSizes,
      onlineShare: options.onlineShare,
      operations,
      hostEnv,
      functions: host.info.functions,
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
