/**
 * The CDK app. Settings come from context (`-c key=value` or cdk.json), e.g.
 *   npx cdk deploy -c stageName=dev -c retainData=false
 *   npx cdk deploy -c jwksUrl=https://idp.example.com/.well-known/jwks.json \
 *     -c jwtIssuer=https://idp.example.com/ -c jwtAudience=chat
 *   npx cdk deploy -c cognitoUserPoolId=us-east-1_AbCdEf123 -c cognitoClientIds=1example23456789 \
 *     -c cognitoTokenUse=access -c cognitoAdminGroup=admin   # Amazon Cognito sign-in
 *   npx cdk deploy -c sessionMode=single   # one connection per user
 *   npx cdk deploy -c events=true           # events for your backend on a new EventBridge bus
 *   npx cdk deploy -c eventBusName=default  # … or on an existing bus (docs/events.md)
 *   npx cdk deploy -c fanOutWorkerThreshold=2000 -c fanOutRatePerSecond=5000   # large audiences
 *   npx cdk deploy -c allowedOrigins=https://chat.example.com -c maxConnectionsPerUser=5 \
 *     -c alarmEmail=ops@example.com
 *   npx cdk deploy -c tracing=true   # AWS X-Ray active tracing (docs/observability.md)
 *   npx cdk deploy -c sourceMapsInStackTraces=true   # source files and lines in uncaught errors' stacks
 *   npx cdk deploy -c domainName=ws.example.com -c httpDomainName=api.example.com \
 *     -c certificateArn=arn:aws:acm:… -c hostedZoneId=Z123 -c hostedZoneName=example.com
 * See ChatBackendProps (lib/chat-backend.ts) for what each key means and its default. Through npm, context goes
 * after `--`: `npm run synth -- -c stageName=dev`.
 *
 * cdk-nag's AwsSolutions pack runs on every synth and deploy: a finding not acknowledged
 * in lib/nag-suppressions.ts fails it with a validation report.
 */
import { App } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULT_READ_ROUTE_THROTTLE, DEFAULT_THROTTLE } from '../lib/chat-backend.ts';
import { ChatStack, type ChatStackProps } from '../lib/chat-stack.ts';
import type { CognitoTokenUse } from '../lib/constructs/cognito-sign-in.ts';
import { checkWithCdkNag } from '../lib/nag-check.ts';

/**
 * Context values are strings when passed with `-c` and JSON values when set in cdk.json;
 * accept both, and reject anything else with the key, the value and what was expected.
 */
class ContextReader {
  constructor(private readonly app: App) {}

  string(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') this.fail(key, value, 'a string');
    return value.trim() === '' ? undefined : value.trim();
  }

  boolean(key: string): boolean | undefined {
    const value = this.raw(key);
    if (value === undefined || typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) {
      return value.trim().toLowerCase() === 'true';
    }
    return this.fail(key, value, 'true or false');
  }

  number(key: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isFinite(number)) this.fail(key, value, 'a number');
    return number;
  }

  private raw(key: string): unknown {
    const value: unknown = this.app.node.tryGetContext(key);
    return value === null || value === '' ? undefined : value;
  }

  private fail(key: string, value: unknown, expected: string): never {
    throw new Error(
      `Context "${key}" must be ${expected}; received ${JSON.stringify(value)}. ` +
        `Fix it in cdk.json or pass -c ${key}=<value>.`,
    );
  }
}

function logRetention(days: number | undefined): RetentionDays | undefined {
  if (days === undefined) return undefined;
  const allowed = Object.values(RetentionDays).filter((value): value is number => typeof value === 'number');
  if (!allowed.includes(days)) {
    throw new Error(
      `Context "logRetentionDays" must be one of CloudWatch's retention periods ` +
        `(${allowed.join(', ')}); received ${days}.`,
    );
  }
  return days as RetentionDays;
}

const app = new App();
checkWithCdkNag(app);
const context = new ContextReader(app);
const moderationUrl = context.string('moderationUrl');
const rateLimit = context.number('throttleRateLimit');
const burstLimit = context.number('throttleBurstLimit');
const readRateLimit = context.number('readThrottleRateLimit');
const readBurstLimit = context.number('readThrottleBurstLimit');
const cognitoSettings = {
  userPoolId: context.string('cognitoUserPoolId'),
  clientIds: context.string('cognitoClientIds'),
  tokenUse: context.string('cognitoTokenUse') as CognitoTokenUse | undefined,
  adminGroup: context.string('cognitoAdminGroup'),
};
// Any of the keys turns it on, so clients without a pool (or the reverse) are reported.
const cognito = Object.values(cognitoSettings).some((value) => value !== undefined)
  ? {
      userPool: cognitoSettings.userPoolId ?? '',
      clients: (cognitoSettings.clientIds ?? '').split(','),
      tokenUse: cognitoSettings.tokenUse,
      adminGroup: cognitoSettings.adminGroup,
    }
  : undefined;
