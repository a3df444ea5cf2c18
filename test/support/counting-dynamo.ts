/**
 * An in-memory dynalite that records every request it answers (operation and table), to
 * count what a command costs in DynamoDB requests, whoever sends them: handlers in this
 * process, the local runtime (pointed at it with DYNAMODB_ENDPOINT) or a test's own client.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { tableDefinitions } from '../../lib/table-definitions.ts';

export interface DynamoRequest {
  /** `GetItem`, `PutItem`, … (from `X-Amz-Target`). */
  readonly operation: string;
  /** `TableName`, or the tables of a batch, comma-separated. */
  readonly table: string;
}

export interface CountingDynamo {
  readonly endpoint: string;
  /** Starts recording (forgetting what was recorded before). */
  start(): void;
  /** Stops recording and returns what was recorded since `start`. */
  stop(): DynamoRequest[];
  /** Resolves once no request has arrived for `quietMs` (at most `timeoutMs`). */
  idle(quietMs?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function tablesOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { TableName?: string; RequestItems?: Record<string, unknown> };
    if (parsed.TableName) return parsed.TableName;
    if (parsed.RequestItems) return Object.keys(parsed.RequestItems).sort().join(',');
  } catch {
    // not JSON: leave the table unknown
  }
  return '?';
}

export async function startCountingDynamo(): Promise<CountingDynamo> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let recording: DynamoRequest[] | undefined;
  let lastRequestAt = Date.now();
  // Runs before dynalite's own listener; both read the body (a 'data' listener each).
  server.prependListener('request', (req: IncomingMessage) => {
    lastRequestAt = Date.now();
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recording?.push({ operation, table: tablesOf(Buffer.concat(chunks).toString('utf8')) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    start() {
      recording = [];
    },
    stop() {
      const recorded = recording ?? [];
      recording = undefined;
      return recorded;
    },
    async idle(quietMs = 300, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() - lastRequestAt < quietMs) {
        if (Date.now() > deadline) throw new Error(`DynamoDB did not go quiet within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `{ 'GetItem presence': 1, … }`: requests by operation and table, for assertions and reports. */
export function tally(requests: readonly DynamoRequest[], tableLabel: (table: string) => string = (t) => t) {
  const counts: Record<string, number> = {};
  for (const { operation, table } of requests) {
    const key = `${operation} ${tableLabel(table)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** The runtime's local table names (`chat-guards`) by their table ids (`guards`). */
const localTableIds = new Map(
  Object.entries(tableDefinitions).map(([id, definition]) => [definition.localName, id]),
);

/**
 * A `tally` label for the local runtime's tables: `chat-guards` → `guards`; a batch across
 * tables is labelled with each table's id: `conversations,messages`.
 */
export function localTableLabel(tables: string): string {
  return tables
    .split(',')
    .map((table) => localTableIds.get(table) ?? table)
    .join(',');
}
