/**
 * `typing` (start/stop): never stored. The other participants' open connections get
 * `{"type":"typing","room_id","user_id","state"}`; the sender's own connections do not.
 * The only DynamoDB requests are reads: the membership check and the recipients'
 * connections (a private chat: the peer's presence and block row).
 *
 * Throttling needs no write either: each function container keeps, in memory, what it
 * forwarded per sender and room (`TypingThrottle`). That is per container, not global:
 * Lambda may run several containers of the typing function at once, and a sender's
 * frames may reach any of them, so a flood reaches recipients at most `maxPerWindow`
 * times per window per concurrent container (docs/protocol.md).
 */
import * as z from 'zod/mini';
import type { BlockStore } from '../blocks/blocks.ts';
import { connectionsOf, type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { Recipient } from '../fan-out/fan-out.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import { conversationKind, groupOrRoomParticipants, notParticipant, others } from '../messaging/audience.ts';
import { conversationIdSchema } from '../messaging/recall.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { isPrivateRoomParticipant, privateRoomId } from '../shared/ids.ts';
import type { GroupStore, PresenceStore, RoomStore } from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';

export const typingSchema = /* @__PURE__ */ schema(() =>
  z.object({
    room_id: conversationIdSchema,
    state: meta(z.enum(['start', 'stop']), {
      description:
        'start: the user is typing (repeat it every few seconds while they are); stop: they stopped.',
    }),
  }),
);

export type TypingInput = z.output<typeof typingSchema>;
export type TypingState = TypingInput['state'];

/** Validation failures of `typing` all answer 1001. */
export const typingErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

export interface TypingPush {
  readonly type: 'typing';
  readonly room_id: string;
  readonly user_id: string;
  readonly state: TypingState;
}

export interface TypingReply {
  readonly type: 'typing_sent';
  readonly room_id: string;
  readonly state: TypingState;
  /** Connections that accepted the push (0 when throttled). */
  readonly delivered: number;
  /** Present (true) when this frame was dropped by the throttle: nobody was told. */
  readonly throttled?: true;
  readonly queued?: number;
}

/** Typing frames forwarded per sender and room per throttle window, at most. */
export const TYPING_MAX_PER_WINDOW = 4;

export interface TypingThrottleSettings {
  /** A repeat of the last forwarded state within this many seconds is dropped; also the counting window. */
  readonly windowSeconds: number;
  /** Frames forwarded per sender and room per window, at most (bounds start/stop alternation). */
  readonly maxPerWindow: number;
  /** Sender-and-room entries kept (least recently used go first): bounds the memory. */
  readonly maxEntries?: number;
}

interface ThrottleEntry {
  windowStartMs: number;
  forwarded: number;
  lastState: TypingState;
  lastAtMs: number;
}

/** In-memory, per container: what this container forwarded per sender and room. */
export class TypingThrottle {
  private readonly entries = new Map<string, ThrottleEntry>();

  constructor(private readonly settings: TypingThrottleSettings) {}

  /**
   * Whether `state` from `userId` in `roomId` would be forwarded now, without counting it.
   * Only senders who passed the membership check have entries, so an outsider is never
   * answered "throttled" (they get 1403).
   */
  allows(userId: string, roomId: string, state: TypingState, nowMs: number): boolean {
    const entry = this.entries.get(`${userId}\u0000${roomId}`);
    if (!entry) return this.settings.maxPerWindow >= 1;
    const windowMs = this.settings.windowSeconds * 1000;
    if (entry.lastState === state && nowMs - entry.lastAtMs < windowMs) return false;
    const windowOver = nowMs - entry.windowStartMs >= windowMs;
    return windowOver || entry.forwarded < this.settings.maxPerWindow;
  }

  /** Whether to forward `state` from `userId` in `roomId` now; counts it when so. */
  admit(userId: string, roomId: string, state: TypingState, nowMs: number): boolean {
    if (!this.allows(userId, roomId, state, nowMs)) return false;
    const windowMs = this.settings.windowSeconds * 1000;
    const key = `${userId}\u0000${roomId}`;
    const entry = this.entries.get(key);
    if (entry) {
      if (nowMs - entry.windowStartMs >= windowMs) {
        entry.windowStartMs = nowMs;
        entry.forwarded = 0;
      }
      entry.forwarded++;
      entry.lastState = state;
      entry.lastAtMs = nowMs;
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, entry);
      return true;
    }
    this.entries.set(key, { windowStartMs: nowMs, forwarded: 1, lastState: state, lastAtMs: nowMs });
    const max = this.settings.maxEntries ?? 10_000;
    while (this.entries.size > max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return true;
  }
}

export interface TypingDependencies extends DeliveryDependencies {
  readonly groups: Pick<GroupStore, 'get'>;
  readonly rooms: Pick<RoomStore, 'members'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  readonly onlineGroups?: OnlineGroupAudience;
  readonly blocks?: Pick<BlockStore, 'has'>;
  readonly throttle: TypingThrottle;
  readonly nowMs?: () => number;
}

/**
 * The other user of a private room, from the sender's side: the room id is
 * `private_{smaller}_{larger}`, and the sender is one end of it. Undefined when the
 * split is ambiguous (user ids with `_` can make both ends fit).
 */
export function privatePeer(roomId: string, userId: string): string | undefined {
  const candidates = new Set<string>();
  const prefix = `private_${userId}_`;
  if (roomId.startsWith(prefix)) candidates.add(roomId.slice(prefix.length));
  const suffix = `_${userId}`;
  if (roomId.startsWith('private_') && roomId.endsWith(suffix)) {
    candidates.add(roomId.slice('private_'.length, roomId.length - suffix.length));
  }
  const valid = [...candidates].filter((peer) => peer.length > 0 && privateRoomId(userId, peer) === roomId);
  return valid.length === 1 ? valid[0] : undefined;
}

/** The other participants' connections (never the sender's own). */
async function recipientsOf(deps: TypingDependencies, roomId: string, userId: string): Promise<Recipient[]> {
  const kind = conversationKind(roomId);
  if (kind !== 'private') {
    const participants = await groupOrRoomParticipants(deps, kind, roomId, userId);
    return others(participants.connections, { userId });
  }
  const peer = privatePeer(roomId, userId);
  if (!peer)
    throw new ChatError(ErrorCode.roomInvalid, 'room_id names no private chat of yours with one peer');
  if (peer === userId) return [];
  const [online, blocked] = await Promise.all([
    deps.presence.connectionsOf([peer]),
    deps.blocks?.has(peer, userId) ?? false,
  ]);
  // A peer who blocked the sender hears nothing; the sender is not told (as with presence).
  if (blocked) return [];
  return connectionsOf(online);
}

export async function sendTyping(
  deps: TypingDependencies,
  userId: string,
  input: TypingInput,
): Promise<TypingReply> {
  const roomId = input.room_id;
  const kind = conversationKind(roomId);
  // Free checks first; then the throttle, before any read: a participant's flood costs no
  // DynamoDB request. The frame is counted once the membership check passed.
  if (kind === 'private' && !isPrivateRoomParticipant(roomId, userId)) throw notParticipant();
  const reply = { type: 'typing_sent' as const, room_id: roomId, state: input.state };
  const now = () => deps.nowMs?.() ?? Date.now();
  const throttled = { ...reply, delivered: 0, throttled: true as const };
  if (!deps.throttle.allows(userId, roomId, input.state, now())) return throttled;
  const recipients = await recipientsOf(deps, roomId, userId);
  // Concurrent frames of one sender in this container may have been counted meanwhile.
  if (!deps.throttle.admit(userId, roomId, input.state, now())) return throttled;
  const push: TypingPush = { type: 'typing', room_id: roomId, user_id: userId, state: input.state };
  const result = await deliver(deps, recipients, push, { name: 'typing' });
  return { ...reply, delivered: result.delivered, ...queuedField(result) };
}
