import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ChatAlarms } from './constructs/chat-alarms.ts';
import { ChatAttachments } from './constructs/chat-attachments.ts';
import {
  ChatCustomDomain,
  type ChatCustomDomainOptions,
  validateCustomDomainOptions,
} from './constructs/chat-custom-domain.ts';
import { ChatFunction } from './constructs/chat-function.ts';
import { ChatHttpApi } from './constructs/chat-http-api.ts';
import { ChatTables } from './constructs/chat-tables.ts';
import { ChatWebSocketApi, type ManageConnectionsMethod } from './constructs/chat-websocket-api.ts';
import { type JwtOptions, JwtVerification } from './constructs/jwt-verification.ts';
import { pascalCase } from './constructs/naming.ts';
import {
  type FunctionId,
  type FunctionSpec,
  functionSpecs,
  httpRouteFunction,
  httpRoutes,
  ROUTE_SELECTION_EXPRESSION,
  scheduledFunctions,
  webSocketAuthorizer,
  webSocketReadRoutes,
  webSocketRoutes,
} from './function-specs.ts';
import { acknowledgeNagFindings } from './nag-suppressions.ts';
import { type TableId, tableDefinitions } from './table-definitions.ts';

/**
 * Settings of a ChatBackend. Every one is optional: `new ChatBackend(this, 'Chat')` is a
 * working backend with a generated HS256 signing secret.
 */
export interface ChatBackendProps extends JwtOptions {
  /**
   * WebSocket stage name, the last path segment of the WebSocket and callback URLs.
   *
   * @default 'prod'
   */
  readonly stageName?: string;

  /**
   * Default route throttling of the WebSocket stage and the HTTP API's stage.
   *
   * @default { rateLimit: 500, burstLimit: 1000 }
   */
  readonly throttle?: ThrottleSettings;

  /**
   * Route throttling of the WebSocket read routes (`history`, `sync`, `list_conversations`), in place of
   * `throttle` for them: stage-wide, all clients together, so a burst of reads cannot use
   * the whole stage's rate. The per-user bound is `readRateLimitPerMinute`.
   *
   * @default { rateLimit: 200, burstLimit: 400 }
   */
  readonly readRouteThrottle?: ThrottleSettings;

  /**
   * Lets every user broadcast, not only admins (`BROADCAST_ALLOW_ALL`).
   *
   * @default false
   */
  readonly broadcastAllowAll?: boolean;

  /**
   * Lifetime of a connection row (`CONNECTION_TTL_SECONDS`); at least 7800 s, as rows must
   * outlive API Gateway's 2 h connection limit.
   *
   * @default 7800
   */
  readonly connectionTtlSeconds?: number;

  /**
   * Minutes between two runs of the stale-connection sweep (the `sweepConnections` function,
   * an EventBridge schedule), 1 to 1440. A connection whose `$disconnect` never came stops
   * counting as online, and its peers hear `offline`, at most this long plus one run after
   * it closed (docs/architecture.md, stale connections). Each run asks GetConnection once
   * per online connection: shorter is more exact and costs more.
   *
   * @default 5
   */
  readonly connectionSweepIntervalMinutes?: number;

  /**
   * Largest group `create_group` accepts (`MAX_GROUP_MEMBERS`); at least 2.
   *
   * @default 500
   */
  readonly maxGroupMembers?: number;

  /**
   * Rooms one connection may be in (`MAX_ROOMS_PER_CONNECTION`); at least 1.
   *
   * @default - the handlers' default (50)
   */
  readonly maxRoomsPerConnection?: number;

  /**
   * Parallel Management API posts per fan-out (`FANOUT_CONCURRENCY`).
   *
   * @default - the handlers' default (32)
   */
  readonly fanOutConcurrency?: number;

  /**
   * A fan-out to more connections than this is handed to the fan-out worker function
   * instead of being posted by the route handler (`FANOUT_WORKER_THRESHOLD`); at least 1.
   *
   * @default - the handlers' default (1000)
   */
  readonly fanOutWorkerThreshold?: number;

  /**
   * Recipients per fan-out worker invocation at most (`FANOUT_CHUNK_SIZE`), 1 to 5000.
   * Smaller chunks make more workers post at once, each under a lower share of the rate.
   *
   * @default - the handlers' default (5000)
   */
  readonly fanOutChunkSize?: number;

  /**
   * Management API posts per second of one worker fan-out, all its workers together
   * (`FANOUT_RATE_PER_SECOND`), 1 to 10000. Keep it well below the account's 10,000
   * requests/s throttle, which every fan-out and route of the account shares. A fan-out
   * runs one worker per full 1,600/s (32 posts in flight at ~20 ms), at least one: 3000
   * runs one, 3200 two, so large audiences are done about twice as soon.
   *
   * @default - the handlers' default (3000)
   */
  readonly fanOutRatePerSecond?: number;

  /**
   * Days messages are kept, 0 for ever (`MESSAGE_RETENTION_DAYS`).
   *
   * @default - the handlers' default (0)
   */
  readonly messageRetentionDays?: number;

  /**
   * `multi`: a user may be connected from several devices at once. `single`: a new
   * connection sends the user's older connections a `kicked` push and closes them
   * (`SESSION_MODE`), as the services this backend replaces did.
   *
   * @default - the handlers' default ('multi')
   */
  readonly sessionMode?: 'multi' | 'single';

