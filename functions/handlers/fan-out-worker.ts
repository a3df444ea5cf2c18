/**
 * The fan-out worker: invoked asynchronously (`InvocationType: Event`) by the handlers
 * that dispatch a large fan-out, and by itself to continue a job. It posts one job's
 * recipients (a chunk, or a lane of broadcast shards it reads itself) at once and at full
 * speed, under the job's rate ceiling; see
 * functions/core/fan-out/fan-out-worker.ts for the failure rules. Lambda does not retry it
 * (`retryAttempts: 0`): a job that fails goes to the on-failure destination queue.
 */
import type { Context } from 'aws-lambda';
import type { FanOutJob } from '../core/fan-out/fan-out-dispatch.ts';
import { type FanOutJobReport, isFanOutJob, runFanOutJob } from '../core/fan-out/fan-out-worker.ts';
import { getServices } from '../runtime/container.ts';
import { log, withLogContext } from '../runtime/logger.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

/** The time assumed left when there is no Lambda context (a direct call). */
const DEFAULT_BUDGET_MS = 60_000;

/** What the worker answers to an event that is not a fan-out job: nothing was done. */
export interface RejectedFanOutEvent {
  readonly outcome: 'rejected';
  readonly reason: string;
}

/**
 * The event's shape, for the log: its type and top-level field names, never a value (a
 * job carries the frame, i.e. message content, and the callback URL).
 */
function shapeOf(event: unknown): Record<string, unknown> {
  if (event === null || typeof event !== 'object')
    return { eventType: event === null ? 'null' : typeof event };
  return { eventType: Array.isArray(event) ? 'array' : 'object', fields: Object.keys(event).slice(0, 20) };
}

export const handler = async (
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<FanOutJobReport | RejectedFanOutEvent> => {
  if (!isFanOutJob(event)) {
    // Nothing to post and nothing a retry could fix: logged (shape only) and answered,
    // never thrown (a handler throws no unmapped error).
    const reason = 'not a fan-out job (id, part, callbackUrl, frame, ratePerSecond, startAt, kind)';
    log('error', `fan-out worker ignored an event: ${reason}`, shapeOf(event));
    return { outcome: 'rejected', reason };
  }
  const job: FanOutJob = event;
  const startedAt = Date.now();
  return withLogContext({ jobId: job.id, part: job.part, jobKind: job.kind }, async () => {
    const budget = {
      remainingMs: () => context?.getRemainingTimeInMillis() ?? DEFAULT_BUDGET_MS - (Date.now() - startedAt),
    };
    const report: FanOutJobReport = await runFanOutJob(
      getServices().fanOutWorker(job.callbackUrl),
      job,
      budget,
    );
    const level = report.outcome === 'abandoned' ? 'error' : report.failed > 0 ? 'warn' : 'info';
    log(level, 'fan-out job finished', {
      ...report,
      ...(job.name ? { fanOut: job.name } : {}),
      lateMs: Math.max(0, startedAt - job.startAt),
      durationMs: Date.now() - startedAt,
    });
    return report;
  });
};
