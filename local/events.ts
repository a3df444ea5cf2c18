/**
 * The events API Gateway hands to Lambda, built from local requests. Shapes follow what
 * API Gateway sends (WebSocket proxy events; HTTP API payload format 2.0), so handlers
 * cannot tell the local runtime from AWS by looking at their input.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** Fixed id of the local "API"; API Gateway ids are 10 lowercase alphanumerics. */
export const LOCAL_API_ID = 'localchat1';
export const LOCAL_ACCOUNT_ID = '000000000000';

/**
 * Ids in API Gateway's style (`L0SM9cOFvHcCIhw=`): 11 random bytes in base64, so they end
 * in `=` and may hold `+` and `/`, which is what makes URL-encoding them matter.
 */
export function apiGatewayId(): string {
  if (idPoolOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolOffset = 0;
  }
  const id = idPool.toString('base64', idPoolOffset, idPoolOffset + ID_BYTES);
  idPoolOffset += ID_BYTES;
  return id;
}

const ID_BYTES = 11;
/** Every event takes two ids: one call into the CSPRNG per ~370 ids instead of one per id. */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `09/Apr/2015:12:34:56 +0000`, the format of `requestContext.requestTime` / `time`. */
export function requestTimeString(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  const month = MONTHS[d.getUTCMonth()] ?? 'Jan';
  return `${two(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

export interface ClientIdentity {
  readonly sourceIp: string;
  readonly userAgent: string;
}

export function clientIdentity(req: IncomingMessage): ClientIdentity {
  const address = req.socket.remoteAddress ?? '127.0.0.1';
  return {
    sourceIp: address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address,
    userAgent: req.headers['user-agent'] ?? '',
  };
}

// ---------------------------------------------------------------- WebSocket API

export type WebSocketEventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

export interface WebSocketRequestContext {
  routeKey: string;
  eventType: WebSocketEventType;
  messageId?: string;
  extendedRequestId: string;
  requestTime: string;
  messageDirection: 'IN';
  stage: string;
  connectedAt: number;
  requestTimeEpoch: number;
  identity: ClientIdentity;
  requestId: string;
  domainName: string;
  connectionId: string;
  apiId: string;
  disconnectStatusCode?: number;
  disconnectReason?: string;
  /** What the `$connect` authorizer returned (see `authorizerRequestContext`), on every event of the connection. */
  authorizer?: Readonly<Record<string, string | number>>;
}

export interface WebSocketEvent {
  requestContext: WebSocketRequestContext;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
  body?: string;
  isBase64Encoded: boolean;
}

/** What the gateway knows about a connection, enough to fill any of its events. */
export interface ConnectionFacts {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly domainName: string;
  readonly identity: ClientIdentity;
  /** `requestContext.authorizer` of its events, once the `$connect` authorizer allowed it. */
  readonly authorizer?: Readonly<Record<string, string | number>>;
}

function webSocketContext(
  facts: ConnectionFacts,
  stage: string,
  routeKey: string,
  eventType: WebSocketEventType,
): WebSocketRequestContext {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    extendedRequestId: apiGatewayId(),
    requestTime: requestTimeString(now),
    messageDirection: 'IN',
    stage,
    connectedAt: facts.connectedAt,
    requestTimeEpoch: now,
    identity: facts.identity,
    requestId: apiGatewayId(),
    domainName: facts.domainName,
    connectionId: facts.connectionId,
    apiId: LOCAL_API_ID,
    ...(facts.authorizer ? { authorizer: { ...facts.authorizer } } : {}),
  };
}

/**
 * Header names keep the case the client sent (API Gateway passes them on as received),
 * plus the forwarding headers API Gateway adds. Handlers must look them up case-insensitively.
 */
function connectHeaders(req: IncomingMessage, identity: ClientIdentity) {
  const multi: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    const value = req.rawHeaders[i + 1] as string;
    const existing = Object.keys(multi).find((key) => key.toLowerCase() === name.toLowerCase()) ?? name;
    multi[existing] = [...(multi[existing] ?? []), value];
  }
  const port = String(req.socket.localPort ?? '');
  multi['X-Forwarded-For'] ??= [identity.sourceIp];
  multi['X-Forwarded-Port'] ??= [port];
  multi['X-Forwarded-Proto'] ??= ['http'];
  const single = Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values.join(',')]));
  return { headers: single, multiValueHeaders: multi };
}

function queryParameters(search: URLSearchParams) {
  const multi: Record<string, string[]> = {};
  for (const [name, value] of search) multi[name] = [...(multi[name] ?? []), value];
  if (Object.keys(multi).length === 0) return {};
  // Like API Gateway's v1-style events: the single-value map keeps the last value.
  const single = Object.fromEntries(
    Object.entries(multi).map(([name, values]) => [name, values.at(-1) ?? '']),
  );
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

export function connectEvent(facts: ConnectionFacts, stage: string, req: IncomingMessage): WebSocketEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return {
    requestContext: webSocketContext(facts, stage, '$connect', 'CONNECT'),
    ...connectHeaders(req, facts.identity),
    ...queryParameters(url.searchParams),
    isBase64Encoded: false,
  };
}

/** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`, the resource a `$connect` authorizer allows. */
export function connectMethodArn(region: string, stage: string): string {
  return `arn:aws:execute-api:${region}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/${stage}/$connect`;
}

/**
 * The input of a WebSocket Lambda REQUEST authorizer: the `$connect` request (headers,
 * query string, request context) with `type: 'REQUEST'`, the method ARN and the stage
 * variables, as in the API Gateway Developer Guide's example input.
 */
export interface AuthorizerRequestEvent {
  type: 'REQUEST';
  methodArn: string;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
  stageVariables: Record<string, string>;
  requestContext: WebSocketRequestContext;
}

export function authorizerEvent(
  facts: ConnectionFacts,
  stage: string,
  region: string,
  req: IncomingMessage,
): AuthorizerRequestEvent {
  const { isBase64Encoded: _unused, ...request } = connectEvent(facts, stage, req);
  return { type: 'REQUEST', methodArn: connectMethodArn(region, stage), ...request, stageVariables: {} };
}

/**
 * `requestContext.authorizer` as API Gateway fills it from an authorizer's answer for the
 * Lambda proxy integration: the `context` keys at the top level with numbers and booleans
 * turned into strings, plus `principalId` and `integrationLatency` (milliseconds the
 * authorizer took).
 */
export function authorizerRequestContext(
  principalId: string,
  context: Readonly<Record<string, string | number | boolean>>,
  integrationLatency: number,
): Record<string, string | number> {
  const flattened: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(context)) flattened[key] = String(value);
  return { ...flattened, principalId, integrationLatency };
}