  /**
   * Who may list the online users (`GET /api/ws/online-users`, `ONLINE_USERS_VISIBILITY`):
   * `all` signed-in users, `admins` only, or `peers` (each caller sees only their presence
   * peers: recent private counterparts and group co-members).
   *
   * @default - the handlers' default ('all')
   */
  readonly onlineUsersVisibility?: 'all' | 'admins' | 'peers';

  /**
   * Whether users must accept being put into a group (`GROUP_INVITES`): `off` adds them at
   * once; `required` invites them, and they join with `accept_group_invite`.
   *
   * @default - the handlers' default ('off')
   */
  readonly groupInvites?: 'off' | 'required';

  /**
   * Keep the tables, log groups and generated secret when they leave the stack.
   * Set to false for throw-away environments.
   *
   * @default true
   */
  readonly retainData?: boolean;

  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Origins the HTTP API allows through CORS.
   *
   * @default ['*']
   */
  readonly corsAllowOrigins?: string[];

  /**
   * Origins the WebSocket `$connect` accepts (`ALLOWED_ORIGINS`). A handshake with another
   * `Origin` header is refused with 403; one without (non-browser clients) is accepted.
   *
   * @default - any origin
   */
  readonly allowedOrigins?: string[];

  /**
   * Open connections per user (`MAX_CONNECTIONS_PER_USER`); a handshake beyond it is
   * refused with 429. 0 means unlimited.
   *
   * @default - the handlers' default (10)
   */
  readonly maxConnectionsPerUser?: number;

  /**
   * Messages a user may send per minute (`RATE_LIMIT_PER_MINUTE`); 0 turns the limit off.
   *
   * @default - the handlers' default (60)
   */
  readonly rateLimitPerMinute?: number;

  /**
   * Reads a user may make per minute (`READ_RATE_LIMIT_PER_MINUTE`: `history`, `sync`, `list_conversations` and
   * the HTTP read routes); 0 turns the limit off.
   *
   * @default - the handlers' default (600)
   */
  readonly readRateLimitPerMinute?: number;

  /**
   * Groups a user may be in when creating another (`MAX_GROUPS_PER_USER`).
   *
   * @default - the handlers' default (100)
   */
  readonly maxGroupsPerUser?: number;

  /**
   * Longest message content in characters (`MAX_CONTENT_LENGTH`).
   *
   * @default - the handlers' default (4000)
   */
  readonly maxContentLength?: number;

  /**
   * Seconds within which a sender's repeat of the same `typing` state in a room is dropped;
   * at most 4 typing frames per sender, room and window are forwarded, per function
   * container (`TYPING_THROTTLE_SECONDS`).
   *
   * @default - the handlers' default (3)
   */
  readonly typingThrottleSeconds?: number;

  /**
   * Attachments (message types 2-5): the limits of `POST /api/ws/uploads` and how long the
   * bucket keeps uploads (lib/constructs/chat-attachments.ts).
   *
   * @default - the handlers' defaults; uploads kept messageRetentionDays + 1 days, or 365 when messages are kept for ever
   */
  readonly attachments?: AttachmentLimits;

  /**
   * Words the content filter blocks on top of the shipped list (`BLOCKED_WORDS`).
   *
   * @default - the shipped list only
   */
  readonly blockedWords?: string[];

  /**
   * An external moderation service (`MODERATION_URL`) asked after the word list, with its
   * timeout (`MODERATION_TIMEOUT_MS`) and what a failure means (`MODERATION_FAIL_MODE`).
   *
   * @default - no external moderation
   */
  readonly moderation?: {
    readonly url: string;
    readonly timeoutMs?: number;
    readonly failMode?: 'open' | 'closed';
  };

  /**
   * Receives the alarms by e-mail (an SNS topic with this subscription).
   *
   * @default - alarms without notifications
   */
  readonly alarmEmail?: string;

  /**
   * AWS X-Ray active tracing on every function, with each SDK call (DynamoDB, the
   * Management API, Lambda, Secrets Manager) a subsegment: the bundles then contain
   * Powertools Tracer (functions/runtime/wiring/tracing.ts) and the roles may write to
   * X-Ray. API Gateway's WebSocket and HTTP APIs cannot be traced, so traces start at Lambda
   * (docs/observability.md).
   *
   * @default false - no tracing configuration, no X-Ray permission, no tracer in the bundles
   */
  readonly tracing?: boolean;

  /**
   * `NODE_OPTIONS=--enable-source-maps` on every function: stacks of uncaught errors name
   * source files and lines instead of positions in the minified bundles, for the price of
   * reading the source maps on every cold start (see ChatFunctionProps.sourceMapsInStackTraces).
   *
   * @default false - the maps ship beside the bundles, but Node does not load them
   */
  readonly sourceMapsInStackTraces?: boolean;

  /**
   * Create the account-level role API Gateway needs to write WebSocket access logs
   * (`AWS::ApiGateway::Account`). Set to false when the account already has one.
   *
   * @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;

  /**
   * Custom domains for the WebSocket and/or HTTP API (see ChatCustomDomainOptions). The
   * handlers keep the execute-api callback URL (`WS_CALLBACK_URL`).
   *
   * @default - the execute-api URLs only
   */
  readonly customDomain?: ChatCustomDomainOptions;

