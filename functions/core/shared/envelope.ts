/** The `{code, message, data, request_id}` frame every server reply and push uses. */
import type { ErrorCodeValue } from './errors.ts';

export type RequestId = string | number;

export interface Envelope<T = unknown> {
  readonly code: number;
  readonly message: string;
  readonly data: T | null;
  readonly request_id?: RequestId;
}

export function success<T>(data: T, requestId?: RequestId): Envelope<T> {
  return requestId === undefined
    ? { code: 0, message: 'success', data }
    : { code: 0, message: 'success', data, request_id: requestId };
}

export function failure(code: ErrorCodeValue, message: string, requestId?: RequestId): Envelope<null> {
  return requestId === undefined
    ? { code, message, data: null }
    : { code, message, data: null, request_id: requestId };
}

/** A request id is echoed only when it is a short string or a finite number. */
export function readRequestId(value: unknown): RequestId | undefined {
  if (typeof value === 'string' && value.length <= 128) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}
