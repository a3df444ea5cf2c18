/**
 * DynamoDB for the local runtime: dynalite (on the runtime's thread, or in a thread of its
 * own), served through the runtime's own port (requests carrying
 * `x-amz-target: DynamoDB_20120810.*`), persisted in a directory or kept in memory; and table creation from `tableDefinitions`, which works
 * against any endpoint (dynalite, DynamoDB Local, LocalStack, AWS).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { tableDefinitions } from '../lib/table-definitions.ts';
import { createTableInput } from '../lib/table-input.ts';
import { openDynalite } from './dynamodb-dynalite.ts';
import type { DynamoDbWorkerData, FromDynamoDbWorker, ToDynamoDbWorker } from './dynamodb-worker.ts';
import { sendAwsError } from './http-util.ts';
import type { Logger } from './log.ts';
import {
  addMissingIndexes,
  finishInterruptedRebuild,
  type TableHost,
  waitUntilActive,
} from './table-migration.ts';
import { startTypeScriptWorker } from './worker-threads.ts';

export const DYNAMODB_TARGET_PREFIX = 'DynamoDB_20120810.';

export function isDynamoDbRequest(req: IncomingMessage): boolean {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' && target.startsWith(DYNAMODB_TARGET_PREFIX);
}

export interface EmbeddedDynamoDb {
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process killed with `kill -9` stays in the process table until its parent reaps it,
 * which a container's init may never do; signal 0 still reaches it, but it holds no
 * files (LevelDB's lock is gone with it). Linux tells from `/proc/<pid>/stat`.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false; // no /proc (macOS): signal 0 is all there is
  }
}

/**
 * Claims the data directory for this process. LevelDB allows one opener, and dynalite
 * turns the lock failure into an uncaught exception on the first request, so a second
 * runtime on the same directory is stopped here with a readable message instead.
 */
function claimDataDir(dataDir: string): () => void {
  const pidFile = join(dataDir, 'local-runtime.pid');
  let owner: number | undefined;
  try {
    owner = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    owner = undefined;
  }
  if (owner && owner !== process.pid && processIsAlive(owner)) {
    throw new Error(
      `${dataDir} is in use by another local runtime (process ${owner}). Stop it, or pass --data-dir <another dir> or --in-memory.`,
    );
  }
  writeFileSync(pidFile, String(process.pid));
  return () => rmSync(pidFile, { force: true });
}

/** `1`: dynalite runs in a thread of its own (dynamodb-worker.ts) instead of the runtime's thread. */
export const DYNAMODB_THREAD_VARIABLE = 'DYNAMODB_THREAD';

/**
 * Starts dynalite without a public port of its own: DynamoDB requests on the runtime's
 * port are handed to its request listener. By default it runs on the runtime's thread;
 * with `DYNAMODB_THREAD=1` in a worker thread (`dynamodb-worker.ts`), so its work
 * (validation, expression parsing, the store, JSON) uses another core, at the price of
 * two messages between threads per request (see docs/soak.md for when that pays).
 */
export async function startEmbeddedDynamoDb(dataDir: string | undefined): Promise<EmbeddedDynamoDb> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const release = dataDir ? claimDataDir(dataDir) : () => {};
  try {
    const embedded =
      process.env[DYNAMODB_THREAD_VARIABLE] === '1'
        ? await startInWorker(dataDir)
        : await startInProcess(dataDir);
    return { handle: embedded.handle, close: () => embedded.close().finally(release) };
  } catch (error) {
    release();
    throw error;
  }
}

async function startInProcess(dataDir: string | undefined): Promise<EmbeddedDynamoDb> {
  const { listener, close } = await openDynalite(dataDir);
  return { handle: (req, res) => listener(req, res), close };
}

/**
 * The request headers dynalite looks at (index.js: CORS, content type, target, the
 * authorization's form and date); the rest would only make each message to its thread
 * longer to copy.
 */
const DYNALITE_HEADERS = [
  'origin',
  'access-control-request-headers',
  'access-control-request-method',
  'content-type',
  'x-amz-target',
  'authorization',
  'x-amz-date',
  'date',
] as const;

function headersDynaliteReads(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const read: Record<string, string | string[]> = {};
  for (const name of DYNALITE_HEADERS) {
    const value = headers[name];
    if (value !== undefined) read[name] = value;
  }
  return read as IncomingHttpHeaders;
}