  /**
   * Events for the application's own backend (docs/events.md): `message.sent`,
   * `message.undelivered`, `group.created`, `presence.changed`, … on an EventBridge bus,
   * published by the functions with `publishesEvents` in lib/function-specs.ts, which alone
   * get `events:PutEvents` on that bus. Give `{}` for a new bus.
   *
   * @default - no events
   */
  readonly events?: ChatEventsOptions;
}

/** Where a ChatBackend's events go (see ChatBackendProps.events). */
export interface ChatEventsOptions {
  /**
   * An existing bus, of this account or another (then its resource policy must let this
   * account put events).
   *
   * @default - a new bus (see `eventBusName`)
   */
  readonly eventBus?: events.IEventBus;

  /**
   * An existing bus of this account and region by name (`default` is the account's default
   * bus), for apps that know only its name; not with `eventBus`.
   *
   * @default - a new bus
   */
  readonly eventBusName?: string;
}

/**
 * Functions behind API Gateway stop 1 s before its 29 s integration timeout. Functions
 * invoked asynchronously (the welcome push) only wait briefly for a connection to open.
 */
const ROUTE_FUNCTION_TIMEOUT = Duration.seconds(28);
const ASYNC_FUNCTION_TIMEOUT = Duration.seconds(15);

/** `Metric.eventsNotPublished` in `DEFAULT_METRICS_NAMESPACE` (functions/runtime/metrics.ts; test/cdk/events.test.ts checks). */
export const EVENTS_METRIC = { namespace: 'ChatBackend', name: 'EventsNotPublished' } as const;

/** Mirrors functions/runtime/config.ts, so a bad value fails the synth, not the cold start. */
const MINIMUM_CONNECTION_TTL_SECONDS = 2 * 3600 + 10 * 60;

/** Route throttling when `throttle` is not given: requests per second and burst, per stage. */
export const DEFAULT_THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const satisfies ThrottleSettings;
/** Throttling of each WebSocket read route when `readRouteThrottle` is not given. */
export const DEFAULT_READ_ROUTE_THROTTLE = {
  rateLimit: 200,
  burstLimit: 400,
} as const satisfies ThrottleSettings;

/**
 * The building blocks a ChatBackend is made of, for the stack that deploys it and for
 * changes the accessors of ChatBackend do not cover.
 */
/** Limits of attachments; each unset one is the handlers' default. */
export interface AttachmentLimits {
  /** Largest upload in bytes (`ATTACHMENT_MAX_BYTES`). @default 26214400 (25 MiB) */
  readonly maxBytes?: number;
  /** Content types an upload may declare (`ATTACHMENT_CONTENT_TYPES`). @default - images, audio, video, PDF, ZIP, plain text */
  readonly contentTypes?: readonly string[];
  /** Seconds a presigned PUT works (`ATTACHMENT_UPLOAD_URL_TTL_SECONDS`). @default 300 */
  readonly uploadUrlTtlSeconds?: number;
  /** Seconds a presigned GET in a push, history or sync works (`ATTACHMENT_URL_TTL_SECONDS`). @default 900 */
  readonly downloadUrlTtlSeconds?: number;
  /** Seconds after the upload was granted that a message may still attach it (`ATTACHMENT_MAX_AGE_SECONDS`). @default 86400 */
  readonly maxAgeSeconds?: number;
  /**
   * Days the bucket keeps an attached file (lifecycle expiration of `attachments/`, where a
   * message's upload is copied when it is sent); 0 keeps them for ever.
   * @default - one day past `messageRetentionDays`; for ever when messages are kept for ever
   * (uploads no message attached expire under `uploads/` a day after `maxAgeSeconds`)
   */
  readonly retentionDays?: number;
}

export interface ChatBackendParts {
  readonly tables: ChatTables;
  readonly jwt: JwtVerification;
  readonly webSocket: ChatWebSocketApi;
  readonly functions: Readonly<Record<FunctionId, ChatFunction>>;
  readonly http: ChatHttpApi;
  readonly attachments: ChatAttachments;
  readonly alarms: ChatAlarms;
  /** Present when `customDomain` is given. */
  readonly customDomain?: ChatCustomDomain;
}

/**
 * The chat backend: a WebSocket API and an HTTP API in front of one function per entry of
 * `functionSpecs`, the DynamoDB tables of `tableDefinitions`, and the JWT key source.
 * Every permission is derived from `functionSpecs`, statement by statement.
 *
 * Extend it with your own functions through the accessors (`tables`, `functions`,
 * `webSocketApi`, `callbackUrl`, …) and the narrow grants (`grantReadMessages`,
 * `grantReadPresence`, `grantManageConnections`).
 */
