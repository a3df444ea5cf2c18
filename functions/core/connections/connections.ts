/** Opening and closing connections: the connection row plus the user's presence record. */
import type { Identity } from '../auth/auth.ts';
import {
  connectionClosed,
  connectionOpened,
  type EventPublisher,
  presenceChanged,
} from '../events/app-events.ts';
import { type OnlineGroupMarks, onlineSessionToken } from '../groups/online-members.ts';
import type { ConnectionRecord, ConnectionStore, PresenceStore, RoomStore } from '../shared/ports.ts';

/** Presence entries checked for staleness when the connection limit is hit (one batched read). */
export const MAX_STALE_CHECK = 100;

export type PresenceStatus = 'online' | 'offline';

/** API Gateway's `$connect` integration may take up to 29 s; until it returns, posts answer 410. */
export const HANDSHAKE_WINDOW_MS = 30_000;

export interface ConnectionRegistryDependencies {
  readonly connections: ConnectionStore;
  readonly presence: PresenceStore;
  readonly rooms: RoomStore;
  readonly connectionTtlSeconds: number;
  /** How young a connection answering 410 may be and still be kept. @default HANDSHAKE_WINDOW_MS */
  readonly handshakeWindowMs?: number;
  readonly now?: () => Date;
  /**
   * Called when a user's first connection opened or their last one closed (not once per
   * device). Failures are the callee's to log; they never fail the connect or close.
   */
  readonly onPresenceChange?: (userId: string, status: PresenceStatus) => Promise<void>;
  /**
   * The online marks on the user's member rows (functions/core/groups/online-members.ts):
   * set on the online transition before `open` returns (a failure fails the open, so the
   * connect is refused and rolled back rather than left without group pushes), cleared
   * after the last connection closed. Unset: no marks (the registry that cleans up after
   * 410s: the marks it leaves are stale, which costs reads only, until the next session).
   */
  readonly onlineGroups?: Pick<OnlineGroupMarks, 'markAll' | 'clearAll'>;
  /**
   * `connection.opened` / `connection.closed` for `open` and `close` (`$connect`,
   * `$disconnect`), and `presence.changed` with `onPresenceChange`; unset: none (the
   * registry that cleans up after 410s publishes nothing, as it pushes nothing).
   */
  readonly events?: EventPublisher;
}

export type OpenedConnection = ConnectionRecord & { readonly connectionCount: number };

export class ConnectionRegistry {
  constructor(private readonly deps: ConnectionRegistryDependencies) {}

  /**
   * Registers a connection. Besides its row, the result tells `connectionCount`: the user's
   * presence count right after this connection was added (see PresenceStore.addConnection).
   * With `limit` > 0, a user who already has `limit` open connections gets `undefined` and
   * nothing stays written (see `admitAtLimit`).
   */
  open(connectionId: string, identity: Identity): Promise<OpenedConnection>;
  open(connectionId: string, identity: Identity, limit: number): Promise<OpenedConnection | undefined>;
  async open(connectionId: string, identity: Identity, limit = 0): Promise<OpenedConnection | undefined> {
    const now = this.deps.now?.() ?? new Date();
    const record: ConnectionRecord = {
      connectionId,
      userId: identity.userId,
      roles: identity.roles,
      connectedAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + this.deps.connectionTtlSeconds,
      tokenExpiresAt: identity.expiresAt,
    };
    // Row first: a presence entry must never point at a connection nobody can look up
    // (the stale-entry check below would take it for a dead one).
    await this.deps.connections.put(record);
    const add = () =>
      this.deps.presence.addConnection(
        identity.userId,
        connectionId,
        record.expiresAt,
        limit,
        identity.expiresAt,
      );
    let added = await add();
    if ('full' in added && (await this.pruneStale(identity.userId))) added = await add();
    if ('full' in added) {
      await this.deps.connections.delete(connectionId);
      return undefined;
    }
    this.deps.events?.publish(connectionOpened(connectionId, identity.userId, record.connectedAt));
    if (added.cameOnline) {
      await this.markOnline(identity.userId, onlineSessionToken(record.connectedAt, connectionId));
      await this.notifyPresence(identity.userId, 'online');
    }
    return { ...record, connectionCount: added.connectionCount };
  }

