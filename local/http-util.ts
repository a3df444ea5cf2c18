/** Small HTTP helpers shared by the emulated APIs. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/**
 * Reads the request body, refusing more than `limitBytes` (checked before and while
 * reading). Events rather than `for await`: leaving that loop early destroys the socket,
 * and the client would get a reset instead of the 413.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limitBytes) {
      req.resume();
      reject(new BodyTooLargeError(`Body of ${declared} bytes exceeds ${limitBytes}.`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes && !tooLarge) {
        tooLarge = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(`Body exceeds ${limitBytes} bytes.`));
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * An AWS REST-JSON error: the SDK reads the error name from `x-amzn-errortype`, so the
 * client throws the modeled exception class (e.g. `GoneException`).
 */
export function sendAwsError(res: ServerResponse, status: number, errorType: string, message: string): void {
  // A refused body may still be arriving; closing stops the rest from being parsed as a request.
  const closeAfter: Record<string, string> = res.req.complete ? {} : { connection: 'close' };
  sendJson(res, status, { message }, { 'x-amzn-errortype': errorType, ...closeAfter });
}
