/**
 * The Management API client (`@aws-sdk/client-apigatewaymanagementapi`), imported by
 * ManagementApiNotifier (management-api.ts) with `import()` on its first request: esbuild
 * puts it in a chunk of its own, so a cold start whose first invocation posts to no
 * connection (a reply in the route response, a recipient offline, ping) never parses it
 * (docs/architecture.md, "Bundling and init").
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { containerKey } from './container-key.ts';
import { traced } from './tracing.ts';

/** The three `@connections` requests, as the SDK sends them (its errors unchanged). */
export interface ManagementApiRequests {
  post(connectionId: string, frame: string): Promise<unknown>;
  get(connectionId: string): Promise<unknown>;
  delete(connectionId: string): Promise<unknown>;
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

/** The requests of `managementApiClient(endpoint, maxSockets)`. */
export function managementApiRequests(endpoint: string, maxSockets: number): ManagementApiRequests {
  const client = managementApiClient(endpoint, maxSockets);
  return {
    post: (connectionId, frame) =>
      client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame })),
    get: (connectionId) => client.send(new GetConnectionCommand({ ConnectionId: connectionId })),
    delete: (connectionId) => client.send(new DeleteConnectionCommand({ ConnectionId: connectionId })),
  };
}
