/**
 * The gate in front of the runtime's control plane — DynamoDB, the Management API
 * (`@connections`) and the Lambda Invoke API — which on AWS only signed, authorized
 * callers reach. A request passes only when it
 * 1. is no browser request: no `Origin` header (every cross-origin fetch carries one), and
 *    the SDK's content type, never a CORS "simple" one (text/plain, forms);
 * 2. is signed (SigV4) with credentials this runtime issued (local/iam/credentials.ts);
 * 3. asks only for what the signing function's grants allow (local/iam/policy.ts).
 * Otherwise it gets the error AWS would send, and the log says who asked for what.
 * A request that passes goes on with its body replayed, so the emulated service reads it
 * as it arrived.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { localFunctionName } from '../functions.ts';
import { BodyTooLargeError, readBody, sendAwsError } from '../http-util.ts';
import type { Logger } from '../log.ts';
import type { LocalCredentials, Principal } from './credentials.ts';
import { firstDenied, type Grants, type Permission } from './policy.ts';
import { verifySignature } from './sigv4.ts';

export type ControlPlaneService = 'dynamodb' | 'execute-api' | 'lambda';

/** DynamoDB's own limit on a request is 16 MB; the services behind apply their smaller ones. */
const MAX_CONTROL_PLANE_BODY_BYTES = 16 * 1024 * 1024;

/** The content types the AWS SDK sends to each service; none is CORS-safelisted. */
const SDK_CONTENT_TYPES: Readonly<Record<ControlPlaneService, readonly string[]>> = {
  dynamodb: ['application/x-amz-json-1.0'],
  lambda: ['application/octet-stream', 'application/json'],
  'execute-api': ['application/octet-stream', 'application/json'],
};

export interface ControlPlaneOptions {
  readonly credentials: LocalCredentials;
  readonly grants: Grants;
  readonly logger: Logger;
}

/** Sends the error as the service's SDK client reads it. */
function refuse(res: ServerResponse, service: ControlPlaneService, errorType: string, message: string): void {
  if (service === 'dynamodb') {
    // DynamoDB answers authentication and authorization failures with 400 and a coral `__type`.
    const body = JSON.stringify({ __type: `com.amazon.coral.service#${errorType}`, message });
    const closeAfter: Record<string, string> = res.req.complete ? {} : { connection: 'close' };
    res.writeHead(400, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(body),
      'x-amzn-errortype': errorType,
      ...closeAfter,
    });
    res.end(body);
    return;
  }
  if (errorType === 'UnsupportedMediaTypeException') {
    sendAwsError(res, 415, errorType, message);
    return;
  }
  // The Management API's SDK models ForbiddenException for every 403.
  sendAwsError(res, 403, service === 'execute-api' ? 'ForbiddenException' : errorType, message);
}

function principalName(principal: Principal): string {
  return principal.kind === 'admin' ? 'admin' : localFunctionName(principal.functionId);
}

function bodyExpected(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/** The request again, its body read: what the emulated service (or dynalite) reads instead. */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const stream = new Readable({ read() {} });
  if (body.length > 0) stream.push(body);
  stream.push(null);
  return Object.assign(stream, {
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    socket: req.socket,
    complete: true,
  }) as unknown as IncomingMessage;
}

/**
 * Lets the request through (returning it with its body replayed) or answers it with the
 * refusal (returning undefined). `permissionsFor` names what the request asks for.
 */
export async function admitControlPlaneRequest(
  req: IncomingMessage,
  res: ServerResponse,
  service: ControlPlaneService,
  permissionsFor: (body: Buffer) => readonly Permission[],
  { credentials, grants, logger }: ControlPlaneOptions,
): Promise<IncomingMessage | undefined> {
  const path = (req.url ?? '/').split('?')[0];
  const refused = (errorType: string, message: string, detail = message) => {
    req.resume();
    logger.warn(`IAM refused ${req.method} ${path} (${service}): ${errorType}: ${detail}`);
    refuse(res, service, errorType, message);
    return undefined;
  };
  if (req.headers.origin !== undefined) {
    return refused(
      'AccessDeniedException',
      'Browser requests (with an Origin header) are refused: the control plane is for signed SDK clients.',
    );
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const needsContentType = service === 'dynamodb' || bodyExpected(req);
  if (needsContentType && !SDK_CONTENT_TYPES[service].includes(contentType)) {
    return refused(
      service === 'dynamodb' ? 'AccessDeniedException' : 'UnsupportedMediaTypeException',
      `Content type "${contentType}" is not accepted here; the SDK sends ${SDK_CONTENT_TYPES[service].join(' or ')}.`,
    );
  }
  if (req.headers.authorization === undefined) {
    return refused('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  }

  let body: Buffer;
  try {
    body = await readBody(req, MAX_CONTROL_PLANE_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    sendAwsError(res, 413, 'RequestEntityTooLargeException', 'Request body is too large');
    return undefined;
  }
  const signature = await verifySignature(req, body, service, credentials);
  if (!signature.ok) return refused(`${signature.failure}Exception`, signature.message);

  const { principal } = signature.credential;
  const denied = firstDenied(principal, permissionsFor(body), grants);
  if (denied) {
    const who = principalName(principal);
    const message =
      `User: ${who} is not authorized to perform: ${denied.action} on resource: ${denied.resource} ` +
      `because no identity-based policy allows the ${denied.action} action`;
    logger.warn(`IAM AccessDenied: ${who} may not ${denied.action} on ${denied.resource}`);
    refuse(res, service, 'AccessDeniedException', message);
    return undefined;
  }
  return replay(req, body);
}
