/**
 * @serverless-chat/client — a TypeScript client for the serverless chat backend, for
 * browsers and Node (zero dependencies; on Node 20 pass `WebSocket` from `ws`).
 */
export { Backoff, type BackoffOptions } from './backoff.ts';
export { ChatClient, type SendFileOptions, type SendTarget } from './client.ts';
export {
  ChatClosedError,
  ChatConnectionLostError,
  ChatConnectTimeoutError,
  ChatError,
  ChatHandshakeError,
  ChatOutboxFullError,
  ChatRequestError,
  ChatTimeoutError,
  type CloseReason,
} from './errors.ts';
export type { CatchUpSummary, ChatClientState, ChatEvents } from './events.ts';
export {
  ChatHttpClient,
  type ChatHttpClientOptions,
  ChatHttpError,
  type MessagesPage,
  type MessagesQuery,
  type OnlineCount,
  type OnlineUsersPage,
  type UnreadConversation,
  type UnreadSummary,
} from './http.ts';
export { randomId as createClientMsgId } from './ids.ts';
export type {
  ChatClientOptions,
  OutboxOptions,
  ReconnectOptions,
  RequestOptions,
  TokenSource,
} from './options.ts';
export type { PendingSend } from './outbox.ts';
export type { Timers } from './timers.ts';
export type * from './types.ts';
export {
  messageTypeFor,
  type UploadBody,
  type Uploaded,
  UploadFailedError,
  type UploadOptions,
} from './uploads.ts';
export type { WebSocketConstructor, WebSocketLike } from './websocket.ts';
