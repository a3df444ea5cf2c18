/**
 * Configuration read once per container (cold start) from the environment.
 * The same variables are set by the CDK stack in AWS and by the local runtime locally;
 * handlers never ask where they run.
 */
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import type { AttachmentSettings } from '../core/attachments/attachments.ts';
import {
  COGNITO_CLIENT_ID,
  COGNITO_TOKEN_USES,
  type CognitoSettings,
  type CognitoTokenUseSetting,
  cognitoIssuers,
  userPoolRegion,
} from '../core/auth/cognito.ts';
import { SESSION_MODES, type SessionMode } from '../core/connections/sessions.ts';
import {
  type ContentFilterConfig,
  MODERATION_FAIL_MODES,
  type ModerationFailMode,
  parseWordList,
} from '../core/filter/content-filter.ts';
import { GROUP_INVITE_MODES, type GroupInviteMode } from '../core/groups/group-commands.ts';
import { ONLINE_USERS_VISIBILITIES, type OnlineUsersVisibility } from '../core/presence/online-users.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type JwtKeySource =
  | { readonly kind: 'secret'; readonly secret: string }
  | { readonly kind: 'secretsManager'; readonly secretId: string }
  | { readonly kind: 'jwks'; readonly url: string }
  | { readonly kind: 'cognito'; readonly cognito: CognitoSettings };

