/** Opening and closing connections: the connection row plus the user's presence record. */
import type { Identity } from './auth.ts';
import type { ConnectionRecord, ConnectionStore, PresenceStore, RoomStore } from './ports.ts';

export type PresenceStatus = 'online' | 'offline';

export interface ConnectionRegistryDependencies {
  readonly connections: ConnectionStore;
  readonly presence: PresenceStore;
  readonly rooms: RoomStore;
  readonly connectionTtlSeconds: number;
  readonly now?: () => Date;
  /**
   * Called when a user's first connection opened or their last one closed (not once per
   * device). Failures are the callee's to log; they never fail the connect or close.
   */
  readonly onPresenceChange?: (userId: string, status: PresenceStatus) => Promise<void>;
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
    const { cameOnline } = await this.deps.presence.addConnection(
      identity.userId,
      connectionId,
      record.expiresAt,
    );
    if (cameOnline) await this.notifyPresence(identity.userId, 'online');
    return record;
  }

  /**
   * Removes a connection that closed or answered 410. `userIdHint` covers a row that
   * is already gone (TTL), so the presence record is still cleaned.
   */
  async close(connectionId: string, userIdHint?: string): Promise<void> {
    const removed = await this.deps.connections.delete(connectionId);
    if (removed?.rooms?.length) await this.deps.rooms.removeConnection(connectionId, removed.rooms);
    const userId = removed?.userId ?? userIdHint;
    if (!userId) return;
    const { wentOffline } = await this.deps.presence.removeConnection(userId, connectionId);
    if (wentOffline) await this.notifyPresence(userId, 'offline');
  }

  private async notifyPresence(userId: string, status: PresenceStatus): Promise<void> {
    try {
      await this.deps.onPresenceChange?.(userId, status);
    } catch {
      // Presence pushes are best effort; the callee logs its failures.
    }
  }

  lookup(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.deps.connections.get(connectionId);
  }
}
