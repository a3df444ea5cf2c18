/** The Management API (`@connections`) behind the ConnectionNotifier and ConnectionCloser ports. */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionCloser } from '../core/connections/sessions.ts';
import { type ConnectionNotifier, DeliveryError, type DeliveryFailure } from '../core/shared/ports.ts';
import { containerKey } from './container-key.ts';
import { traced } from './tracing.ts';

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** SDK v3 errors carry no `statusCode`: classify by exception class and `$metadata`. */
export function classifyDeliveryError(error: unknown): DeliveryFailure {
  if (error instanceof GoneException) return 'gone';
  const status = statusOf(error);
  if (status === 410) return 'gone';
  if (status === 429 || (status !== undefined && status >= 500)) return 'retryable';
  if (status === undefined) return 'retryable'; // network fault, timeout
  return 'permanent';
}

/** Posts (`POST`), checks (`GET`) and closes (`DELETE`) connections. */
export class ManagementApiNotifier implements ConnectionNotifier, ConnectionCloser {
  constructor(readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, frame: string): Promise<void> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    } catch (error) {
      const kind = classifyDeliveryError(error);
      throw new DeliveryError(kind, `post to connection failed (${kind})`, { cause: error });
    }
  }

  /** True when the connection is open; false on 410. */
  isOpen(connectionId: string): Promise<boolean> {
    return unlessGone(() => this.client.send(new GetConnectionCommand({ ConnectionId: connectionId })));
  }

  /** Closes the connection (`DELETE @connections/{id}`); false when it was already gone (410). */
  close(connectionId: string): Promise<boolean> {
    return unlessGone(() => this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })));
  }
}

/** True when `request` succeeds, false when it answers 410; other failures are thrown. */
async function unlessGone(request: () => Promise<unknown>): Promise<boolean> {
  try {
    await request();
    return true;
  } catch (error) {
    if (classifyDeliveryError(error) === 'gone') return false;
    throw error;
  }
}

const clients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * One client per callback endpoint per container (containerKey), with keep-alive sockets
 * sized to the fan-out concurrency so posts reuse TLS connections.
 */
export function managementApiClient(endpoint: string, maxSockets: number): ApiGatewayManagementApiClient {
  const key = `${containerKey()} ${endpoint}`;
  let client = clients.get(key);
  if (!client) {
    client = traced(
      new ApiGatewayManagementApiClient({
        endpoint,
        requestHandler: {
          httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
          httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
          requestTimeout: 5_000,
        },
        // Fan-out does its own jittered retries; SDK retries would multiply them.
        maxAttempts: 1,
        // Resolves each command's middleware stack once, not on every post: a fan-out sends
        // thousands of the same three commands (the SDK option; no middleware is added later).
        cacheMiddleware: true,
      }),
    );
    clients.set(key, client);
  }
  return client;
}
