/**
 * The composition root: configuration, SDK clients and stores, built once per container
 * on first use and shared by every invocation. Tests may replace it with `setServices`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ChatService } from '../core/chat-service.ts';
import { ConnectionRegistry } from '../core/connections.ts';
import { DynamoConnectionStore } from '../stores/connections.ts';
import { DynamoGroupStore } from '../stores/groups.ts';
import { DynamoMessageStore } from '../stores/messages.ts';
import { DynamoPresenceStore } from '../stores/presence.ts';
import { DynamoRoomStore } from '../stores/rooms.ts';
import { type ChatConfig, ConfigError, loadConfig } from './config.ts';
import { log } from './logger.ts';
import { ManagementApiNotifier, managementApiClient } from './management-api.ts';

export interface Services {
  readonly config: ChatConfig;
  readonly registry: ConnectionRegistry;
  readonly presence: DynamoPresenceStore;
  readonly messages: DynamoMessageStore;
  readonly groups: DynamoGroupStore;
  readonly rooms: DynamoRoomStore;
  /** Chat commands that deliver through the Management API at `callbackUrl`. */
  chat(callbackUrl: string): ChatService;
  notifier(callbackUrl: string): ManagementApiNotifier;
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
  const rooms = new DynamoRoomStore(dynamo, config.tables.rooms);
  const registry = new ConnectionRegistry({
    connections,
    presence,
    rooms,
    connectionTtlSeconds: config.connectionTtlSeconds,
  });
  const notifier = (callbackUrl: string) =>
    new ManagementApiNotifier(managementApiClient(callbackUrl, config.fanOutConcurrency));
  return {
    config,
    registry,
    presence,
    messages,
    groups,
    rooms,
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
  };
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