export class ChatBackend extends Construct {
  /** Each DynamoDB table by its id in `tableDefinitions` (`messages`, `presence`, …). */
  readonly tables: Readonly<Record<TableId, dynamodb.TableV2>>;
  /** Each Lambda function by its id in `functionSpecs` (`sendMessage`, `httpApi`, …). */
  readonly functions: Readonly<Record<FunctionId, lambda.Function>>;
  readonly webSocketApi: apigwv2.WebSocketApi;
  readonly webSocketStage: apigwv2.WebSocketStage;
  /** Where clients connect: `wss://{api}.execute-api.{region}.{suffix}/{stage}`. */
  readonly webSocketUrl: string;
  /**
   * The API Gateway Management API endpoint of the stage (`https://…/{stage}`): where a
   * function posts to connections (with `grantManageConnections`).
   */
  readonly callbackUrl: string;
  readonly httpApi: apigwv2.HttpApi;
  readonly httpStage: apigwv2.HttpStage;
  /** The HTTP API's base URL (`https://{api}.execute-api.{region}.{suffix}`). */
  readonly httpUrl: string;
  /** The secret holding the HS256 signing key, when a secret (not JWKS or Cognito) verifies tokens. */
  readonly jwtSecret?: secretsmanager.ISecret;
  /** Receives the alarms when `alarmEmail` is given. */
  readonly alarmTopic?: sns.ITopic;
  /** Failed asynchronous invocations (the welcome push) after Lambda's retries. */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * On-failure destination of the functions with `asyncInvocation` in their spec (the
   * fan-out worker): jobs that failed or waited too long, with Lambda's invocation record.
   */
  readonly fanOutFailureQueue: sqs.Queue;
  /** The bus events go to, when `events` is given: add your rules to it (docs/events.md). */
  readonly eventBus?: events.IEventBus;
  /** Attachments (uploads/{uploader}/{attachment_id}): private, reached through presigned URLs only. */
  readonly attachmentsBucket: s3.Bucket;
  readonly parts: ChatBackendParts;

