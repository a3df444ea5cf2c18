/**
 * Lambda's asynchronous invocations (`InvocationType: Event`), as the stack configures
 * them from lib/function-specs.ts: a function error is retried `retryAttempts` times
 * (default 2, after about 1 and 2 minutes), an event older than `maxEventAgeSeconds`
 * (default 6 h) is not tried again, and an event that still failed goes where the stack
 * sends it — the on-failure destination queue for functions with `asyncInvocation`, the
 * shared dead-letter queue for the other asynchronously invoked functions, nowhere for
 * route handlers. Those queues are in memory here: logged, counted, readable by tests.
 *
 * Lambda also delivers an event twice now and then, even without an error: handlers of
 * asynchronous events must be idempotent either way (the welcome claims its push).
 */
import { randomUUID } from 'node:crypto';
import { type FunctionId, functionSpecs } from '../lib/function-specs.ts';
import { LOCAL_ACCOUNT_ID } from './events.ts';
import type { FaultInjector } from './faults.ts';
import { type FunctionRegistry, type InvocationOutcome, localFunctionName } from './functions.ts';
import type { Logger } from './log.ts';

/** Lambda's defaults for asynchronous invocation (EventInvokeConfig). */
export const DEFAULT_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAX_EVENT_AGE_SECONDS = 6 * 3600;
/** About what Lambda waits before the first and second retry. */
export const LAMBDA_RETRY_DELAYS_MS = [60_000, 120_000] as const;

export interface AsyncInvocationOptions {
  /** Waits before the first and the second retry; default Lambda's (about 1 and 2 minutes). */
  readonly retryDelaysMs?: readonly number[];
  /** Replaces every function's maximum event age (tests); default each spec's, else 6 h. */
  readonly maxEventAgeMs?: number;
}

export type FailureQueue = 'onFailure' | 'deadLetter';
export type FailureCondition = 'RetriesExhausted' | 'EventAgeExceeded';

/** An event that failed for good, as the queue receives it (the shape of an on-failure destination record). */
export interface FailedAsyncEvent {
  readonly queue: FailureQueue;
  readonly functionName: string;
  readonly condition: FailureCondition;
  readonly approximateInvokeCount: number;
  readonly errorMessage: string;
  readonly requestPayload: unknown;
  readonly timestamp: string;
  readonly requestId: string;
}

/** The local on-failure destination and dead-letter queues. */
export class AsyncFailureQueues {
  private readonly events: FailedAsyncEvent[] = [];
  private readonly listeners = new Set<(event: FailedAsyncEvent) => void>();

  add(event: FailedAsyncEvent): void {
    this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }

  /** Messages in `queue` (every queue when omitted), oldest first. */
  messages(queue?: FailureQueue): FailedAsyncEvent[] {
    return this.events.filter((event) => queue === undefined || event.queue === queue);
  }

  count(queue?: FailureQueue): number {
    return this.messages(queue).length;
  }

  /** The first message, already there or still to come, that matches. */
  waitFor(predicate: (event: FailedAsyncEvent) => boolean, timeoutMs: number): Promise<FailedAsyncEvent> {
    const found = this.events.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`No matching failed event within ${timeoutMs} ms (${this.events.length} queued).`));
      }, timeoutMs);
      const listener = (event: FailedAsyncEvent) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(event);
      };
      this.listeners.add(listener);
    });
  }
}

/** Functions some other function invokes: asynchronously invoked, so the stack gives them a dead-letter queue. */
const invokedFunctions = new Set(Object.values(functionSpecs).flatMap((spec) => spec.invokes ?? []));

function failureQueueOf(id: FunctionId): FailureQueue | undefined {
  if (functionSpecs[id].asyncInvocation) return 'onFailure';
  return invokedFunctions.has(id) ? 'deadLetter' : undefined;
}

export class InjectedInvocationFault extends Error {
  override name = 'InjectedInvocationFault';
}