export interface ChatConfig {
  readonly tables: Readonly<Record<TableId, string>>;
  /** Custom DynamoDB endpoint (dynalite, DynamoDB Local, LocalStack). */
  readonly dynamoDbEndpoint?: string;
  /** Custom Lambda endpoint (the local runtime's Invoke API). */
  readonly lambdaEndpoint?: string;
  /** Custom Secrets Manager endpoint. */
  readonly secretsManagerEndpoint?: string;
  /**
   * Management API endpoint including the stage. When unset it is derived from the
   * event's `requestContext` (`https://{domainName}/{stage}`).
   */
  readonly callbackUrl?: string;
  readonly welcomeFunctionName?: string;
  /** The fan-out worker (`FANOUT_WORKER_FUNCTION_NAME`); unset: every fan-out is posted inline. */
  readonly fanOutWorkerFunctionName?: string;
  /**
   * The stale-connection sweep (`CONNECTION_SWEEP_FUNCTION_NAME`), to which connections that
   * answer 410 are handed for the whole close path; unset: closed here (the sweep itself).
   */
  readonly connectionSweepFunctionName?: string;
  readonly jwt: {
    /** Unset in functions that verify no tokens. */
    readonly key?: JwtKeySource;
    readonly issuer?: string;
    readonly audience?: string;
    /** Seconds of clock skew tolerated on `exp`/`nbf`, at `$connect` and for connected tokens. */
    readonly clockToleranceSeconds: number;
  };
  /** `Origin` values accepted at `$connect`; undefined accepts any (and a missing Origin is always accepted). */
  readonly allowedOrigins?: readonly string[];
  /** Open connections one user may have; a handshake beyond it is refused with 429. 0 = unlimited. */
  readonly maxConnectionsPerUser: number;
  /** Lets every user broadcast, not only admins. */
  readonly broadcastAllowAll: boolean;
  /** Connection rows live this long; must exceed API Gateway's 2 h maximum. */
  readonly connectionTtlSeconds: number;
  /** Parallel Management API posts per fan-out. */
  readonly fanOutConcurrency: number;
  /**
   * Fan-outs to more connections than this go to fan-out workers
   * (`FANOUT_WORKER_THRESHOLD`, default 1,000), when a worker function is configured.
   */
  readonly fanOutWorkerThreshold: number;
  /**
   * Recipients per fan-out worker job (`FANOUT_CHUNK_SIZE`, default and at most 5,000):
   * smaller chunks make more workers run at once, each capped lower (see fan-out-dispatch.ts).
   */
  readonly fanOutChunkSize: number;
  /**
   * Posts per second of one worker fan-out, all its workers together
   * (`FANOUT_RATE_PER_SECOND`, default 3,000; at most 10,000, the account's Management API throttle).
   */
  readonly fanOutRatePerSecond: number;
  readonly maxGroupMembers: number;
  /** Rooms one connection may be in at once (`join_room` beyond it answers 2001). */
  readonly maxRoomsPerConnection: number;
  /** Days messages are kept; 0 keeps them forever. */
  readonly messageRetentionDays: number;
  /** `multi` (default): any number of devices; `single`: a new connection closes the older ones. */
  readonly sessionMode: SessionMode;
  /** `ONLINE_USERS_VISIBILITY`: who may list the online users (default `all`). */
  readonly onlineUsersVisibility: OnlineUsersVisibility;
  /** Messages one user may send per minute, all connections and the HTTP API together (1029 beyond); 0 = off. */
  readonly rateLimitPerMinute: number;
  /**
   * Reads one user may make per minute (`history`, `sync`, `list_conversations`, the HTTP
   * reads), all connections and the HTTP API together (1029 beyond); 0 = off.
   */
  readonly readRateLimitPerMinute: number;
  /** Groups a user may own: created or handed to them (`create_group` beyond it answers 3001). */
  readonly maxGroupsPerUser: number;
  /**
   * Groups a user may belong to however they got there (`MAX_GROUP_MEMBERSHIPS_PER_USER`,
   * default DEFAULT_MAX_GROUP_MEMBERSHIPS_PER_USER; 0 = no limit): adding a user at it
   * skips them; creating or accepting beyond it answers 3001. It bounds what a user's
   * online transition costs (one UpdateItem per group: the online marks). When set, every
   * member added or removed costs one more conditional UpdateItem.
   */
  readonly maxGroupMembershipsPerUser: number;
  /** `create_group` per user per minute (`GROUP_CREATES_PER_MINUTE`, default 10; 0 = off; 1029 beyond). */
  readonly groupCreatesPerMinute: number;
  /**
   * `GROUP_INVITES` (default `off`): `required` makes `create_group` and `add_group_members`
   * invite the others, who become members only by `accept_group_invite`.
   */
  readonly groupInvites: GroupInviteMode;
  /** Seconds a `client_msg_id` is remembered for dedupe. */
  readonly dedupeTtlSeconds: number;
  /** Content over this many characters (UTF-16 code units) answers 1002 (`MAX_CONTENT_LENGTH`, default 4,000). */
  readonly maxContentLength: number;
  /**
   * `TYPING_THROTTLE_SECONDS` (default 3): a sender's repeat of the same typing state in a
   * room within this window is dropped, and at most 4 typing frames per sender and room
   * are forwarded per window (per function container).
   */
  readonly typingThrottleSeconds: number;
  /** The content filter: word list (`BLOCKED_WORDS`, `BLOCKED_WORDS_REPLACE`) and moderation service. */
  readonly contentFilter: ContentFilterConfig;
  /** Where application events go (functions/runtime/app-events.ts); neither set: nowhere. */
  readonly events: AppEventsConfig;
  /** The attachments bucket (`ATTACHMENTS_BUCKET`) and its limits; unset: messages of type 2-5 answer 1001. */
  readonly attachments?: AttachmentsConfig;
}

export interface AppEventsConfig {
  /** `EVENT_BUS_NAME`: the EventBridge bus (name or ARN) the stack created or was given. */
  readonly busName?: string;
  /** `EVENTS_WEBHOOK_URL`: each event POSTed as JSON (the local runtime's stand-in for a bus). */
  readonly webhookUrl?: string;
  /** The region the webhook envelope reports (`AWS_REGION`). */
  readonly region: string;
}

export interface AttachmentsConfig extends AttachmentSettings {
  readonly bucket: string;
  /** Another S3 endpoint (`S3_ENDPOINT`, else the SDK's `AWS_ENDPOINT_URL_S3`): the local runtime's, MinIO. */
  readonly endpoint?: string;
  /** Path-style URLs (`S3_FORCE_PATH_STYLE`; default true with a custom endpoint, which has no bucket subdomains). */
  readonly forcePathStyle: boolean;
}