  constructor(scope: Construct, id: string, props: ChatBackendProps = {}) {
    super(scope, id);
    validateSettings(props);
    if (props.customDomain) validateCustomDomainOptions(props.customDomain, Stack.of(this).region);
    const removalPolicy = (props.retainData ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const throttle = props.throttle ?? DEFAULT_THROTTLE;

    const tables = new ChatTables(this, 'Tables', { removalPolicy });
    const jwt = new JwtVerification(this, 'Jwt', {
      jwtSecretName: props.jwtSecretName,
      jwksUrl: props.jwksUrl,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
      cognito: props.cognito,
      removalPolicy,
    });
    const webSocket = new ChatWebSocketApi(this, 'WebSocket', {
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
      stageName: props.stageName,
      throttle,
      routeThrottle: Object.fromEntries(
        webSocketReadRoutes.map((routeKey) => [
          routeKey,
          props.readRouteThrottle ?? DEFAULT_READ_ROUTE_THROTTLE,
        ]),
      ),
      logRetention: props.logRetention,
      removalPolicy,
      createCloudWatchRole: props.apiGatewayCloudWatchRole,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'AsyncDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.fanOutFailureQueue = new sqs.Queue(this, 'FanOutFailureQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.eventBus = this.eventBusFor(props.events);

    // Every function gets every table name: IAM, not the environment, limits what it touches.
    const sharedEnvironment: Record<string, string> = {
      BROADCAST_ALLOW_ALL: String(props.broadcastAllowAll ?? false),
      CONNECTION_TTL_SECONDS: String(props.connectionTtlSeconds ?? 7800),
      MAX_GROUP_MEMBERS: String(props.maxGroupMembers ?? 500),
    };
    for (const [tableId, definition] of entries(tableDefinitions)) {
      sharedEnvironment[definition.envVar] = tables.tables[tableId].tableName;
    }
    if (props.fanOutConcurrency !== undefined) {
      sharedEnvironment.FANOUT_CONCURRENCY = String(props.fanOutConcurrency);
    }
    const fanOutSettings: Record<string, number | undefined> = {
      FANOUT_WORKER_THRESHOLD: props.fanOutWorkerThreshold,
      FANOUT_CHUNK_SIZE: props.fanOutChunkSize,
      FANOUT_RATE_PER_SECOND: props.fanOutRatePerSecond,
    };
    for (const [name, value] of Object.entries(fanOutSettings)) {
      if (value !== undefined) sharedEnvironment[name] = String(value);
    }
    if (props.maxRoomsPerConnection !== undefined) {
      sharedEnvironment.MAX_ROOMS_PER_CONNECTION = String(props.maxRoomsPerConnection);
    }
    if (props.messageRetentionDays !== undefined) {
      sharedEnvironment.MESSAGE_RETENTION_DAYS = String(props.messageRetentionDays);
    }
    if (props.sessionMode !== undefined) {
      sharedEnvironment.SESSION_MODE = props.sessionMode;
    }
    if (props.onlineUsersVisibility !== undefined) {
      sharedEnvironment.ONLINE_USERS_VISIBILITY = props.onlineUsersVisibility;
    }
    if (props.groupInvites !== undefined) {
      sharedEnvironment.GROUP_INVITES = props.groupInvites;
    }
    if (props.allowedOrigins?.length) {
      sharedEnvironment.ALLOWED_ORIGINS = props.allowedOrigins.join(',');
    }
    if (props.maxConnectionsPerUser !== undefined) {
      sharedEnvironment.MAX_CONNECTIONS_PER_USER = String(props.maxConnectionsPerUser);
    }
    const optionalSettings: Record<string, number | string | undefined> = {
      RATE_LIMIT_PER_MINUTE: props.rateLimitPerMinute,
      READ_RATE_LIMIT_PER_MINUTE: props.readRateLimitPerMinute,
      MAX_GROUPS_PER_USER: props.maxGroupsPerUser,
      MAX_CONTENT_LENGTH: props.maxContentLength,
      TYPING_THROTTLE_SECONDS: props.typingThrottleSeconds,
      BLOCKED_WORDS: props.blockedWords?.length ? props.blockedWords.join(',') : undefined,
      MODERATION_URL: props.moderation?.url,
      MODERATION_TIMEOUT_MS: props.moderation?.timeoutMs,
      MODERATION_FAIL_MODE: props.moderation?.failMode,
    };
    for (const [name, value] of Object.entries(optionalSettings)) {
      if (value !== undefined) sharedEnvironment[name] = String(value);
    }

    const attachments = new ChatAttachments(this, 'Attachments', {
      allowedOrigins: props.corsAllowOrigins?.length ? props.corsAllowOrigins : props.allowedOrigins,
      uploadRetentionDays: uploadRetentionDays(props),
      retentionDays: attachmentRetentionDays(props),
      removalPolicy,
    });
    // Only the functions granted the bucket learn its name (and the limits).
    const attachmentEnvironment: Record<string, string> = {
      ATTACHMENTS_BUCKET: attachments.bucket.bucketName,
    };
    const attachmentSettings: Record<string, number | string | undefined> = {
      ATTACHMENT_MAX_BYTES: props.attachments?.maxBytes,
      ATTACHMENT_CONTENT_TYPES: props.attachments?.contentTypes?.join(','),
      ATTACHMENT_UPLOAD_URL_TTL_SECONDS: props.attachments?.uploadUrlTtlSeconds,
      ATTACHMENT_URL_TTL_SECONDS: props.attachments?.downloadUrlTtlSeconds,
      ATTACHMENT_MAX_AGE_SECONDS: props.attachments?.maxAgeSeconds,
    };
    for (const [name, value] of Object.entries(attachmentSettings)) {
      if (value !== undefined) attachmentEnvironment[name] = String(value);
    }

    // The authorizer is invoked synchronously by API Gateway on every handshake, like a route.
    const routed = new Set<FunctionId>([
      ...Object.values(webSocketRoutes),
      webSocketAuthorizer.functionId,
      ...httpRoutes.map(httpRouteFunction),
    ]);
    const functions = {} as Record<FunctionId, ChatFunction>;
    for (const [functionId, spec] of entries(functionSpecs)) {
      functions[functionId] = new ChatFunction(this, `${pascalCase(functionId)}Function`, {
        entry: spec.entry,
        description: spec.description,
        timeout:
          spec.timeoutSeconds !== undefined
            ? Duration.seconds(spec.timeoutSeconds)
            : routed.has(functionId)
              ? ROUTE_FUNCTION_TIMEOUT
              : ASYNC_FUNCTION_TIMEOUT,
        memorySize: spec.memorySize,
        // A function that invokes itself knows its own name from a fixed one.
        functionName: spec.invokes?.includes(functionId) ? this.selfInvokingName(functionId) : undefined,
        environment: {
          ...sharedEnvironment,
          ...(spec.manageConnections ? { WS_CALLBACK_URL: webSocket.callbackUrl } : {}),
          ...(spec.verifiesTokens ? jwt.environment : {}),
          // The ARN: PutEvents takes it for a bus of any account.
          ...(spec.publishesEvents && this.eventBus ? { EVENT_BUS_NAME: this.eventBus.eventBusArn } : {}),
          ...(spec.attachments?.length ? attachmentEnvironment : {}),
        },
        logRetention: props.logRetention,
        logRemovalPolicy: removalPolicy,
        // Only asynchronously invoked functions can fail without a caller to see it; those
        // with `asyncInvocation` use the on-failure destination below instead.
        deadLetterQueue: routed.has(functionId) || spec.asyncInvocation ? undefined : this.deadLetterQueue,
        tracing: props.tracing,
        sourceMapsInStackTraces: props.sourceMapsInStackTraces,
      });
      if (spec.asyncInvocation) {
        const queueArn = this.fanOutFailureQueue.queueArn;
        functions[functionId].function.configureAsyncInvoke({
          retryAttempts: spec.asyncInvocation.retryAttempts,
          maxEventAge: Duration.seconds(spec.asyncInvocation.maxEventAgeSeconds),
          // The queue as a destination, with only the grant Lambda needs to use it
          // (SqsDestination would also grant sqs:GetQueueAttributes and sqs:GetQueueUrl).
          onFailure: { bind: () => ({ destination: queueArn }) },
        });
        functions[functionId].addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queueArn] }),
        );
      }
    }
    for (const [functionId, spec] of entries(functionSpecs)) {
      this.grantFromSpec(functionId, spec, { tables, webSocket, functions, jwt, attachments });
    }
    const intervalMinutes: Record<keyof typeof scheduledFunctions, number> = {
      sweepConnections:
        props.connectionSweepIntervalMinutes ?? scheduledFunctions.sweepConnections.defaultIntervalMinutes,
    };
    for (const [functionId, minutes] of entries(intervalMinutes)) {
      new events.Rule(this, `${pascalCase(functionId)}Schedule`, {
        description: `Runs ${functionId} every ${minutes} minute(s)`,
        schedule: events.Schedule.rate(Duration.minutes(minutes)),
        targets: [new eventTargets.LambdaFunction(functions[functionId].function)],
      });
    }

