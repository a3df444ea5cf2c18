/**
 * Presence pushes: when a user's first connection opens or their last one closes (the
 * ConnectionRegistry's `onPresenceChange`), their online peers get
 * `{type:'presence', user_id, status, time}` on every connection — once per transition,
 * not once per device. Peers are chosen by the user's own actions only (consent): the
 * recipients of the private messages they sent and the fellow members of the groups they
 * posted in (still members), both among their newest sent messages and bounded. Receiving
 * a message or being put into a group makes nobody a peer; whom the user blocked never is.
 */

import type { BlockStore } from '../blocks/blocks.ts';
import type { PresenceStatus } from '../connections/connections.ts';
import { connectionsOf, type DeliveryDependencies, deliver } from '../fan-out/delivery.ts';
import type { OnlinePeerGroups } from '../groups/online-members.ts';
import type { ConversationIndex } from '../receipts/conversations.ts';
import type { PresenceStore } from '../shared/ports.ts';

export interface PresenceLimits {
  /** The user's newest sent messages looked at to find peers. */
  readonly recentMessages: number;
  /** Groups (posted in, newest first) whose members are told. */
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
  readonly conversations: Pick<ConversationIndex, 'recentSends' | 'groupMemberIds'>;
  readonly presence: PresenceStore;
  /**
   * Groups the user posted in tell their online members only (`byOnlineGroup`), so the
   * cost follows who is online, not the groups' sizes; unset: every member is a candidate.
   */
  readonly onlineGroups?: OnlinePeerGroups;
  /** Whom the user blocked: they hear nothing of the user's presence; unset: no blocks. */
  readonly blocks?: Pick<BlockStore, 'blockedBy'>;
  readonly now?: () => Date;
  readonly limits?: Partial<PresenceLimits>;
}

/**
 * The users who hear about `userId`'s presence (never `userId` itself): those the user
 * recently sent private messages to, then the members of the groups the user recently
 * posted in and still belongs to, at most `limits.maxPeers`. One `byOutbox` Query, then
 * per group posted in either one member Query, or (with `onlineGroups`) one `byOnlineGroup`
 * Query of its online members after one BatchGetItem of the user's own member rows.
 */
export async function presencePeersOf(
  conversations: PresenceNotifierDependencies['conversations'],
  userId: string,
  limits: PresenceLimits = DEFAULT_PRESENCE_LIMITS,
  onlineGroups?: OnlinePeerGroups,
): Promise<string[]> {
  const sent = await conversations.recentSends(userId, limits.recentMessages);
  const groupIds = sent.groupIds.slice(0, limits.maxGroups);
  const members = onlineGroups
    ? await onlineMembersOf(onlineGroups, userId, groupIds)
    : await Promise.all(
        groupIds.map(async (groupId) => {
          const ids = await conversations.groupMemberIds(groupId);
          return ids.includes(userId) ? ids : []; // a group the user left tells nobody
        }),
      );
  const peers = new Set<string>();
  for (const peer of [...sent.users, ...members.flat()]) {
    if (peers.size >= limits.maxPeers) break;
    if (peer !== userId) peers.add(peer);
  }
  return [...peers];
}

/** The online members of those of `groupIds` the user still belongs to (a group they left tells nobody). */
async function onlineMembersOf(
  onlineGroups: OnlinePeerGroups,
  userId: string,
  groupIds: readonly string[],
): Promise<string[][]> {
  if (groupIds.length === 0) return [];
  const memberOf = await onlineGroups.memberOfAmong(userId, groupIds);
  return Promise.all(
    groupIds
      .filter((groupId) => memberOf.has(groupId))
      .map((groupId) => onlineGroups.onlineMemberIds(groupId)),
  );
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
    return presencePeersOf(this.deps.conversations, userId, this.limits, this.deps.onlineGroups);
  }

  /** Posts the transition to every connection of every online peer. */
  async notify(userId: string, status: PresenceStatus): Promise<PresencePushed> {
    try {
      const candidates = await this.peersOf(userId);
      if (candidates.length === 0) return { peers: 0, delivered: 0 };
      // One Query of the user's block rows, only when someone would be told.
      const blocked = (await this.deps.blocks?.blockedBy(userId)) ?? new Set<string>();
      const peers = candidates.filter((peer) => !blocked.has(peer));
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