/** What uploads may be unless `ATTACHMENT_CONTENT_TYPES` says otherwise: media and common documents, never HTML or SVG (scripts). */
export const DEFAULT_ATTACHMENT_CONTENT_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'audio/mpeg',
  'audio/mp4',
  'audio/ogg',
  'audio/webm',
  'audio/wav',
  'video/mp4',
  'video/webm',
  'video/quicktime',
  'application/pdf',
  'application/zip',
  'text/plain',
] as const;
/** `ATTACHMENT_MAX_BYTES` default: 25 MiB. */
export const DEFAULT_ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024;
/** S3's largest single PUT (5 GiB). */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 * 1024 * 1024;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

type Env = Readonly<Record<string, string | undefined>>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/**
 * Groups a user may belong to by default: a connect that brings them online marks one
 * member row per group (docs/architecture.md, "Online group members"), so this bounds it.
 */
export const DEFAULT_MAX_GROUP_MEMBERSHIPS_PER_USER = 500;

function integer(env: Env, name: string, fallback: number, min: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}; received "${raw}".`);
  }
  return value;
}

/** Like `integer`, with an upper bound. */
function boundedInteger(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  why: string,
): number {
  const value = integer(env, name, fallback, min);
  if (value > max) {
    throw new ConfigError(`${name} must be at most ${max} (${why}); received "${optional(env, name)}".`);
  }
  return value;
}

/**
 * Default `READ_RATE_LIMIT_PER_MINUTE`: 10 reads a second on average, far above what a
 * client catching up after a reconnect needs (a `sync` page holds 100 messages).
 */
export const DEFAULT_READ_RATE_LIMIT_PER_MINUTE = 600;

/** Largest `FANOUT_CHUNK_SIZE`: a chunk's payload stays far below Lambda's asynchronous limit. */
export const MAX_FANOUT_CHUNK_SIZE = 5_000;
/** The account-wide Management API throttle (requests per second) that `FANOUT_RATE_PER_SECOND` stays under. */
export const MANAGEMENT_API_ACCOUNT_RATE = 10_000;

const KEY_SOURCE_VARIABLES = ['JWT_SECRET', 'JWT_SECRET_ID', 'JWKS_URL', 'COGNITO_USER_POOL_ID'] as const;

function jwtKey(env: Env): JwtKeySource | undefined {
  const chosen = KEY_SOURCE_VARIABLES.filter((name) => optional(env, name) !== undefined);
  if (chosen.length > 1) {
    throw new ConfigError(
      `Set only one of JWT_SECRET, JWT_SECRET_ID (Secrets Manager), JWKS_URL or COGNITO_USER_POOL_ID; ` +
        `received ${chosen.length} (${chosen.join(', ')}).`,
    );
  }
  const cognito = cognitoSettings(env);
  if (cognito) return { kind: 'cognito', cognito };
  const jwksUrl = optional(env, 'JWKS_URL');
  const secretId = optional(env, 'JWT_SECRET_ID');
  const secret = optional(env, 'JWT_SECRET');
  if (jwksUrl) return { kind: 'jwks', url: jwksUrl };
  if (secretId) return { kind: 'secretsManager', secretId };
  if (secret) return { kind: 'secret', secret };
  return undefined;
}

const COGNITO_OPTIONS = [
  'COGNITO_CLIENT_IDS',
  'COGNITO_TOKEN_USE',
  'COGNITO_ADMIN_GROUP',
  'COGNITO_JWKS_URL',
];

/**
 * Cognito sign-in: `COGNITO_USER_POOL_ID` and `COGNITO_CLIENT_IDS` (comma-separated app
 * client ids), optionally `COGNITO_TOKEN_USE` (`access`, the default, `id` or `any`) and
 * `COGNITO_ADMIN_GROUP` (default `admin`). Issuer and JWKS URL follow from the pool id;
 * `COGNITO_JWKS_URL` replaces the JWKS URL with a loopback one, for tests and local use.
 */
function cognitoSettings(env: Env): CognitoSettings | undefined {
  const userPoolId = optional(env, 'COGNITO_USER_POOL_ID');
  if (!userPoolId) {
    const stray = COGNITO_OPTIONS.filter((name) => optional(env, name) !== undefined);
    if (stray.length > 0) {
      throw new ConfigError(`${stray.join(', ')} set without COGNITO_USER_POOL_ID: set the pool id too.`);
    }
    return undefined;
  }
  if (!userPoolRegion(userPoolId)) {
    throw new ConfigError(
      `COGNITO_USER_POOL_ID must be a user pool id such as us-east-1_AbCdEf123; received "${userPoolId}".`,
    );
  }
  const generic = ['JWT_ISSUER', 'JWT_AUDIENCE'].filter((name) => optional(env, name) !== undefined);
  if (generic.length > 0) {
    throw new ConfigError(
      `${generic.join(' and ')} cannot be combined with COGNITO_USER_POOL_ID: the issuer follows from the ` +
        'pool id and the app clients are checked against COGNITO_CLIENT_IDS. Unset them.',
    );
  }
  const rawClientIds = optional(env, 'COGNITO_CLIENT_IDS');
  const clientIds = (rawClientIds ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  if (clientIds.length === 0) {
    throw new ConfigError(
      `COGNITO_CLIENT_IDS must list the app client ids whose tokens are accepted (comma-separated); ` +
        `received ${rawClientIds === undefined ? 'nothing' : `"${rawClientIds}"`}.`,
    );
  }
  const badClientId = clientIds.find((id) => !COGNITO_CLIENT_ID.test(id));
  if (badClientId !== undefined) {
    throw new ConfigError(
      `COGNITO_CLIENT_IDS holds "${badClientId}", which is not an app client id (1-128 letters, digits, _ or +).`,
    );
  }
  const tokenUse = optional(env, 'COGNITO_TOKEN_USE') ?? 'access';
  if (!(COGNITO_TOKEN_USES as readonly string[]).includes(tokenUse)) {
    throw new ConfigError(
      `COGNITO_TOKEN_USE must be one of ${COGNITO_TOKEN_USES.join(', ')}; received "${tokenUse}".`,
    );
  }
  return {
    userPoolId,
    issuers: cognitoIssuers(userPoolId, localJwksOverride(env)),
    clientIds,
    tokenUse: tokenUse as CognitoTokenUseSetting,
    adminGroup: optional(env, 'COGNITO_ADMIN_GROUP') ?? 'admin',
  };
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * `COGNITO_JWKS_URL`: a JWKS served on this machine, for tests and local runs with keys of
 * one's own. Loopback only, so it cannot point a deployed function at someone else's keys.
 */
function localJwksOverride(env: Env): string | undefined {
  const raw = optional(env, 'COGNITO_JWKS_URL');
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || !LOOPBACK_HOSTS.includes(url.hostname)) {
    throw new ConfigError(
      `COGNITO_JWKS_URL is for a JWKS on this machine (http://127.0.0.1:<port>/..., localhost or [::1]); ` +
        `received "${raw}". Unset it to use the pool's own JWKS.`,
    );
  }
  return raw;
}

