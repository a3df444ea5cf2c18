/**
 * Fan-out jobs go to the `fanOutWorker` function as asynchronous Lambda invocations
 * (`InvocationType: Event`): Lambda queues the event and answers 202 at once. In the
 * local runtime LAMBDA_ENDPOINT points at its Invoke API, which runs the same handler.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FanOutInvoker, FanOutJob } from '../core/fan-out/fan-out-dispatch.ts';
import { containerKey } from './container-key.ts';
import { traced } from './tracing.ts';

const clients = new Map<string, LambdaClient>();

/**
 * One Lambda client per endpoint per container (containerKey), with keep-alive sockets sized to the
 * number of `Invoke` calls a dispatch keeps in flight, so they reuse TLS connections.
 * The SDK's standard retries (3 attempts, backoff) stay on: a throttled `Invoke` is
 * retried; an `Invoke` retried after Lambda had in fact accepted it queues the job twice,
 * and the worker's claim on the job id makes that one post.
 */
export function lambdaClient(endpoint: string | undefined, maxSockets: number): LambdaClient {
  const key = `${containerKey()} ${endpoint ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    client = traced(
      new LambdaClient({
        endpoint,
        requestHandler: {
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
          requestTimeout: 5_000,
        },
      }),
    );
    clients.set(key, client);
  }
  return client;
}

export class LambdaFanOutInvoker implements FanOutInvoker {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  async invoke(job: FanOutJob): Promise<void> {
    const response = await this.client.send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(job)),
      }),
    );
    if (response.StatusCode !== 202) {
      throw new Error(`fan-out job ${job.id} not queued: Invoke answered ${response.StatusCode}`);
    }
  }
}
