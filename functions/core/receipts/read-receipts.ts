/**
 * Read receipts and unread counts. `mark_read` moves the reader's position in a private
 * chat or a group forward, tells the other participants (`message_read`) and the reader's
 * other devices (`unread_count`); `GET /api/ws/unread` counts per conversation. Counting
 * is a Query on the conversation's partition after the position, never a Scan.
 */

import * as z from 'zod/mini';
import { connectionsOf, type DeliveryDependencies, deliver } from '../fan-out/delivery.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import type { Sender } from '../messaging/chat-service.ts';
import { messageIdSchema, parseCommand } from '../messaging/commands.ts';
import { mapConcurrent } from '../shared/concurrency.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { GROUP_ID, isPrivateRoomParticipant, peerOf, ROOM_ID } from '../shared/ids.ts';
import type { PresenceStore } from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';
import {
  type ConversationIndex,
  type ConversationKind,
  type ReadStateStore,
  UNREAD_CAP,
} from './conversations.ts';

/** Private room ids are built from two user ids of up to 128 characters each. */
const MAX_ROOM_ID_LENGTH = 'private_'.length + 2 * 128 + 1;

export const markReadSchema = /* @__PURE__ */ schema(() =>
  z.object({
    room_id: meta(z.string(), { description: 'The conversation: private_{a}_{b}, a group id or a room id.' }),
    message_id: messageIdSchema,
  }),
);

export const markReadErrorCodes = {
  required: { room_id: ErrorCode.roomIdEmpty, message_id: ErrorCode.badRequest },
  invalid: ErrorCode.badRequest,
};

export type MarkReadInput = z.output<typeof markReadSchema>;

/** Bounds of `GET /api/ws/unread`. */
export interface UnreadLimits {
  /** Groups considered, newest first. */
  readonly maxGroups: number;
  /** Newest incoming private messages looked at to find the private chats to count. */
  readonly inboxWindow: number;
  /** Conversations counted in parallel. */
  readonly countConcurrency: number;
}

export const DEFAULT_UNREAD_LIMITS: UnreadLimits = {
  maxGroups: 200,
  inboxWindow: 1_000,
  countConcurrency: 8,
};

export interface ReadMarked {
  readonly type: 'read_marked';
  readonly room_id: string;
  /** The stored position: the message marked, or a newer one marked earlier. */
  readonly message_id: string;
  readonly unread: number;
  /** Private chats: the other participant (the room id cannot be split reliably when ids contain `_`). */
  readonly peer_id?: string;
  readonly time: string;
}

/** `message_read`, to the other participants' connections. */
export interface MessageRead {
  readonly type: 'message_read';
  readonly room_id: string;
  /** Who read. */
  readonly user_id: string;
  /** Private chats: the receiver's peer, i.e. the reader. */
  readonly peer_id?: string;
  readonly message_id: string;
  readonly time: string;
}

/** `unread_count`, to the reader's other connections. */
export interface UnreadCount {
  readonly type: 'unread_count';
  readonly room_id: string;
  readonly unread: number;
  /** Private chats: the other participant. */
  readonly peer_id?: string;
  readonly time: string;
}

export interface UnreadConversation {
  readonly room_id: string;
  readonly unread: number;
  readonly last_message_id: string;
  /** Private chats: the other participant (the room id cannot be split reliably). */
  readonly peer_id?: string;
}

export interface UnreadSummary {
  readonly conversations: UnreadConversation[];
  readonly total: number;
}

export interface ReadReceiptsDependencies extends DeliveryDependencies {
  readonly conversations: ConversationIndex;
  readonly readState: ReadStateStore;
  readonly presence: PresenceStore;
  /**
   * A group's membership check (strongly consistent meta and member item) and its online
   * members (`byOnlineGroup`), so `message_read` reads only their presence; unset: the
   * member list, and every member's presence.
   */
  readonly onlineGroups?: OnlineGroupAudience;
  readonly now?: () => Date;
}

export interface UnreadCounterDependencies {
  readonly conversations: ConversationIndex;
  readonly readState: ReadStateStore;
  readonly limits?: Partial<UnreadLimits>;
}

