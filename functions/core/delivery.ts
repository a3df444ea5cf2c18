/**
 * Pushing one frame to many connections, for the commands outside ChatService (recall,
 * system notifications): the shared fan-out, with 410s removing the gone connection.
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

/** Posts `data` as a success push to every recipient; 410s remove that recipient's connection. */
export async function deliver(
  deps: DeliveryDependencies,
  recipients: readonly Recipient[],
  data: unknown,
): Promise<FanOutResult> {
  if (recipients.length === 0) return { delivered: 0, gone: 0, failed: [] };
  const result = await fanOut(deps.notifier, recipients, JSON.stringify(success(data)), {
    concurrency: deps.fanOutConcurrency,
    onGone: (recipient) =>
      deps.registry.closeGone(recipient.connectionId, recipient.userId).catch((error: unknown) => {
        deps.log?.('gone connection cleanup failed', { connectionId: recipient.connectionId, error });
      }),
  });
  if (result.failed.length > 0) {
    deps.log?.('fan-out left connections undelivered', {
      failed: result.failed.length,
      delivered: result.delivered,
    });
  }
  return result;
}
