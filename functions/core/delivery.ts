/**
 * Pushing one frame to many connections, for every command that pushes (chat, rooms,
 * recall, system notifications, read receipts, presence): the shared fan-out, with 410s
 * removing the gone connection.
 */
import type { ConnectionRegistry } from './connections.ts';
import { success } from './envelope.ts';
import { type FanOutResult, fanOut, type Recipient } from './fan-out.ts';
import type { ConnectionNotifier, UserConnections } from './ports.ts';

export interface DeliveryDependencies {
  readonly notifier: ConnectionNotifier;
  readonly registry: Pick<ConnectionRegistry, 'closeGone'>;
  readonly fanOutConcurrency: number;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  /** Told each fan-out's outcome and size (connections), for metrics; must not throw. */
  readonly onFanOut?: (result: FanOutResult, size: number) => void;
}

/** Every connection of `users`, without `exceptConnectionId` (the one that asked, which gets the reply). */
export function connectionsOf(users: readonly UserConnections[], exceptConnectionId?: string): Recipient[] {
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const user of users) {
    for (const connectionId of user.connectionIds) {
      if (connectionId === exceptConnectionId || seen.has(connectionId)) continue;
      seen.add(connectionId);
      recipients.push({ connectionId, userId: user.userId });
    }
  }
  return recipients;
}

export interface DeliveryOptions {
  /**
   * More cleanup for a connection that answered 410, run alongside `registry.closeGone`
   * (a room's member row, in case the connection row is already gone).
   */
  readonly alsoOnGone?: (recipient: Recipient) => Promise<void>;
  /** Names the fan-out in the log line about undelivered connections (`room fan-out left …`). */
  readonly name?: string;
  /** Added to that log line's details. */
  readonly logDetails?: Record<string, unknown>;
}

/**
 * Posts `data` as a success push to every recipient. A 410 removes that recipient's
 * connection (and runs `alsoOnGone`); cleanup failures are logged, never thrown.
 */
export async function deliver(
  deps: DeliveryDependencies,
  recipients: readonly Recipient[],
  data: unknown,
  options: DeliveryOptions = {},
): Promise<FanOutResult> {
  if (recipients.length === 0) return { delivered: 0, gone: 0, failed: [] };
  const { alsoOnGone } = options;
  const result = await fanOut(deps.notifier, recipients, JSON.stringify(success(data)), {
    concurrency: deps.fanOutConcurrency,
    onGone: async (recipient) => {
      const cleanups = await Promise.allSettled([
        deps.registry.closeGone(recipient.connectionId, recipient.userId),
        ...(alsoOnGone ? [alsoOnGone(recipient)] : []),
      ]);
      for (const cleanup of cleanups) {
        if (cleanup.status === 'rejected') {
          deps.log?.('gone connection cleanup failed', {
            connectionId: recipient.connectionId,
            error: cleanup.reason,
          });
        }
      }
    },
  });
  deps.onFanOut?.(result, recipients.length);
  if (result.failed.length > 0) {
    deps.log?.(`${options.name ? `${options.name} ` : ''}fan-out left connections undelivered`, {
      ...options.logDetails,
      failed: result.failed.length,
      delivered: result.delivered,
    });
  }
  return result;
}