const eventBusName = context.string('eventBusName');
// `events=true` (a new bus) or `eventBusName` (an existing one) turns them on; `events=false` wins.
const events =
  context.boolean('events') === false
    ? undefined
    : eventBusName
      ? { eventBusName }
      : context.boolean('events')
        ? {}
        : undefined;
const customDomain = {
  domainName: context.string('domainName'),
  httpDomainName: context.string('httpDomainName'),
  certificateArn: context.string('certificateArn'),
  hostedZoneId: context.string('hostedZoneId'),
  hostedZoneName: context.string('hostedZoneName'),
};

new ChatStack(app, context.string('stackName') ?? 'ChatStack', {
  // Environment-agnostic when the CLI knows no account/region (e.g. synth without credentials).
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless chat backend: API Gateway WebSocket and HTTP APIs, Lambda, DynamoDB',
  stageName: context.string('stageName'),
  throttle: {
    rateLimit: rateLimit ?? DEFAULT_THROTTLE.rateLimit,
    burstLimit: burstLimit ?? DEFAULT_THROTTLE.burstLimit,
  },
  readRouteThrottle: {
    rateLimit: readRateLimit ?? DEFAULT_READ_ROUTE_THROTTLE.rateLimit,
    burstLimit: readBurstLimit ?? DEFAULT_READ_ROUTE_THROTTLE.burstLimit,
  },

  jwtSecretName: context.string('jwtSecretName'),
  jwksUrl: context.string('jwksUrl'),
  jwtIssuer: context.string('jwtIssuer'),
  jwtAudience: context.string('jwtAudience'),
  cognito,
  broadcastAllowAll: context.boolean('broadcastAllowAll'),
  connectionTtlSeconds: context.number('connectionTtlSeconds'),
  connectionSweepIntervalMinutes: context.number('connectionSweepIntervalMinutes'),
  maxGroupMembers: context.number('maxGroupMembers'),
  maxRoomsPerConnection: context.number('maxRoomsPerConnection'),
  fanOutConcurrency: context.number('fanOutConcurrency'),
  fanOutWorkerThreshold: context.number('fanOutWorkerThreshold'),
  fanOutChunkSize: context.number('fanOutChunkSize'),
  fanOutRatePerSecond: context.number('fanOutRatePerSecond'),
  messageRetentionDays: context.number('messageRetentionDays'),
  sessionMode: context.string('sessionMode') as ChatStackProps['sessionMode'],
  onlineUsersVisibility: context.string('onlineUsersVisibility') as ChatStackProps['onlineUsersVisibility'],
  groupInvites: context.string('groupInvites') as ChatStackProps['groupInvites'],
  retainData: context.boolean('retainData'),
  allowedOrigins: context
    .string('allowedOrigins')
    ?.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean),
  maxConnectionsPerUser: context.number('maxConnectionsPerUser'),
  rateLimitPerMinute: context.number('rateLimitPerMinute'),
  readRateLimitPerMinute: context.number('readRateLimitPerMinute'),
  maxGroupsPerUser: context.number('maxGroupsPerUser'),
  maxContentLength: context.number('maxContentLength'),
  typingThrottleSeconds: context.number('typingThrottleSeconds'),
  blockedWords: context
    .string('blockedWords')
    ?.split(',')
    .map((word) => word.trim())
    .filter(Boolean),
  moderation: moderationUrl
    ? {
        url: moderationUrl,
        timeoutMs: context.number('moderationTimeoutMs'),
        failMode: context.string('moderationFailMode') as 'open' | 'closed' | undefined,
      }
    : undefined,
  alarmEmail: context.string('alarmEmail'),
  events,
  tracing: context.boolean('tracing'),
  sourceMapsInStackTraces: context.boolean('sourceMapsInStackTraces'),
  apiGatewayCloudWatchRole: context.boolean('apiGatewayCloudWatchRole'),
  logRetention: logRetention(context.number('logRetentionDays')),
  // Any of the keys turns it on, so a certificate or zone without a domain is reported.
  customDomain: Object.values(customDomain).some((value) => value !== undefined) ? customDomain : undefined,
});
