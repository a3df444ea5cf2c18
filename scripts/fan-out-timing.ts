/**
 * How long the `broadcast` route handler takes for N connections, posting inline versus
 * handing the fan-out to workers, and when the last connection has its push.
 *
 *   npx tsx scripts/fan-out-timing.ts [--sizes 1000,10000] [--post-ms 20] [--invoke-ms 15]
 *     [--concurrency 32] [--rate 3000] [--threshold 1000]
 *
 * In one process, with the real core and DynamoDB stores on an in-memory dynalite (N
 * online users, one connection each), and two stand-ins for AWS: a Management API whose
 * every post takes `--post-ms` (about what a PostToConnection takes in-region) and a
 * Lambda `Invoke` that takes `--invoke-ms` and then runs the worker in this process.
 * What it measures is the handler's own time (what API Gateway waits for, 29 s at most),
 * the summed time of every invocation (handler + workers: what Lambda bills) and the time
 * until the last post; not API Gateway, not Lambda cold starts.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { ConnectionRegistry } from '../functions/core/connections/connections.ts';
import {
  FanOutDispatcher,
  type FanOutInvoker,
  type FanOutJob,
} from '../functions/core/fan-out/fan-out-dispatch.ts';
import { runFanOutJob } from '../functions/core/fan-out/fan-out-worker.ts';
import { ChatService } from '../functions/core/messaging/chat-service.ts';
import type { ConnectionNotifier } from '../functions/core/shared/ports.ts';
import { DynamoConnectionStore } from '../functions/stores/connections.ts';
import { DynamoGroupStore } from '../functions/stores/groups.ts';
import { DynamoMessageStore } from '../functions/stores/messages.ts';
import { DynamoPresenceStore } from '../functions/stores/presence.ts';
import { DynamoRoomStore } from '../functions/stores/rooms.ts';
import { type TableId, tableDefinitions } from '../lib/table-definitions.ts';
import { createTableInput } from '../lib/table-input.ts';
import { commandLine } from './cli.ts';

const USAGE = `Usage: npx tsx scripts/fan-out-timing.ts [options]

How long the broadcast route handler takes for N connections, posting inline versus handing
the fan-out to workers (in one process, on an in-memory dynalite, with timed stand-ins for
the Management API and Lambda Invoke).

Options:
  --sizes <list>       connection counts, comma-separated (default 1000,10000)
  --post-ms <ms>       time of one PostToConnection (default 20)
  --invoke-ms <ms>     time of one Lambda Invoke (default 15)
  --concurrency <n>    posts in flight per fan-out (default 32)
  --rate <n>           worker posts per second (default 3000)
  --threshold <n>      recipients above which the fan-out goes to workers (default 1000)
  -h, --help           shows this help`;

const { values } = commandLine(USAGE, {
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    'post-ms': { type: 'string', default: '20' },
    'invoke-ms': { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '32' },
    rate: { type: 'string', default: '3000' },
    threshold: { type: 'string', default: '1000' },
  },
});
const sizes = (values.sizes ?? '').split(',').map(Number);
const postMs = Number(values['post-ms']);
const invokeMs = Number(values['invoke-ms']);
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);
const threshold = Number(values.threshold);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const server = dynalite({ createTableMs: 0 });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const raw = new DynamoDBClient({
  endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  region: 'local',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const client = DynamoDBDocumentClient.from(raw);

async function measure(size: number): Promise<void> {
  const names = {} as Record<TableId, string>;
  for (const [id, definition] of Object.entries(tableDefinitions) as [TableId, { localName: string }][]) {
    names[id] = `${definition.localName}-${size}`;
    await raw.send(new CreateTableCommand(createTableInput(tableDefinitions[id], names[id])));
  }
  const presence = new DynamoPresenceStore(client, names.presence);
  const connections = new DynamoConnectionStore(client, names.connections);
  const rooms = new DynamoRoomStore(client, names.rooms);
  const registry = new ConnectionRegistry({ connections, presence, rooms, connectionTtlSeconds: 7800 });
  const expiresAt = Math.floor(Date.now() / 1000) + 7800;
  process.stdout.write(`${size} connections: registering… `);
  for (let i = 0; i < size; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, size - i) }, (_, j) =>
        presence.addConnection(`user-${i + j}`, `conn-${i + j}`, expiresAt),
      ),
    );
  }
  process.stdout.write('done\n');

  for (const mode of ['inline', 'workers'] as const) {
    let posts = 0;
    let lastPostAt = 0;
    const notifier: ConnectionNotifier = {
      async post() {
        await sleep(postMs);
        posts++;
        lastPostAt = Date.now();
      },
    };
    const running: Promise<unknown>[] = [];
    let workerMs = 0;
    const workerDeps = () => ({
      notifier,
      registry,
      rooms,
      presence,
      invoker: lambda,
      fanOutConcurrency: concurrency,
    });
    const lambda: FanOutInvoker = {
      async invoke(job: FanOutJob) {
        await sleep(invokeMs);
        const startedAt = Date.now();
        running.push(
          runFanOutJob(workerDeps(), JSON.parse(JSON.stringify(job)), { remainingMs: () => 115_000 }).finally(
            () => {
              workerMs += Date.now() - startedAt;
            },
          ),
        );
      },
    };
    const offload =
      mode === 'workers'
        ? new FanOutDispatcher({
            invoker: lambda,
            callbackUrl: 'https://example/prod',
            settings: { threshold, chunkSize: 5_000, ratePerSecond: rate, workerPostsInFlight: concurrency },
          })
        : undefined;
    const chat = new ChatService({
      notifier,
      registry,
      fanOutConcurrency: concurrency,
      presence,
      messages: new DynamoMessageStore(client, names.messages),
      groups: new DynamoGroupStore(client, names.groups),
      settings: { maxContentLength: 4000, broadcastAllowAll: true },
      ...(offload ? { offload } : {}),
    });
    const startedAt = Date.now();
    const reply = await chat.broadcast({ userId: 'admin', roles: ['admin'] }, { message: 'timing' });
    const handlerMs = Date.now() - startedAt;
    while (running.length > 0) await Promise.all(running.splice(0));
    const allMs = (lastPostAt || Date.now()) - startedAt;
    console.log(
      `  ${mode.padEnd(7)} handler ${String(handlerMs).padStart(6)} ms   summed ${String(handlerMs + workerMs).padStart(6)} ms   ` +
        `last push ${String(allMs).padStart(6)} ms   ` +
        `posts ${posts}   reply ${JSON.stringify({ sent_count: reply.sent_count, queued: reply.queued })}`,
    );
  }
}

console.log(
  `post ${postMs} ms, Invoke ${invokeMs} ms, ${concurrency} posts in flight per fan-out, ` +
    `workers: threshold ${threshold}, ${rate} posts/s`,
);
try {
  for (const size of sizes) await measure(size);
} finally {
  raw.destroy();
  server.close();
}
