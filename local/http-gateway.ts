/**
 * The HTTP API: the routes in `httpRoutes`, each served by its function (`httpApi` unless
 * the route names another) with payload format 2.0 events, plus the CORS preflight answers the deployed HttpApi gives.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpCors, httpRouteFunction, matchHttpRoute } from '../lib/function-specs.ts';
import { httpApiEvent } from './events.ts';
import { type FunctionRegistry, INTEGRATION_TIMEOUT_MS } from './functions.ts';
import { asProxyResult } from './handler-results.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-util.ts';
import { elapsed, type Logger, redactUrl } from './log.ts';

/** Everything the HTTP API owns; other `/api` paths are 404 like unmatched HttpApi routes. */
export const HTTP_API_PREFIX = '/api/';
/** HTTP API's payload limit (10 MB); larger requests are 413 before any integration runs. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Lambda's synchronous invocation payload limit, which the event (not only the body) must fit. */
const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;

function corsHeaders(req: IncomingMessage): Record<string, string> {
  return req.headers.origin ? { 'access-control-allow-origin': httpCors.allowOrigins.join(',') } : {};
}

function preflightHeaders(req: IncomingMessage): Record<string, string> {
  return {
    ...corsHeaders(req),
    'access-control-allow-methods': httpCors.allowMethods.join(','),
    'access-control-allow-headers': httpCors.allowHeaders.join(','),
    'access-control-max-age': String(httpCors.maxAgeSeconds),
  };
}

export interface HttpGatewayOptions {
  readonly functions: FunctionRegistry;
  readonly logger: Logger;
}

export async function handleHttpApiRequest(
  req: IncomingMessage,
  res: ServerResponse,
  { functions, logger }: HttpGatewayOptions,
): Promise<void> {
  const startedAt = Date.now();
  const method = req.method ?? 'GET';
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const log = (status: number) =>
    logger.info(`HTTP ${method} ${redactUrl(req.url ?? '/')} ${status} ${elapsed(startedAt)}`);

  if (method === 'OPTIONS') {
    res.writeHead(204, preflightHeaders(req)).end();
    return log(204);
  }
  const matched = matchHttpRoute(method, rawPath);
  if (!matched) {
    sendJson(res, 404, { message: 'Not Found' }, corsHeaders(req));
    return log(404);
  }

  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    sendJson(res, 413, { message: 'Request Entity Too Large' }, { ...corsHeaders(req), connection: 'close' });
    return log(413);
  }

  const { route, params } = matched;
  const event = httpApiEvent(req, body, `${route.method} ${route.path}`, params);
  const eventBytes = Buffer.byteLength(JSON.stringify(event));
  if (eventBytes > LAMBDA_PAYLOAD_BYTES) {
    // The integration fails (Lambda refuses the invocation), which HTTP API answers with 500.
    logger.error(
      `HTTP ${method} ${rawPath}: the event (${eventBytes} bytes) is over Lambda's 6 MB invocation payload limit`,
    );
    sendJson(res, 500, { message: 'Internal Server Error' }, corsHeaders(req));
    return log(500);
  }
  const outcome = await functions.invoke(httpRouteFunction(route), event, INTEGRATION_TIMEOUT_MS);
  if (!outcome.ok) {
    logger.error(`HTTP ${method} ${rawPath} handler failed`, outcome.error);
    // HTTP API's answers to a failed or timed-out integration.
    if (outcome.timedOut) sendJson(res, 503, { message: 'Service Unavailable' }, corsHeaders(req));
    else sendJson(res, 500, { message: 'Internal Server Error' }, corsHeaders(req));
    return log(outcome.timedOut ? 503 : 500);
  }
  return log(writeResult(req, res, outcome.result, logger));
}

/** Writes a handler result back as API Gateway's payload format 2.0 does; returns the status. */
function writeResult(req: IncomingMessage, res: ServerResponse, value: unknown, logger: Logger): number {
  const result = asProxyResult(value);
  if (typeof result?.statusCode !== 'number') {
    // Without a statusCode the whole result is the JSON body of a 200.
    sendJson(res, 200, value ?? null, corsHeaders(req));
    return 200;
  }
  if (result.body !== undefined && typeof result.body !== 'string') {
    logger.error('HTTP handler returned a non-string body; API Gateway rejects that response');
    sendJson(res, 500, { message: 'Internal Server Error' }, corsHeaders(req));
    return 500;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
  }
  if (result.cookies?.length) headers['set-cookie'] = [...result.cookies];
  Object.assign(headers, corsHeaders(req));
  const payload = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  headers['content-length'] = String(payload.length);
  res.writeHead(result.statusCode, headers).end(payload);
  return result.statusCode;
}
