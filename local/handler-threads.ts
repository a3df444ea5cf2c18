/**
 * Handler threads: the handler modules run in worker threads, each like one Lambda
 * container (its own module state, SDK clients, keep-alive sockets), instead of on the
 * runtime's thread. The runtime's thread then only runs the gateway and the emulated
 * services; a handler's SDK work (serialization, SigV4 signing, HTTP client) runs on
 * another core. Handlers run unchanged: same event and context (request id, deadline),
 * the environment shared with the runtime's thread (`SHARE_ENV`), their log and metrics
 * lines in the runtime's log, their calls to DynamoDB, the Management API and Lambda
 * over HTTP on the runtime's port.
 *
 * What differs from handlers on the runtime's thread: in-process hooks (`setServices`,
 * `onDynamoDbRequest` listeners registered by the host) do not reach them, and a thread
 * whose handler crashed it (an uncaught exception) fails its running invocations and is
 * replaced, where it used to end the whole process.
 */

import { SHARE_ENV, type Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { type LogLevel, writeLine } from '../functions/runtime/logger.ts';
import type { FunctionId } from '../lib/function-specs.ts';
import type { LambdaHandler } from './functions.ts';
import type { FromHandlerWorker, HandlerWorkerData, LogLines, ToHandlerWorker } from './handler-worker.ts';
import type { KeyPair } from './iam/credentials.ts';
import type { Logger } from './log.ts';
import { deserializeError, startTypeScriptWorker } from './worker-threads.ts';

function writeLines(lines: LogLines): void {
  for (const [line, level] of lines) writeLine(line, level as LogLevel);
}

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** One handler thread and the invocations it is running. */
class HandlerThread {
  readonly pending = new Map<number, Pending>();
  private readonly worker: Worker;
  /** Resolves with the modules that failed to load, once the thread has imported them. */
  readonly loaded: Promise<readonly { functionId: FunctionId; error: unknown }[]>;

  constructor(
    index: number,
    functionIds: readonly FunctionId[],
    functionKeys: Readonly<Record<string, KeyPair>>,
    private readonly onExit: (thread: HandlerThread, error: unknown) => void,
  ) {
    const workerData: HandlerWorkerData = { functionIds, functionKeys };
    this.worker = startTypeScriptWorker(new URL('./handler-worker.ts', import.meta.url), {
      workerData,
      env: SHARE_ENV,
      name: `handlers-${index}`,
    });
    // Running invocations keep the process alive (their timeouts), an idle thread does not.
    this.worker.unref();
    this.loaded = new Promise((resolve, reject) => {
      this.worker.on('message', (message: FromHandlerWorker) => {
        switch (message.type) {
          case 'loaded':
            resolve(
              message.failures.map(({ functionId, error }) => ({
                functionId,
                error: deserializeError(error),
              })),
            );
            return;
          case 'logs':
            writeLines(message.lines);
            return;
          case 'result': {
            writeLines(message.logs);
            const pending = this.pending.get(message.id);
            if (!pending) return;
            this.pending.delete(message.id);
            if (message.ok) pending.resolve(message.result);
            else pending.reject(deserializeError(message.error));
            return;
          }
        }
      });
      let failure: unknown;
      this.worker.on('error', (error) => {
        failure = error;
        reject(error);
      });
      this.worker.on('exit', (code) => {
        const error = failure ?? new Error(`The handler thread exited with code ${code}.`);
        reject(error);
        this.onExit(this, error);
      });
    });
  }

  send(message: ToHandlerWorker, pending: Pending): void {
    this.pending.set(message.id, pending);
    this.worker.postMessage(message);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export interface HandlerThreadsOptions {
  readonly threads: number;
  /** The handler modules the threads import. */
  readonly functionIds: readonly FunctionId[];
  /** Each function's credentials, which its invocations see in their environment. */
  readonly functionKeys: Readonly<Record<string, KeyPair>>;
  readonly logger: Logger;
}

export class HandlerThreads {
  private readonly threads: HandlerThread[] = [];
  private nextInvocation = 0;
  private nextStart = 0;
  private closed = false;
  private started = 0;

  private constructor(private readonly options: HandlerThreadsOptions) {}

  /** Starts the threads; resolves with the modules that failed to load (in every thread alike). */
  static async start(
    options: HandlerThreadsOptions,
  ): Promise<{ threads: HandlerThreads; failures: readonly { functionId: FunctionId; error: unknown }[] }> {
    const pool = new HandlerThreads(options);
    for (let i = 0; i < options.threads; i++) pool.threads.push(pool.spawn());
    try {
      const results = await Promise.all(pool.threads.map((thread) => thread.loaded));
      return { threads: pool, failures: results[0] ?? [] };
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  private spawn(): HandlerThread {
    return new HandlerThread(
      this.started++,
      this.options.functionIds,
      this.options.functionKeys,
      (thread, error) => this.exited(thread, error),
    );
  }

  /** A thread ended: its running invocations fail with its error, and a new thread takes its place. */
  private exited(thread: HandlerThread, error: unknown): void {
    for (const pending of thread.pending.values()) pending.reject(error);
    thread.pending.clear();
    const index = this.threads.indexOf(thread);
    if (index < 0 || this.closed) return;
    this.options.logger.error('λ   a handler thread ended; starting another', error);
    const replacement = this.spawn();
    this.threads[index] = replacement;
    replacement.loaded.catch((startError: unknown) => {
      this.options.logger.error('λ   the replacement handler thread failed to start', startError);
    });
  }

  /** A handler that runs the module's handler in the least busy thread. */
  handler(functionId: FunctionId): LambdaHandler {
    return (event: unknown, context: Context) =>
      new Promise((resolve, reject) => {
        const thread = this.leastBusy();
        if (!thread) {
          reject(new Error('The handler threads are stopped.'));
          return;
        }
        const { getRemainingTimeInMillis, done: _done, fail: _fail, succeed: _succeed, ...fields } = context;
        thread.send(
          {
            type: 'invoke',
            id: this.nextInvocation++,
            functionId,
            event,
            context: { ...fields, deadline: Date.now() + getRemainingTimeInMillis() },
          },
          { resolve, reject },
        );
      });
  }

  /** The thread with the fewest running invocations; ties go round-robin. */
  private leastBusy(): HandlerThread | undefined {
    if (this.closed || this.threads.length === 0) return undefined;
    const start = this.nextStart++ % this.threads.length;
    let best: HandlerThread | undefined;
    for (let i = 0; i < this.threads.length; i++) {
      const thread = this.threads[(start + i) % this.threads.length] as HandlerThread;
      if (!best || thread.pending.size < best.pending.size) best = thread;
    }
    return best;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}