export function messageEvent(
  facts: ConnectionFacts,
  stage: string,
  routeKey: string,
  frame: { readonly body: string; readonly isBase64Encoded: boolean },
): WebSocketEvent {
  return {
    requestContext: { ...webSocketContext(facts, stage, routeKey, 'MESSAGE'), messageId: apiGatewayId() },
    body: frame.body,
    isBase64Encoded: frame.isBase64Encoded,
  };
}

/** What API Gateway reports for a close frame without a status code (RFC 6455's 1005). */
export const NO_STATUS_REASON = 'Client-side close frame status not set';

/**
 * The `$disconnect` event as API Gateway sends it (Developer Guide, "Input from the
 * $disconnect route"): no client headers, only `Host` and three empty ones, and the close
 * code and reason in the request context; a close frame without a code is 1005 with
 * API Gateway's own reason.
 */
export function disconnectEvent(
  facts: ConnectionFacts,
  stage: string,
  close: { readonly code: number; readonly reason: string },
): WebSocketEvent {
  const headers = { Host: facts.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  const reason = close.code === 1005 && close.reason === '' ? NO_STATUS_REASON : close.reason;
  return {
    requestContext: {
      ...webSocketContext(facts, stage, '$disconnect', 'DISCONNECT'),
      disconnectStatusCode: close.code,
      disconnectReason: reason,
    },
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    isBase64Encoded: false,
  };
}

// ---------------------------------------------------------------- HTTP API (payload 2.0)

export interface HttpApiEvent {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

/** Headers lowercased, repeated values joined with commas, cookies split out: format 2.0. */
function httpApiHeaders(headers: IncomingHttpHeaders, identity: ClientIdentity, port: string) {
  const result: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') {
      cookies = (Array.isArray(value) ? value : [value]).flatMap((c) => c.split(/;\s*/)).filter(Boolean);
      continue;
    }
    result[name] = Array.isArray(value) ? value.join(',') : value;
  }
  result['x-forwarded-for'] ??= identity.sourceIp;
  result['x-forwarded-port'] ??= port;
  result['x-forwarded-proto'] ??= 'http';
  return { headers: result, cookies };
}

function textOrBase64(body: Buffer, contentType: string | undefined) {
  if (body.length === 0) return { isBase64Encoded: false };
  // API Gateway base64-encodes bodies it cannot treat as text.
  const textual =
    !contentType ||
    /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))|\+json|\+xml/i.test(contentType);
  return textual
    ? { body: body.toString('utf8'), isBase64Encoded: false }
    : { body: body.toString('base64'), isBase64Encoded: true };
}

export function httpApiEvent(
  req: IncomingMessage,
  body: Buffer,
  routeKey: string,
  pathParameters: Record<string, string> = {},
): HttpApiEvent {
  const [rawPath = '/', rawQueryString = ''] = (req.url ?? '/').split(/\?(.*)/s);
  const now = Date.now();
  const identity = clientIdentity(req);
  const domainName = req.headers.host ?? 'localhost';
  const { headers, cookies } = httpApiHeaders(req.headers, identity, String(req.socket.localPort ?? ''));
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    // Format 2.0 joins repeated parameters with commas.
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: identity.sourceIp,
        userAgent: identity.userAgent,
      },
      requestId: apiGatewayId(),
      routeKey,
      stage: '$default',
      time: requestTimeString(now),
      timeEpoch: now,
    },
    ...textOrBase64(body, req.headers['content-type']),
  };
}
