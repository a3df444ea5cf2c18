/**
 * The stale-connection sweep (issue 14, target 3). API Gateway sends `$disconnect` at most
 * once and sometimes never; until something removes such a connection it counts in the
 * online counters and its user's peers never hear `offline`. The sweep, run on a schedule,
 * lists every presence record shard by shard (the `byShard` index: a Query per page, no
 * Scan) and removes each listed connection that is past its expiry or that the Management
 * API reports gone (GetConnection answers 410), through the registry's close path
 * (`closeLost`): row, rooms, presence entry, counters, the `offline` push, the events.
 */
import { mapConcurrent } from '../shared/concurrency.ts';
import { isValidUserId } from '../shared/ids.ts';
import type { PresenceEntry, PresenceSweepSource } from '../shared/ports.ts';
import type { ConnectionRegistry } from './connections.ts';

/** Presence records per `byShard` page. */
export const SWEEP_PAGE_USERS = 500;
/**
 * GetConnection calls in flight at once: far below the account's 10,000 requests/s
 * Management API throttle, which every post of the account shares.
 */
export const SWEEP_CONCURRENCY = 16;
/** A run starts no new page with less time than this left (the page's checks must fit). */
export const SWEEP_TIME_MARGIN_MS = 20_000;

export interface SweepDependencies {
  readonly presence: PresenceSweepSource;
  /** GetConnection: true when open, false on 410; throws on anything else (throttling, …). */
  readonly probe: { isOpen(connectionId: string): Promise<boolean> };
  /** The registry that pushes `presence` (it has `onPresenceChange` and the events). */
  readonly registry: Pick<ConnectionRegistry, 'closeLost'>;
  /** @default SWEEP_CONCURRENCY */
  readonly concurrency?: number;
  /** @default SWEEP_PAGE_USERS */
  readonly pageUsers?: number;
  readonly now?: () => Date;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
}

export interface SweepBudget {
  /** Milliseconds the run may still take (Lambda's `getRemainingTimeInMillis`). */
  remainingMs(): number;
}

export interface SweepReport {
  /** Shards read to their end. */
  readonly shards: number;
  /** Presence records listed (users online, or counted as online). */
  readonly users: number;
  /** Connections listed. */
  readonly connections: number;
  /** Connections asked about with GetConnection. */
  readonly checked: number;
  /** Connections past their expiry (removed without a GetConnection). */
  readonly expired: number;
  /** Connections that answered 410. */
  readonly gone: number;
  /**
   * Connections closed (expired or gone, and not kept for being inside their handshake);
   * one a racing `$disconnect` removed first counts too, though it changed nothing more.
   */
  readonly removed: number;
  /** Checks or removals that failed (throttling, a timeout): tried again by the next run. */
  readonly failed: number;
  /** False when the run stopped early (its time budget), leaving shards for the next run. */
  readonly complete: boolean;
}

type Outcome = 'open' | 'removed' | 'kept' | 'failed';

/**
 * Sweeps every shard once, starting at `startShard` (runs that stop early start elsewhere
 * next time, so no shard is left out for good) and wrapping around.
 */
export async function sweepConnections(
  deps: SweepDependencies,
  budget: SweepBudget,
  startShard = 0,
): Promise<SweepReport> {
  const shardCount = deps.presence.shardCount;
  const counts = {
    shards: 0,
    users: 0,
    connections: 0,
    checked: 0,
    expired: 0,
    gone: 0,
    removed: 0,
    failed: 0,
  };
  for (let i = 0; i < shardCount; i++) {
    const shard = (startShard + i) % shardCount;
    let after: string | undefined;
    do {
      if (budget.remainingMs() < SWEEP_TIME_MARGIN_MS) return { ...counts, complete: false };
      const page = await deps.presence.entriesInShard(shard, deps.pageUsers ?? SWEEP_PAGE_USERS, after);
      counts.users += page.entries.length;
      await sweepPage(deps, page.entries, counts);
      after = page.after;
    } while (after);
    counts.shards++;
  }
  return { ...counts, complete: true };
}

