/** Error codes of the wire protocol (../shared/PROTOCOL.md) plus the documented extensions. */
export const ErrorCode = {
  unknownCommand: 1000,
  badRequest: 1001,
  tooLarge: 1002,
  rateLimited: 1029,
  /** Extension: the connection is unknown or its token expired; reconnect. */
  unauthenticated: 1401,
  forbidden: 1403,
  roomInvalid: 2001,
  roomIdEmpty: 2002,
  groupInvalid: 3001,
  groupNameEmpty: 3002,
  groupMembersEmpty: 3003,
  groupIdAndContentRequired: 3005,
  groupIdInvalid: 3006,
  groupContentBlocked: 3008,
  groupMessageNotStored: 3009,
  /** Extension: no pending invitation to this group (never invited, accepted, declined, or the group is gone). */
  groupInviteNotFound: 3010,
  /** Extension: an unexpected server fault; the request may be retried. */
  internal: 5000,
  messageNotParseable: 10001,
  targetAndContentRequired: 10002,
  broadcastEmpty: 10005,
  broadcastFailed: 10006,
  contentBlocked: 10007,
  messageNotStored: 10008,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A failure the client is told about with a protocol code; raised by core logic, mapped at the edge. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 1401: the connection has no live row (never registered, closed or expired). */
export function connectionGoneError(): ChatError {
  return new ChatError(ErrorCode.unauthenticated, 'connection is not registered or has expired; reconnect');
}

/** HTTP status for a protocol error code, used by the HTTP API. */
export function httpStatusFor(code: ErrorCodeValue): number {
  switch (code) {
    case ErrorCode.unauthenticated:
      return 401;
    case ErrorCode.forbidden:
      return 403;
    case ErrorCode.rateLimited:
      return 429;
    case ErrorCode.tooLarge:
      return 413;
    case ErrorCode.internal:
    case ErrorCode.messageNotStored:
    case ErrorCode.groupMessageNotStored:
    case ErrorCode.broadcastFailed:
      return 500;
    default:
      return 400;
  }
}
