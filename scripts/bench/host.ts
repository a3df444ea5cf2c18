/**
 * The benchmark's runtime host, run as a child process of scripts/bench.ts (IPC channel):
 * the local runtime (local/runtime.ts) with the real handler modules, instrumented to count
 * what each operation costs (scripts/bench/accounting.ts):
 *
 * - DynamoDB: dynalite in memory behind a counting endpoint of this host's own (the
 *   runtime gets it as DYNAMODB_ENDPOINT), and DYNAMODB_CAPACITY=report, so the handlers'
 *   client (functions/runtime/container.ts) reports each request's consumed capacity;
 * - Management API calls: local/management-api.ts counts them;
 * - Lambda: every function of lib/function-specs.ts (whatever it holds when this runs,
 *   e.g. an authorizer or a fan-out worker) is wrapped to count invocations and time them.
 *
 * A child process, so that the benchmark's WebSocket clients do not share the runtime's
 * JavaScript thread, and so that its memory can be read from /proc.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { onDynamoDbRequest } from '../../functions/runtime/capacity.ts';
import { batchWriteAll } from '../../functions/stores/dynamo.ts';
import { shardOf, statsKeyOf } from '../../functions/stores/presence.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { DYNAMODB_TARGET_PREFIX, startEmbeddedDynamoDb } from '../../local/dynamodb.ts';
import type { LambdaHandler } from '../../local/functions.ts';
import { managementApiCallCounts, resetManagementApiCallCounts } from '../../local/management-api.ts';
import { startLocalRuntime } from '../../local/runtime.ts';
import { SAMPLE_CONNECTIONS_TABLE, SAMPLE_ROUTE } from './aws-sample.ts';
import { accounting, invocationsInFlight, timed } from './host-instruments.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface HostInfo {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly jwtSecret: string;
  readonly pid: number;
  /** Functions the runtime has (lib/function-specs.ts at start). */
  readonly functions: readonly string[];
  readonly handlerEnv: Readonly<Record<string, string>>;
}

export interface SeedRequest {
  /** Users `${prefix}${i}` for i in [from, to), one connection each. */
  readonly prefix: string;
  readonly from: number;
  readonly to: number;
}

export type HostRequest =
  | { readonly id: number; readonly cmd: 'info' }
  | { readonly id: number; readonly cmd: 'reset' }
  | { readonly id: number; readonly cmd: 'snapshot' }
  | { readonly id: number; readonly cmd: 'quiesce'; readonly quietMs: number; readonly timeoutMs: number }
  | { readonly id: number; readonly cmd: 'seed'; readonly seed: SeedRequest }
  | { readonly id: number; readonly cmd: 'seedSample'; readonly connectionIds: readonly string[] };

onDynamoDbRequest((record) => accounting.dynamoRequest(record));

/** dynalite, in memory, behind a server of ours that counts what reaches it. */
async function countingDynamoDb(): Promise<{ url: string }> {
  const dynamo = await startEmbeddedDynamoDb(undefined);
  const server: Server = createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.startsWith(DYNAMODB_TARGET_PREFIX)) {
      accounting.endpointRequest(target.slice(DYNAMODB_TARGET_PREFIX.length));
    }
    dynamo.handle(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  // The parent ends this process with SIGKILL: everything is in memory, nothing to close.
  return { url: `http://127.0.0.1:${port}` };
}

/** Each handler module loaded on first use (after the runtime set the environment), timed. */
function instrumentedHandlers(): Partial<Record<FunctionId, LambdaHandler>> {
  const handlers: Partial<Record<FunctionId, LambdaHandler>> = {};
  for (const [id, spec] of Object.entries(functionSpecs) as [FunctionId, { entry: string }][]) {
    let loaded: Promise<LambdaHandler> | undefined;
    const load = () => {
      loaded ??= import(pathToFileURL(resolve(REPOSITORY_ROOT, spec.entry)).href).then(
        (module: { handler?: unknown }) => {
          if (typeof module.handler !== 'function') throw new Error(`${spec.entry} exports no handler`);
          return module.handler as LambdaHandler;
        },
      );
      return loaded;
    };
    const wrapped: LambdaHandler & { preload?: () => Promise<unknown> } = timed(id, load);
    wrapped.preload = load;
    handlers[id] = wrapped;
  }
  return handlers;
}