interface Conversation {
  readonly kind: ConversationKind;
  /**
   * Everyone in it but the reader (the counterpart of a private chat; other group members),
   * read only when someone is to be told. With `onlineGroups`, a group's online members.
   */
  readonly others: () => Promise<readonly string[]>;
  /** Private chats: the counterpart (the reader in a chat with themself). */
  readonly peer?: string;
}

export function parseMarkRead(data: unknown): MarkReadInput {
  const input = parseCommand(markReadSchema, data, markReadErrorCodes);
  const roomId = input.room_id.trim();
  if (!roomId) throw new ChatError(ErrorCode.roomIdEmpty, 'room_id is required');
  return { room_id: roomId, message_id: input.message_id };
}

export class ReadReceipts {
  constructor(private readonly deps: ReadReceiptsDependencies) {}

  /**
   * Stores the reader's position in a private chat or group (forward only), then tells the
   * other participants' connections and the reader's other connections.
   * `originConnectionId` is the connection that asked: it gets the reply, not a push.
   */
  async markRead(reader: Sender, input: MarkReadInput, originConnectionId?: string): Promise<ReadMarked> {
    const roomId = input.room_id;
    const conversation = await this.resolve(roomId, reader.userId, input.message_id);
    const peerField = conversation.peer !== undefined ? { peer_id: conversation.peer } : {};
    const now = (this.deps.now?.() ?? new Date()).toISOString();
    const { position, advanced } = await this.deps.readState.advance(
      reader.userId,
      roomId,
      input.message_id,
      now,
    );
    const { count: unread } = await this.deps.conversations.countUnread({
      roomId,
      readerId: reader.userId,
      kind: conversation.kind,
      after: position,
      cap: UNREAD_CAP,
    });
    // Nothing changed for anyone when an older message was marked.
    if (advanced) {
      const otherIds = await conversation.others();
      const connections = connectionsOf(await this.deps.presence.connectionsOf([...otherIds, reader.userId]));
      const others = new Set(otherIds);
      others.delete(reader.userId);
      const read: MessageRead = {
        type: 'message_read',
        room_id: roomId,
        user_id: reader.userId,
        ...(conversation.peer !== undefined ? { peer_id: reader.userId } : {}),
        message_id: position,
        time: now,
      };
      const count: UnreadCount = { type: 'unread_count', room_id: roomId, unread, ...peerField, time: now };
      await Promise.all([
        deliver(
          this.deps,
          connections.filter(({ userId }) => others.has(userId)),
          read,
        ),
        deliver(
          this.deps,
          connections.filter(
            ({ userId, connectionId }) => userId === reader.userId && connectionId !== originConnectionId,
          ),
          count,
        ),
      ]);
    }
    return { type: 'read_marked', room_id: roomId, message_id: position, unread, ...peerField, time: now };
  }

  /** Who else is in the conversation; refuses anything the reader may not mark. */
  private async resolve(roomId: string, readerId: string, messageId: string): Promise<Conversation> {
    if (roomId.length > MAX_ROOM_ID_LENGTH) throw new ChatError(ErrorCode.roomInvalid, 'room_id is too long');
    if (roomId.startsWith('private_')) {
      if (!isPrivateRoomParticipant(roomId, readerId)) {
        throw new ChatError(ErrorCode.forbidden, 'not a participant of this conversation');
      }
      // The message names the counterpart, which also settles rooms whose name is
      // ambiguous because user ids contain `_`.
      const message = await this.deps.conversations.message(roomId, messageId);
      if (!message || (message.fromUserId !== readerId && message.toUserId !== readerId)) {
        throw new ChatError(ErrorCode.roomInvalid, 'message_id is not a message of this conversation');
      }
      const other = peerOf(message, readerId);
      const others = other !== readerId ? [other] : [];
      return { kind: 'private', others: async () => others, peer: other };
    }
    if (roomId.startsWith('group_')) {
      if (!GROUP_ID.test(roomId))
        throw new ChatError(ErrorCode.roomInvalid, 'room_id is not a valid group id');
      if (this.deps.onlineGroups)
        return this.onlineGroup(this.deps.onlineGroups, roomId, readerId, messageId);
      const [members, message] = await Promise.all([
        this.deps.conversations.groupMemberIds(roomId),
        this.deps.conversations.message(roomId, messageId),
      ]);
      // A missing group and a non-member get the same answer.
      if (!members.includes(readerId)) throw new ChatError(ErrorCode.forbidden, 'not a member of this group');
      if (!message) {
        throw new ChatError(ErrorCode.roomInvalid, 'message_id is not a message of this conversation');
      }
      const others = members.filter((userId) => userId !== readerId);
      return { kind: 'group', others: async () => others };
    }
    if (!ROOM_ID.test(roomId)) throw new ChatError(ErrorCode.roomInvalid, 'room_id is not a valid room id');
    // Rooms belong to connections and keep no read positions.
    throw new ChatError(ErrorCode.forbidden, 'read receipts exist for private chats and groups only');
  }

