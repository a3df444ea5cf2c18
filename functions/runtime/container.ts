/**
 * The composition root: configuration, SDK clients and stores, built once per container
 * on first use and shared by every invocation. Tests may replace it with `setServices`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { jwksKey, secretKey, type VerificationKey } from '../core/auth.ts';
import { ChatService } from '../core/chat-service.ts';
import { ConnectionRegistry } from '../core/connections.ts';
import { DynamoConnectionStore } from '../stores/connections.ts';
import { DynamoGroupStore } from '../stores/groups.ts';
import { DynamoMessageStore } from '../stores/messages.ts';
import { DynamoPresenceStore } from '../stores/presence.ts';
import { type ChatConfig, ConfigError, loadConfig } from './config.ts';
import { log } from './logger.ts';
import { ManagementApiNotifier, managementApiClient } from './management-api.ts';

export interface Services {
  readonly config: ChatConfig;
  readonly registry: ConnectionRegistry;
  readonly presence: DynamoPresenceStore;
  readonly messages: DynamoMessageStore;
  readonly groups: DynamoGroupStore;
  readonly lambda: LambdaClient;
  /** Chat commands that deliver through the Management API at `callbackUrl`. */
  chat(callbackUrl: string): ChatService;
  notifier(callbackUrl: string): ManagementApiNotifier;
  /** The JWT verification key, fetched once (Secrets Manager) or built once (JWKS). */
  verificationKey(): Promise<VerificationKey>;
}

const MAX_CONTENT_LENGTH = 4_000;

function buildServices(config: ChatConfig): Services {
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, maxAttempts: 4 }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const connections = new DynamoConnectionStore(dynamo, config.tables.connections);
  const presence = new DynamoPresenceStore(dynamo, config.tables.presence);
  const messages = new DynamoMessageStore(dynamo, config.tables.messages, config.messageRetentionDays);
  const groups = new DynamoGroupStore(dynamo, config.tables.groups);
  const registry = new ConnectionRegistry({
    connections,
    presence,
    connectionTtlSeconds: config.connectionTtlSeconds,
  });
  const notifier = (callbackUrl: string) =>
    new ManagementApiNotifier(managementApiClient(callbackUrl, config.fanOutConcurrency));
  let key: Promise<VerificationKey> | undefined;

  return {
    config,
    registry,
    presence,
    messages,
    groups,
    lambda: new LambdaClient({ endpoint: config.lambdaEndpoint }),
    notifier,
    chat: (callbackUrl) =>
      new ChatService({
        presence,
        messages,
        groups,
        registry,
        notifier: notifier(callbackUrl),
        settings: {
          fanOutConcurrency: config.fanOutConcurrency,
          maxGroupMembers: config.maxGroupMembers,
          maxContentLength: MAX_CONTENT_LENGTH,
          broadcastAllowAll: config.broadcastAllowAll,
        },
        log: (message, details) => log('warn', message, details),
      }),
    verificationKey: () => {
      key ??= resolveKey(config).catch((error: unknown) => {
        key = undefined; // a failed fetch is retried by the next invocation
        throw error;
      });
      return key;
    },
  };
}

async function resolveKey(config: ChatConfig): Promise<VerificationKey> {
  const source = config.jwt.key;
  if (!source) throw new ConfigError('No JWT key configured: set JWT_SECRET, JWT_SECRET_ID or JWKS_URL.');
  if (source.kind === 'secret') return secretKey(source.secret);
  if (source.kind === 'jwks') return jwksKey(source.url);
  const client = new SecretsManagerClient({ endpoint: config.secretsManagerEndpoint });
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
  if (!SecretString) throw new ConfigError(`Secret ${source.secretId} has no SecretString.`);
  return secretKey(secretFromString(SecretString));
}

/** A plain string, or JSON with a `secret` field (as generated secrets with a template are). */
function secretFromString(value: string): string {
  if (value.trimStart().startsWith('{')) {
    const parsed = JSON.parse(value) as { secret?: unknown };
    if (typeof parsed.secret === 'string' && parsed.secret) return parsed.secret;
    throw new ConfigError('The JWT secret is JSON without a "secret" field.');
  }
  return value;
}

let services: Services | undefined;

export function getServices(): Services {
  services ??= buildServices(loadConfig());
  return services;
}

/** Replaces the services (tests). */
export function setServices(replacement: Services | undefined): void {
  services = replacement;
}

/** The Management API endpoint for an event: the configured one, else from `requestContext`. */
export function callbackUrlFor(requestContext?: { domainName?: string; stage?: string }): string {
  const configured = getServices().config.callbackUrl;
  if (configured) return configured;
  if (!requestContext?.domainName || !requestContext.stage) {
    throw new ConfigError(
      'WS_CALLBACK_URL is not set and the event has no domainName/stage to derive it from.',
    );
  }
  return `https://${requestContext.domainName}/${requestContext.stage}`;
}
