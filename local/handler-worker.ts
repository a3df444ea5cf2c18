/**
 * A handler thread (see handler-threads.ts): one "Lambda container" that imports the
 * handler modules and runs the invocations the runtime's thread sends it, with their
 * event and a context rebuilt from the runtime's (same request id, same deadline). Its
 * log and metrics lines go back to the runtime's log; its SDK clients reach DynamoDB,
 * the Management API and Lambda over HTTP on the runtime's port, as in-process handlers do.
 */

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { setLogWriter } from '../functions/runtime/logger.ts';
import type { FunctionId } from '../lib/function-specs.ts';
import { importHandler, type LambdaHandler } from './functions.ts';
import type { KeyPair } from './iam/credentials.ts';
import { functionEnvironment, runWithEnvironment } from './iam/function-scope.ts';
import { type SerializedError, serializeError } from './worker-threads.ts';

export interface HandlerWorkerData {
  /** The handler modules this thread imports (not the ones the runtime replaced). */
  readonly functionIds: readonly FunctionId[];
  /** Each function's credentials (local/iam/credentials.ts), in its invocations' environment. */
  readonly functionKeys: Readonly<Record<string, KeyPair>>;
}

/** The data fields of a Lambda context; `getRemainingTimeInMillis` comes from `deadline`. */
export interface ContextFields {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly callbackWaitsForEmptyEventLoop: boolean;
  /** Epoch ms at which the invocation times out. */
  readonly deadline: number;
}

export type ToHandlerWorker = {
  readonly type: 'invoke';
  readonly id: number;
  readonly functionId: FunctionId;
  readonly event: unknown;
  readonly context: ContextFields;
};

/** Log and metrics lines (line, level), in the order the handlers wrote them. */
export type LogLines = readonly (readonly [string, string])[];

export type FromHandlerWorker =
  | {
      readonly type: 'loaded';
      readonly failures: readonly { readonly functionId: FunctionId; readonly error: SerializedError }[];
    }
  /** `logs`: lines written before the result (not sent yet), printed first. */
  | {
      readonly type: 'result';
      readonly id: number;
      readonly logs: LogLines;
      readonly ok: true;
      readonly result: unknown;
    }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly logs: LogLines;
      readonly ok: false;
      readonly error: SerializedError;
    }
  | { readonly type: 'logs'; readonly lines: LogLines };

function contextFrom(fields: ContextFields): Context {
  const { deadline, ...data } = fields;
  const unsupported = () => {
    throw new Error(
      'Callback-style completion (context.done/succeed/fail) is not supported; return a value.',
    );
  };
  return {
    ...data,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const send = (message: FromHandlerWorker) => port.postMessage(message);
  // Lines travel in batches: with the next result, or at the end of this turn of the event loop.
  let logs: [string, string][] = [];
  const takeLogs = () => {
    const taken = logs;
    logs = [];
    return taken;
  };
  const flushLogs = () => {
    if (logs.length > 0) send({ type: 'logs', lines: takeLogs() });
  };
  setLogWriter((line, level) => {
    if (logs.length === 0) setImmediate(flushLogs);
    logs.push([line, level]);
  });

  const { functionIds, functionKeys } = workerData as HandlerWorkerData;
  const handlers = new Map<FunctionId, LambdaHandler>();
  const failures: { functionId: FunctionId; error: SerializedError }[] = [];
  await Promise.all(
    functionIds.map(async (functionId) => {
      try {
        handlers.set(functionId, await importHandler(functionId));
      } catch (error) {
        failures.push({ functionId, error: serializeError(error) });
      }
    }),
  );

  port.on('message', (message: ToHandlerWorker) => {
    const { id, functionId, event, context } = message;
    void (async () => {
      try {
        const handler = handlers.get(functionId);
        if (!handler) throw new Error(`${context.functionName} is not loaded in this handler thread.`);
        const keys = functionKeys[functionId];
        if (!keys) throw new Error(`${context.functionName} has no credentials in this handler thread.`);
        const environment = functionEnvironment(context.functionName, keys);
        const result = await runWithEnvironment(environment, () => handler(event, contextFrom(context)));
        const lines = takeLogs();
        try {
          send({ type: 'result', id, logs: lines, ok: true, result });
        } catch {
          // Not cloneable (a function, say): what Lambda returns is the JSON of the result anyway.
          const json = JSON.parse(JSON.stringify(result) ?? 'null');
          send({ type: 'result', id, logs: lines, ok: true, result: json });
        }
      } catch (error) {
        send({ type: 'result', id, logs: takeLogs(), ok: false, error: serializeError(error) });
      }
    })();
  });
  send({ type: 'loaded', failures });
}

if (!isMainThread) await serve();