function sessionMode(env: Env): SessionMode {
  const raw = optional(env, 'SESSION_MODE');
  if (raw === undefined) return 'multi';
  if (!(SESSION_MODES as readonly string[]).includes(raw)) {
    throw new ConfigError(`SESSION_MODE must be one of ${SESSION_MODES.join(', ')}; received "${raw}".`);
  }
  return raw as SessionMode;
}

function onlineUsersVisibility(env: Env): OnlineUsersVisibility {
  const raw = optional(env, 'ONLINE_USERS_VISIBILITY');
  if (raw === undefined) return 'all';
  if (!(ONLINE_USERS_VISIBILITIES as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `ONLINE_USERS_VISIBILITY must be one of ${ONLINE_USERS_VISIBILITIES.join(', ')}; received "${raw}".`,
    );
  }
  return raw as OnlineUsersVisibility;
}

function groupInvites(env: Env): GroupInviteMode {
  const raw = optional(env, 'GROUP_INVITES');
  if (raw === undefined) return 'off';
  if (!(GROUP_INVITE_MODES as readonly string[]).includes(raw)) {
    throw new ConfigError(
      `GROUP_INVITES must be one of ${GROUP_INVITE_MODES.join(', ')}; received "${raw}".`,
    );
  }
  return raw as GroupInviteMode;
}

/** `ALLOWED_ORIGINS`: comma-separated origins (`https://chat.example`); unset or empty = any. */
function allowedOrigins(env: Env): string[] | undefined {
  const list = (optional(env, 'ALLOWED_ORIGINS') ?? '')
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  return list.length > 0 ? list : undefined;
}