function managementSignature(): number {
  return Object.values(managementApiCallCounts()).reduce((a, b) => a + b, 0);
}

/** Waits until no invocation runs and nothing was counted for `quietMs`; false on timeout. */
async function quiesce(quietMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let lastManagement = managementSignature();
  let managementChangedAt = performance.now();
  for (;;) {
    const now = performance.now();
    const management = managementSignature();
    if (management !== lastManagement) {
      lastManagement = management;
      managementChangedAt = now;
    }
    const quietSince = Math.max(accounting.lastActivity, managementChangedAt);
    if (invocationsInFlight() === 0 && now - quietSince >= quietMs) return true;
    if (now > deadline) return false;
    await new Promise((done) => setTimeout(done, Math.min(20, quietMs / 2)));
  }
}

/** A client for writing straight into the tables (not counted: `accounting.counting` is off meanwhile). */
function seedingClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 10,
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
}

/** The AWS sample's table (key `connectionId`, nothing else), as its template creates it. */
async function createSampleTable(endpoint: string): Promise<void> {
  const client = seedingClient(endpoint);
  try {
    await client.send(
      new CreateTableCommand({
        TableName: SAMPLE_CONNECTIONS_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'connectionId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      }),
    );
  } finally {
    client.destroy();
  }
}

/** The rows the sample's `$connect` writes, for connections that are open. */
async function seedSample(endpoint: string, connectionIds: readonly string[]): Promise<void> {
  const client = seedingClient(endpoint);
  accounting.counting = false;
  try {
    const rows = connectionIds.map((connectionId) => ({ PutRequest: { Item: { connectionId } } }));
    await batchWriteAll(client, SAMPLE_CONNECTIONS_TABLE, rows);
  } finally {
    accounting.counting = true;
    client.destroy();
  }
}

async function seed(endpoint: string, request: SeedRequest): Promise<void> {
  const client = seedingClient(endpoint);
  accounting.counting = false;
  try {
    const now = Math.floor(Date.now() / 1000);
    const connectedAt = new Date().toISOString();
    const connections: { PutRequest: { Item: Record<string, unknown> } }[] = [];
    const presence: { PutRequest: { Item: Record<string, unknown> } }[] = [];
    for (let i = request.from; i < request.to; i++) {
      const userId = `${request.prefix}${i}`;
      const connectionId = `${request.prefix}conn-${i}=`;
      // The shapes the stores write (functions/stores/connections.ts, presence.ts).
      connections.push({
        PutRequest: {
          Item: {
            connectionId,
            userId,
            roles: [],
            connectedAt,
            expiresAt: now + 7800,
            tokenExpiresAt: now + 6 * 3600,
          },
        },
      });
      presence.push({
        PutRequest: {
          Item: {
            userId,
            connectionIds: new Set([connectionId]),
            connectionCount: 1,
            expiresAt: now + 7800,
            onlineShard: shardOf(userId),
          },
        },
      });
    }
    const chunk = 250;
    const jobs: (() => Promise<void>)[] = [];
    for (let i = 0; i < connections.length; i += chunk) {
      jobs.push(() =>
        batchWriteAll(client, tableDefinitions.connections.localName, connections.slice(i, i + chunk)),
      );
      jobs.push(() =>
        batchWriteAll(client, tableDefinitions.presence.localName, presence.slice(i, i + chunk)),
      );
    }
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) await job();
      }),
    );
    // Each seeded user counted in its own counter shard, as a connect would count it.
    const perShard = new Map<string, number>();
    for (let i = request.from; i < request.to; i++) {
      const key = statsKeyOf(`${request.prefix}${i}`);
      perShard.set(key, (perShard.get(key) ?? 0) + 1);
    }
    for (const [key, count] of perShard) {
      await client.send(
        new UpdateCommand({
          TableName: tableDefinitions.presence.localName,
          Key: { userId: key },
          UpdateExpression: 'ADD onlineUsers :n, #connections :n',
          ExpressionAttributeNames: { '#connections': 'connections' },
          ExpressionAttributeValues: { ':n': count },
        }),
      );
    }
  } finally {
    accounting.counting = true;
    client.destroy();
  }
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('scripts/bench/host.ts runs as a child process with an IPC channel.');
  const dynamo = await countingDynamoDb();
  const handlers = instrumentedHandlers();
  const withSample = process.env.BENCH_HOST_AWS_SAMPLE === '1';
  if (withSample) await createSampleTable(dynamo.url);
  const runtime = await startLocalRuntime({
    port: 0,
    inMemory: true,
    quiet: true,
    // No sweep on a timer: it would remove the seeded connections, which have no socket.
    sweepIntervalSeconds: 0,
    // API Gateway's idle timeout (10 min) is for users who went quiet; the bench's first
    // clients stay silent while the next thousands connect, which took over 10 minutes
    // for 9,000 on a loaded machine: they must still be open for the next measurement.
    idleTimeoutSeconds: 7200,
    handlers,
    // With the grants of broadcast (POST @connections); DynamoDB is ours, not IAM-checked.
    ...(withSample
      ? {
          mountedRoutes: {
            [SAMPLE_ROUTE]: {
              module: resolve(REPOSITORY_ROOT, 'scripts/bench/aws-sample-mounted.ts'),
              runAs: 'broadcast' as const,
            },
          },
        }
      : {}),
    env: {
      DYNAMODB_ENDPOINT: dynamo.url,
      DYNAMODB_CAPACITY: 'report',
      LOG_LEVEL: 'error',
      METRICS_FORMAT: 'off',
      ...JSON.parse(process.env.BENCH_HOST_ENV ?? '{}'),
    },
  });
  // Cold starts before anything is measured.
  await Promise.all(
    Object.values(handlers).map((handler) => (handler as { preload?: () => Promise<unknown> }).preload?.()),
  );
  const info: HostInfo = {
    wsUrl: runtime.wsUrl,
    httpUrl: runtime.httpUrl,
    jwtSecret: runtime.jwtSecret ?? '',
    pid: process.pid,
    functions: Object.keys(functionSpecs),
    handlerEnv: runtime.handlerEnv,
  };

  const answer = (id: number, result: unknown) => toParent({ id, ok: true, result });
  process.on('message', (raw: HostRequest) => {
    void (async () => {
      try {
        switch (raw.cmd) {
          case 'info':
            return answer(raw.id, info);
          case 'reset':
            accounting.reset();
            resetManagementApiCallCounts();
            return answer(raw.id, true);
          case 'snapshot':
            return answer(raw.id, accounting.snapshot(managementApiCallCounts()));
          case 'quiesce':
            return answer(raw.id, await quiesce(raw.quietMs, raw.timeoutMs));
          case 'seed':
            await seed(dynamo.url, raw.seed);
            return answer(raw.id, true);
          case 'seedSample':
            await seedSample(dynamo.url, raw.connectionIds);
            return answer(raw.id, true);
        }
      } catch (error) {
        toParent({
          id: raw.id,
          ok: false,
          error: error instanceof Error ? error.stack : String(error),
        });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  toParent({ id: 0, ok: true, result: info });
}

/**
 * Sends to the benchmark; when it is gone (killed, e.g. by a test's time limit) there is
 * nobody to answer: end quietly. A bare `process.send` would instead crash this process
 * with an unhandled ERR_IPC_CHANNEL_CLOSED, which reads as if the host had failed.
 */
function toParent(message: Record<string, unknown>): void {
  if (!process.connected) process.exit(0);
  process.send?.(message, undefined, {}, (error: Error | null) => {
    if (error) process.exit(0);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench host failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
