/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), so handlers
 * that invoke other functions with `@aws-sdk/client-lambda` (the `$connect` handler
 * scheduling the welcome push) work unchanged against LAMBDA_ENDPOINT.
 * Asynchronous invocations follow Lambda's rules: retries, event age, failure queues
 * (async-invocations.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AsyncInvoker } from './async-invocations.ts';
import { type FunctionRegistry, functionIdFromName, localFunctionName, TimeoutError } from './functions.ts';
import { BodyTooLargeError, readBody, sendAwsError, sendJson } from './http-util.ts';
import { elapsed, type Logger } from './log.ts';

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
/** Lambda's payload limits: 6 MB synchronous, 1 MB asynchronous. */
const SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
const ASYNC_PAYLOAD_BYTES = 1024 * 1024;

/** The function name in an Invoke API path, or undefined for other paths. */
export function matchInvokePath(rawPath: string): string | undefined {
  const encoded = INVOKE_PATH.exec(rawPath)?.[1];
  if (encoded === undefined) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

export interface LambdaServiceOptions {
  readonly functions: FunctionRegistry;
  readonly asyncInvoker: AsyncInvoker;
  readonly logger: Logger;
  readonly region: string;
}

function errorPayload(error: unknown) {
  if (error instanceof TimeoutError) return { errorType: 'Sandbox.Timedout', errorMessage: error.message };
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') };
  }
  return { errorType: 'Error', errorMessage: String(error) };
}

export async function handleInvokeRequest(
  req: IncomingMessage,
  res: ServerResponse,
  functionName: string,
  { functions, asyncInvoker, logger, region }: LambdaServiceOptions,
): Promise<void> {
  const startedAt = Date.now();
  const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  const log = (status: number) =>
    logger.info(`λ   ${invocationType} ${functionName} ${status} ${elapsed(startedAt)}`);
  const functionId = functionIdFromName(functionName);
  if (!functionId || req.method !== 'POST') {
    const arn = `arn:aws:lambda:${region}:000000000000:function:${functionName}`;
    sendAwsError(res, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    return log(404);
  }

  let payload: Buffer;
  try {
    payload = await readBody(req, invocationType === 'Event' ? ASYNC_PAYLOAD_BYTES : SYNC_PAYLOAD_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    sendAwsError(
      res,
      413,
      'RequestTooLargeException',
      'Request must be smaller than the invocation payload limit',
    );
    return log(413);
  }
  let event: unknown = {};
  try {
    if (payload.length > 0) event = JSON.parse(payload.toString('utf8'));
  } catch {
    sendAwsError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    return log(400);
  }

  switch (invocationType) {
    case 'DryRun':
      res.writeHead(204).end();
      return log(204);
    case 'Event':
      asyncInvoker.invoke(functionId, event);
      res.writeHead(202, { 'content-length': 0 }).end();
      return log(202);
    case 'RequestResponse': {
      const outcome = await functions.invoke(functionId, event);
      const headers = { 'x-amz-executed-version': '$LATEST' };
      if (outcome.ok) {
        // Lambda serializes `undefined` as `null`.
        sendJson(res, 200, outcome.result ?? null, headers);
      } else {
        logger.error(`λ   ${localFunctionName(functionId)} failed`, outcome.error);
        sendJson(res, 200, errorPayload(outcome.error), { ...headers, 'x-amz-function-error': 'Unhandled' });
      }
      return log(200);
    }
    default:
      sendAwsError(res, 400, 'InvalidParameterValueException', `Unknown InvocationType: ${invocationType}`);
      return log(400);
  }
}
