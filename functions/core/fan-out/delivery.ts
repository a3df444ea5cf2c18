/**
 * Pushing one frame to many connections, for every command that pushes (chat, rooms,
 * recall, system notifications, read receipts, presence): the shared fan-out, with 410s
 * removing the gone connection.
 */
import type { ConnectionRegistry } from '../connections/connections.ts';
import { success } from '../shared/envelope.ts';
import type { ConnectionNotifier, UserConnections } from '../shared/ports.ts';
import { type FanOutResult, fanOut, type Recipient } from './fan-out.ts';
import type { FanOutDispatcher, GoneCleanup } from './fan-out-dispatch.ts';

export interface DeliveryDependencies {
  readonly notifier: ConnectionNotifier;
  readonly registry: Pick<ConnectionRegistry, 'closeGone'>;
  readonly fanOutConcurrency: number;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  /** Told each fan-out's outcome and size (connections), for metrics; must not throw. */
  readonly onFanOut?: (result: FanOutResult, size: number) => void;
  /**
   * Hands fan-outs above its threshold to fan-out workers instead of posting them here
   * (see fan-out-dispatch.ts); unset: every fan-out is posted inline.
   */
  readonly offload?: FanOutDispatcher;
  /** Recipients whose token expired are skipped and closed; unset: tokens are not checked. */
  readonly tokenExpiry?: TokenExpiryPolicy;
}

/** How `deliver` treats a recipient whose connection's token has expired. */
export interface TokenExpiryPolicy {
  /** Whether `exp` (epoch seconds) has passed, with the clock tolerance commands allow. */
  expired(tokenExpiresAt: number): boolean;
  /** Closes the connection as a command with an expired token does (its `$disconnect` cleans up). */
  close(recipient: Recipient): Promise<void>;
}

/** A fan-out's outcome as the caller sees it. */
export interface DeliveryResult extends FanOutResult {
  /**
   * Connections handed to fan-out workers, which post after the caller has returned (0
   * when the fan-out was posted inline). Those are in neither `delivered` nor `failed`;
   * connections whose hand-off failed are in `failed`.
   */
  readonly queued: number;
}

/** The `queued` extension of a reply: present only when part of the audience went to fan-out workers. */
export function queuedField(result: { readonly queued: number }): { readonly queued?: number } {
  return result.queued > 0 ? { queued: result.queued } : {};
}

/** Every connection of `users`, without `exceptConnectionId` (the one that asked, which gets the reply). */
export function connectionsOf(users: readonly UserConnections[], exceptConnectionId?: string): Recipient[] {
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const user of users) {
    for (const connectionId of user.connectionIds) {
      if (connectionId === exceptConnectionId || seen.has(connectionId)) continue;
      seen.add(connectionId);
      const tokenExpiresAt = user.tokenExpiresAt?.[connectionId];
      recipients.push(
        tokenExpiresAt === undefined
          ? { connectionId, userId: user.userId }
          : { connectionId, userId: user.userId, tokenExpiresAt },
      );
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
  /**
   * What `alsoOnGone` does, as data a fan-out worker can carry out (workers cannot run a
   * closure of the handler that dispatched them).
   */
  readonly goneCleanup?: GoneCleanup;
}

/**
 * Posts `data` as a success push to every recipient. A 410 removes that recipient's
 * connection (and runs `alsoOnGone`); cleanup failures are logged, never thrown.
 * Above the dispatcher's threshold (`deps.offload`), the recipients are handed to
 * fan-out workers instead and counted in `queued`.
 */
export async function deliver(
  deps: DeliveryDependencies,
  allRecipients: readonly Recipient[],
  data: unknown,
  options: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const recipients = await skipExpired(deps, allRecipients);
  if (recipients.length === 0) return { delivered: 0, gone: 0, failed: [], queued: 0 };
  const frame = JSON.stringify(success(data));
  if (deps.offload?.offloads(recipients.length) && deps.offload.canCarry(frame)) {
    const dispatched = await deps.offload.dispatchRecipients(recipients, frame, {
      cleanup: options.goneCleanup,
      name: options.name,
    });
    if (dispatched.notQueued.length > 0) {
      deps.log?.(`${options.name ? `${options.name} ` : ''}fan-out could not hand connections to workers`, {
        ...options.logDetails,
        failed: dispatched.notQueued.length,
        queued: dispatched.queued,
      });
    }
    return { delivered: 0, gone: 0, failed: dispatched.notQueued, queued: dispatched.queued };
  }
  return { ...(await deliverFrame(deps, recipients, frame, options)), queued: 0 };
}

/**
 * The recipients whose token has not expired. The others are closed (in parallel, failures
 * logged): they get no push, and count as neither delivered nor failed.
 */
async function skipExpired(
  deps: Pick<DeliveryDependencies, 'tokenExpiry' | 'log'>,
  recipients: readonly Recipient[],
): Promise<readonly Recipient[]> {
  const policy = deps.tokenExpiry;
  if (!policy) return recipients;
  const isExpired = (r: Recipient) => r.tokenExpiresAt !== undefined && policy.expired(r.tokenExpiresAt);
  const expired = recipients.filter(isExpired);
  if (expired.length === 0) return recipients;
  const closes = await Promise.allSettled(expired.map((recipient) => policy.close(recipient)));
  closes.forEach((close, i) => {
    if (close.status === 'rejected') {
      deps.log?.('closing a connection with an expired token failed', {
        connectionId: expired[i]?.connectionId,
        error: close.reason,
      });
    }
  });
  return recipients.filter((recipient) => !isExpired(recipient));
}

/** `deliver` of a frame already serialized, always inline (what fan-out workers run). */
export async function deliverFrame(
  deps: Omit<DeliveryDependencies, 'offload'>,
  recipients: readonly Recipient[],
  frame: string,
  options: DeliveryOptions = {},
): Promise<FanOutResult> {
  if (recipients.length === 0) return { delivered: 0, gone: 0, failed: [] };
  const { alsoOnGone } = options;
  const result = await fanOut(deps.notifier, recipients, frame, {
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
