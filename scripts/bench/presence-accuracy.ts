/**
 * Section `presence` (issue 14, targets 2 and 3): how exact `GET /api/ws/online-count` is
 * when `$disconnect`s go missing, and what the stale-connection sweep restores. `clients`
 * real WebSocket clients connect (one user each); `closed` of them close normally (their
 * `$disconnect` runs), `dropped` are cut without `$disconnect` (the local runtime's
 * `dropWithoutDisconnect`, as API Gateway sometimes does). The reported count is compared
 * with the true one (the sockets still open) before and after one sweep run.
 *
 * The dropped connections' rows are backdated past the 30 s handshake window first: the
 * sweep keeps a younger connection that answers 410 (it may be inside `$connect`), so a
 * connection lost in its first 30 s waits for the next run. In the local runtime, in this
 * process (it needs `dropWithoutDisconnect`); nothing here is a timing but the sweep's wall
 * time, printed for scale.
 */
import { once } from 'node:events';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import type { SweepReport } from '../../functions/core/connections/sweep.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { managementApiCallCounts } from '../../local/management-api.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.ts';
import { mintToken } from '../../local/tokens.ts';

export interface PresenceAccuracyOptions {
  readonly clients: number;
  /** Clients closed normally (`$disconnect` runs). */
  readonly closed: number;
  /** Clients cut without `$disconnect`. */
  readonly dropped: number;
  readonly log: (line: string) => void;
}

export interface OnlineFigures {
  readonly users: number;
  readonly connections: number;
}

export interface PresenceAccuracySection {
  readonly clients: number;
  readonly closed: number;
  readonly dropped: number;
  /** The sockets still open (one user each). */
  readonly trueOnline: OnlineFigures;
  /** `online-count` once the normal closes were processed, before the sweep. */
  readonly beforeSweep: OnlineFigures;
  readonly afterSweep: OnlineFigures;
  readonly sweep: {
    readonly checked: number;
    readonly removed: number;
    readonly expired: number;
    readonly failed: number;
    /** Management API GetConnection calls the run made. */
    readonly getConnectionCalls: number;
    /** Wall time of the run, for scale only (local runtime, this machine). */
    readonly ms: number;
  };
  readonly seconds: number;
}

/** The same handler configuration as the attachments section: both may run in one process. */
const RUNTIME_ENV = { RATE_LIMIT_PER_MINUTE: '0', READ_RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' };

interface Client {
  readonly socket: WebSocket;
  readonly connectionId: string;
}

async function connect(url: string, token: string): Promise<Client> {
  const socket = new WebSocket(`${url}?token=${token}`);
  const welcome = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: no welcome in 30 s')), 30_000);
    socket.on('message', (raw) => {
      const data = (JSON.parse(String(raw)) as { data?: { type?: string; connection_id?: string } }).data;
      if (data?.type === 'welcome') {
        clearTimeout(timer);
        resolve(String(data.connection_id));
      }
    });
  });
  await once(socket, 'open');
  return { socket, connectionId: await welcome };
}

async function onlineCount(runtime: LocalRuntime): Promise<OnlineFigures> {
  const response = await fetch(`${runtime.httpUrl}/api/ws/online-count`);
  const body = (await response.json()) as { data?: { count: number; connections: number } };
  if (!response.ok || !body.data) throw new Error(`bench: online-count answered ${response.status}`);
  return { users: body.data.count, connections: body.data.connections };
}

/** Polls `online-count` until `done` accepts it (at most 30 s): `$disconnect` runs after the close. */
async function countUntil(runtime: LocalRuntime, done: (figures: OnlineFigures) => boolean) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const figures = await onlineCount(runtime);
    if (done(figures) || Date.now() > deadline) return figures;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function getConnectionCalls(): number {
  const counts = managementApiCallCounts();
  return Object.entries(counts)
    .filter(([key]) => key.startsWith('GET '))
    .reduce((sum, [, value]) => sum + value, 0);
}

