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

/**
 * How long a presence record outlives its newest connection's row. DynamoDB's TTL deletes
 * an item at some time after its `expiresAt`, and a record it deletes while it still lists
 * connections takes their increments of the online counters with it for good. Every listed
 * connection is closed by API Gateway 2 h after it opened, at the latest, so with this
 * grace the stale-connection sweep has at least a day (plus the row's margin over 2 h) to
 * see it gone and close it, decrementing once: longer than its maximum interval (1440 min)
 * plus a run, and 288 default runs (docs/architecture.md, online counters).
 */
export const PRESENCE_EXPIRY_GRACE_SECONDS = 24 * 3600;

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
   * after the last connection closed. Unset: no marks (the plain registry of functions
   * that only read or kick; their 410s go to the sweep function: docs/architecture.md).
   */
  readonly onlineGroups?: Pick<OnlineGroupMarks, 'markAll' | 'clearAll'>;
  /**
   * `connection.opened` on `open`, `connection.closed` once per connection (by whichever
   * close removed its presence entry), and `presence.changed` with `onPresenceChange`;
   * unset: none.
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
        record.expiresAt + PRESENCE_EXPIRY_GRACE_SECONDS,
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
    await this.forget(connectionId, removed, userIdHint);
  }

  private nowIso(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /**
   * Removes a connection that answered 410 to a post: `closeLost` without its answer (the
   * delivery port's name for it).
   */
  async closeGone(connectionId: string, userId: string): Promise<void> {
    await this.closeLost(connectionId, userId);
  }

  /**
   * Removes a connection whose `$disconnect` has not come: a post or GetConnection answered
   * 410 (a 410 cleanup handed over by any function, or the sweep), or the sweep found it
   * expired. A connection still inside its `$connect` also answers 410 (API Gateway opens it
   * only when `$connect` returns), so a row younger than the handshake window is kept:
   * deleting it would break a client that is about to open. False when it was kept.
   * Otherwise the same path as `close`, so a 410 cleanup, the sweep and a late `$disconnect`
   * of one connection, in any order, count it down, publish `connection.closed` and (on the
   * user's last connection) push `offline` and clear the marks exactly once.
   */
  async closeLost(connectionId: string, userId: string): Promise<boolean> {
    const now = this.deps.now?.() ?? new Date();
    const cutoff = new Date(
      now.getTime() - (this.deps.handshakeWindowMs ?? HANDSHAKE_WINDOW_MS),
    ).toISOString();
    const result = await this.deps.connections.deleteIfConnectedBefore(connectionId, cutoff);
    if (result.kept) return false;
    await this.forget(connectionId, result.removed, userId);
    return true;
  }

  /**
   * Rooms, then the presence entry. Its removal is conditional on the id being listed, so of
   * racing closes of one connection exactly one gets `removed`: that one alone decremented
   * the counters, and alone publishes `connection.closed` and, on the user's last
   * connection, pushes `offline` and clears this session's marks.
   */
  private async forget(
    connectionId: string,
    removed: ConnectionRecord | undefined,
    userIdHint: string | undefined,
  ): Promise<void> {
    if (removed?.rooms?.length) await this.deps.rooms.removeConnection(connectionId, removed.rooms);
    const userId = removed?.userId ?? userIdHint;
    if (!userId) return;
    const entry = await this.deps.presence.removeConnection(userId, connectionId);
    if (!entry.removed) return;
    this.deps.events?.publish(connectionClosed(connectionId, userId, this.nowIso()));
    if (!entry.wentOffline) return;
    await this.notifyPresence(userId, 'offline');
    // Only this session's marks: a reconnect meanwhile claimed a newer token and keeps its own.
    if (entry.onlineSince) await this.deps.onlineGroups?.clearAll(userId, entry.onlineSince);
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
