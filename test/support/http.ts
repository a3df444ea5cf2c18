/**
 * The HTTP API as a client calls it: `fetch` with an optional bearer token, the
 * `{code, message, data}` envelope parsed, and a bounded poll for values that change
 * after the fact (e.g. presence once `$disconnect` has run).
 */
import assert from 'node:assert/strict';
import type { LocalRuntime } from '../../local/runtime.ts';
import { DEFAULT_WAIT_MS } from './local-runtime.ts';

export interface ApiEnvelope<T> {
  readonly code: number;
  readonly message: string;
  readonly data: T | null;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: ApiEnvelope<T>;
}

/** Asserts an error answer of the HTTP API: the status, the code and `data: null`. */
export function assertApiError(
  response: ApiResponse<unknown>,
  status: number,
  code: number,
  where: string,
): void {
  assert.equal(response.status, status, `status (${where}): ${JSON.stringify(response.body)}`);
  assert.equal(response.body.code, code, `code (${where})`);
  assert.equal(response.body.data, null, `data (${where})`);
}

export interface ApiRequest {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** A string is sent as is; anything else as JSON. */
  readonly body?: unknown;
}

/**
 * Calls `method path` (path with its query string) and parses the envelope. The type
 * parameter only describes what the test expects `data` to be; it is not checked.
 */
export async function callApi<T = Record<string, unknown>>(
  runtime: LocalRuntime,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  request: ApiRequest = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  let body: string | undefined;
  if (request.body !== undefined) {
    body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${runtime.httpUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with a body that is not JSON: ${text}`);
  }
  return { status: response.status, body: parsed as ApiEnvelope<T> };
}

export function getApi<T = Record<string, unknown>>(
  runtime: LocalRuntime,
  path: string,
  token?: string,
): Promise<ApiResponse<T>> {
  return callApi<T>(runtime, 'GET', path, { token });
}

export function postApi<T = Record<string, unknown>>(
  runtime: LocalRuntime,
  path: string,
  body: unknown,
  token?: string,
): Promise<ApiResponse<T>> {
  return callApi<T>(runtime, 'POST', path, { token, body });
}

export interface OnlineCount {
  readonly count: number;
  readonly connections: number;
}

/** `GET /api/ws/online-count` (no authentication); throws unless it answers 200. */
export async function onlineCount(runtime: LocalRuntime): Promise<OnlineCount> {
  const { status, body } = await getApi<OnlineCount>(runtime, '/api/ws/online-count');
  if (status !== 200 || !body.data)
    throw new Error(`online-count answered ${status}: ${JSON.stringify(body)}`);
  return body.data;
}

import type { HistoryMessage, HistoryPage } from '../../functions/core/messaging/history.ts';

export type { HistoryMessage, HistoryPage } from '../../functions/core/messaging/history.ts';

/** One page of `GET /api/ws/messages`; `query` holds the other parameters (limit, cursor, before). */
export function readHistory(
  runtime: LocalRuntime,
  token: string,
  roomId: string,
  query: Readonly<Record<string, string>> = {},
): Promise<ApiResponse<HistoryPage>> {
  const params = new URLSearchParams({ room_id: roomId, ...query });
  return getApi<HistoryPage>(runtime, `/api/ws/messages?${params}`, token);
}

/** The newest page (up to 100) of a conversation's messages; throws unless it answers 200. */
export async function historyMessages(
  runtime: LocalRuntime,
  token: string,
  roomId: string,
): Promise<HistoryMessage[]> {
  const { status, body } = await readHistory(runtime, token, roomId, { limit: '100' });
  if (status !== 200 || !body.data) throw new Error(`history answered ${status}: ${JSON.stringify(body)}`);
  return body.data.messages;
}

const POLL_INTERVAL_MS = 20;

/**
 * Reads a value until `isDone` accepts it (at most `timeoutMs`); for effects that
 * follow a close, like `$disconnect`, which no frame announces. Returns the last value.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  isDone: (value: T) => boolean,
  description: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (isDone(value)) return value;
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${description}; last: ${JSON.stringify(value)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
