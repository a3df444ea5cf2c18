/**
 * Wiring (see functions/runtime/container.ts): the Lambda client through which connections
 * that answer 410 go to the stale-connection sweep function for the whole close path
 * (functions/runtime/gone-handoff.ts). For the functions that post (`invokes:
 * ['sweepConnections']` in lib/function-specs.ts, which gives them
 * CONNECTION_SWEEP_FUNCTION_NAME). The client is imported with the first hand-off: most
 * invocations meet no 410, and their cold start then does not evaluate it.
 */
import { DISPATCH_CONCURRENCY } from '../../core/fan-out/fan-out-dispatch.ts';
import { GoneHandoff } from '../gone-handoff.ts';
import { provideGoneHandoff } from './dynamo.ts';

provideGoneHandoff(
  (config, functionName) =>
    new GoneHandoff(async (payload) => {
      const [{ lambdaClient }, { InvokeCommand }] = await Promise.all([
        import('../fan-out-invoker.ts'),
        import('@aws-sdk/client-lambda'),
      ]);
      const response = await lambdaClient(config.lambdaEndpoint, DISPATCH_CONCURRENCY).send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
      if (response.StatusCode !== 202) {
        throw new Error(`gone connections not handed over: Invoke answered ${response.StatusCode}`);
      }
    }),
);
