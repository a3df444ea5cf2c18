/**
 * Sessions. By default a user may be connected from any number of devices. A deployment
 * may choose single-session (`SESSION_MODE=single`), as the services this backend replaces
 * did: when a connection opens, the user's older connections are sent a `kicked` push and
 * closed through the Management API.
 */

import { success } from '../shared/envelope.ts';
import { type ConnectionNotifier, DeliveryError, type PresenceStore } from '../shared/ports.ts';
import type { ConnectionRegistry } from './connections.ts';

export type SessionMode = 'multi' | 'single';

export const SESSION_MODES: readonly SessionMode[] = ['multi', 'single'];

/** Closes connections (the Management API's DELETE @connections). */
export interface ConnectionCloser {
  /** Closes the connection; false when it was already gone (410). */
  close(connectionId: string): Promise<boolean>;
}

export interface SingleSessionDependencies {
  readonly presence: PresenceStore;
  readonly notifier: ConnectionNotifier;
  readonly closer: ConnectionCloser;
  /**
   * Looks up connection rows and removes the kicked connections. Pass a registry without a
   * presence hook: the user stays online on the new connection.
   */
  readonly registry: ConnectionRegistry;
  readonly now?: () => Date;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
}

export interface Kicked {
  readonly connectionIds: string[];
}

/** Whether the connection `a` opened before `b` (ties broken by id, so exactly one of two wins). */
function openedBefore(a: { connectedAt: string; connectionId: string }, b: typeof a): boolean {
  return (
    a.connectedAt < b.connectedAt || (a.connectedAt === b.connectedAt && a.connectionId < b.connectionId)
  );
}

export class SingleSession {
  constructor(private readonly deps: SingleSessionDependencies) {}

  /**
   * Called after `connectionId` was registered: sends every older connection of the user
   * `{type:'kicked', reason:'signed_in_elsewhere', time}`, closes it and removes it from
   * presence. Connections that opened after this one (two devices connecting at once) are
   * left alone, so at least the newest survives. Best effort: failures are logged.
   */
  async kickOlder(userId: string, connectionId: string, connectedAt: string): Promise<Kicked> {
    const [entry] = await this.deps.presence.connectionsOf([userId]);
    const others = (entry?.connectionIds ?? []).filter((id) => id !== connectionId);
    const self = { connectionId, connectedAt };
    const older = await Promise.all(
      others.map(async (id) => {
        const row = await this.deps.registry.lookup(id);
        // A connection without a live row is stale: treat it as older.
        return !row || openedBefore(row, self) ? id : undefined;
      }),
    );
    const kicked = older.filter((id): id is string => id !== undefined);
    const frame = JSON.stringify(
      success({
        type: 'kicked',
        reason: 'signed_in_elsewhere',
        time: (this.deps.now?.() ?? new Date()).toISOString(),
      }),
    );
    await Promise.all(kicked.map((id) => this.kick(userId, id, frame)));
    return { connectionIds: kicked };
  }

  private async kick(userId: string, connectionId: string, frame: string): Promise<void> {
    try {
      try {
        await this.deps.notifier.post(connectionId, frame);
      } catch (error) {
        // Still close it: the push is a courtesy, the close is the point.
        if (!(error instanceof DeliveryError && error.kind === 'gone')) {
          this.deps.log?.('kicked push failed', { connectionId, error });
        }
      }
      await this.deps.closer.close(connectionId);
    } catch (error) {
      this.deps.log?.('closing an older session failed', { connectionId, error });
    }
    // Removed here rather than by its `$disconnect` (which then finds nothing to do), so
    // presence and the online counts are exact as soon as the new connection is open.
    try {
      await this.deps.registry.close(connectionId, userId);
    } catch (error) {
      this.deps.log?.('removing an older session failed', { connectionId, error });
    }
  }
}
