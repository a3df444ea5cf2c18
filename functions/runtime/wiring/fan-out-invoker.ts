/**
 * Wiring (see functions/runtime/container.ts): the Lambda client through which fan-outs
 * above FANOUT_WORKER_THRESHOLD go to the fan-out worker. For the functions that invoke it
 * (`invokes: ['fanOutWorker']` in lib/function-specs.ts, which also gives them
 * FANOUT_WORKER_FUNCTION_NAME); the others deliver every fan-out inline and leave the
 * Lambda client out of their bundle.
 */
import { DISPATCH_CONCURRENCY } from '../../core/fan-out/fan-out-dispatch.ts';
import { LambdaFanOutInvoker, lambdaClient } from '../fan-out-invoker.ts';
import { provideFanOutInvoker } from './dynamo.ts';

provideFanOutInvoker(
  (config, functionName) =>
    new LambdaFanOutInvoker(lambdaClient(config.lambdaEndpoint, DISPATCH_CONCURRENCY), functionName),
);
