/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket`, Node 22's
 * global one and the `ws` package (Node 20: pass `WebSocket` from `ws`) all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: (event: unknown) => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { readonly code: number; readonly reason: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** `WebSocket.OPEN` */
export const OPEN = 1;

/**
 * The HTTP status of a refused handshake, when the implementation says it: `ws` reports
 * "Unexpected server response: 401" in the error event; browsers say nothing (undefined).
 */
export function handshakeStatus(event: unknown): number | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const candidates: unknown[] = [
    (event as { message?: unknown }).message,
    (event as { error?: { message?: unknown } }).error?.message,
  ];
  for (const text of candidates) {
    if (typeof text !== 'string') continue;
    const match = /Unexpected server response: (\d{3})/.exec(text);
    if (match?.[1]) return Number(match[1]);
  }
  return undefined;
}
