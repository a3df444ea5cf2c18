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
import '../runtime/wiring/dynamo.ts';
import '../runtime/wiring/fan-out-invoker.ts';

/** The time assumed left when there is no Lambda context (a direct call). */
const DEFAULT_BUDGET_MS = 60_000;

export const handler = async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  if (!isFanOutJob(event)) {
    // Nothing was posted: failing sends the event to the on-failure destination for a look.
    log('error', 'fan-out worker received something that is not a fan-out job');
    throw new TypeError('not a fan-out job');
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