export async function runPresenceAccuracySection(
  options: PresenceAccuracyOptions,
): Promise<PresenceAccuracySection> {
  const startedAt = performance.now();
  const { log, clients: total, closed, dropped } = options;
  if (closed + dropped > total) throw new Error('bench: more clients closed and dropped than connected');
  const runtime = await startLocalRuntime({
    port: 0,
    inMemory: true,
    quiet: true,
    sweepIntervalSeconds: 0,
    env: RUNTIME_ENV,
  });
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: 'local',
      endpoint: runtime.dynamoDbEndpoint,
      credentials: runtime.adminCredentials,
    }),
  );
  const clients: Client[] = [];
  try {
    const secret = runtime.jwtSecret as string;
    for (let i = 0; i < total; i += 50) {
      const batch = Array.from({ length: Math.min(50, total - i) }, (_, j) => `presence${i + j}`);
      clients.push(
        ...(await Promise.all(
          batch.map(async (userId) => connect(runtime.wsUrl, await mintToken(userId, { secret }))),
        )),
      );
    }
    const start = await onlineCount(runtime);
    log(
      `  ${total} clients connected: online-count says ${start.users} users, ${start.connections} connections`,
    );

    const closing = clients.slice(0, closed);
    const dropping = clients.slice(closed, closed + dropped);
    await Promise.all(
      closing.map((client) => {
        client.socket.close();
        return once(client.socket, 'close');
      }),
    );
    for (const client of dropping) {
      if (!runtime.dropWithoutDisconnect(client.connectionId)) throw new Error('bench: a drop failed');
    }
    await Promise.all(dropping.map((client) => once(client.socket, 'close')));
    // Lost after their first 30 s, as almost every lost connection is (see the header).
    const then = new Date(Date.now() - 60_000).toISOString();
    for (const client of dropping) {
      await dynamo.send(
        new UpdateCommand({
          TableName: tableDefinitions.connections.localName,
          Key: { connectionId: client.connectionId },
          UpdateExpression: 'SET connectedAt = :then',
          ExpressionAttributeValues: { ':then': then },
        }),
      );
    }
    const open = total - closed - dropped;
    const trueOnline = { users: open, connections: open };
    // The normal closes' $disconnects have run once the count has fallen by `closed`.
    const beforeSweep = await countUntil(runtime, (figures) => figures.connections <= total - closed);
    log(
      `  closed ${closed} normally, dropped ${dropped} without $disconnect: true ${open}, online-count ${beforeSweep.users} users / ${beforeSweep.connections} connections`,
    );

    const callsBefore = getConnectionCalls();
    const sweepStarted = performance.now();
    const report = (await runtime.sweepConnections()) as SweepReport;
    const ms = Math.round(performance.now() - sweepStarted);
    const afterSweep = await onlineCount(runtime);
    const calls = getConnectionCalls() - callsBefore;
    log(
      `  after one sweep (${report.checked} checked, ${report.removed} removed, ${calls} GetConnection calls, ${ms} ms): online-count ${afterSweep.users} users / ${afterSweep.connections} connections`,
    );
    return {
      clients: total,
      closed,
      dropped,
      trueOnline,
      beforeSweep,
      afterSweep,
      sweep: {
        checked: report.checked,
        removed: report.removed,
        expired: report.expired,
        failed: report.failed,
        getConnectionCalls: calls,
        ms,
      },
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    dynamo.destroy();
    for (const client of clients) client.socket.terminate();
    await runtime.stop();
  }
}

/** The section of docs/performance.md (scripts/bench/report.ts places it). */
export function renderPresenceAccuracy(section: PresenceAccuracySection | undefined): string[] {
  if (!section) return [];
  const row = (what: string, figures: OnlineFigures) => {
    const off = figures.connections - section.trueOnline.connections;
    return `| ${what} | ${figures.users} | ${figures.connections} | ${off === 0 ? 'exact' : `${off > 0 ? '+' : ''}${off}`} |`;
  };
  return [
    '## Online count with lost `$disconnect`s',
    '',
    `${section.clients} real clients (one user each) connect to the local runtime; ${section.closed} close normally,`,
    `${section.dropped} are cut without \`$disconnect\` (as API Gateway sometimes does; rows backdated past the 30 s`,
    'handshake window). `GET /api/ws/online-count` before and after one run of the stale-connection sweep',
    '(scripts/bench/presence-accuracy.ts):',
    '',
    '| | users | connections | off by |',
    '| --- | --- | --- | --- |',
    row('true (sockets open)', section.trueOnline),
    row('online-count before the sweep', section.beforeSweep),
    row('online-count after one sweep', section.afterSweep),
    '',
    `The sweep asked GetConnection ${section.sweep.getConnectionCalls} times (one per listed connection), removed`,
    `${section.sweep.removed}, failed ${section.sweep.failed}; it took ${section.sweep.ms} ms here (local runtime, for scale only).`,
    '',
  ];
}