export class AsyncInvoker {
  readonly failures = new AsyncFailureQueues();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly deps: {
      readonly functions: FunctionRegistry;
      readonly logger: Logger;
      readonly region: string;
      readonly faults?: () => FaultInjector | undefined;
      readonly options?: AsyncInvocationOptions;
    },
  ) {}

  /** Accepts the event (the caller answers 202) and runs it with Lambda's retry rules. */
  invoke(id: FunctionId, event: unknown): void {
    const spec = functionSpecs[id].asyncInvocation;
    const plan = {
      id,
      event,
      requestId: randomUUID(),
      acceptedAt: Date.now(),
      retryAttempts: spec?.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      maxEventAgeMs:
        this.deps.options?.maxEventAgeMs ??
        (spec?.maxEventAgeSeconds ?? DEFAULT_MAX_EVENT_AGE_SECONDS) * 1000,
    };
    void this.attempt(plan, 1);
  }

  /** Drops scheduled retries (the runtime is stopping). */
  close(): void {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    if (this.retryTimers.size > 0)
      this.deps.logger.warn(`λ ${this.retryTimers.size} scheduled async retry(ies) dropped`);
    this.retryTimers.clear();
  }

  private async attempt(plan: Plan, attempt: number): Promise<void> {
    const { logger } = this.deps;
    const name = localFunctionName(plan.id);
    const startedAt = Date.now();
    const outcome = await this.run(plan, attempt);
    const label = `λ ${name} (async, attempt ${attempt}/${plan.retryAttempts + 1})`;
    if (outcome.ok) {
      logger.info(`${label} ok ${Date.now() - startedAt}ms`);
      return;
    }
    logger.error(`${label} failed`, outcome.error);
    if (attempt > plan.retryAttempts) return this.fail(plan, attempt, 'RetriesExhausted', outcome.error);
    const delays = this.deps.options?.retryDelaysMs ?? LAMBDA_RETRY_DELAYS_MS;
    const delay = delays[Math.min(attempt - 1, delays.length - 1)] ?? 0;
    if (Date.now() + delay - plan.acceptedAt > plan.maxEventAgeMs)
      return this.fail(plan, attempt, 'EventAgeExceeded', outcome.error);
    if (this.closed) return;
    logger.info(`${label} retried in ${delay} ms`);
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      void this.attempt(plan, attempt + 1);
    }, delay);
    timer.unref();
    this.retryTimers.add(timer);
  }

  /** Runs the handler; an injected fault fails the invocation before it or after it ran. */
  private async run(plan: Plan, attempt: number): Promise<InvocationOutcome> {
    const fault = this.deps.faults?.()?.invocationFault(plan.id);
    if (fault === 'before') {
      return {
        ok: false,
        error: new InjectedInvocationFault(
          `attempt ${attempt} failed before the handler ran (injected fault)`,
        ),
        timedOut: false,
      };
    }
    const outcome = await this.deps.functions.invoke(plan.id, plan.event);
    if (fault === 'after' && outcome.ok) {
      // Like a timeout or crash after the work was done: Lambda retries work that happened.
      return {
        ok: false,
        error: new InjectedInvocationFault(
          `attempt ${attempt} failed after the handler ran (injected fault)`,
        ),
        timedOut: false,
      };
    }
    return outcome;
  }

  private fail(plan: Plan, attempts: number, condition: FailureCondition, error: unknown): void {
    const name = localFunctionName(plan.id);
    const queue = failureQueueOf(plan.id);
    const errorMessage = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (!queue) {
      this.deps.logger.warn(
        `λ ${name} (async) ${condition} after ${attempts} attempt(s); no failure queue: event dropped`,
      );
      return;
    }
    this.failures.add({
      queue,
      functionName: `arn:aws:lambda:${this.deps.region}:${LOCAL_ACCOUNT_ID}:function:${name}`,
      condition,
      approximateInvokeCount: attempts,
      errorMessage,
      requestPayload: plan.event,
      timestamp: new Date().toISOString(),
      requestId: plan.requestId,
    });
    this.deps.logger.warn(
      `λ ${name} (async) ${condition} after ${attemptsLabel(attempts)}: sent to the ${queue === 'onFailure' ? 'on-failure destination' : 'dead-letter'} queue (${this.failures.count(queue)} there)`,
    );
  }
}

function attemptsLabel(attempts: number): string {
  return `${attempts} attempt${attempts === 1 ? '' : 's'}`;
}

interface Plan {
  readonly id: FunctionId;
  readonly event: unknown;
  readonly requestId: string;
  readonly acceptedAt: number;
  readonly retryAttempts: number;
  readonly maxEventAgeMs: number;
}
