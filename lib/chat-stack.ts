import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ChatAlarms } from './constructs/chat-alarms.ts';
import {
  ChatCustomDomain,
  type ChatCustomDomainOptions,
  validateCustomDomainOptions,
} from './constructs/chat-custom-domain.ts';
import { ChatFunction } from './constructs/chat-function.ts';
import { ChatHttpApi } from './constructs/chat-http-api.ts';
import { ChatTables } from './constructs/chat-tables.ts';
import { ChatWebSocketApi } from './constructs/chat-websocket-api.ts';
import { type JwtOptions, JwtVerification } from './constructs/jwt-verification.ts';
import { pascalCase } from './constructs/naming.ts';
import {
  type FunctionId,
  type FunctionSpec,
  functionSpecs,
  httpRoutes,
  ROUTE_SELECTION_EXPRESSION,
  webSocketAuthorizer,
  webSocketReadRoutes,
  webSocketRoutes,
} from './function-specs.ts';
import { acknowledgeNagFindings } from './nag-suppressions.ts';
import { tableDefinitions } from './table-definitions.ts';

export interface ChatStackProps extends StackProps, JwtOptions {
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
   * Recipients per fan-out worker invocation (`FANOUT_CHUNK_SIZE`), 1 to 5000.
   *
   * @default - the handlers' default (500)
   */
  readonly fanOutChunkSize?: number;

