/**
 * The composition root: configuration, SDK clients and stores, built once per container
 * on first use and shared by every invocation. Tests may replace it with `setServices`.
 *
 * This module itself knows only the configuration. The rest is built by the wiring
 * modules (functions/runtime/wiring/*.ts), which register here with `provideServices`
 * when imported; each handler imports the wiring it needs, so that its Lambda bundle holds
 * only the SDK clients and code it uses, which Node parses on every cold start:
 *
 * - wiring/management-api.ts: `notifier` (functions that post to or close connections);
 * - wiring/dynamo.ts: everything backed by DynamoDB (functions with tables), which
 *   includes the Management API wiring;
 * - wiring/fan-out-invoker.ts: the Lambda client that hands large fan-outs to the
 *   fan-out worker (functions that invoke it);
 * - wiring/s3.ts: the attachments bucket (functions with `attachments` grants).
 *
 * Accessing a member no imported wiring provides throws a ConfigError naming the module
 * to import; test/unit/wiring.test.ts checks each handler against lib/function-specs.ts.
 */

import type { AttachmentService } from '../core/attachments/attachments.ts';
import type { BlockService } from '../core/blocks/blocks.ts';
import type { ConnectionRegistry } from '../core/connections/connections.ts';
import type { SingleSession } from '../core/connections/sessions.ts';
import type { SweepDependencies } from '../core/connections/sweep.ts';
import type { ConversationListDependencies } from '../core/conversations/conversation-list.ts';
import type { EventPublisher } from '../core/events/app-events.ts';
import type { DeliveryDependencies } from '../core/fan-out/delivery.ts';
import type { FanOutWorkerDependencies } from '../core/fan-out/fan-out-worker.ts';
import type { GroupService } from '../core/groups/group-service.ts';
import type { ReadLimiter } from '../core/guards/guards.ts';
import type { ChatService } from '../core/messaging/chat-service.ts';
import type { EditDependencies } from '../core/messaging/edit.ts';
import type { RecallDependencies } from '../core/messaging/recall.ts';
import type { ReactionDependencies } from '../core/reactions/reactions.ts';
import type { ReadReceipts, UnreadCounter } from '../core/receipts/read-receipts.ts';
import type { RoomService } from '../core/rooms/rooms.ts';
import type { OnceClaims } from '../core/shared/ports.ts';
import type { TypingDependencies } from '../core/typing/typing.ts';
import type { DynamoBlockStore } from '../stores/blocks.ts';
import type { DynamoConversationIndex } from '../stores/conversations.ts';
import type { DynamoGroupStore } from '../stores/groups.ts';
import type { DynamoMessageStore } from '../stores/messages.ts';
import type { DynamoPresenceStore } from '../stores/presence.ts';
import type { DynamoReadStateStore } from '../stores/read-state.ts';
import type { DynamoRoomStore } from '../stores/rooms.ts';
import { type ChatConfig, ConfigError, loadConfig } from './config.ts';
import { containerKey } from './container-key.ts';
import type { ManagementApiNotifier } from './management-api.ts';

export interface Services {
  readonly config: ChatConfig;
  readonly registry: ConnectionRegistry;
  readonly presence: DynamoPresenceStore;
  readonly messages: DynamoMessageStore;
  readonly groups: DynamoGroupStore;
  readonly rooms: DynamoRoomStore;
  /** Chat commands that deliver through the Management API at `callbackUrl`. */
  chat(callbackUrl: string): ChatService;
  /** Group life-cycle commands that push `group_updated` through the Management API at `callbackUrl`. */
  groupService(callbackUrl: string): GroupService;
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
   * peers through `callbackUrl`. Only `$connect`, `$disconnect` and the sweep use it; everything else
   * (410 cleanups included) uses `registry`, which pushes nothing.
   */
  presenceRegistry(callbackUrl: string): ConnectionRegistry;
  /**
   * What the stale-connection sweep needs: the presence records, GetConnection through
   * `callbackUrl`, and the `presenceRegistry` that closes what it finds gone.
   */
  connectionSweep(callbackUrl: string): SweepDependencies;
  readReceipts(callbackUrl: string): ReadReceipts;
  /** Unread counts per conversation (`GET /api/ws/unread`). */
  readonly unread: UnreadCounter;
  /** What `list_conversations` and `GET /api/ws/conversations` read. */
  readonly conversationList: ConversationListDependencies;
  /** `SESSION_MODE=single`: closes a user's older connections. */
  singleSession(callbackUrl: string): SingleSession;
  /** The per-user read limit (`READ_RATE_LIMIT_PER_MINUTE`) of the read commands and routes. */
  readonly readLimiter: ReadLimiter;
  /** Once-per-key claims in the guards table (the welcome push). */
  readonly onceClaims: OnceClaims;
  /** Block rows (blocks table). */
  readonly blocks: DynamoBlockStore;
  /** `edit_message`, pushing `message_edited` through `callbackUrl`. */
  edits(callbackUrl: string): EditDependencies;
  /** `delete_message`, pushing `message_deleted` through `callbackUrl`. */
  recall(callbackUrl: string): RecallDependencies;
  /** `react` / `unreact`, pushing `reaction` through `callbackUrl`. */
  reactions(callbackUrl: string): ReactionDependencies;
  /** `typing`, pushing through `callbackUrl`; the throttle is this container's. */
  typing(callbackUrl: string): TypingDependencies;
  /** `block_user`, `unblock_user`, `list_blocked`. */
  readonly blockService: BlockService;
  /**
   * Application events of the running invocation (functions/runtime/app-events.ts): sent
   * when the handler is done, by the functions that import wiring/app-events.ts.
   */
  readonly events: EventPublisher;
  /** Uploads and attachment URLs (the attachments bucket); undefined without ATTACHMENTS_BUCKET. */
  readonly attachments: AttachmentService | undefined;
}

