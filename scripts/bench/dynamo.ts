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
 *
 * `$connect` and `$disconnect` (`connect-alone`, `disconnect-alone`, `connect-group-G`,
 * `disconnect-group-G`): a user in no group who never sent anything (`solo`), and a member
 * of the largest group who posted there once (so its members are presence peers, of whom
 * `onlineShare` are online). Each repetition closes the socket (`$disconnect`, and the
 * `offline` pushes) and opens it again (authorizer, `$connect`, the welcome push and the
 * `online` pushes); an operation ends when the expected pushes arrived and the runtime was quiet.
 */
import { ClientPool, expectSuccess } from './clients.ts';
import { Host } from './host-client.ts';
import { measureEvent, type OperationRun, runOperation, summarize } from './operations.ts';
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
    const [solo] = await pool.open([{ userId: 'solo' }]);
    participants += 1;
    const presenceSubject = await postedMember(pool, groups.at(-1));
    await host.quiesce(300);
    const connections = {
      solo: solo as number,
      ...(presenceSubject ? { member: presenceSubject.index } : {}),
    };

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
      log(`  at ${scale} registered: $connect and $disconnect`);
      operations.push(
        ...(await connectAndDisconnect(pool, host, options.repetitions, connections, 'solo', {
          id: 'alone',
          label: 'a user in no group',
          background: scale,
          registeredConnections,
          peersOnline: 0,
        })),
      );
      const group = groups.at(-1);
      if (presenceSubject && group) {
        operations.push(
          ...(await connectAndDisconnect(pool, host, options.repetitions, connections, 'member', {
            id: `group-${group.size}`,
            label: `a member of a group of ${group.size.toLocaleString('en-US')} (${group.online} online) who posted there`,
            background: scale,
            registeredConnections,
            peersOnline: group.online - 1,
          })),
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

/**
 * An online member of `group` other than its sender, after it posted there once: its
 * fellow members become its presence peers. Undefined without a group of two online.
 */
async function postedMember(
  pool: ClientPool,
  group: { size: number; groupId: string; sender: number; online: number } | undefined,
): Promise<{ index: number; userId: string } | undefined> {
  if (!group || group.online < 2) return undefined;
  const index = group.sender + 1;
  expectSuccess(
    await pool.request(index, 'send_group_message', { group_id: group.groupId, content: 'history' }),
    'send_group_message (the presence subject posts once)',
  );
  return { index, userId: pool.userOf(index).userId };
}

interface PresenceCase {
  /** `alone` or `group-1000`: the operations are `connect-{id}` and `disconnect-{id}`. */
  readonly id: string;
  readonly label: string;
  readonly background: number;
  readonly registeredConnections: number;
  /** Peers online, one connection each: the `online` / `offline` pushes expected. */
  readonly peersOnline: number;
}

/**
 * Closes and reopens `connections[key]` `repetitions` times: the costs of `$disconnect`
 * and `$connect`. The reopened client's index replaces the old one in `connections`.
 */
async function connectAndDisconnect<K extends string>(
  pool: ClientPool,
  host: Host,
  repetitions: number,
  connections: Partial<Record<K, number>>,
  key: K,
  presence: PresenceCase,
): Promise<OperationCost[]> {
  const user = pool.userOf(connections[key] as number);
  const presencePush = (status: string) => (text: string) =>
    text.includes('"presence"') &&
    text.includes(`"user_id":"${user.userId}"`) &&
    text.includes(`"${status}"`);
  const disconnects: OperationRun[] = [];
  const connects: OperationRun[] = [];
  for (let i = 0; i < repetitions; i++) {
    disconnects.push(
      await measureEvent({
        pool,
        host,
        what: `$disconnect of ${user.userId}`,
        act: () => pool.close(connections[key] as number),
        isPush: presencePush('offline'),
        expectedPushes: presence.peersOnline,
        timeoutMs: 30_000,
      }),
    );
    connects.push(
      await measureEvent({
        pool,
        host,
        what: `$connect of ${user.userId}`,
        act: async () => {
          [connections[key]] = await pool.open([user]);
        },
        isPush: presencePush('online'),
        expectedPushes: presence.peersOnline,
        timeoutMs: 30_000,
      }),
    );
  }
  const describe = (event: 'connect' | 'disconnect') => ({
    operation: `${event}-${presence.id}`,
    label: `\`$${event}\`, ${presence.label}`,
    background: presence.background,
    registeredConnections: presence.registeredConnections,
    recipients: presence.peersOnline,
  });
  return [
    { ...summarize(connects, describe('connect')), clientMessages: 1 },
    { ...summarize(disconnects, describe('disconnect')), clientMessages: 1 },
  ];
}
