/**
 * What one benchmarked operation cost, counted inside the runtime host: DynamoDB requests
 * and capacity (from functions/runtime/capacity.ts), requests seen at the DynamoDB
 * endpoint (a cross-check that no client escaped the middleware), Management API calls and
 * Lambda invocations with their handler time.
 *
 * dynalite reports base-table capacity only, and nothing for a failed conditional write.
 * DynamoDB also charges those: writes to global secondary indexes (one write request unit
 * per KB of projected item for each index the item enters, leaves or changes in) and a
 * conditional write whose condition failed. Both are estimated here from the request and
 * lib/table-definitions.ts, and reported separately from what the endpoint reported.
 */
import type { DynamoDbRequestRecord } from '../../functions/runtime/capacity.ts';
import { type TableDefinition, tableDefinitions } from '../../lib/table-definitions.ts';

export interface OperationTotals {
  requests: number;
  readUnits: number;
  writeUnits: number;
  /** Estimated index write units (not reported by dynalite). */
  indexWriteUnits: number;
}

export interface LambdaTotals {
  invocations: number;
  /** Handler time in this process, summed (not Lambda duration: see docs/performance.md). */
  handlerMs: number;
  /** The same, each invocation rounded up to 1 ms as Lambda bills. */
  billedMs: number;
}

export interface Snapshot {
  readonly dynamo: {
    readonly requests: number;
    readonly readUnits: number;
    readonly writeUnits: number;
    readonly indexWriteUnits: number;
    /** Conditional writes whose condition failed: 1 write unit each on DynamoDB (estimate). */
    readonly failedConditionalWrites: number;
    readonly failedRequests: number;
    /** `Operation table` → totals, e.g. `GetItem chat-presence`. */
    readonly byOperation: Readonly<Record<string, OperationTotals>>;
  };
  /** Requests that reached the DynamoDB endpoint, by operation (all clients). */
  readonly endpoint: { readonly requests: number; readonly byOperation: Readonly<Record<string, number>> };
  /** Management API calls by `METHOD status`. */
  readonly management: Readonly<Record<string, number>>;
  readonly lambda: Readonly<Record<string, LambdaTotals>>;
}

const definitionsByName = new Map<string, TableDefinition>(
  Object.values(tableDefinitions).map((definition) => [definition.localName, definition]),
);

type Item = Record<string, unknown>;

const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'L', 'M', 'BOOL', 'NULL']);

/**
 * Whether `value` is a low-level attribute value (`{ S: "…" }`). The handlers' document
 * clients hand the middleware native values (strings, numbers, sets, maps), which it sees
 * before they are marshalled; a raw client sends attribute values.
 */
function isAttributeValue(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || value instanceof Set || Array.isArray(value))
    return false;
  const keys = Object.keys(value);
  return keys.length === 1 && ATTRIBUTE_TYPES.has(keys[0] as string);
}

const numberSize = (raw: unknown) => Math.ceil(String(raw).replace(/^-/, '').replace('.', '').length / 2) + 1;