/** `BLOCKED_WORDS`, `BLOCKED_WORDS_REPLACE`, `MODERATION_URL`, `MODERATION_TIMEOUT_MS`, `MODERATION_FAIL_MODE`. */
function contentFilter(env: Env): ContentFilterConfig {
  const url = optional(env, 'MODERATION_URL');
  const rawFailMode = optional(env, 'MODERATION_FAIL_MODE') ?? 'open';
  if (!(MODERATION_FAIL_MODES as readonly string[]).includes(rawFailMode)) {
    throw new ConfigError(`MODERATION_FAIL_MODE must be open or closed; received "${rawFailMode}".`);
  }
  const timeoutMs = integer(env, 'MODERATION_TIMEOUT_MS', 1_000, 1);
  return {
    blockedWords: parseWordList(env.BLOCKED_WORDS),
    replaceShipped: optional(env, 'BLOCKED_WORDS_REPLACE') === 'true',
    ...(url ? { moderation: { url, timeoutMs, failMode: rawFailMode as ModerationFailMode } } : {}),
  };
}

/** `EVENT_BUS_NAME` or `EVENTS_WEBHOOK_URL` (an http(s) URL), not both. */
function appEvents(env: Env): AppEventsConfig {
  const busName = optional(env, 'EVENT_BUS_NAME');
  const webhookUrl = optional(env, 'EVENTS_WEBHOOK_URL');
  if (busName && webhookUrl) {
    throw new ConfigError('Set EVENT_BUS_NAME or EVENTS_WEBHOOK_URL, not both: events go to one place.');
  }
  if (webhookUrl) {
    let url: URL | undefined;
    try {
      url = new URL(webhookUrl);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol)) {
      throw new ConfigError(`EVENTS_WEBHOOK_URL must be an http(s) URL; received "${webhookUrl}".`);
    }
  }
  return {
    ...(busName ? { busName } : {}),
    ...(webhookUrl ? { webhookUrl } : {}),
    region: optional(env, 'AWS_REGION') ?? 'us-east-1',
  };
}

const MINIMUM_CONNECTION_TTL_SECONDS = 2 * 3600 + 10 * 60;

