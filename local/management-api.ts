/**
 * The API Gateway Management API (`@connections`), at `/@connections/{id}` and at
 * `/{stage}/@connections/{id}` (the form handlers use, since the callback URL carries the
 * stage). Any SigV4 signature is accepted. Errors carry `x-amzn-errortype` so the real
 * `@aws-sdk/client-apigatewaymanagementapi` throws its modeled exceptions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectionRegistry } from './connections.ts';
import type { FaultInjector } from './faults.ts';
import { BodyTooLargeError, readBody, sendAwsError, sendJson } from './http-util.ts';
import { elapsed, type Logger } from './log.ts';
import { MAX_MESSAGE_BYTES } from './websocket-gateway.ts';

const CONNECTIONS_PATH = /^(?:\/([^/]+))?\/@connections\/([^/]+)\/?$/;
/**
 * API Gateway's connection ids: 16 characters, base64 of 11 bytes (so ending in `=`),
 * seen with both alphabets (`+/` and `-_`). Anything else is a 400 BadRequestException
 * on AWS, not a 410: the id cannot name a connection, gone or not.
 */
const CONNECTION_ID_FORMAT = /^[A-Za-z0-9+/_-]{15}=$/;

export type ManagementTarget =
  | { readonly kind: 'connection'; readonly connectionId: string }
  | { readonly kind: 'wrongStage'; readonly stage: string }
  | { readonly kind: 'badId'; readonly connectionId: string };

/**
 * Matches a request path (still percent-encoded, so an encoded `/` in an id stays inside
 * its segment) against both path forms; undefined when it is no Management API path.
 */
export function matchManagementPath(rawPath: string, stage: string): ManagementTarget | undefined {
  const match = CONNECTIONS_PATH.exec(rawPath);
  if (!match) return undefined;
  const [, pathStage, encodedId = ''] = match;
  if (pathStage !== undefined && decodeURIComponent(pathStage) !== stage) {
    return { kind: 'wrongStage', stage: pathStage };
  }
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(encodedId);
  } catch {
    return { kind: 'badId', connectionId: encodedId };
  }
  return CONNECTION_ID_FORMAT.test(connectionId)
    ? { kind: 'connection', connectionId }
    : { kind: 'badId', connectionId };
}

/**
 * Calls answered since the last reset, by `METHOD status` (`POST 200`, `POST 410`, …);
 * for the benchmark (scripts/bench), which counts calls per operation.
 */
const callCounts = new Map<string, number>();

export function managementApiCallCounts(): Record<string, number> {
  return Object.fromEntries(callCounts);
}

export function resetManagementApiCallCounts(): void {
  callCounts.clear();
}

export interface ManagementApiOptions {
  readonly stage: string;
  readonly connections: ConnectionRegistry;
  readonly logger: Logger;
  /** Fault injection for POSTs (off unless configured). */
  readonly faults?: FaultInjector;
}

export async function handleManagementRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: ManagementTarget,
  options: ManagementApiOptions,
): Promise<void> {
  const startedAt = Date.now();
  const status = await respond(req, res, target, options);
  const id = target.kind === 'wrongStage' ? '-' : target.connectionId;
  const code = typeof status === 'number' ? status : `${status.injected} (injected fault)`;
  const key = `${req.method} ${typeof status === 'number' ? status : status.injected}`;
  callCounts.set(key, (callCounts.get(key) ?? 0) + 1);
  options.logger.info(`API ${req.method} @connections ${id} ${code} ${elapsed(startedAt)}`);
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  target: ManagementTarget,
  { stage, connections, faults }: ManagementApiOptions,
): Promise<number | { readonly injected: number }> {
  if (target.kind === 'wrongStage') {
    // What AWS answers for a stage that does not exist; the local stage is `${stage}`.
    sendAwsError(res, 403, 'ForbiddenException', `Forbidden: no stage "${target.stage}" (use "${stage}")`);
    return 403;
  }
  if (target.kind === 'badId') {
    sendAwsError(res, 400, 'BadRequestException', `Invalid connectionId: ${target.connectionId}`);
    return 400;
  }
  const connection = connections.findOpen(target.connectionId);
  const gone = () => {
    sendAwsError(res, 410, 'GoneException', `Connection ${target.connectionId} is gone or not yet connected`);
    return 410;
  };

  switch (req.method) {
    case 'POST': {
      let body: Buffer;
      try {
        body = await readBody(req, MAX_MESSAGE_BYTES);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        sendAwsError(res, 413, 'PayloadTooLargeException', `Message exceeds ${MAX_MESSAGE_BYTES} bytes`);
        return 413;
      }
      const fault = faults?.enabled ? await faults.beforePost(target.connectionId, body) : undefined;
      if (fault) {
        sendAwsError(res, fault.status, fault.errorType, fault.message);
        return { injected: fault.status };
      }
      if (faults?.enabled && faults.dropsOnPost(target.connectionId)) {
        connections.findOpen(target.connectionId)?.drop();
      }
      // Looked up again: the connection may have closed while the body arrived (or the latency).
      if (!connections.findOpen(target.connectionId)?.postText(body)) return gone();
      res.writeHead(200, { 'content-length': 0 }).end();
      return 200;
    }
    case 'GET': {
      if (!connection) return gone();
      sendJson(res, 200, {
        connectedAt: new Date(connection.connectedAt).toISOString(),
        identity: { sourceIp: connection.identity.sourceIp, userAgent: connection.identity.userAgent },
        lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      });
      return 200;
    }
    case 'DELETE': {
      if (!connection) return gone();
      connection.close(1000, 'Connection deleted');
      res.writeHead(204).end();
      return 204;
    }
    default:
      sendAwsError(res, 405, 'MethodNotAllowedException', `${req.method} is not supported on @connections`);
      return 405;
  }
}
