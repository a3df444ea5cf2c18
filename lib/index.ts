/**
 * The construct package's entry (construct/package.json, `serverless-chat-backend-cdk`):
 * ChatBackend, its settings, and the types its accessors and grants use.
 */
export {
  ChatBackend,
  type ChatBackendParts,
  type ChatBackendProps,
  type ChatEventsOptions,
  DEFAULT_READ_ROUTE_THROTTLE,
  DEFAULT_THROTTLE,
} from './chat-backend.ts';
export { ChatAlarms } from './constructs/chat-alarms.ts';
export {
  ChatCustomDomain,
  type ChatCustomDomainOptions,
  type ChatDomain,
} from './constructs/chat-custom-domain.ts';
export { ChatFunction } from './constructs/chat-function.ts';
export { ChatHttpApi } from './constructs/chat-http-api.ts';
export { ChatTables } from './constructs/chat-tables.ts';
export { ChatWebSocketApi, type ManageConnectionsMethod } from './constructs/chat-websocket-api.ts';
export type { CognitoSignInOptions, CognitoTokenUse } from './constructs/cognito-sign-in.ts';
export { type JwtOptions, JwtVerification } from './constructs/jwt-verification.ts';
export type { FunctionId } from './function-specs.ts';
export { NAG_ACKNOWLEDGEMENTS } from './nag-suppressions.ts';
export { type TableDefinition, type TableId, tableDefinitions } from './table-definitions.ts';
