/** Opening and closing connections: the connection row plus the user's presence record. */
import type { Identity } from './auth.ts';
import type { ConnectionRecord, ConnectionStore, PresenceStore } from './ports.ts';

export interface ConnectionRegistryDependencies {
  readonly connections: ConnectionStore;
  readonly presence: PresenceStore;
  readonly connectionTtlSeconds: number;
  readonly now?: () => Date;
}

export class ConnectionRegistry {
  constructor(private readonly deps: ConnectionRegistryDependencies) {}

  async open(connectionId: string, identity: Identity): Promise<ConnectionRecord> {
    const now = this.deps.now?.() ?? new Date();
    const record: ConnectionRecord = {
      connectionId,
      userId: identity.userId,
      roles: identity.roles,
      connectedAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + this.deps.connectionTtlSeconds,
      tokenExpiresAt: identity.expiresAt,
    };
    // Row first: a presence entry must never point at a connection nobody can look up.
    await this.deps.connections.put(record);
    await this.deps.presence.addConnection(identity.userId, connectionId, record.expiresAt);
    return record;
  }

  /**
   * Removes a connection that closed or answered 410. `userIdHint` covers a row that
   * is already gone (TTL), so the presence record is still cleaned.
   */
  async close(connectionId: string, userIdHint?: string): Promise<void> {
    const removed = await this.deps.connections.delete(connectionId);
    const userId = removed?.userId ?? userIdHint;
    if (userId) await this.deps.presence.removeConnection(userId, connectionId);
  }

  lookup(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.deps.connections.get(connectionId);
  }
}
