/**
 * Wiring (see functions/runtime/container.ts): the DynamoDB client, the stores and
 * everything built on them — registry, chat, rooms, receipts, sessions, delivery and the
 * fan-out worker's dependencies. For the functions with tables in lib/function-specs.ts.
 * Delivery posts through the Management API, so this includes that wiring too. Fan-outs
 * go to the fan-out worker only when FANOUT_WORKER_FUNCTION_NAME is set, which needs the
 * Lambda client of wiring/fan-out-invoker.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tokenExpired } from '../../core/auth/token-expiry.ts';
import { BlockService } from '../../core/blocks/blocks.ts';
import {
  ConnectionRegistry,
  type ConnectionRegistryDependencies,
} from '../../core/connections/connections.ts';
import { SingleSession } from '../../core/connections/sessions.ts';
import type { DeliveryDependencies } from '../../core/fan-out/delivery.ts';
import { FanOutDispatcher, type FanOutInvoker } from '../../core/fan-out/fan-out-dispatch.ts';
import { SHIPPED_BLOCKED_WORDS } from '../../core/filter/blocked-words.ts';
import { buildContentFilter } from '../../core/filter/content-filter.ts';
import { GroupService } from '../../core/groups/group-service.ts';
import { MessageGuards, ReadLimiter } from '../../core/guards/guards.ts';
import { ChatService } from '../../core/messaging/chat-service.ts';
import { PresenceNotifier } from '../../core/presence/presence-notifier.ts';
import { ReadReceipts, UnreadCounter } from '../../core/receipts/read-receipts.ts';
import { RoomService } from '../../core/rooms/rooms.ts';
import { TYPING_MAX_PER_WINDOW, TypingThrottle } from '../../core/typing/typing.ts';
import { DynamoBlockStore } from '../../stores/blocks.ts';
import { DynamoConnectionStore } from '../../stores/connections.ts';
import { DynamoConversationListStore } from '../../stores/conversation-list.ts';
import { DynamoConversationIndex } from '../../stores/conversations.ts';
import { DynamoGroupStore, DynamoUserGroupLimits } from '../../stores/groups.ts';
import { DynamoGuardStore, DynamoOnceClaims } from '../../stores/guards.ts';
import { DynamoMessageStore } from '../../stores/messages.ts';
import { DynamoOnlineGroupMarks } from '../../stores/online-groups.ts';
import { DynamoPresenceStore } from '../../stores/presence.ts';
import { DynamoReactionStore } from '../../stores/reactions.ts';
import { DynamoReadStateStore } from '../../stores/read-state.ts';
import { DynamoRecipientReader } from '../../stores/recipients.ts';
import { DynamoRoomStore } from '../../stores/rooms.ts';
import { invocationEvents } from '../app-events.ts';
import { attachmentsFor } from '../attachments.ts';
import { withCapacityReporting } from '../capacity.ts';
import { type ChatConfig, ConfigError } from '../config.ts';
import { provideServices, type Services } from '../container.ts';
import type { GoneHandoff } from '../gone-handoff.ts';
import { log } from '../logger.ts';
import { countMetric, Metric, recordFanOut, recordFanOutDispatch } from '../metrics.ts';
import { traced } from '../tracing.ts';
import './management-api.ts';

/** Builds the invoker of the fan-out worker named `functionName`. */
export type FanOutInvokerFactory = (config: ChatConfig, functionName: string) => FanOutInvoker;

let fanOutInvokerFactory: FanOutInvokerFactory | undefined;

/** Called by wiring/fan-out-invoker.ts when imported. */
export function provideFanOutInvoker(factory: FanOutInvokerFactory): void {
  fanOutInvokerFactory = factory;
}

function fanOutInvokerFor(config: ChatConfig): FanOutInvoker | undefined {
  const workerName = config.fanOutWorkerFunctionName;
  if (!workerName) return undefined;
  if (!fanOutInvokerFactory) {
    throw new ConfigError(
      'FANOUT_WORKER_FUNCTION_NAME is set, but this function has no Lambda client to invoke the worker: ' +
        'its handler must import functions/runtime/wiring/fan-out-invoker.ts.',
    );
  }
  return fanOutInvokerFactory(config, workerName);
}

/** Builds the hand-off of 410s to the sweep function named `functionName`. */
export type GoneHandoffFactory = (config: ChatConfig, functionName: string) => GoneHandoff;

let goneHandoffFactory: GoneHandoffFactory | undefined;

/** Called by wiring/connection-closer.ts when imported. */
export function provideGoneHandoff(factory: GoneHandoffFactory): void {
  goneHandoffFactory = factory;
}