async function sweepPage(
  deps: SweepDependencies,
  entries: readonly PresenceEntry[],
  counts: {
    connections: number;
    checked: number;
    expired: number;
    gone: number;
    removed: number;
    failed: number;
  },
): Promise<void> {
  const nowSeconds = Math.floor((deps.now?.() ?? new Date()).getTime() / 1000);
  const listed = entries.flatMap((entry) =>
    entry.connectionIds.map((connectionId) => ({
      connectionId,
      userId: entry.userId,
      // The record's expiry is its newest connection's: past it, every one is past its own.
      expired: entry.expiresAt <= nowSeconds,
    })),
  );
  counts.connections += listed.length;
  const outcomes = await mapConcurrent(
    listed,
    deps.concurrency ?? SWEEP_CONCURRENCY,
    async ({ connectionId, userId, expired }): Promise<Outcome> => {
      try {
        if (expired) {
          counts.expired++;
        } else {
          counts.checked++;
          if (await deps.probe.isOpen(connectionId)) return 'open';
          counts.gone++;
        }
        return (await deps.registry.closeLost(connectionId, userId)) ? 'removed' : 'kept';
      } catch (error) {
        deps.log?.('sweep: connection not checked or not removed; the next run tries again', {
          connectionId,
          userId,
          error,
        });
        return 'failed';
      }
    },
  );
  for (const outcome of outcomes) {
    if (outcome === 'removed') counts.removed++;
    else if (outcome === 'failed') counts.failed++;
  }
}

/** A connection a post found gone (410), handed to the sweep function to close. */
export interface GoneConnection {
  readonly connectionId: string;
  readonly userId: string;
}

/** Gone connections one hand-off carries at most (one asynchronous Invoke, far below 256 KB). */
export const MAX_GONE_PER_HANDOFF = 500;

export interface GoneReport {
  /** Connections asked about with GetConnection. */
  readonly checked: number;
  /** Closed through the close path (or found closed by a racing close). */
  readonly removed: number;
  /** Answered open (a stale report), or kept inside their handshake window. */
  readonly kept: number;
  /** Checks or removals that failed: the sweep's next run finds them again. */
  readonly failed: number;
}

/** Whether `value` is a hand-off of gone connections (`{ gone: [{ connectionId, userId }] }`). */
export function isGoneHandoff(value: unknown): value is { gone: GoneConnection[] } {
  if (typeof value !== 'object' || value === null) return false;
  const gone = (value as { gone?: unknown }).gone;
  return (
    Array.isArray(gone) &&
    gone.length > 0 &&
    gone.length <= MAX_GONE_PER_HANDOFF &&
    gone.every((entry) => {
      const { connectionId, userId } = (entry ?? {}) as Record<string, unknown>;
      return (
        typeof connectionId === 'string' &&
        /^[A-Za-z0-9_=+/-]{1,128}$/.test(connectionId) &&
        typeof userId === 'string' &&
        isValidUserId(userId)
      );
    })
  );
}

/**
 * Closes connections a post found gone (410) in another function, through the same close
 * path as the sweep (`closeLost`). Each is asked about first (GetConnection): a hand-off
 * closes only what API Gateway itself says is gone, whoever sent it.
 */
export async function closeReportedGone(
  deps: Pick<SweepDependencies, 'probe' | 'registry' | 'concurrency' | 'log'>,
  gone: readonly GoneConnection[],
): Promise<GoneReport> {
  const unique = [...new Map(gone.map((entry) => [entry.connectionId, entry])).values()];
  const outcomes = await mapConcurrent(
    unique,
    deps.concurrency ?? SWEEP_CONCURRENCY,
    async ({ connectionId, userId }): Promise<Outcome> => {
      try {
        if (await deps.probe.isOpen(connectionId)) return 'open';
        return (await deps.registry.closeLost(connectionId, userId)) ? 'removed' : 'kept';
      } catch (error) {
        deps.log?.('gone connection not closed; the sweep tries again', { connectionId, userId, error });
        return 'failed';
      }
    },
  );
  const count = (outcome: Outcome) => outcomes.filter((o) => o === outcome).length;
  return {
    checked: unique.length,
    removed: count('removed'),
    kept: count('open') + count('kept'),
    failed: count('failed'),
  };
}
