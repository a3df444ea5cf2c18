/**
 * The composition root: configuration, SDK clients and stores, built once per container
 * on first use and shared by every invocation. Tests may replace it with `setServices`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SHIPPED_BLOCKED_WORDS } from '../core/blocked-words.ts';
import { ChatService } from '../core/chat-service.ts';
import { ConnectionRegistry, type ConnectionRegistryDependencies } from '../core/connections.ts';
import { buildContentFilter } from '../core/content-filter.ts';
import type { DeliveryDependencies } from '../core/delivery.ts';
import { MessageGuards } from '../core/guards.ts';
import { PresenceNotifier } from '../core/presence-notifier.ts';
import { ReadReceipts, UnreadCounter } from '../core/read-receipts.ts';
import { RoomService } from '../core/rooms.ts';
import { SingleSession } from '../core/sessions.ts';
import { DynamoConnectionStore } from '../stores/connections.ts';
import { DynamoConversationIndex } from '../stores/conversations.ts';
import { DynamoGroupStore } from '../stores/groups.ts';
import { DynamoGuardStore } from '../stores/guards.ts';
import { DynamoMessageStore } from '../stores/messages.ts';
import { DynamoPresenceStore } from '../stores/presence.ts';
import { DynamoReadStateStore } from '../stores/read-state.ts';
import { DynamoRoomStore } from '../stores/rooms.ts';
import { type ChatConfig, ConfigError, loadConfig } from './config.ts';
import { log } from './logger.ts';
import { ManagementApiNotifier, managementApiClient } from './management-api.ts';
import { recordFanOut } from './metrics.ts';

export interface Services {
  readonly config: ChatConfig;
  readonly registry: ConnectionRegistry;
  readonly presence: DynamoPresenceStore;
  readonly messages: DynamoMessageStore;
  readonly groups: DynamoGroupStore;
  readonly rooms: DynamoRoomStore;
  /** Chat commands that deliver through the Management API at `callbackUrl`. */
  chat(callbackUrl: string): ChatService;
  /** Room commands that deliver through the Management API at `callbackUrl`. */
  roomService(callbackUrl: string): RoomService;
  notifier(callbackUrl: string): ManagementApiNotifier;
  /** What `deliver` needs to push through `callbackUrl`: notifier, registry for 410s, concurrency, log. */
  delivery(callbackUrl: string): DeliveryDependencies;
  /** Read positions (`mark_read`, unread counts). */
  readonly readState: DynamoReadStateStore;
  /**
   * Queries over messages and groups for receipts, unread counts and presence (bounded),
   * and a user's groups (`byMember`) for `sync` too.
   */
  readonly conversations: DynamoConversationIndex;
  /**
   * A registry whose first-open / last-close transitions push `presence` to the user's
   * peers through `callbackUrl`. Only `$connect` and `$disconnect` use it; everything else
   * (410 cleanups included) uses `registry`, which pushes nothing.
   */
  presenceRegistry(callbackUrl: string): ConnectionRegistry;
  readReceipts(callbackUrl: string): ReadReceipts;
  /** Unread counts per conversation (`GET /api/ws/unread`). */
  readonly unread: UnreadCounter;
  /** `SESSION_MODE=single`: closes a user's older connections. */
  singleSession(callbackUrl: string): SingleSession;
}

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
  const registryWith = (onPresenceChange?: ConnectionRegistryDependencies['onPresenceChange']) =>
    new ConnectionRegistry({
      connections,
      presence,
      rooms,
      connectionTtlSeconds: config.connectionTtlSeconds,
      onPresenceChange,
    });
  const registry = registryWith();
  // Rate limit and client_msg_id dedupe of the message commands (guards table).
  const guards = new MessageGuards({
    store: new DynamoGuardStore(dynamo, config.tables.guards),
    settings: { ratePerMinute: config.rateLimitPerMinute, dedupeTtlSeconds: config.dedupeTtlSeconds },
  });
  const notifier = (callbackUrl: string) =>
    new ManagementApiNotifier(managementApiClient(callbackUrl, config.fanOutConcurrency));
  const warn = (message: string, details: Record<string, unknown>) => log('warn', message, details);
  const contentFilter = buildContentFilter(config.contentFilter, SHIPPED_BLOCKED_WORDS, (error) =>
    warn('moderation service failed', { failMode: config.contentFilter.moderation?.failMode, error }),
  );
  const readState = new DynamoReadStateStore(dynamo, config.tables.readState);
  const conversations = new DynamoConversationIndex(dynamo, {
    messages: config.tables.messages,
    groups: config.tables.groups,
  });
  const delivery = (callbackUrl: string): DeliveryDependencies => ({
    notifier: notifier(callbackUrl),
    registry,
    fanOutConcurrency: config.fanOutConcurrency,
    log: warn,
    onFanOut: recordFanOut,
  });
  return {
    config,
    registry,
    readState,
    conversations,
    presenceRegistry: (callbackUrl) => {
      const presenceNotifier = new PresenceNotifier({ ...delivery(callbackUrl), conversations, presence });
      return registryWith(async (userId, status) => {
        await presenceNotifier.notify(userId, status);
      });
    },
    unread: new UnreadCounter({ conversations, readState }),
    readReceipts: (callbackUrl) =>
      new ReadReceipts({ ...delivery(callbackUrl), conversations, readState, presence }),
    singleSession: (callbackUrl) => {
      const managementApi = notifier(callbackUrl);
      return new SingleSession({
        presence,
        registry,
        notifier: managementApi,
        closer: managementApi,
        log: warn,
      });
    },
    presence,
    messages,
    groups,
    rooms,
    notifier,
    delivery,
    chat: (callbackUrl) =>
      new ChatService({
        ...delivery(callbackUrl),
        presence,
        messages,
        groups,
        contentFilter,
        guards,
        membership: conversations,
        settings: {
          maxGroupMembers: config.maxGroupMembers,
          maxContentLength: config.maxContentLength,
          broadcastAllowAll: config.broadcastAllowAll,
          maxGroupsPerUser: config.maxGroupsPerUser,
        },
      }),
    roomService: (callbackUrl) =>
      new RoomService({
        ...delivery(callbackUrl),
        connections,
        rooms,
        messages,
        contentFilter,
        guards,
        settings: {
          maxContentLength: config.maxContentLength,
          maxRoomsPerConnection: config.maxRoomsPerConnection,
        },
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