    // Token verification happens once per connection, in the `$connect` authorizer, whose
    // context API Gateway passes to every later route of the connection.
    const connectAuthorizer = webSocket.lambdaAuthorizer(
      'ConnectAuthorizer',
      functions[webSocketAuthorizer.functionId].function,
      webSocketAuthorizer.identitySource,
    );
    for (const [routeKey, functionId] of Object.entries(webSocketRoutes)) {
      webSocket.addLambdaRoute(
        routeKey,
        functions[functionId].function,
        functionId,
        routeKey === webSocketAuthorizer.routeKey ? connectAuthorizer : undefined,
      );
    }
    const http = new ChatHttpApi(this, 'Http', {
      handler: functions.httpApi.function,
      routes: httpRoutes.map((route) => ({
        method: route.method,
        path: route.path,
        ...(route.functionId ? { handler: functions[route.functionId].function } : {}),
      })),
      corsAllowOrigins: props.corsAllowOrigins,
      throttle,
      logRetention: props.logRetention,
      removalPolicy,
    });

    const customDomain = props.customDomain
      ? new ChatCustomDomain(this, 'CustomDomain', { ...props.customDomain, webSocket, http })
      : undefined;

    const alarms = new ChatAlarms(this, 'Alarms', { alarmEmail: props.alarmEmail });
    for (const [functionId, fn] of entries(functions)) {
      alarms.forFunction(pascalCase(functionId), fn.function);
    }
    if (this.eventBus) {
      // Events given up after the retries (functions/runtime/app-events.ts), per function as
      // the metric is written: any in 5 minutes.
      for (const [functionId, fn] of entries(functions)) {
        if (!functionSpecs[functionId].publishesEvents) continue;
        alarms.add(
          `${pascalCase(functionId)}EventsNotPublished`,
          new cloudwatch.Metric({
            namespace: EVENTS_METRIC.namespace,
            metricName: EVENTS_METRIC.name,
            dimensionsMap: { Function: fn.function.functionName },
            period: Duration.minutes(5),
            statistic: 'Sum',
          }),
          1,
        );
      }
    }
    alarms.forDeadLetterQueue('AsyncDeadLetterQueue', this.deadLetterQueue);
    alarms.forDeadLetterQueue('FanOutFailureQueue', this.fanOutFailureQueue);
    alarms.add('WebSocketIntegrationErrors', webSocket.metric('IntegrationError'), 5);
    alarms.add('WebSocketExecutionErrors', webSocket.metric('ExecutionError'), 5);
    alarms.add(
      'HttpApiServerErrors',
      http.stage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      5,
    );

    acknowledgeNagFindings({
      apis: [webSocket.api, http.api],
      functions: Object.values(functions),
      tracedFunctions: props.tracing ? Object.values(functions) : [],
      jwtSecret: jwt.generatedSecret,
      apiGatewayCloudWatchRole: webSocket.cloudWatchRole,
      onFailureQueue: this.fanOutFailureQueue,
      manageConnectionsResources: (['POST', 'GET', 'DELETE'] as const).map((method) =>
        webSocket.manageConnectionsNagResource(method),
      ),
      attachmentsBucket: attachments.bucket,
      attachmentObjectsResources: attachments.objectsNagResources(),
    });

