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
import {
  closeReportedGone,
  type GoneReport,
  isGoneHandoff,
  type SweepReport,
  sweepConnections,
} from '../core/connections/sweep.ts';
import { withAppEvents } from '../runtime/app-events.ts';
import { callbackUrlFor, getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import '../runtime/wiring/app-events.ts';
import '../runtime/wiring/dynamo.ts';

/** The time assumed left when there is no Lambda context (a direct call). */
const DEFAULT_BUDGET_MS = 120_000;

/**
 * Two kinds of event: the schedule's (anything without `gone`: a full run), and a hand-off
 * of connections that answered 410 to a post in another function (`{ gone: [{
 * connectionId, userId }] }`, functions/runtime/gone-handoff.ts): each is checked with
 * GetConnection and closed through the same close path. A malformed hand-off is logged and
 * answered; nothing is closed.
 */
export const handler = (
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SweepReport | GoneReport | { rejected: string }> => {
  if (typeof event === 'object' && event !== null && 'gone' in event) return closeHandedOver(event);
  return sweepRun(context);
};

function closeHandedOver(event: object): Promise<GoneReport | { rejected: string }> {
  if (!isGoneHandoff(event)) {
    const rejected = 'a hand-off lists 1-500 { connectionId, userId } with valid ids';
    log('error', `connection sweep ignored a hand-off: ${rejected}`, {});
    return Promise.resolve({ rejected });
  }
  return withAppEvents(async () => {
    try {
      const report = await closeReportedGone(getServices().connectionSweep(callbackUrlFor()), event.gone);
      log(report.failed > 0 ? 'warn' : 'info', 'gone connections closed', { ...report });
      return report;
    } catch (error) {
      // The sweep's next run finds whatever was not closed.
      log('error', 'gone connections not closed; the next sweep run finds them', { error });
      return { checked: 0, removed: 0, kept: 0, failed: event.gone.length };
    }
  });
}

const sweepRun = (context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SweepReport> =>
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