function goneHandoffFor(config: ChatConfig): GoneHandoff | undefined {
  const sweepName = config.connectionSweepFunctionName;
  if (!sweepName) return undefined;
  if (!goneHandoffFactory) {
    throw new ConfigError(
      'CONNECTION_SWEEP_FUNCTION_NAME is set, but this function has no Lambda client to hand 410s to the sweep: ' +
        'its handler must import functions/runtime/wiring/connection-closer.ts.',
    );
  }
  return goneHandoffFactory(config, sweepName);
}

/** A worker without its own name cannot hand the rest of a job on: that is reported, not thrown. */
const missingWorkerName = {
  invoke: () =>
    Promise.reject(
      new ConfigError('FANOUT_WORKER_FUNCTION_NAME is not set: a continuation cannot be invoked.'),
    ),
};

function dynamoServices(config: ChatConfig, built: Partial<Services>): Partial<Services> {
  const notifier = built.notifier;
  if (!notifier) throw new ConfigError('the Management API wiring was not registered before DynamoDB');
  const dynamo = DynamoDBDocumentClient.from(
    withCapacityReporting(traced(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, maxAttempts: 4 }))),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const connections = new DynamoConnectionStore(dynamo, config.tables.connections);
  const presence = new DynamoPresenceStore(dynamo, config.tables.presence);
  const messages = new DynamoMessageStore(
    dynamo,
    config.tables.messages,
    config.messageRetentionDays,
    undefined,
    config.tables.conversations,
  );
  const groups = new DynamoGroupStore(dynamo, config.tables.groups);
  const onlineGroups = new DynamoOnlineGroupMarks(dynamo, config.tables.groups);
  // Group messages and the commands about them reach the online members only.
  const groupAudience = {
    memberView: (groupId: string, userId: string) => groups.memberView(groupId, userId),
    onlineMemberIds: (groupId: string) => onlineGroups.onlineMemberIds(groupId),
  };
  const rooms = new DynamoRoomStore(dynamo, config.tables.rooms);
  const blocks = new DynamoBlockStore(dynamo, config.tables.blocks);
  // A private message's recipient: presence and block row in one BatchGetItem.
  const recipients = new DynamoRecipientReader(dynamo, {
    presence: config.tables.presence,
    blocks: config.tables.blocks,
  });
  const registryWith = (
    onPresenceChange?: ConnectionRegistryDependencies['onPresenceChange'],
    events?: ConnectionRegistryDependencies['events'],
    onlineGroups?: ConnectionRegistryDependencies['onlineGroups'],
  ) =>
    new ConnectionRegistry({
      connections,
      presence,
      rooms,
      connectionTtlSeconds: config.connectionTtlSeconds,
      onPresenceChange,
      events,
      onlineGroups,
    });
  const registry = registryWith();
  // The plain registry with the events: single-session kicks publish `connection.closed`.
  const kickRegistry = registryWith(undefined, invocationEvents);
  // A connection that answers 410 goes through the whole close path ($disconnect's). In the
  // functions that post, it is handed to the sweep function (which has the grants for the
  // `offline` push, the marks and the events); in the sweep itself, closed right here.
  const goneHandoff = goneHandoffFor(config);
  const goneCloser = (callbackUrl: string, inline = false): DeliveryDependencies['registry'] => {
    if (goneHandoff && !inline) return goneHandoff;
    return {
      closeGone: async (connectionId, userId) => {
        await presenceRegistry(callbackUrl, true).closeLost(connectionId, userId);
      },
    };
  };
  // Rate limit and client_msg_id dedupe of the message commands (guards table).
  const guards = new MessageGuards({
    store: new DynamoGuardStore(dynamo, config.tables.guards),
    settings: { ratePerMinute: config.rateLimitPerMinute, dedupeTtlSeconds: config.dedupeTtlSeconds },
  });
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
  const fanOutInvoker = fanOutInvokerFor(config);
  const fanOutSettings = {
    threshold: config.fanOutWorkerThreshold,
    chunkSize: config.fanOutChunkSize,
    ratePerSecond: config.fanOutRatePerSecond,
    workerPostsInFlight: config.fanOutConcurrency,
  };
  // `inSweep`: the sweep function's own pushes. It invokes no function (in AWS it has no
  // worker or sweep name; locally every function sees every name): it posts every fan-out
  // and closes every 410 itself.
  const delivery = (callbackUrl: string, inSweep = false): DeliveryDependencies => ({
    notifier: notifier(callbackUrl),
    registry: goneCloser(callbackUrl, inSweep),
    fanOutConcurrency: config.fanOutConcurrency,
    log: warn,
    onFanOut: recordFanOut,
    tokenExpiry: {
      expired: (tokenExpiresAt) =>
        tokenExpired(tokenExpiresAt, Math.floor(Date.now() / 1000), config.jwt.clockToleranceSeconds),
      close: async ({ connectionId, userId }) => {
        log('info', 'token expired; closing connection', { connectionId, userId });
        countMetric(Metric.tokenExpiredCloses);
        await notifier(callbackUrl).close(connectionId);
      },
    },
    ...(fanOutInvoker && !inSweep
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
  const audience = { groups, rooms, presence, blocks, onlineGroups: groupAudience };
  // Per container: see functions/core/typing/typing.ts.
  const typingThrottle = new TypingThrottle({
    windowSeconds: config.typingThrottleSeconds,
    maxPerWindow: TYPING_MAX_PER_WINDOW,
  });
  // $connect, $disconnect and the sweep: they also set and clear the online marks on member
  // rows. `inSweep`: the sweep function's (see `delivery`).
  const presenceRegistry = (callbackUrl: string, inSweep = false): ConnectionRegistry => {
    const presenceNotifier = new PresenceNotifier({
      ...delivery(callbackUrl, inSweep),
      conversations,
      presence,
      onlineGroups,
      blocks,
    });
    return registryWith(
      async (userId, status) => {
        await presenceNotifier.notify(userId, status);
      },
      invocationEvents,
      onlineGroups,
    );
  };
  return {
    events: invocationEvents,
    edits: (callbackUrl) => ({
      ...delivery(callbackUrl),
      ...audience,
      messages,
      contentFilter,
      guards,
      maxContentLength: config.maxContentLength,
      events: invocationEvents,
    }),
    recall: (callbackUrl) => ({
      ...delivery(callbackUrl),
      messages,
      groups,
      rooms,
      presence,
      onlineGroups: groupAudience,
      events: invocationEvents,
    }),
    reactions: (callbackUrl) => ({
      ...delivery(callbackUrl),
      ...audience,
      messages,
      reactions: new DynamoReactionStore(dynamo, config.tables.messages, config.messageRetentionDays),
      contentFilter,
      rate: { store: guardStore, perMinute: config.rateLimitPerMinute },
      events: invocationEvents,
    }),
    typing: (callbackUrl) => ({ ...delivery(callbackUrl), ...audience, throttle: typingThrottle }),
    onceClaims: new DynamoOnceClaims(dynamo, config.tables.guards, jobClaimSeconds),
    registry,
    readState,
    conversations,
    presenceRegistry,
    connectionSweep: (callbackUrl) => ({
      presence,
      probe: notifier(callbackUrl),
      registry: presenceRegistry(callbackUrl, true),
      log: warn,
    }),
    unread: new UnreadCounter({ conversations, readState }),
    conversationList: {
      store: new DynamoConversationListStore(dynamo, {
        conversations: config.tables.conversations,
        groups: config.tables.groups,
        messages: config.tables.messages,
        readState: config.tables.readState,
      }),
      memberships: conversations,
      unread: conversations,
      maxGroups: config.maxGroupsPerUser,
    },
    readReceipts: (callbackUrl) =>
      new ReadReceipts({
        ...delivery(callbackUrl),
        conversations,
        readState,
        presence,
        onlineGroups: groupAudience,
      }),
    singleSession: (callbackUrl) => {
      const managementApi = notifier(callbackUrl);
      return new SingleSession({
        presence,
        registry: kickRegistry,
        notifier: managementApi,
        closer: managementApi,
        log: warn,
      });
    },
    presence,
    messages,
    groups,
    rooms,
    blocks,
    blockService: new BlockService(blocks),
    delivery,
    readLimiter: new ReadLimiter(guardStore, config.readRateLimitPerMinute),
    fanOutWorker: (callbackUrl) => ({
      notifier: notifier(callbackUrl),
      registry: goneCloser(callbackUrl),
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
        onlineGroups: groupAudience,
        blocks,
        recipients,
        contentFilter,
        guards,
        events: invocationEvents,
        attachments: attachmentsFor(config),
        settings: {
          maxContentLength: config.maxContentLength,
          broadcastAllowAll: config.broadcastAllowAll,
          undeliveredEvents: Boolean(config.events.busName ?? config.events.webhookUrl),
        },
      }),
    groupService: (callbackUrl) =>
      new GroupService({
        ...delivery(callbackUrl),
        directory: groups,
        blocks,
        limits: new DynamoUserGroupLimits(dynamo, config.tables.groups),
        presence,
        onlineGroups,
        rateStore: guardStore,
        unread: { conversations, readState },
        events: invocationEvents,
        settings: {
          maxGroupMembers: config.maxGroupMembers,
          maxGroupsPerUser: config.maxGroupsPerUser,
          maxGroupMembershipsPerUser: config.maxGroupMembershipsPerUser,
          groupCreatesPerMinute: config.groupCreatesPerMinute,
          invites: config.groupInvites,
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
        events: invocationEvents,
        attachments: attachmentsFor(config),
        settings: {
          maxContentLength: config.maxContentLength,
          maxRoomsPerConnection: config.maxRoomsPerConnection,
        },
      }),
  };
}

provideServices(dynamoServices);