    this.parts = { tables, jwt, webSocket, functions, http, attachments, alarms, customDomain };
    this.attachmentsBucket = attachments.bucket;
    this.tables = tables.tables;
    this.functions = Object.fromEntries(
      entries(functions).map(([functionId, fn]) => [functionId, fn.function]),
    ) as Record<FunctionId, lambda.Function>;
    this.webSocketApi = webSocket.api;
    this.webSocketStage = webSocket.stage;
    this.webSocketUrl = webSocket.stage.url;
    this.callbackUrl = webSocket.callbackUrl;
    this.httpApi = http.api;
    this.httpStage = http.stage;
    this.httpUrl = http.url;
    this.jwtSecret = jwt.secret;
    this.alarmTopic = alarms.topic;
  }

  /** The statements `spec` asks for, each on exact ARNs; nothing else. */
  private grantFromSpec(
    functionId: FunctionId,
    spec: FunctionSpec,
    parts: Pick<ChatBackendParts, 'tables' | 'webSocket' | 'functions' | 'jwt' | 'attachments'>,
  ): void {
    const fn = parts.functions[functionId];
    if (spec.attachments?.length) parts.attachments.grant(fn.function, spec.attachments);
    for (const [tableId, access] of entries(spec.tables)) {
      if (!access) continue;
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: access.actions.map((action) => `dynamodb:${action}`),
          resources: [
            parts.tables.tables[tableId].tableArn,
            ...(access.indexes ?? []).map((indexName) => parts.tables.indexArn(tableId, indexName)),
          ],
        }),
      );
    }
    if (spec.manageConnections?.length) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['execute-api:ManageConnections'],
          resources: spec.manageConnections.map((method) => parts.webSocket.manageConnectionsArn(method)),
        }),
      );
    }
    for (const targetId of spec.invokes ?? []) {
      const target = parts.functions[targetId];
      const nameEnvVar = functionSpecs[targetId].nameEnvVar;
      if (targetId === functionId && nameEnvVar) {
        // Its own name and ARN as literals: a reference to itself would be a cycle.
        const name = this.selfInvokingName(functionId);
        fn.addEnvironment(nameEnvVar, name);
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['lambda:InvokeFunction'],
            resources: [
              Stack.of(this).formatArn({
                service: 'lambda',
                resource: 'function',
                resourceName: name,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ],
          }),
        );
        continue;
      }
      if (!nameEnvVar) {
        throw new Error(
          `functionSpecs.${functionId} invokes "${targetId}", which has no nameEnvVar: add ` +
            `nameEnvVar to functionSpecs.${targetId} in lib/function-specs.ts so ${functionId} learns its name.`,
        );
      }
      fn.addEnvironment(nameEnvVar, target.function.functionName);
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [target.function.functionArn],
        }),
      );
    }
    if (spec.verifiesTokens) parts.jwt.grantRead(fn);
    if (spec.publishesEvents && this.eventBus) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [this.eventBus.eventBusArn] }),
      );
    }
  }

  /** The bus of `options`: given, looked up by name, or new. */
  private eventBusFor(options: ChatEventsOptions | undefined): events.IEventBus | undefined {
    if (!options) return undefined;
    if (options.eventBus && options.eventBusName) {
      throw new Error('events: give eventBus or eventBusName, not both.');
    }
    if (options.eventBus) return options.eventBus;
    if (options.eventBusName) return events.EventBus.fromEventBusName(this, 'EventBus', options.eventBusName);
    return new events.EventBus(this, 'EventBus', {
      description: 'Chat events for your backend (source serverless-chat; docs/events.md)',
    });
  }

  /**
   * The fixed name of a function that invokes itself: `{stackName}-{FunctionId}` for the
   * backend a stack deploys as its `Default` child (ChatStack), `{stackName}-{id}-{FunctionId}`
   * otherwise, so two backends of an account do not share a name; in a nested stack, the
   * construct path with a hash in place of `{stackName}-{id}`.
   */
  private selfInvokingName(functionId: FunctionId): string {
    const stackName = Stack.of(this).stackName;
    const suffix = pascalCase(functionId);
    // A nested stack's name is only known at deploy time: then the construct path, hashed.
    const prefix = Token.isUnresolved(stackName)
      ? Names.uniqueResourceName(this, { maxLength: 63 - suffix.length, separator: '-' })
      : this.node.id === 'Default'
        ? stackName
        : `${stackName}-${this.node.id}`;
    const name = `${prefix}-${suffix}`;
    if (name.length > 64 || !/^[A-Za-z0-9-_]+$/.test(name)) {
      throw new Error(
        `The ${functionId} function is named "${name}", which Lambda refuses (at most 64 letters, digits, - and _): ` +
          'use a shorter stack name (-c stackName=…) or construct id.',
      );
    }
    return name;
  }

  /**
   * Lets `grantee` read messages: GetItem, BatchGetItem and Query on the messages table
   * and its indexes (`byInbox`, `byOutbox`). Whether a user may see a conversation is the
   * grantee's to check (the groups table has the members).
   */
  grantReadMessages(grantee: iam.IGrantable): iam.Grant {
    return this.grantRead(grantee, 'messages');
  }

  /**
   * Lets `grantee` read who is online and on which connections: GetItem, BatchGetItem and
   * Query on the presence table (a user's `connectionIds`) and its `byShard` index.
   */
  grantReadPresence(grantee: iam.IGrantable): iam.Grant {
    return this.grantRead(grantee, 'presence');
  }

  /**
   * Lets `grantee` call the Management API of this WebSocket stage (at `callbackUrl`) on
   * any connection: `POST` sends a frame (the default), `GET` reads a connection's
   * state, `DELETE` closes it.
   */
  grantManageConnections(
    grantee: iam.IGrantable,
    methods: readonly ManageConnectionsMethod[] = ['POST'],
  ): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:ManageConnections'],
      resourceArns: methods.map((method) => this.parts.webSocket.manageConnectionsArn(method)),
    });
  }

  private grantRead(grantee: iam.IGrantable, tableId: TableId): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
      resourceArns: [
        this.tables[tableId].tableArn,
        ...tableDefinitions[tableId].indexes.map(({ indexName }) =>
          this.parts.tables.indexArn(tableId, indexName),
        ),
      ],
    });
  }
}

/** Days the bucket keeps attached files: as asked, else one day past the messages' retention (0, for ever, when messages stay). */
function attachmentRetentionDays(props: ChatBackendProps): number {
  if (props.attachments?.retentionDays !== undefined) return props.attachments.retentionDays;
  const messages = props.messageRetentionDays ?? 0;
  return messages > 0 ? messages + 1 : 0;
}

/** The default of ATTACHMENT_MAX_AGE_SECONDS (functions/runtime/config.ts). */
const DEFAULT_ATTACHMENT_MAX_AGE_SECONDS = 86_400;

/**
 * Days the bucket keeps an upload: the whole days that cover the time a message may attach
 * it (`maxAgeSeconds`), plus one of slack (S3 expires objects at the next midnight UTC after
 * the age, asynchronously): two days by default.
 */
function uploadRetentionDays(props: ChatBackendProps): number {
  const maxAgeSeconds = props.attachments?.maxAgeSeconds ?? DEFAULT_ATTACHMENT_MAX_AGE_SECONDS;
  return Math.ceil(maxAgeSeconds / 86_400) + 1;
}