export function loadConfig(env: Env = process.env): ChatConfig {
  const tables = {} as Record<TableId, string>;
  for (const [id, definition] of Object.entries(tableDefinitions) as [TableId, { envVar: string }][]) {
    const name = optional(env, definition.envVar);
    if (!name) throw new ConfigError(`${definition.envVar} is not set: it must name the ${id} table.`);
    tables[id] = name;
  }
  const jwksUrl = optional(env, 'JWKS_URL');
  const issuer = optional(env, 'JWT_ISSUER');
  const audience = optional(env, 'JWT_AUDIENCE');
  if (jwksUrl && (!issuer || !audience)) {
    throw new ConfigError('JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE as well.');
  }
  return {
    tables,
    dynamoDbEndpoint: optional(env, 'DYNAMODB_ENDPOINT'),
    lambdaEndpoint: optional(env, 'LAMBDA_ENDPOINT'),
    secretsManagerEndpoint: optional(env, 'SECRETS_MANAGER_ENDPOINT'),
    callbackUrl: optional(env, 'WS_CALLBACK_URL'),
    welcomeFunctionName: optional(env, 'WELCOME_FUNCTION_NAME'),
    fanOutWorkerFunctionName: optional(env, 'FANOUT_WORKER_FUNCTION_NAME'),
    connectionSweepFunctionName: optional(env, 'CONNECTION_SWEEP_FUNCTION_NAME'),
    jwt: {
      key: jwtKey(env),
      issuer,
      audience,
      clockToleranceSeconds: integer(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 30, 0),
    },
    allowedOrigins: allowedOrigins(env),
    maxConnectionsPerUser: integer(env, 'MAX_CONNECTIONS_PER_USER', 10, 0),
    broadcastAllowAll: optional(env, 'BROADCAST_ALLOW_ALL') === 'true',
    connectionTtlSeconds: integer(env, 'CONNECTION_TTL_SECONDS', 7800, MINIMUM_CONNECTION_TTL_SECONDS),
    fanOutConcurrency: integer(env, 'FANOUT_CONCURRENCY', 32, 1),
    fanOutWorkerThreshold: integer(env, 'FANOUT_WORKER_THRESHOLD', 1_000, 1),
    fanOutChunkSize: boundedInteger(
      env,
      'FANOUT_CHUNK_SIZE',
      MAX_FANOUT_CHUNK_SIZE,
      1,
      MAX_FANOUT_CHUNK_SIZE,
      'a chunk is one worker invocation payload',
    ),
    fanOutRatePerSecond: boundedInteger(
      env,
      'FANOUT_RATE_PER_SECOND',
      3_000,
      1,
      MANAGEMENT_API_ACCOUNT_RATE,
      "the account's Management API throttle",
    ),
    maxGroupMembers: integer(env, 'MAX_GROUP_MEMBERS', 500, 2),
    maxRoomsPerConnection: integer(env, 'MAX_ROOMS_PER_CONNECTION', 50, 1),
    messageRetentionDays: integer(env, 'MESSAGE_RETENTION_DAYS', 0, 0),
    sessionMode: sessionMode(env),
    onlineUsersVisibility: onlineUsersVisibility(env),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 60, 0),
    readRateLimitPerMinute: integer(env, 'READ_RATE_LIMIT_PER_MINUTE', DEFAULT_READ_RATE_LIMIT_PER_MINUTE, 0),
    maxGroupsPerUser: integer(env, 'MAX_GROUPS_PER_USER', 100, 1),
    maxGroupMembershipsPerUser: integer(
      env,
      'MAX_GROUP_MEMBERSHIPS_PER_USER',
      DEFAULT_MAX_GROUP_MEMBERSHIPS_PER_USER,
      0,
    ),
    groupCreatesPerMinute: integer(env, 'GROUP_CREATES_PER_MINUTE', 10, 0),
    groupInvites: groupInvites(env),
    dedupeTtlSeconds: integer(env, 'DEDUPE_TTL_SECONDS', 86_400, 60),
    maxContentLength: integer(env, 'MAX_CONTENT_LENGTH', 4_000, 1),
    typingThrottleSeconds: integer(env, 'TYPING_THROTTLE_SECONDS', 3, 1),
    contentFilter: contentFilter(env),
    events: appEvents(env),
    attachments: attachmentsConfig(env),
  };
}

function attachmentsConfig(env: Env): AttachmentsConfig | undefined {
  const bucket = optional(env, 'ATTACHMENTS_BUCKET');
  if (!bucket) return undefined;
  const endpoint = optional(env, 'S3_ENDPOINT') ?? optional(env, 'AWS_ENDPOINT_URL_S3');
  const pathStyle = optional(env, 'S3_FORCE_PATH_STYLE');
  const contentTypes = (
    optional(env, 'ATTACHMENT_CONTENT_TYPES') ?? DEFAULT_ATTACHMENT_CONTENT_TYPES.join(',')
  )
    .split(',')
    .map((type) => type.trim().toLowerCase())
    .filter(Boolean);
  if (contentTypes.length === 0) throw new ConfigError('ATTACHMENT_CONTENT_TYPES names no content type.');
  const seconds = (name: string, fallback: number) =>
    boundedInteger(env, name, fallback, 1, MAX_PRESIGN_SECONDS, 'presigned URLs live at most 7 days');
  return {
    bucket,
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : pathStyle === 'true',
    maxBytes: boundedInteger(
      env,
      'ATTACHMENT_MAX_BYTES',
      DEFAULT_ATTACHMENT_MAX_BYTES,
      1,
      MAX_SINGLE_PUT_BYTES,
      "S3's largest single PUT",
    ),
    contentTypes,
    uploadUrlTtlSeconds: seconds('ATTACHMENT_UPLOAD_URL_TTL_SECONDS', 300),
    downloadUrlTtlSeconds: seconds('ATTACHMENT_URL_TTL_SECONDS', 900),
    maxAgeSeconds: integer(env, 'ATTACHMENT_MAX_AGE_SECONDS', 86_400, 1),
  };
}
