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
import { DISPATCH_CONCURRENCY, FanOutDispatcher } from '../core/fan-out-dispatch.ts';
import type { FanOutWorkerDependencies } from '../core/fan-out-worker.ts';
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
import { withCapacityReporting } from './capacity.ts';
import { type ChatConfig, ConfigError, loadConfig } from './config.ts';
import { LambdaFanOutInvoker, lambdaClient } from './fan-out-invoker.ts';
import { log } from './logger.ts';
import { ManagementApiNotifier, managementApiClient } from './management-api.ts';
import { recordFanOut, recordFanOutDispatch } from './metrics.ts';

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
  /**
   * What `deliver` needs to push through `callbackUrl`: notifier, registry for 410s,
   * concurrency, log, and the fan-out dispatcher when a worker function is configured.
   */
  delivery(callbackUrl: string): DeliveryDependencies;
  /** What a fan-out worker needs to run a job that posts through `callbackUrl`. */
  fanOutWorker(callbackUrl: string): FanOutWorkerDependencies;
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
    withCapacityReporting(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, maxAttempts: 4 })),
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
  // Fan-outs above FANOUT_WORKER_THRESHOLD go to the fan-out worker, when this function may invoke it.
  const workerName = config.fanOutWorkerFunctionName;
  const fanOutInvoker = workerName
    ? new LambdaFanOutInvoker(lambdaClient(config.lambdaEndpoint, DISPATCH_CONCURRENCY), workerName)
    : undefined;
  const fanOutSettings = {
    threshold: config.fanOutWorkerThreshold,
    chunkSize: config.fanOutChunkSize,
    ratePerSecond: config.fanOutRatePerSecond,
  };
  const delivery = (callbackUrl: string): DeliveryDependencies => ({
    notifier: notifier(callbackUrl),
    registry,
    fanOutConcurrency: config.fanOutConcurrency,
    log: warn,
    onFanOut: recordFanOut,
    ...(fanOutInvoker
      ? {
          offload: new FanOutDispatcher({
            invoker: fanOutInvoker,
            callbackUrl,
            settings: fanOutSettings,
            log: (message, details) => log('error', message, details),
            onDispatch: recordFanOutDispatch,
          }),
        }
      : {}),
  });
  // A job claim is a guards item that lives as long as Lambda may still deliver the event twice.
  const jobClaimSeconds = 6 * 3600;
  const guardStore = new DynamoGuardStore(dynamo, config.tables.guards);
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
    fanOutWorker: (callbackUrl) => ({
      notifier: notifier(callbackUrl),
      registry,
      rooms,
      presence,
      invoker: fanOutInvoker ?? missingWorkerName,
      claims: {
        claim: (key) =>
          guardStore.countHit(`fanout#${key}`, 1, Math.floor(Date.now() / 1000) + jobClaimSeconds),
      },
      fanOutConcurrency: config.fanOutConcurrency,
      log: warn,
      onFanOut: recordFanOut,
    }),
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

/** A worker without its own name cannot hand the rest of a job on: that is reported, not thrown. */
const missingWorkerName = {
  invoke: () =>
    Promise.reject(
      new ConfigError('FANOUT_WORKER_FUNCTION_NAME is not set: a continuation cannot be invoked.'),
    ),
};

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
