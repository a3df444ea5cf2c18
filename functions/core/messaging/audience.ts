/**
 * Who takes part in a conversation, for the commands about its messages (`edit_message`,
 * `react`, `unreact`, `typing`): the membership check comes before any write or push, and
 * the same read yields the participants' connections.
 */
import type { BlockStore } from '../blocks/blocks.ts';
import { blockedByRecipient } from '../blocks/blocks.ts';
import { connectionsOf, type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { Recipient } from '../fan-out/fan-out.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import { isRoomId } from '../rooms/rooms.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { GROUP_ID, isPrivateRoomParticipant, peerOf } from '../shared/ids.ts';
import type { GroupStore, PresenceStore, RoomStore, StoredMessage } from '../shared/ports.ts';

export type ConversationKind = 'private' | 'group' | 'room';

export interface AudienceDependencies {
  readonly groups: Pick<GroupStore, 'get'>;
  readonly rooms: Pick<RoomStore, 'members'>;
  readonly presence: Pick<PresenceStore, 'connectionsOf'>;
  /**
   * A group's membership check and its online members (`byOnlineGroup`), so only their
   * presence is read; unset: every member's presence.
   */
  readonly onlineGroups?: OnlineGroupAudience;
  /** A private chat's peer who blocked the actor refuses the command (1403); unset: no blocks. */
  readonly blocks?: Pick<BlockStore, 'has'>;
}

/** The kind of conversation a `room_id` names; 1403 for anything else (system notices included). */
export function conversationKind(roomId: string): ConversationKind {
  if (roomId.startsWith('private_')) return 'private';
  if (GROUP_ID.test(roomId)) return 'group';
  if (isRoomId(roomId)) return 'room';
  throw notParticipant();
}

export const notParticipant = () =>
  new ChatError(ErrorCode.forbidden, 'not a participant of this conversation');

/** The conversation's participants, as far as the command needs them. */
export interface Participants {
  readonly kind: ConversationKind;
  /** Every connection of every participant (the actor's other devices included). */
  readonly connections: Recipient[];
}

/**
 * A group's members or a room's connections, checking that `userId` is one of them (1403
 * otherwise: the same answer for a conversation that does not exist). Private chats
 * need the message to know their two users: see `privateParticipants`.
 */
export async function groupOrRoomParticipants(
  deps: AudienceDependencies,
  kind: 'group' | 'room',
  roomId: string,
  userId: string,
): Promise<Participants> {
  if (kind === 'group' && deps.onlineGroups) {
    if (!(await deps.onlineGroups.memberView(roomId, userId))) throw notParticipant();
    const online = await deps.onlineGroups.onlineMemberIds(roomId);
    // The actor's own other devices too, even before the index shows their mark.
    return {
      kind,
      connections: connectionsOf(await deps.presence.connectionsOf([...new Set([...online, userId])])),
    };
  }
  if (kind === 'group') {
    const group = await deps.groups.get(roomId);
    if (!group?.memberIds.includes(userId)) throw notParticipant();
    return { kind, connections: connectionsOf(await deps.presence.connectionsOf(group.memberIds)) };
  }
  const members = await deps.rooms.members(roomId);
  if (!members.some((member) => member.userId === userId)) throw notParticipant();
  return {
    kind,
    connections: members.map(({ connectionId, userId: memberId, tokenExpiresAt }) =>
      tokenExpiresAt === undefined
        ? { connectionId, userId: memberId }
        : { connectionId, userId: memberId, tokenExpiresAt },
    ),
  };
}

/**
 * Both users of a private message, when `userId` is one of them (1403 otherwise, and when
 * the other one blocked `userId`). Presence and the block row are read in parallel.
 */
export async function privateParticipants(
  deps: AudienceDependencies,
  message: Pick<StoredMessage, 'roomId' | 'fromUserId' | 'toUserId'>,
  userId: string,
): Promise<Participants> {
  const users = [message.fromUserId, message.toUserId ?? message.fromUserId];
  if (!users.includes(userId) || !isPrivateRoomParticipant(message.roomId, userId)) throw notParticipant();
  const peer = users[0] === userId ? users[1] : users[0];
  const [online, blocked] = await Promise.all([
    deps.presence.connectionsOf([...new Set(users)]),
    peer && peer !== userId ? (deps.blocks?.has(peer, userId) ?? false) : false,
  ]);
  if (blocked) throw blockedByRecipient();
  return { kind: 'private', connections: connectionsOf(online) };
}

/** `connections` without the one that asked (it gets the reply) or, with `exceptUserId`, without that user's. */
export function others(
  connections: readonly Recipient[],
  except: { readonly connectionId?: string; readonly userId?: string },
): Recipient[] {
  return connections.filter(
    (recipient) => recipient.connectionId !== except.connectionId && recipient.userId !== except.userId,
  );
}

/**
 * A private chat's push: each side gets its own `peer_id` (the room id cannot be split
 * reliably when user ids contain `_`). Returns what the reply reports.
 */
export async function deliverWithPeerIds(
  deps: DeliveryDependencies,
  recipients: readonly Recipient[],
  push: object,
  message: Pick<StoredMessage, 'fromUserId' | 'toUserId'>,
): Promise<{ readonly delivered: number; readonly queued?: number }> {
  const results = await Promise.all(
    [...new Set(recipients.map((recipient) => recipient.userId))].map((userId) =>
      deliver(
        deps,
        recipients.filter((recipient) => recipient.userId === userId),
        { ...push, peer_id: peerOf(message, userId) },
      ),
    ),
  );
  const delivered = results.reduce((sum, result) => sum + result.delivered, 0);
  const queued = results.reduce((sum, result) => sum + result.queued, 0);
  return { delivered, ...queuedField({ queued }) };
}
