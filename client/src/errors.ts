/** Errors the SDK rejects with. All extend ChatError, so one `instanceof` catches them. */

export class ChatError extends Error {
  override name = 'ChatError';
}

/** The server answered a command with a non-zero `code` (see docs/protocol.md "Error codes"). */
export class ChatRequestError extends ChatError {
  override name = 'ChatRequestError';
  constructor(
    readonly code: number,
    message: string,
    readonly requestId?: string,
    readonly cmd?: string,
  ) {
    super(message);
  }
}

/** The error code for "the connection is unknown or its token expired": reconnect, then try again. */
export const RECONNECT_CODE = 1401;

/** No reply within the request timeout. */
export class ChatTimeoutError extends ChatError {
  override name = 'ChatTimeoutError';
  constructor(
    readonly cmd: string,
    readonly timeoutMs: number,
    readonly requestId?: string,
  ) {
    super(`${cmd}: no reply within ${timeoutMs} ms`);
  }
}

/**
 * The connection dropped while a command that is not safe to repeat (`create_group`,
 * `broadcast`, a generic `request`) waited for its reply: it may or may not have been
 * carried out. Sends with a `client_msg_id` are never rejected this way (they are resent).
 */
export class ChatConnectionLostError extends ChatError {
  override name = 'ChatConnectionLostError';
  constructor(
    readonly cmd: string,
    readonly requestId?: string,
  ) {
    super(
      `${cmd}: the connection dropped before the reply; the command may or may not have been carried out`,
    );
  }
}

/** Why a client ended up `closed`. */
export type CloseReason = 'closed' | 'kicked' | 'unauthorized' | 'forbidden' | 'failed' | 'timeout';

/** The client is closed (or was closed while the request waited). */
export class ChatClosedError extends ChatError {
  override name = 'ChatClosedError';
  constructor(
    readonly reason: CloseReason,
    message = reasonText(reason),
  ) {
    super(message);
  }
}

/** The outbox already holds `outbox.maxSize` messages. */
export class ChatOutboxFullError extends ChatError {
  override name = 'ChatOutboxFullError';
  constructor(readonly maxSize: number) {
    super(`the outbox is full (${maxSize} messages wait to be sent)`);
  }
}

/** The WebSocket handshake was refused (`status` when the WebSocket implementation exposes it, e.g. `ws`). */
export class ChatHandshakeError extends ChatError {
  override name = 'ChatHandshakeError';
  constructor(readonly status: number | undefined) {
    super(
      status === undefined
        ? 'the WebSocket connection failed before it opened'
        : `the WebSocket handshake was refused with HTTP ${status}`,
    );
  }
}

/**
 * connect() saw no welcome within `connectTimeoutMs` (the server is unreachable, or every
 * attempt failed). `cause` is the last attempt's error, when there was one.
 */
export class ChatConnectTimeoutError extends ChatError {
  override name = 'ChatConnectTimeoutError';
  constructor(
    readonly timeoutMs: number,
    cause?: Error,
  ) {
    super(`no connection within ${timeoutMs} ms`, cause ? { cause } : undefined);
  }
}

function reasonText(reason: CloseReason): string {
  switch (reason) {
    case 'closed':
      return 'the chat client was closed';
    case 'kicked':
      return 'signed in elsewhere: this session was closed by the server';
    case 'unauthorized':
      return 'the token was refused (HTTP 401)';
    case 'forbidden':
      return 'this origin may not connect (HTTP 403)';
    case 'failed':
      return 'the connection failed and reconnecting is off';
    case 'timeout':
      return 'connect() timed out';
  }
}
