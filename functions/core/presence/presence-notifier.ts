/**
 * Presence pushes: when a user's first connection opens or their last one closes (the
 * ConnectionRegistry's `onPresenceChange`), their online peers get
 * `{type:'presence', user_id, status, time}` on every connection — once per transition,
 * not once per device. Peers are the counterparts of the user's recent private messages
 * and the members of their groups, both bounded.
 */
import type { PresenceStatus } from '../connections/connections.ts';
import { connectionsOf, type DeliveryDependencies, deliver } from '../fan-out/delivery.ts';
import type { ConversationIndex } from '../receipts/conversations.ts';
import type { PresenceStore } from '../shared/ports.ts';

export interface PresenceLimits {
  /** Newest private messages looked at, each way (received, sent), to find counterparts. */
  readonly recentMessages: number;
  /** Groups whose members are told, newest first. */
  readonly maxGroups: number;
  /** Peers told at most (counterparts first, then group members). */
  readonly maxPeers: number;
}

export const DEFAULT_PRESENCE_LIMITS: PresenceLimits = {
  recentMessages: 200,
  maxGroups: 50,
  maxPeers: 2_000,
};

export interface PresenceNotifierDependencies extends DeliveryDependencies {
  readonly conversations: Pick<ConversationIndex, 'recentCounterparts' | 'groupIdsOf' | 'groupMemberIds'>;
  readonly presence: PresenceStore;
  readonly now?: () => Date;
  readonly limits?: Partial<PresenceLimits>;
}

/**
 * The users who hear about `userId`'s presence (never `userId` itself): recent private
 * counterparts, then the members of their newest groups, at most `limits.maxPeers`.
 */
export async function presencePeersOf(
  conversations: PresenceNotifierDependencies['conversations'],
  userId: string,
  limits: PresenceLimits = DEFAULT_PRESENCE_LIMITS,
): Promise<string[]> {
  const [counterparts, groupIds] = await Promise.all([
    conversations.recentCounterparts(userId, limits.recentMessages),
    conversations.groupIdsOf(userId, limits.maxGroups),
  ]);
  const members = await Promise.all(groupIds.map((groupId) => conversations.groupMemberIds(groupId)));
  const peers = new Set<string>();
  for (const peer of [...counterparts, ...members.flat()]) {
    if (peers.size >= limits.maxPeers) break;
    if (peer !== userId) peers.add(peer);
  }
  return [...peers];
}

export interface PresencePushed {
  readonly peers: number;
  readonly delivered: number;
}

export class PresenceNotifier {
  private readonly limits: PresenceLimits;

  constructor(private readonly deps: PresenceNotifierDependencies) {
    this.limits = { ...DEFAULT_PRESENCE_LIMITS, ...deps.limits };
  }

  /** The users who hear about `userId`'s presence (never `userId` itself). */
  peersOf(userId: string): Promise<string[]> {
    return presencePeersOf(this.deps.conversations, userId, this.limits);
  }

  /** Posts the transition to every connection of every online peer. */
  async notify(userId: string, status: PresenceStatus): Promise<PresencePushed> {
    try {
      const peers = await this.peersOf(userId);
      if (peers.length === 0) return { peers: 0, delivered: 0 };
      const online = await this.deps.presence.connectionsOf(peers);
      const time = (this.deps.now?.() ?? new Date()).toISOString();
      const result = await deliver(this.deps, connectionsOf(online), {
        type: 'presence',
        user_id: userId,
        status,
        time,
      });
      return { peers: online.length, delivered: result.delivered };
    } catch (error) {
      this.deps.log?.('presence push failed', { userId, status, error });
      throw error;
    }
  }
}
