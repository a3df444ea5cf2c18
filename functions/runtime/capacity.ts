/**
 * Opt-in accounting of DynamoDB requests and the capacity they consume, for benchmarks and
 * cost investigations: an SDK v3 middleware on the container's DynamoDB client that asks
 * for `ReturnConsumedCapacity: 'TOTAL'` on every data-plane command and reports each
 * request (command, tables, consumed capacity).
 *
 * `DYNAMODB_CAPACITY` (read when the client is built, i.e. at cold start):
 * - unset / `off` (default): the client is left alone; nothing is requested or recorded.
 * - `report`: every request is passed to the listeners registered with `onDynamoDbRequest`
 *   (in-process: the benchmark's runtime host).
 * - `metrics`: as `report`, and one metric event per request (`DynamoDBRequests`,
 *   `DynamoDBReadUnits`, `DynamoDBWriteUnits`, dimension `Route` from the log context),
 *   i.e. one EMF log line per request: per-route cost in CloudWatch, paid for with log
 *   volume, so meant for a limited time.
 *
 * Capacity is what the endpoint reports: DynamoDB includes the writes to global secondary
 * indexes in `CapacityUnits`; dynalite (the local runtime) reports the base table only.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { logContext } from './logger.ts';
import { emitMetrics } from './metrics.ts';

export const CAPACITY_ENV_VAR = 'DYNAMODB_CAPACITY';

export type CapacityMode = 'off' | 'report' | 'metrics';

/** Commands that accept `ReturnConsumedCapacity`. */
const CAPACITY_COMMANDS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
  'ExecuteStatement',
  'BatchExecuteStatement',
  'ExecuteTransaction',
]);

const READ_COMMANDS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

export interface ConsumedCapacityEntry {
  readonly TableName?: string;
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
}

/** One DynamoDB request as seen by the client. */
export interface DynamoDbRequestRecord {
  /** The API operation: `GetItem`, `Query`, `BatchWriteItem`, … */
  readonly operation: string;
  /** Tables the request named (`TableName`, or the keys of `RequestItems`). */
  readonly tables: readonly string[];
  readonly readUnits: number;
  readonly writeUnits: number;
  /** What the endpoint returned as `ConsumedCapacity` (absent when it returned none). */
  readonly consumedCapacity?: readonly ConsumedCapacityEntry[];
  /**
   * The command's input, for finer accounting: native values (strings, numbers, sets) from a
   * document client, which marshals after this middleware; attribute values from a raw client.
   */
  readonly input: Readonly<Record<string, unknown>>;
  /** The response (low-level), or undefined when the request failed. */
  readonly output?: Readonly<Record<string, unknown>>;
  /** The error's name when the request failed. */
  readonly error?: string;
}

export type DynamoDbRequestListener = (record: DynamoDbRequestRecord) => void;

const listeners = new Set<DynamoDbRequestListener>();

/** Registers a listener for every request of clients built with reporting on; returns its removal. */
export function onDynamoDbRequest(listener: DynamoDbRequestListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function capacityMode(env: NodeJS.ProcessEnv = process.env): CapacityMode {
  const value = env[CAPACITY_ENV_VAR]?.trim().toLowerCase();
  return value === 'report' || value === 'metrics' ? value : 'off';
}

function tablesOf(input: Record<string, unknown>): string[] {
  if (typeof input.TableName === 'string') return [input.TableName];
  const items = input.RequestItems;
  return items && typeof items === 'object' ? Object.keys(items) : [];
}

function entriesOf(consumed: unknown): ConsumedCapacityEntry[] | undefined {
  if (consumed === undefined || consumed === null) return undefined;
  return (Array.isArray(consumed) ? consumed : [consumed]) as ConsumedCapacityEntry[];
}

/** Read and write units of a response: the split DynamoDB reports, else by the kind of operation. */
export function unitsOf(
  operation: string,
  entries: readonly ConsumedCapacityEntry[] | undefined,
): { readUnits: number; writeUnits: number } {
  let readUnits = 0;
  let writeUnits = 0;
  for (const entry of entries ?? []) {
    if (entry.ReadCapacityUnits !== undefined || entry.WriteCapacityUnits !== undefined) {
      readUnits += entry.ReadCapacityUnits ?? 0;
      writeUnits += entry.WriteCapacityUnits ?? 0;
    } else if (READ_COMMANDS.has(operation)) readUnits += entry.CapacityUnits ?? 0;
    else writeUnits += entry.CapacityUnits ?? 0;
  }
  return { readUnits, writeUnits };
}

function report(record: DynamoDbRequestRecord, mode: CapacityMode): void {
  for (const listener of listeners) {
    try {
      listener(record);
    } catch {
      // A listener must never fail the request it observes.
    }
  }
  if (mode === 'metrics') {
    const route = logContext().routeKey;
    emitMetrics({
      values: {
        DynamoDBRequests: 1,
        DynamoDBReadUnits: record.readUnits,
        DynamoDBWriteUnits: record.writeUnits,
      },
      dimensions: { Route: typeof route === 'string' ? route : 'none' },
    });
  }
}

/**
 * Adds the accounting middleware to `client` when `DYNAMODB_CAPACITY` asks for it (see the
 * module comment); returns the client either way. Document clients built from it share
 * its middleware stack, so their commands are counted too.
 */
export function withCapacityReporting<T extends DynamoDBClient>(
  client: T,
  env: NodeJS.ProcessEnv = process.env,
): T {
  const mode = capacityMode(env);
  if (mode === 'off') return client;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
      const original = args.input as Record<string, unknown>;
      const input =
        CAPACITY_COMMANDS.has(operation) && original.ReturnConsumedCapacity === undefined
          ? { ...original, ReturnConsumedCapacity: 'TOTAL' }
          : original;
      const tables = tablesOf(input);
      try {
        const result = await next({ ...args, input });
        const output = result.output as unknown as Record<string, unknown>;
        const consumedCapacity = entriesOf(output.ConsumedCapacity);
        report(
          {
            operation,
            tables,
            ...unitsOf(operation, consumedCapacity),
            ...(consumedCapacity ? { consumedCapacity } : {}),
            input,
            output,
          },
          mode,
        );
        return result;
      } catch (error) {
        const name = error instanceof Error ? error.name : 'Error';
        report({ operation, tables, readUnits: 0, writeUnits: 0, input, error: name }, mode);
        throw error;
      }
    },
    // After the document client's marshalling (initialize), before serialization.
    { step: 'serialize', priority: 'high', name: 'chatConsumedCapacityReporter', override: true },
  );
  return client;
}
