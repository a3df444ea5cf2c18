/**
 * DynamoDB for the local runtime: dynalite in this process, served through the runtime's
 * own port (requests carrying `x-amz-target: DynamoDB_20120810.*`), persisted in a
 * directory or kept in memory; and table creation from `tableDefinitions`, which works
 * against any endpoint (dynalite, DynamoDB Local, LocalStack, AWS).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { tableDefinitions } from '../lib/table-definitions.ts';
import { createTableInput } from '../lib/table-input.ts';
import type { Logger } from './log.ts';

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
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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

/**
 * Starts dynalite without a public port of its own: its request listener is called for
 * DynamoDB requests on the runtime's port. dynalite closes its LevelDB only through
 * `server.close()`, which fails on a server that never listened, so it also listens on
 * an ephemeral loopback port nobody uses; closing then releases the database, and a
 * restart in the same process can open the same directory again.
 */
export async function startEmbeddedDynamoDb(dataDir: string | undefined): Promise<EmbeddedDynamoDb> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const release = dataDir ? claimDataDir(dataDir) : () => {};
  const server: Server = dynalite({
    ...(dataDir ? { path: dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const listener = server.listeners('request')[0] as RequestListener | undefined;
  if (!listener) {
    release();
    throw new Error('dynalite exposes no request listener; its version is not supported.');
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    release();
    throw error;
  }
  return {
    handle: (req, res) => listener(req, res),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }).finally(release),
  };
}

async function waitUntilActive(client: DynamoDBClient, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    const indexesReady = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesReady) return;
    if (Date.now() > deadline) throw new Error(`Table ${name} did not become ACTIVE within 60 s.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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

/** Creates the missing tables of `tableDefinitions` and waits until they are ACTIVE. */
export async function ensureTables(endpoint: string, region: string, logger: Logger): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region });
  let ttlSupported = true;
  try {
    for (const table of Object.values(tableDefinitions)) {
      const name = table.localName;
      try {
        await client.send(new CreateTableCommand(createTableInput(table, name)));
        logger.info(`DDB created table ${name}`);
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilActive(client, name);
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
