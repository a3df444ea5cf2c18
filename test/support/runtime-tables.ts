/**
 * The runtime's DynamoDB tables, for checks a client cannot make (nothing written by a
 * refused handshake, a stale connection cleaned up) and for setting up state a client
 * cannot create (a connection whose `$disconnect` never came). Destroy when done.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { dynamoDbClient } from './local-runtime.ts';

export interface RuntimeTables {
  readonly client: DynamoDBDocumentClient;
  /** The local table names (what the runtime gives the handlers). */
  readonly names: Readonly<Record<TableId, string>>;
  /** Every item of a table, sorted by its JSON so snapshots compare with deepEqual. */
  scan(table: TableId): Promise<Record<string, unknown>[]>;
  connectionRow(connectionId: string): Promise<Record<string, unknown> | undefined>;
  /** The user's presence record's connection ids (sorted), or undefined when they have none. */
  presenceOf(userId: string): Promise<string[] | undefined>;
  /**
   * Moves an existing connection's `connectedAt` `ageMs` into the past, e.g. beyond the 30 s
   * handshake window, inside which a 410 or a sweep keeps the connection.
   */
  backdateConnection(connectionId: string, ageMs: number): Promise<void>;
  destroy(): void;
}

const localNames = Object.fromEntries(
  Object.entries(tableDefinitions).map(([id, definition]) => [id, definition.localName]),
) as Record<TableId, string>;

export function runtimeTables(runtime: LocalRuntime): RuntimeTables {
  const raw = dynamoDbClient(runtime);
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    client,
    names: localNames,
    async scan(table) {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: localNames[table],
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        );
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      const key = (item: unknown) =>
        JSON.stringify(item, (_k, v: unknown) => (v instanceof Set ? [...v] : v));
      return items.sort((a, b) => key(a).localeCompare(key(b)));
    },
    async connectionRow(connectionId) {
      const { Item } = await client.send(
        new GetCommand({ TableName: localNames.connections, Key: { connectionId }, ConsistentRead: true }),
      );
      return Item;
    },
    async presenceOf(userId) {
      const { Item } = await client.send(
        new GetCommand({ TableName: localNames.presence, Key: { userId }, ConsistentRead: true }),
      );
      const ids = Item?.connectionIds as Set<string> | undefined;
      return ids ? [...ids].sort() : undefined;
    },
    async backdateConnection(connectionId, ageMs) {
      await client.send(
        new UpdateCommand({
          TableName: localNames.connections,
          Key: { connectionId },
          UpdateExpression: 'SET connectedAt = :then',
          ConditionExpression: 'attribute_exists(connectionId)',
          ExpressionAttributeValues: { ':then': new Date(Date.now() - ageMs).toISOString() },
        }),
      );
    },
    destroy: () => raw.destroy(),
  };
}

/** The user's presence record's connection ids (sorted), or undefined: one read with a client of its own. */
export async function presenceIdsOf(runtime: LocalRuntime, userId: string): Promise<string[] | undefined> {
  const tables = runtimeTables(runtime);
  try {
    return await tables.presenceOf(userId);
  } finally {
    tables.destroy();
  }
}

/** `RuntimeTables.backdateConnection` with a client of its own; a minute by default. */
export async function backdateConnection(
  runtime: LocalRuntime,
  connectionId: string,
  ageMs = 60_000,
): Promise<void> {
  const tables = runtimeTables(runtime);
  try {
    await tables.backdateConnection(connectionId, ageMs);
  } finally {
    tables.destroy();
  }
}

/** How many items a group's partition holds (meta, member rows, invitations), read consistently. */
export async function groupItemCount(runtime: LocalRuntime, groupId: string): Promise<number> {
  const { Items } = await dynamoDbClient(runtime).send(
    new QueryCommand({
      TableName: localNames.groups,
      KeyConditionExpression: 'groupId = :g',
      ExpressionAttributeValues: { ':g': { S: groupId } },
      ConsistentRead: true,
    }),
  );
  return Items?.length ?? 0;
}
