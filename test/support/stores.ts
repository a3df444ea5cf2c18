/**
 * The product's DynamoDB stores on an in-memory dynalite (see dynamo.ts), registries over
 * them, and the identities, connections, groups and messages tests set up with them.
 */
import type { Identity } from '../../functions/core/auth/auth.ts';
import {
  ConnectionRegistry,
  type ConnectionRegistryDependencies,
} from '../../functions/core/connections/connections.ts';
import { newGroupId, newMessageId, privateRoomId } from '../../functions/core/shared/ids.ts';
import type { GroupStore, StoredMessage } from '../../functions/core/shared/ports.ts';
import { DynamoConnectionStore } from '../../functions/stores/connections.ts';
import { DynamoConversationIndex } from '../../functions/stores/conversations.ts';
import { DynamoGroupStore } from '../../functions/stores/groups.ts';
import { DynamoMessageStore } from '../../functions/stores/messages.ts';
import { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { DynamoReadStateStore } from '../../functions/stores/read-state.ts';
import { DynamoRoomStore } from '../../functions/stores/rooms.ts';
import { startTestDynamo, type TestDynamo } from './dynamo.ts';

/** Connection rows live this long in the tests' registries (the product's default). */
export const TEST_CONNECTION_TTL_SECONDS = 7800;

export type RegistryOptions = Partial<
  Omit<ConnectionRegistryDependencies, 'connections' | 'presence' | 'rooms'>
>;

export interface TestStores {
  readonly dynamo: TestDynamo;
  readonly connections: DynamoConnectionStore;
  readonly presence: DynamoPresenceStore;
  readonly messages: DynamoMessageStore;
  readonly groups: DynamoGroupStore;
  readonly rooms: DynamoRoomStore;
  readonly readState: DynamoReadStateStore;
  readonly conversations: DynamoConversationIndex;
  /** A registry over these stores, with `options` (handshake window, clock, presence hook) on top. */
  registry(options?: RegistryOptions): ConnectionRegistry;
  stop(): Promise<void>;
}

/** Starts a dynalite with the product's tables and builds every store on it. */
export async function startTestStores(): Promise<TestStores> {
  const dynamo = await startTestDynamo();
  const { client, tables } = dynamo;
  const connections = new DynamoConnectionStore(client, tables.connections);
  const presence = new DynamoPresenceStore(client, tables.presence);
  const rooms = new DynamoRoomStore(client, tables.rooms);
  return {
    dynamo,
    connections,
    presence,
    messages: new DynamoMessageStore(client, tables.messages),
    groups: new DynamoGroupStore(client, tables.groups),
    rooms,
    readState: new DynamoReadStateStore(client, tables.readState),
    conversations: new DynamoConversationIndex(client, { messages: tables.messages, groups: tables.groups }),
    registry: (options = {}) =>
      new ConnectionRegistry({
        connections,
        presence,
        rooms,
        connectionTtlSeconds: TEST_CONNECTION_TTL_SECONDS,
        ...options,
      }),
    stop: () => dynamo.stop(),
  };
}

/** A verified identity whose token expires in an hour. */
export function identity(userId: string, roles: readonly string[] = []): Identity {
  return { userId, roles, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
}

/** Names connections `<prefix>-1`, `<prefix>-2`, … and opens them. */
export class ConnectionOpener {
  private count = 0;

  constructor(private readonly prefix: string) {}

  /** The next connection id. */
  nextId(): string {
    return `${this.prefix}-${++this.count}`;
  }

  /** Opens the next connection of `userId` through `registry`; returns its id. */
  async open(registry: ConnectionRegistry, userId: string, roles: readonly string[] = []): Promise<string> {
    const connectionId = this.nextId();
    await registry.open(connectionId, identity(userId, roles));
    return connectionId;
  }
}

/** Creates a group named after its id; the first member created it. */
export async function createTestGroup(
  groups: GroupStore,
  groupId: string,
  memberIds: string[],
  createdAt: Date,
): Promise<void> {
  await groups.create({
    groupId,
    groupName: groupId,
    createdBy: memberIds[0] as string,
    createdAt: createdAt.toISOString(),
    memberIds,
  });
}

/** Creates a group as `create_group` would store it: `creatorId` owns it, ids deduplicated. */
export async function createGroupAs(
  groups: GroupStore,
  creatorId: string,
  memberIds: readonly string[],
  groupName = 'group',
): Promise<{ group_id: string; member_ids: string[] }> {
  const group_id = newGroupId();
  const member_ids = [...new Set([creatorId, ...memberIds])];
  await groups.create({
    groupId: group_id,
    groupName,
    createdBy: creatorId,
    createdAt: new Date().toISOString(),
    memberIds: member_ids,
  });
  return { group_id, member_ids };
}

/** A private text message from `from` to `to`, sent at `at` (its id is a ULID of that time). */
export function privateMessage(
  from: string,
  to: string,
  at: Date,
  extra: Partial<StoredMessage> = {},
): StoredMessage {
  return {
    roomId: privateRoomId(from, to),
    messageId: newMessageId(at),
    kind: 'private',
    fromUserId: from,
    toUserId: to,
    content: 'hello',
    messageType: 1,
    createdAt: at.toISOString(),
    ...extra,
  };
}
