/**
 * What the stack's EventBridge schedules do (lib/function-specs.ts `scheduledFunctions`):
 * each scheduled function is invoked on an interval with a `Scheduled Event`, one run at a
 * time (a tick while the previous run is still going is skipped), and on demand (`run`).
 */
import { randomUUID } from 'node:crypto';
import type { FunctionId } from '../lib/function-specs.ts';
import { LOCAL_ACCOUNT_ID } from './events.ts';
import type { FunctionRegistry } from './functions.ts';
import { elapsed, type Logger } from './log.ts';

/** What EventBridge passes to a function its schedule rule targets. */
export function scheduledEvent(region: string, functionId: FunctionId, at = new Date()) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${LOCAL_ACCOUNT_ID}:rule/chat-local-${functionId}-schedule`],
    detail: {},
  };
}

export interface LocalSchedulesOptions {
  readonly functions: FunctionRegistry;
  readonly region: string;
  readonly logger: Logger;
  /** Milliseconds between runs of each scheduled function; 0 or absent: only on demand. */
  readonly intervalsMs: Partial<Record<FunctionId, number>>;
}

export class LocalSchedules {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<FunctionId, Promise<unknown>>();

  constructor(private readonly options: LocalSchedulesOptions) {
    for (const [functionId, intervalMs] of Object.entries(options.intervalsMs) as [FunctionId, number][]) {
      if (!(intervalMs > 0)) continue;
      const tick = () => {
        if (this.running.has(functionId)) return;
        this.run(functionId).catch(() => {
          // Logged by `run`; the next tick tries again, as the next scheduled run would.
        });
      };
      this.timers.push(setInterval(tick, intervalMs).unref());
    }
  }

  /** Invokes the function now, as its schedule would; its result, or its error thrown. */
  run(functionId: FunctionId): Promise<unknown> {
    const { functions, region, logger } = this.options;
    const startedAt = Date.now();
    const run = functions.invoke(functionId, scheduledEvent(region, functionId)).then((outcome) => {
      if (!outcome.ok) {
        logger.error(`λ scheduled ${functionId} failed ${elapsed(startedAt)}`, outcome.error);
        throw outcome.error;
      }
      logger.info(`λ scheduled ${functionId} ${elapsed(startedAt)}`);
      return outcome.result;
    });
    this.running.set(functionId, run);
    const done = () => {
      if (this.running.get(functionId) === run) this.running.delete(functionId);
    };
    void run.then(done, done);
    return run;
  }

  /** No more ticks (a run in progress finishes; the runtime waits for its handlers). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