  /**
   * A group through its online members: the reader's membership (one strongly consistent
   * BatchGetItem) beside the message, and the online members (`byOnlineGroup`) only when
   * the position moved. Offline members get no `message_read` pushed either way.
   */
  private async onlineGroup(
    onlineGroups: OnlineGroupAudience,
    groupId: string,
    readerId: string,
    messageId: string,
  ): Promise<Conversation> {
    const [view, message] = await Promise.all([
      onlineGroups.memberView(groupId, readerId),
      this.deps.conversations.message(groupId, messageId),
    ]);
    // A missing group and a non-member get the same answer.
    if (!view) throw new ChatError(ErrorCode.forbidden, 'not a member of this group');
    if (!message) {
      throw new ChatError(ErrorCode.roomInvalid, 'message_id is not a message of this conversation');
    }
    const others = async () =>
      (await onlineGroups.onlineMemberIds(groupId)).filter((userId) => userId !== readerId);
    return { kind: 'group', others };
  }
}

/** `GET /api/ws/unread`: counts only, nothing is posted. */
export class UnreadCounter {
  private readonly limits: UnreadLimits;

  constructor(private readonly deps: UnreadCounterDependencies) {
    this.limits = { ...DEFAULT_UNREAD_LIMITS, ...deps.limits };
  }

  /**
   * Unread counts of the user's conversations: their groups (newest first, bounded) and the
   * private chats among their newest incoming messages (bounded). Only unread ones are
   * listed, the conversation with the newest unread message first.
   */
  async summary(userId: string): Promise<UnreadSummary> {
    const [groupIds, privateRooms, positions] = await Promise.all([
      this.deps.conversations.groupIdsOf(userId, this.limits.maxGroups),
      this.deps.conversations.incomingPrivateRooms(userId, this.limits.inboxWindow),
      this.deps.readState.positions(userId),
    ]);
    const toCount: { roomId: string; kind: ConversationKind; peerId?: string }[] = groupIds.map((roomId) => ({
      roomId,
      kind: 'group',
    }));
    for (const [roomId, incoming] of privateRooms) {
      const position = positions.get(roomId);
      // Read past its newest incoming message: nothing to count.
      if (position === undefined || incoming.newestMessageId > position) {
        toCount.push({ roomId, kind: 'private', peerId: incoming.peerId });
      }
    }
    const counted = await mapConcurrent(
      toCount,
      this.limits.countConcurrency,
      async ({ roomId, kind, peerId }) => ({
        roomId,
        peerId,
        ...(await this.deps.conversations.countUnread({
          roomId,
          readerId: userId,
          kind,
          after: positions.get(roomId),
          cap: UNREAD_CAP,
        })),
      }),
    );
    const conversations = counted
      .filter((entry) => entry.count > 0 && entry.newestMessageId !== undefined)
      .sort((a, b) => ((a.newestMessageId ?? '') < (b.newestMessageId ?? '') ? 1 : -1))
      .map((entry) => ({
        room_id: entry.roomId,
        unread: entry.count,
        last_message_id: entry.newestMessageId as string,
        ...(entry.peerId !== undefined ? { peer_id: entry.peerId } : {}),
      }));
    return { conversations, total: conversations.reduce((sum, entry) => sum + entry.unread, 0) };
  }
}