const DYNAMO_WIRING = 'functions/runtime/wiring/dynamo.ts';

/** Each member and the module that provides it. */
const PROVIDED_BY = {
  config: 'functions/runtime/container.ts',
  notifier: 'functions/runtime/wiring/management-api.ts',
  registry: DYNAMO_WIRING,
  presence: DYNAMO_WIRING,
  messages: DYNAMO_WIRING,
  groups: DYNAMO_WIRING,
  rooms: DYNAMO_WIRING,
  chat: DYNAMO_WIRING,
  groupService: DYNAMO_WIRING,
  roomService: DYNAMO_WIRING,
  delivery: DYNAMO_WIRING,
  fanOutWorker: DYNAMO_WIRING,
  readState: DYNAMO_WIRING,
  conversations: DYNAMO_WIRING,
  presenceRegistry: DYNAMO_WIRING,
  connectionSweep: DYNAMO_WIRING,
  readReceipts: DYNAMO_WIRING,
  unread: DYNAMO_WIRING,
  conversationList: DYNAMO_WIRING,
  singleSession: DYNAMO_WIRING,
  readLimiter: DYNAMO_WIRING,
  onceClaims: DYNAMO_WIRING,
  blocks: DYNAMO_WIRING,
  blockService: DYNAMO_WIRING,
  events: DYNAMO_WIRING,
  edits: DYNAMO_WIRING,
  recall: DYNAMO_WIRING,
  reactions: DYNAMO_WIRING,
  typing: DYNAMO_WIRING,
  attachments: 'functions/runtime/wiring/s3.ts',
} as const satisfies Record<keyof Services, string>;

/**
 * Builds some of the services from the configuration and from what the providers
 * registered before it built (`built`, which always holds `config`).
 */
export type ServicesProvider = (config: ChatConfig, built: Partial<Services>) => Partial<Services>;

const providers: ServicesProvider[] = [];

/** Registers a provider (once, however often it is passed); the wiring modules call it when imported. */
export function provideServices(provider: ServicesProvider): void {
  if (!providers.includes(provider)) providers.push(provider);
}

function buildServices(config: ChatConfig): Services {
  const built: Partial<Services> = { config };
  for (const provider of providers) Object.assign(built, provider(config, built));
  for (const name of Object.keys(PROVIDED_BY) as (keyof Services)[]) {
    if (name in built) continue;
    Object.defineProperty(built, name, {
      get: () => {
        throw new ConfigError(
          `services.${name} is not wired into this function: its handler must import ${PROVIDED_BY[name]}.`,
        );
      },
    });
  }
  return built as Services;
}

/** One container's services per function (containerKey); one entry in Lambda. */
const servicesByContainer = new Map<string, Services>();
let replaced: Services | undefined;

export function getServices(): Services {
  if (replaced) return replaced;
  const key = containerKey();
  let services = servicesByContainer.get(key);
  if (!services) {
    services = buildServices(loadConfig());
    servicesByContainer.set(key, services);
  }
  return services;
}

/** Replaces the services (tests); undefined builds them anew on next use. */
export function setServices(replacement: Services | undefined): void {
  replaced = replacement;
  servicesByContainer.clear();
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