async function startInWorker(dataDir: string | undefined): Promise<EmbeddedDynamoDb> {
  const workerData: DynamoDbWorkerData = { dataDir };
  const worker = startTypeScriptWorker(new URL('./dynamodb-worker.ts', import.meta.url), {
    workerData,
    name: 'dynamodb',
  });
  const pending = new Map<number, ServerResponse>();
  let nextId = 0;
  let closing: Promise<void> | undefined;
  let onClosed: ((message: { error?: string }) => void) | undefined;

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) =>
      reject(new Error(`The DynamoDB thread failed to start: ${error.message}`, { cause: error }));
    const exited = (code: number) =>
      reject(new Error(`The DynamoDB thread exited with ${code} while starting.`));
    worker.once('error', failed);
    worker.once('exit', exited);
    worker.once('message', (message: FromDynamoDbWorker) => {
      worker.off('error', failed);
      worker.off('exit', exited);
      if (message.type === 'ready') resolve();
      else reject(new Error(`The DynamoDB thread sent ${message.type} before it was ready.`));
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });

  worker.on('message', (message: FromDynamoDbWorker) => {
    if (message.type === 'response') {
      const res = pending.get(message.id);
      if (!res) return;
      pending.delete(message.id);
      res.writeHead(message.status, message.headers);
      res.end(message.body);
    } else if (message.type === 'closed') onClosed?.(message);
  });
  // What an exception inside dynalite did when it ran on the runtime's thread: it ends the process.
  worker.on('error', (error) => {
    process.nextTick(() => {
      throw error;
    });
  });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (closing) {
      req.resume();
      return sendAwsError(res, 503, 'ServiceUnavailableException', 'The embedded DynamoDB is closing');
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = nextId++;
      pending.set(id, res);
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const message: ToDynamoDbWorker = {
        type: 'request',
        id,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: headersDynaliteReads(req.headers),
        body: body.toString('utf8'),
      };
      worker.postMessage(message);
    });
  };

  const close = () => {
    closing ??= new Promise<void>((resolve, reject) => {
      onClosed = ({ error }) => {
        void worker.terminate();
        if (error) reject(new Error(`Closing the embedded DynamoDB failed: ${error}`));
        else resolve();
      };
      worker.postMessage({ type: 'close' } satisfies ToDynamoDbWorker);
    });
    return closing;
  };
  return { handle, close };
}

/** Enables TTL; false when the endpoint does not support it (dynalite), where expired rows simply stay. */
async function enableTimeToLive(client: DynamoDBClient, name: string, attribute: string): Promise<boolean> {
  try {
    const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
    const status = TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') return true;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the missing tables of `tableDefinitions`, adds the indexes a release added to
 * tables that exist (table-migration.ts: how depends on `host`), and waits until they are ACTIVE.
 */
export async function ensureTables(
  endpoint: string,
  region: string,
  credentials: { readonly accessKeyId: string; readonly secretAccessKey: string },
  logger: Logger,
  host: TableHost = { kind: 'configured', endpoint },
): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region, credentials });
  let ttlSupported = true;
  try {
    for (const table of Object.values(tableDefinitions)) {
      const name = table.localName;
      let created = false;
      try {
        await client.send(new CreateTableCommand(createTableInput(table, name)));
        created = true;
        logger.info(`DDB created table ${name}`);
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      const description = await waitUntilActive(client, name);
      if (host.kind === 'embedded' && host.dataDir) {
        const restored = await finishInterruptedRebuild(client, name, host.dataDir);
        if (restored !== undefined)
          logger.warn(
            `DDB table ${name}: an earlier start stopped while rebuilding it; ${restored} items restored from its copy`,
          );
      }
      if (!created) await addMissingIndexes(client, table, name, description, host, logger);
      // Also after a table was rebuilt with a missing index: TTL is a setting of the table.
      if (ttlSupported && table.timeToLiveAttribute) {
        ttlSupported = await enableTimeToLive(client, name, table.timeToLiveAttribute);
        if (!ttlSupported)
          logger.info('DDB this endpoint has no TTL: expired rows stay (handlers treat them as gone)');
      }
    }
  } finally {
    client.destroy();
  }
}
