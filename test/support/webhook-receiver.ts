/** A local HTTP receiver for what the runtime POSTs to EVENTS_WEBHOOK_URL. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  /** Where to POST: `http://127.0.0.1:<port>/events`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Listens on a free local port; each request's body goes to `answer`, whose status is the reply. */
export async function startWebhookReceiver(answer: (body: string) => number): Promise<WebhookReceiver> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      res.writeHead(answer(body)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An application event as the runtime POSTs it (EventBridge's envelope). */
export interface ApplicationEvent {
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown>;
}

export interface EventCollector extends WebhookReceiver {
  /** The events of `type` received so far whose `detail[key]` is `value`. */
  about(type: string, key: string, value: unknown): ApplicationEvent[];
}

/** A receiver that keeps every event it is sent (answering 204), for tests that count them. */
export async function startEventCollector(): Promise<EventCollector> {
  const events: ApplicationEvent[] = [];
  const receiver = await startWebhookReceiver((body) => {
    events.push(JSON.parse(body));
    return 204;
  });
  return {
    ...receiver,
    about: (type, key, value) =>
      events.filter((event) => event['detail-type'] === type && event.detail[key] === value),
  };
}
