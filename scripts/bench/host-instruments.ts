/**
 * The bench host's counters, in a module of their own so that what the host mounts on
 * extra routes (the AWS sample, scripts/bench/aws-sample-mounted.ts) is counted by the
 * same instance as the chat's handlers: ES modules are evaluated once per process.
 */
import { Accounting } from './accounting.ts';

export const accounting = new Accounting();

let running = 0;

/** Invocations running now (the host is quiet only when none is). */
export function invocationsInFlight(): number {
  return running;
}

type Handler<E, C, R> = (event: E, context: C) => R;

/** The handler `load` gives, counted as invocations of `id` and timed (handler time, billed ms). */
export function timed<E, C, R>(
  id: string,
  load: () => Promise<Handler<E, C, R>> | Handler<E, C, R>,
): Handler<E, C, Promise<Awaited<R>>> {
  return async (event, context): Promise<Awaited<R>> => {
    const run = await load();
    running++;
    accounting.touch();
    const startedAt = performance.now();
    try {
      return (await run(event, context)) as Awaited<R>;
    } finally {
      running--;
      accounting.invocation(id, performance.now() - startedAt);
    }
  };
}
