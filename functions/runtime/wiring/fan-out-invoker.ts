/**
 * Wiring (see functions/runtime/container.ts): the Lambda client through which fan-outs
 * above FANOUT_WORKER_THRESHOLD go to the fan-out worker. For the functions that invoke it
 * (`invokes: ['fanOutWorker']` in lib/function-specs.ts, which also gives them
 * FANOUT_WORKER_FUNCTION_NAME); the others deliver every fan-out inline and leave the
 * Lambda client out of their bundle. Those that have it import it (`import()`) with their
 * first hand-off: most invocations deliver inline, and their cold start then does not
 * evaluate the Lambda client.
 */
import { DISPATCH_CONCURRENCY, type FanOutInvoker } from '../../core/fan-out/fan-out-dispatch.ts';
import { provideFanOutInvoker } from './dynamo.ts';

provideFanOutInvoker((config, functionName): FanOutInvoker => {
  let invoker: Promise<FanOutInvoker> | undefined;
  return {
    async invoke(job) {
      invoker ??= import('../fan-out-invoker.ts').then(
        ({ LambdaFanOutInvoker, lambdaClient }) =>
          new LambdaFanOutInvoker(lambdaClient(config.lambdaEndpoint, DISPATCH_CONCURRENCY), functionName),
      );
      return (await invoker).invoke(job);
    },
  };
});