/** DynamoDB's item size rules, roughly: names plus values (UTF-8 bytes; numbers ~ half their digits). */
function valueSize(value: unknown): number {
  if (isAttributeValue(value)) {
    const [type, raw] = Object.entries(value)[0] as [string, unknown];
    switch (type) {
      case 'S':
        return Buffer.byteLength(String(raw));
      case 'N':
        return numberSize(raw);
      case 'B':
        return typeof raw === 'string'
          ? Buffer.from(raw, 'base64').length
          : ((raw as Uint8Array).length ?? 0);
      case 'SS':
        return (raw as string[]).reduce((sum, s) => sum + Buffer.byteLength(s), 0);
      case 'NS':
        return (raw as string[]).reduce((sum, s) => sum + numberSize(s), 0);
      case 'L':
        return 3 + (raw as unknown[]).reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
      case 'M':
        return 3 + itemSize(raw as Item);
      default:
        return 1;
    }
  }
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') return numberSize(value);
  if (value instanceof Uint8Array) return value.length;
  if (value instanceof Set) return [...value].reduce((sum: number, v) => sum + valueSize(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueSize(v), 0);
  if (value !== null && typeof value === 'object') return 3 + itemSize(value as Item);
  return 1;
}

export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

const kb = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

function indexesOf(table: string) {
  return definitionsByName.get(table)?.indexes ?? [];
}

function inIndex(index: TableDefinition['indexes'][number], item: Item): boolean {
  return (
    item[index.partitionKey.name] !== undefined && (!index.sortKey || item[index.sortKey.name] !== undefined)
  );
}

function projectedSize(
  index: TableDefinition['indexes'][number],
  item: Item,
  table: TableDefinition,
): number {
  if (index.projection === 'ALL') return itemSize(item);
  const keep = new Set([
    table.partitionKey.name,
    ...(table.sortKey ? [table.sortKey.name] : []),
    index.partitionKey.name,
    ...(index.sortKey ? [index.sortKey.name] : []),
    ...(index.projection === 'KEYS_ONLY' ? [] : index.projection),
  ]);
  return itemSize(Object.fromEntries(Object.entries(item).filter(([name]) => keep.has(name))));
}

function putIndexWrites(tableName: string, item: Item): number {
  const table = definitionsByName.get(tableName);
  if (!table) return 0;
  let units = 0;
  for (const index of table.indexes) if (inIndex(index, item)) units += kb(projectedSize(index, item, table));
  return units;
}

/** Attribute names an update expression touches, with `#aliases` resolved. */
function touchedAttributes(input: Record<string, unknown>): Set<string> {
  const expression = String(input.UpdateExpression ?? '');
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const touched = new Set<string>();
  for (const token of expression.match(/#?[A-Za-z_][\w]*/g) ?? []) {
    touched.add(token.startsWith('#') ? (names[token] ?? token) : token);
  }
  return touched;
}

/** Estimated index write units of one successful request (0 for reads and tables without indexes). */
export function estimateIndexWrites(record: DynamoDbRequestRecord): number {
  const input = record.input as Record<string, unknown>;
  switch (record.operation) {
    case 'PutItem':
      return putIndexWrites(String(input.TableName), (input.Item ?? {}) as Item);
    case 'UpdateItem': {
      const touched = touchedAttributes(input);
      let units = 0;
      for (const index of indexesOf(String(input.TableName))) {
        const attributes =
          index.projection === 'ALL' || index.projection === 'KEYS_ONLY'
            ? [index.partitionKey.name, ...(index.sortKey ? [index.sortKey.name] : [])]
            : [index.partitionKey.name, ...(index.sortKey ? [index.sortKey.name] : []), ...index.projection];
        // An ALL projection changes with any attribute of an item in the index (assumed in it).
        if (index.projection === 'ALL' || attributes.some((name) => touched.has(name))) units += 1;
      }
      return units;
    }
    case 'DeleteItem': {
      const old = (record.output?.Attributes ?? undefined) as Item | undefined;
      const indexes = indexesOf(String(input.TableName));
      // Without the old item, assume it was in every index (an upper bound).
      return old ? indexes.filter((index) => inIndex(index, old)).length : indexes.length;
    }
    case 'BatchWriteItem': {
      let units = 0;
      const requestItems = (input.RequestItems ?? {}) as Record<string, Record<string, unknown>[]>;
      const unprocessed = (record.output?.UnprocessedItems ?? {}) as Record<string, unknown[]>;
      for (const [table, requests] of Object.entries(requestItems)) {
        if ((unprocessed[table]?.length ?? 0) > 0) continue; // retried: counted when it succeeds
        for (const request of requests) {
          const put = request.PutRequest as { Item?: Item } | undefined;
          if (put?.Item) units += putIndexWrites(table, put.Item);
          else if (request.DeleteRequest) units += indexesOf(table).length;
        }
      }
      return units;
    }
    default:
      return 0;
  }
}

const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

export class Accounting {
  private dynamo = Accounting.emptyDynamo();
  private endpoint = { requests: 0, byOperation: {} as Record<string, number> };
  private lambda: Record<string, LambdaTotals> = {};
  /** When anything was last counted (performance.now()). */
  lastActivity = performance.now();
  /** Off while the host seeds data directly. */
  counting = true;

  private static emptyDynamo() {
    return {
      requests: 0,
      readUnits: 0,
      writeUnits: 0,
      indexWriteUnits: 0,
      failedConditionalWrites: 0,
      failedRequests: 0,
      byOperation: {} as Record<string, OperationTotals>,
    };
  }

  reset(): void {
    this.dynamo = Accounting.emptyDynamo();
    this.endpoint = { requests: 0, byOperation: {} };
    this.lambda = {};
  }

  dynamoRequest(record: DynamoDbRequestRecord): void {
    this.lastActivity = performance.now();
    if (!this.counting) return;
    const d = this.dynamo;
    d.requests++;
    const key = `${record.operation} ${record.tables.join(',') || '-'}`;
    const entry = d.byOperation[key] ?? { requests: 0, readUnits: 0, writeUnits: 0, indexWriteUnits: 0 };
    d.byOperation[key] = entry;
    entry.requests++;
    if (record.error) {
      d.failedRequests++;
      if (record.error === 'ConditionalCheckFailedException' && WRITE_OPERATIONS.has(record.operation)) {
        d.failedConditionalWrites++;
      }
      return;
    }
    const indexWrites = estimateIndexWrites(record);
    d.readUnits += record.readUnits;
    d.writeUnits += record.writeUnits;
    d.indexWriteUnits += indexWrites;
    entry.readUnits += record.readUnits;
    entry.writeUnits += record.writeUnits;
    entry.indexWriteUnits += indexWrites;
  }

  endpointRequest(operation: string): void {
    this.lastActivity = performance.now();
    if (!this.counting) return;
    this.endpoint.requests++;
    this.endpoint.byOperation[operation] = (this.endpoint.byOperation[operation] ?? 0) + 1;
  }

  invocation(functionId: string, ms: number): void {
    this.lastActivity = performance.now();
    if (!this.counting) return;
    const entry = this.lambda[functionId] ?? { invocations: 0, handlerMs: 0, billedMs: 0 };
    this.lambda[functionId] = entry;
    entry.invocations++;
    entry.handlerMs += ms;
    entry.billedMs += Math.max(1, Math.ceil(ms));
  }

  touch(): void {
    this.lastActivity = performance.now();
  }

  snapshot(management: Record<string, number>): Snapshot {
    return structuredClone({ dynamo: this.dynamo, endpoint: this.endpoint, management, lambda: this.lambda });
  }
}
