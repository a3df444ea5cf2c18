/**
 * `react` / `unreact`: a participant adds or takes back an emoji on a message of a
 * private chat, group or room. Idempotent per user and emoji: reacting twice counts once,
 * taking back a reaction one does not have changes nothing; either answers `changed:
 * false` and pushes nothing. Every participant's open connections but the one that asked
 * get `reaction` with the message's counts; history and sync carry `reactions`.
 */
import * as z from 'zod/mini';
import type { BlockStore } from '../blocks/blocks.ts';
import { type EventPublisher, messageReacted } from '../events/app-events.ts';
import { type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { ContentFilter } from '../filter/content-filter.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import { checkRateLimit } from '../guards/guards.ts';
import {
  conversationKind,
  deliverWithPeerIds,
  groupOrRoomParticipants,
  notParticipant,
  others,
  type Participants,
  privateParticipants,
} from '../messaging/audience.ts';
import { messageIdSchema } from '../messaging/commands.ts';
import { conversationIdSchema } from '../messaging/recall.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { isPrivateRoomParticipant, peerOf } from '../shared/ids.ts';
import type {
  GroupStore,
  GuardStore,
  MessageStore,
  PresenceStore,
  ReactionStore,
  RoomStore,
  StoredMessage,
} from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';

/** Different emoji one message may carry. */
export const MAX_DISTINCT_REACTIONS = 20;
/** Emoji one user may have on one message. */
export const MAX_REACTIONS_PER_USER = 10;
/** An emoji: 1–32 Unicode code points, no whitespace, control characters or lone surrogates. */
export const EMOJI_PATTERN = String.raw`^[^\s\p{Cc}\p{Cs}]{1,32}$`;
const EMOJI = new RegExp(EMOJI_PATTERN, 'u');

export const reactSchema = /* @__PURE__ */ schema(() =>
  z.object({
    room_id: conversationIdSchema,
    message_id: messageIdSchema,
    emoji: meta(
      z
        .string()
        .check(
          z.refine(
            (value) => EMOJI.test(value),
            'emoji must be 1-32 characters (code points) without whitespace or control characters',
          ),
        ),
      {
        pattern: EMOJI_PATTERN,
        description:
          'The reaction: 1-32 Unicode code points (a ZWJ sequence or flag counts each of its code points), ' +
          'no whitespace, control characters or lone surrogates; compared exactly (no normalisation).',
      },
    ),
  }),
);

export type ReactInput = z.output<typeof reactSchema>;

/** Validation failures of `react` / `unreact` all answer 1001. */
export const reactErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

/** The push, and (with `changed` and `delivered`) the reply. */
export interface ReactionPush {
  readonly type: 'reaction';
  readonly room_id: string;
  readonly message_id: string;
  readonly user_id: string;
  readonly emoji: string;
  readonly action: 'added' | 'removed';
  /** The message's counts after the change, emoji with none left out. */
  readonly counts: Readonly<Record<string, number>>;
  /** Private chats: the receiver's peer (as in `message_deleted`). */
  readonly peer_id?: string;
}

export interface ReactionReply extends ReactionPush {
  /** False when nothing changed (a repeated react, an unreact of nothing): nobody was told. */
  readonly changed: boolean;
  readonly delivered: number;
  readonly queued?: number;
}

export interface ReactionDependencies extends DeliveryDependencies {
  readonly messages: Required<Pick<MessageStore, 'get'>>;
  readonly reactions: ReactionStore;
  readonly groups: Pick<GroupStore, 'get'>;
  readonly rooms: Pick<RoomStore, 'members'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  /** Groups: the online members only (see AudienceDependencies.onlineGroups). */
  readonly onlineGroups?: OnlineGroupAudience;
  readonly blocks?: Pick<BlockStore, 'has'>;
  /** Emoji are text others see: blocked words are refused (10007, 3008 in groups). */
  readonly contentFilter?: ContentFilter;
  /** Reactions per user per minute (`RATE_LIMIT_PER_MINUTE`, their own window); unset or 0: no limit. */
  readonly rate?: { readonly store: Pick<GuardStore, 'countHit'>; readonly perMinute: number };
  /** `message.reacted` once a change is stored (none when nothing changed); unset: none. */
  readonly events?: EventPublisher;
  readonly now?: () => Date;
}

const noSuchMessage = () => new ChatError(ErrorCode.roomInvalid, 'no such message in this conversation');

/** The reacting user's view of the message: it exists in the conversation, and who is told. */
async function load(
  deps: ReactionDependencies,
  input: ReactInput,
  userId: string,
): Promise<{ readonly message: StoredMessage; readonly participants: Participants }> {
  const kind = conversationKind(input.room_id);
  if (kind === 'private') {
    if (!isPrivateRoomParticipant(input.room_id, userId)) throw notParticipant();
    const message = await deps.messages.get(input.room_id, input.message_id);
    if (message?.kind !== 'private' || message.deleted) throw noSuchMessage();
    return { message, participants: await privateParticipants(deps, message, userId) };
  }
  // Members first: an outsider learns nothing about which message ids exist.
  const participants = await groupOrRoomParticipants(deps, kind, input.room_id, userId);
  const message = await deps.messages.get(input.room_id, input.message_id);
  if (message?.kind !== kind || message.deleted) throw noSuchMessage();
  return { message, participants };
}

function visibleCounts(message: StoredMessage): Record<string, number> {
  return Object.fromEntries(Object.entries(message.reactions ?? {}).filter(([, count]) => count > 0));
}

export async function react(
  deps: ReactionDependencies,
  userId: string,
  input: ReactInput,
  action: 'added' | 'removed',
  /** The connection that asked: it gets the reply, not the push. */
  originConnectionId?: string,
): Promise<ReactionReply> {
  const kind = conversationKind(input.room_id);
  if (action === 'added' && (await deps.contentFilter?.check(input.emoji))?.blocked) {
    throw kind === 'group'
      ? new ChatError(ErrorCode.groupContentBlocked, 'group message has blocked content')
      : new ChatError(ErrorCode.contentBlocked, 'reaction has blocked content');
  }
  const { message, participants } = await load(deps, input, userId);
  const now = deps.now?.() ?? new Date();
  if (deps.rate && deps.rate.perMinute > 0) {
    await checkRateLimit(deps.rate.store, {
      key: (window) => `reactrate#${userId}#${window}`,
      limit: deps.rate.perMinute,
      what: 'reactions',
      now,
    });
  }
  const target = {
    roomId: message.roomId,
    messageId: message.messageId,
    createdAt: message.createdAt,
    hasCounts: message.reactions !== undefined,
  };
  let counts: Readonly<Record<string, number>> | undefined;
  if (action === 'added') {
    const added = await deps.reactions.add(target, userId, input.emoji, {
      maxDistinct: MAX_DISTINCT_REACTIONS,
      maxPerUser: MAX_REACTIONS_PER_USER,
    });
    if (added.outcome === 'gone') throw noSuchMessage();
    if (added.outcome === 'userLimit') {
      throw new ChatError(
        ErrorCode.badRequest,
        `at most ${MAX_REACTIONS_PER_USER} reactions per user on one message`,
      );
    }
    if (added.outcome === 'distinctLimit') {
      throw new ChatError(
        ErrorCode.badRequest,
        `at most ${MAX_DISTINCT_REACTIONS} different reactions on one message`,
      );
    }
    if (added.outcome === 'added') counts = added.counts;
  } else {
    const removed = await deps.reactions.remove(target, userId, input.emoji);
    if (removed.outcome === 'removed') counts = removed.counts;
  }
  const push: ReactionPush = {
    type: 'reaction',
    room_id: message.roomId,
    message_id: message.messageId,
    user_id: userId,
    emoji: input.emoji,
    action,
    counts: counts ?? visibleCounts(message),
  };
  const own = kind === 'private' ? { peer_id: peerOf(message, userId) } : {};
  if (!counts) return { ...push, ...own, changed: false, delivered: 0 };
  deps.events?.publish(
    messageReacted(message, { user_id: userId, emoji: input.emoji, action, counts }, now.toISOString()),
  );
  const recipients = others(participants.connections, { connectionId: originConnectionId });
  if (kind === 'private') {
    return { ...push, ...own, changed: true, ...(await deliverWithPeerIds(deps, recipients, push, message)) };
  }
  const result = await deliver(deps, recipients, push);
  return { ...push, changed: true, delivered: result.delivered, ...queuedField(result) };
}
