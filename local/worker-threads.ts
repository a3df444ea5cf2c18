/** Worker threads that run this repository's TypeScript modules. */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker on a TypeScript module. tsx's loader is registered in the worker
 * itself: Node 20 does not pass the main thread's `--import tsx` hooks on to workers.
 */
export function startTypeScriptWorker(entry: URL, options: Omit<WorkerOptions, 'eval'>): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** A thrown value, across threads: an Error's name, message and stack survive (structured clone keeps only standard names). */
export type SerializedError =
  | { readonly kind: 'error'; readonly name: string; readonly message: string; readonly stack?: string }
  | { readonly kind: 'value'; readonly text: string };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    return { kind: 'error', name: error.name, message: error.message, stack: error.stack };
  }
  return { kind: 'value', text: String(error) };
}

/** An Error with the original's name, message and stack; a non-Error thrown value as its text. */
export function deserializeError(error: SerializedError): unknown {
  if (error.kind === 'value') return error.text;
  const copy = new Error(error.message);
  copy.name = error.name;
  copy.stack = error.stack;
  return copy;
}