function validateSettings(props: ChatBackendProps): void {
  const checkInteger = (name: keyof ChatBackendProps, min: number, why: string): void => {
    const value = props[name];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new Error(`${name} must be an integer >= ${min} (${why}); received ${JSON.stringify(value)}.`);
    }
  };
  checkInteger(
    'connectionTtlSeconds',
    MINIMUM_CONNECTION_TTL_SECONDS,
    "connection rows must outlive API Gateway's 2 h connection limit",
  );
  checkInteger('maxGroupMembers', 2, 'a group has a creator and at least one member');
  checkInteger('connectionSweepIntervalMinutes', 1, 'the sweep runs at most once a minute');
  checkInteger('fanOutConcurrency', 1, 'at least one post at a time');
  checkInteger('fanOutWorkerThreshold', 1, 'fan-outs to more connections than this go to workers');
  checkInteger('fanOutChunkSize', 1, 'a worker job posts to at least one connection');
  checkInteger('fanOutRatePerSecond', 1, 'a fan-out must be able to post');
  const checkAtMost = (name: keyof ChatBackendProps, max: number, why: string): void => {
    const value = props[name];
    if (typeof value === 'number' && value > max) {
      throw new Error(`${name} must be at most ${max} (${why}); received ${value}.`);
    }
  };
  checkAtMost('fanOutChunkSize', 5000, 'one chunk is one worker invocation payload');
  checkAtMost('connectionSweepIntervalMinutes', 1440, 'stale connections must be swept at least daily');
  checkAtMost('fanOutRatePerSecond', 10_000, "the account's Management API throttle is 10,000 requests/s");
  checkInteger('maxRoomsPerConnection', 1, 'a connection must be able to join a room');
  checkInteger('messageRetentionDays', 0, '0 keeps messages for ever');
  const limits = props.attachments ?? {};
  for (const [name, min] of [
    ['maxBytes', 1],
    ['uploadUrlTtlSeconds', 1],
    ['downloadUrlTtlSeconds', 1],
    ['maxAgeSeconds', 1],
    ['retentionDays', 0],
  ] as const) {
    const value = limits[name];
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      throw new Error(`attachments.${name} must be an integer >= ${min}; received ${JSON.stringify(value)}.`);
    }
  }
  for (const name of ['uploadUrlTtlSeconds', 'downloadUrlTtlSeconds'] as const) {
    if ((limits[name] ?? 0) > 604_800)
      throw new Error(`attachments.${name} must be at most 604800 (7 days, SigV4's limit).`);
  }
  if (
    limits.contentTypes &&
    !limits.contentTypes.every((type) => /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(type))
  ) {
    throw new Error('attachments.contentTypes must be MIME types such as image/png (no parameters).');
  }
  checkInteger('maxConnectionsPerUser', 0, '0 means unlimited');
  checkInteger('rateLimitPerMinute', 0, '0 turns the limit off');
  checkInteger('readRateLimitPerMinute', 0, '0 turns the limit off');
  checkInteger('maxGroupsPerUser', 1, 'a creator must be able to create a group');
  checkInteger('maxContentLength', 1, 'a message needs at least one character');
  checkInteger('typingThrottleSeconds', 1, 'the typing throttle needs a window of at least a second');
  if (props.moderation) {
    if (!/^https:\/\//.test(props.moderation.url)) {
      throw new Error(
        `moderation.url must be an https:// URL; received ${JSON.stringify(props.moderation.url)}.`,
      );
    }
    if (props.moderation.failMode !== undefined && !['open', 'closed'].includes(props.moderation.failMode)) {
      throw new Error(
        `moderation.failMode must be "open" or "closed"; received ${JSON.stringify(props.moderation.failMode)}.`,
      );
    }
  }
  for (const origin of props.allowedOrigins ?? []) {
    if (!/^https?:\/\/[^/\s,]+$/.test(origin)) {
      throw new Error(
        `allowedOrigins entries must look like https://host[:port] with no path; received ${JSON.stringify(origin)}.`,
      );
    }
  }
  const visibilities: readonly unknown[] = ['all', 'admins', 'peers'];
  if (props.onlineUsersVisibility !== undefined && !visibilities.includes(props.onlineUsersVisibility)) {
    throw new Error(
      `onlineUsersVisibility must be "all", "admins" or "peers"; received ${JSON.stringify(props.onlineUsersVisibility)}.`,
    );
  }
  const inviteModes: readonly unknown[] = ['off', 'required'];
  if (props.groupInvites !== undefined && !inviteModes.includes(props.groupInvites)) {
    throw new Error(
      `groupInvites must be "off" or "required"; received ${JSON.stringify(props.groupInvites)}.`,
    );
  }
  const sessionModes: readonly unknown[] = ['multi', 'single'];
  if (props.sessionMode !== undefined && !sessionModes.includes(props.sessionMode)) {
    throw new Error(
      `sessionMode must be "multi" or "single"; received ${JSON.stringify(props.sessionMode)}. ` +
        'Pass -c sessionMode=single for one connection per user.',
    );
  }
}

/** `Object.entries` that keeps the key type of records keyed by a union. */
function entries<K extends string, V>(record: Partial<Record<K, V>>): [K, V][] {
  return Object.entries(record) as [K, V][];
}