  /**
   * Management API posts per second of one worker fan-out, all its workers together
   * (`FANOUT_RATE_PER_SECOND`), 1 to 10000. Keep it well below the account's 10,000
   * requests/s throttle, which every fan-out and route of the account shares.
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
}

/**
 * Functions behind API Gateway stop 1 s before its 29 s integration timeout. Functions
 * invoked asynchronously (the welcome push) only wait briefly for a connection to open.
 */
const ROUTE_FUNCTION_TIMEOUT = Duration.seconds(28);
const ASYNC_FUNCTION_TIMEOUT = Duration.seconds(15);

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
 * The chat backend: a WebSocket API and an HTTP API in front of one function per entry of
 * `functionSpecs`, the DynamoDB tables of `tableDefinitions`, and the JWT key source.
 * Every permission is derived from `functionSpecs`, statement by statement.
 */
export class ChatStack extends Stack {
  readonly tables: ChatTables;
  readonly jwt: JwtVerification;
  readonly webSocket: ChatWebSocketApi;
  readonly functions: Readonly<Record<FunctionId, ChatFunction>>;
  readonly httpApi: ChatHttpApi;
  readonly alarms: ChatAlarms;
  /** Present when `customDomain` is given. */
  readonly customDomain?: ChatCustomDomain;
  /** Failed asynchronous invocations (the welcome push) after Lambda's retries. */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * On-failure destination of the functions with `asyncInvocation` in their spec (the
   * fan-out worker): jobs that failed or waited too long, with Lambda's invocation record.
   */
  readonly fanOutFailureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ChatStackProps = {}) {
    super(scope, id, props);
    validateSettings(props);
    if (props.customDomain) validateCustomDomainOptions(props.customDomain, this.region);
    const removalPolicy = (props.retainData ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const throttle = props.throttle ?? DEFAULT_THROTTLE;

    this.tables = new ChatTables(this, 'Tables', { removalPolicy });
    this.jwt = new JwtVerification(this, 'Jwt', {
      jwtSecretName: props.jwtSecretName,
      jwksUrl: props.jwksUrl,
      jwtIssuer: props.jwtIssuer,
      jwtAudience: props.jwtAudience,
      cognito: props.cognito,
      removalPolicy,
    });
    this.webSocket = new ChatWebSocketApi(this, 'WebSocket', {
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

    // Every function gets every table name: IAM, not the environment, limits what it touches.
    const sharedEnvironment: Record<string, string> = {
      BROADCAST_ALLOW_ALL: String(props.broadcastAllowAll ?? false),
      CONNECTION_TTL_SECONDS: String(props.connectionTtlSeconds ?? 7800),
      MAX_GROUP_MEMBERS: String(props.maxGroupMembers ?? 500),
    };
    for (const [tableId, definition] of entries(tableDefinitions)) {
      sharedEnvironment[definition.envVar] = this.tables.tables[tableId].tableName;
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
      BLOCKED_WORDS: props.blockedWords?.length ? props.blockedWords.join(',') : undefined,
      MODERATION_URL: props.moderation?.url,
      MODERATION_TIMEOUT_MS: props.moderation?.timeoutMs,
      MODERATION_FAIL_MODE: props.moderation?.failMode,
    };
    for (const [name, value] of Object.entries(optionalSettings)) {
      if (value !== undefined) sharedEnvironment[name] = String(value);
    }

    // The authorizer is invoked synchronously by API Gateway on every handshake, like a route.
    const routed = new Set<FunctionId>([
      ...Object.values(webSocketRoutes),
      webSocketAuthorizer.functionId,
      'httpApi',
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
          ...(spec.manageConnections ? { WS_CALLBACK_URL: this.webSocket.callbackUrl } : {}),
          ...(spec.verifiesTokens ? this.jwt.environment : {}),
        },
        logRetention: props.logRetention,
        logRemovalPolicy: removalPolicy,
        // Only asynchronously invoked functions can fail without a caller to see it; those
        // with `asyncInvocation` use the on-failure destination below instead.
        deadLetterQueue: routed.has(functionId) || spec.asyncInvocation ? undefined : this.deadLetterQueue,
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
    this.functions = functions;
    for (const [functionId, spec] of entries(functionSpecs)) {
      this.grantFromSpec(functionId, spec);
    }

    // Token verification happens once per connection, in the `$connect` authorizer, whose
    // context API Gateway passes to every later route of the connection.
    const connectAuthorizer = this.webSocket.lambdaAuthorizer(
      'ConnectAuthorizer',
      functions[webSocketAuthorizer.functionId].function,
      webSocketAuthorizer.identitySource,
    );
    for (const [routeKey, functionId] of Object.entries(webSocketRoutes)) {
      this.webSocket.addLambdaRoute(
        routeKey,
        functions[functionId].function,
        functionId,
        routeKey === webSocketAuthorizer.routeKey ? connectAuthorizer : undefined,
      );
    }
    this.httpApi = new ChatHttpApi(this, 'Http', {
      handler: functions.httpApi.function,
      routes: httpRoutes,
      corsAllowOrigins: props.corsAllowOrigins,
      throttle,
      logRetention: props.logRetention,
      removalPolicy,
    });

    if (props.customDomain) {
      this.customDomain = new ChatCustomDomain(this, 'CustomDomain', {
        ...props.customDomain,
        webSocket: this.webSocket,
        http: this.httpApi,
      });
    }

    this.alarms = new ChatAlarms(this, 'Alarms', { alarmEmail: props.alarmEmail });
    for (const [functionId, fn] of entries(functions)) {
      this.alarms.forFunction(pascalCase(functionId), fn.function);
    }
    this.alarms.forDeadLetterQueue('AsyncDeadLetterQueue', this.deadLetterQueue);
    this.alarms.forDeadLetterQueue('FanOutFailureQueue', this.fanOutFailureQueue);
    this.alarms.add('WebSocketIntegrationErrors', this.webSocket.metric('IntegrationError'), 5);
    this.alarms.add('WebSocketExecutionErrors', this.webSocket.metric('ExecutionError'), 5);
    this.alarms.add(
      'HttpApiServerErrors',
      this.httpApi.stage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      5,
    );

    acknowledgeNagFindings({
      apis: [this.webSocket.api, this.httpApi.api],
      functions: Object.values(functions),
      jwtSecret: this.jwt.generatedSecret,
      apiGatewayCloudWatchRole: this.webSocket.cloudWatchRole,
      onFailureQueue: this.fanOutFailureQueue,
      manageConnectionsResources: (['POST', 'GET', 'DELETE'] as const).map((method) =>
        this.webSocket.manageConnectionsNagResource(method),
      ),
    });
    this.addOutputs();
  }

  /** The statements `spec` asks for, each on exact ARNs; nothing else. */
  private grantFromSpec(functionId: FunctionId, spec: FunctionSpec): void {
    const fn = this.functions[functionId];
    for (const [tableId, access] of entries(spec.tables)) {
      if (!access) continue;
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: access.actions.map((action) => `dynamodb:${action}`),
          resources: [
            this.tables.tables[tableId].tableArn,
            ...(access.indexes ?? []).map((indexName) => this.tables.indexArn(tableId, indexName)),
          ],
        }),
      );
    }
    if (spec.manageConnections?.length) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['execute-api:ManageConnections'],
          resources: spec.manageConnections.map((method) => this.webSocket.manageConnectionsArn(method)),
        }),
      );
    }
    for (const targetId of spec.invokes ?? []) {
      const target = this.functions[targetId];
      const nameEnvVar = functionSpecs[targetId].nameEnvVar;
      if (targetId === functionId && nameEnvVar) {
        // Its own name and ARN as literals: a reference to itself would be a cycle.
        const name = this.selfInvokingName(functionId);
        fn.addEnvironment(nameEnvVar, name);
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['lambda:InvokeFunction'],
            resources: [
              this.formatArn({
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
    if (spec.verifiesTokens) this.jwt.grantRead(fn);
  }

  /** `{stackName}-{FunctionId}`: the fixed name of a function that invokes itself. */
  private selfInvokingName(functionId: FunctionId): string {
    const name = `${this.stackName}-${pascalCase(functionId)}`;
    if (name.length > 64 || !/^[A-Za-z0-9-_]+$/.test(name)) {
      throw new Error(
        `The ${functionId} function is named "${name}", which Lambda refuses (at most 64 letters, digits, - and _): ` +
          'use a shorter stack name (-c stackName=…).',
      );
    }
    return name;
  }

  private addOutputs(): void {
    new CfnOutput(this, 'WebSocketUrl', {
      description: 'Clients connect here (wss://…/{stage})',
      value: this.webSocket.stage.url,
    });
    new CfnOutput(this, 'CallbackUrl', {
      description: 'API Gateway Management API endpoint (https://…/{stage})',
      value: this.webSocket.callbackUrl,
    });
    new CfnOutput(this, 'HttpApiUrl', { description: 'HTTP API base URL', value: this.httpApi.url });
    for (const [prefix, domain] of [
      ['WebSocket', this.customDomain?.webSocket],
      ['HttpApi', this.customDomain?.http],
    ] as const) {
      if (!domain) continue;
      new CfnOutput(this, `${prefix}CustomUrl`, {
        description: 'Through the custom domain',
        value: domain.url,
      });
      new CfnOutput(this, `${prefix}DomainTarget`, {
        description: `Where ${domain.name} must point (alias or CNAME)${domain.record ? '; the stack created the record' : ''}`,
        value: domain.domain.regionalDomainName,
      });
    }
    // A generated secret is known by its ARN; an existing one by the name it was given,
    // since the full ARN of a secret imported by name is not known at synth time.
    if (this.jwt.generatedSecret) {
      new CfnOutput(this, 'JwtSecretArn', {
        description: 'Generated secret holding the JWT signing key (HS256)',
        value: this.jwt.generatedSecret.secretArn,
      });
    } else if (this.jwt.secret) {
      new CfnOutput(this, 'JwtSecretName', {
        description: 'Existing secret holding the JWT signing key (HS256)',
        value: this.jwt.secret.secretName,
      });
    }
  }
}

function validateSettings(props: ChatStackProps): void {
  const checkInteger = (name: keyof ChatStackProps, min: number, why: string): void => {
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
  checkInteger('fanOutConcurrency', 1, 'at least one post at a time');
  checkInteger('fanOutWorkerThreshold', 1, 'fan-outs to more connections than this go to workers');
  checkInteger('fanOutChunkSize', 1, 'a worker job posts to at least one connection');
  checkInteger('fanOutRatePerSecond', 1, 'a fan-out must be able to post');
  const checkAtMost = (name: keyof ChatStackProps, max: number, why: string): void => {
    const value = props[name];
    if (typeof value === 'number' && value > max) {
      throw new Error(`${name} must be at most ${max} (${why}); received ${value}.`);
    }
  };
  checkAtMost('fanOutChunkSize', 5000, 'one chunk is one worker invocation payload');
  checkAtMost('fanOutRatePerSecond', 10_000, "the account's Management API throttle is 10,000 requests/s");
  checkInteger('maxRoomsPerConnection', 1, 'a connection must be able to join a room');
  checkInteger('messageRetentionDays', 0, '0 keeps messages for ever');
  checkInteger('maxConnectionsPerUser', 0, '0 means unlimited');
  checkInteger('rateLimitPerMinute', 0, '0 turns the limit off');
  checkInteger('readRateLimitPerMinute', 0, '0 turns the limit off');
  checkInteger('maxGroupsPerUser', 1, 'a creator must be able to create a group');
  checkInteger('maxContentLength', 1, 'a message needs at least one character');
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