  /**
   * The token first, on the presence item, then the rows: the last disconnect reads the
   * token there. A claim refused means the session already ended (or a newer one began and
   * marks for itself): nothing to mark.
   */
  private async markOnline(userId: string, token: string): Promise<void> {
    const marks = this.deps.onlineGroups;
    if (!marks) return;
    if (await this.deps.presence.claimOnlineSession(userId, token)) await marks.markAll(userId, token);
  }

  /**
   * The user's presence record is full. Entries whose connection row is gone or expired
   * (their `$disconnect` never came) are removed, so they cannot lock the user out; true
   * when some were. A constant number of requests whatever the number of racing handshakes:
   * one read of the record, one batched read of at most MAX_STALE_CHECK rows, at most one
   * conditional removal. Runs only when the limit is hit, never on an ordinary connect.
   * True also when a racing handshake removed them first: the add is worth one more try.
   */
  private async pruneStale(userId: string): Promise<boolean> {
    const ids = (await this.deps.presence.connectionIdsOf(userId)).slice(0, MAX_STALE_CHECK);
    if (ids.length === 0) return true;
    const live = new Set(
      (await this.deps.connections.getMany(ids))
        .filter((row) => row.userId === userId)
        .map((row) => row.connectionId),
    );
    const stale = ids.filter((id) => !live.has(id));
    if (stale.length === 0) return false;
    await this.deps.presence.removeStale(userId, stale);
    return true;
  }

  /**
   * Removes a connection that closed ($disconnect, a kick). `userIdHint` covers a row that
   * is already gone (TTL), so the presence record is still cleaned.
   */
  async close(connectionId: string, userIdHint?: string): Promise<void> {
    const removed = await this.deps.connections.delete(connectionId);
    const userId = removed?.userId ?? userIdHint;
    if (userId) this.deps.events?.publish(connectionClosed(connectionId, userId, this.nowIso()));
    await this.forget(connectionId, removed, userIdHint);
  }

  private nowIso(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /**
   * Removes a connection that answered 410 to a post. A connection still inside its
   * `$connect` also answers 410 (API Gateway opens it only when `$connect` returns), so a
   * row younger than the handshake window is kept: deleting it would break a client that
   * is about to open.
   */
  async closeGone(connectionId: string, userId: string): Promise<void> {
    await this.closeUnlessHandshaking(connectionId, userId, false);
  }

  /**
   * Removes a connection whose `$disconnect` never came, found closed (410 to GetConnection)
   * or expired by the sweep (functions/core/connections/sweep.ts): the cleanup of
   * `closeGone`, handshake window included, so with this registry's presence push. It also
   * publishes `connection.closed`, as `$disconnect` would have, when this call deleted the
   * row (a racing `$disconnect` that deleted it first publishes its own). Racing closes
   * remove the presence entry once: its removal is conditional on the id being there, so
   * the counters are decremented once. False when the connection was kept (handshake).
   */
  closeLost(connectionId: string, userId: string): Promise<boolean> {
    return this.closeUnlessHandshaking(connectionId, userId, true);
  }

  private async closeUnlessHandshaking(
    connectionId: string,
    userId: string,
    publishClosed: boolean,
  ): Promise<boolean> {
    const now = this.deps.now?.() ?? new Date();
    const cutoff = new Date(
      now.getTime() - (this.deps.handshakeWindowMs ?? HANDSHAKE_WINDOW_MS),
    ).toISOString();
    const result = await this.deps.connections.deleteIfConnectedBefore(connectionId, cutoff);
    if (result.kept) return false;
    if (publishClosed && result.removed) {
      this.deps.events?.publish(connectionClosed(connectionId, result.removed.userId, this.nowIso()));
    }
    await this.forget(connectionId, result.removed, userId);
    return true;
  }

  private async forget(
    connectionId: string,
    removed: ConnectionRecord | undefined,
    userIdHint: string | undefined,
  ): Promise<void> {
    if (removed?.rooms?.length) await this.deps.rooms.removeConnection(connectionId, removed.rooms);
    const userId = removed?.userId ?? userIdHint;
    if (!userId) return;
    const { wentOffline, onlineSince } = await this.deps.presence.removeConnection(userId, connectionId);
    if (!wentOffline) return;
    await this.notifyPresence(userId, 'offline');
    // Only this session's marks: a reconnect meanwhile claimed a newer token and keeps its own.
    if (onlineSince) await this.deps.onlineGroups?.clearAll(userId, onlineSince);
  }

  private async notifyPresence(userId: string, status: PresenceStatus): Promise<void> {
    this.deps.events?.publish(presenceChanged(userId, status, this.nowIso()));
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
