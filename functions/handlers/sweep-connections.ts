/**
 * The stale-connection sweep, run by an EventBridge schedule (every 5 minutes unless the
 * stack says otherwise; the local runtime runs it on an interval): connections whose
 * `$disconnect` never came are removed as `$disconnect` would have, peers told `offline`
 * (functions/core/connections/sweep.ts). The event carries nothing it needs.
 *
 * A run that fails (DynamoDB unreachable, say) throws, so the function's Errors alarm
 * fires; Lambda's retries of the event and the next scheduled run are harmless, since every
 * removal is conditional. Single connections that fail are counted, not thrown.
 */
import type { Context } from 'aws-lambda';
import { PRESENCE_SHARDS } from '../../lib/table-definitions.ts';
import { type SweepReport, sweepConnections } from '../core/connections/sweep.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/dynamo.ts';

/** The time assumed left when there is no Lambda context (a direct call). */
const DEFAULT_BUDGET_MS = 120_000;

export const handler = (
  _event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SweepReport> =>
  withAppEvents(async () => {
    const startedAt = Date.now();
    try {
      const report = await sweepConnections(
        getServices().connectionSweep(callbackUrlFor()),
        {
          remainingMs: () =>
            context?.getRemainingTimeInMillis() ?? DEFAULT_BUDGET_MS - (Date.now() - startedAt),
        },
        // A run that stops early leaves the last shards; the next starts somewhere else.
        Math.floor(Math.random() * PRESENCE_SHARDS),
      );
      const level = report.failed > 0 || !report.complete ? 'warn' : 'info';
      log(level, 'connection sweep finished', { ...report, durationMs: Date.now() - startedAt });
      return report;
    } catch (error) {
      log('error', 'connection sweep failed; the next run starts over', { error });
      throw error;
    }
  });
