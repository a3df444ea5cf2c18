/**
 * Rooms: open chat rooms that connections join and leave. Membership belongs to a
 * connection (not to a user) and ends with it: the connection row lists its rooms so
 * closing it removes them, and every member row carries the connection's expiry so a
 * connection whose `$disconnect` never came drops out on its own.
 */
import * as z from 'zod/mini';
import { type AttachmentService, verifiedAttachment } from '../attachments/attachments.ts';
import { type EventPublisher, messageSent } from '../events/app-events.ts';
import { type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { ContentFilter } from '../filter/content-filter.ts';
import { admitAndStore, deliverOrMark, type MessageGuards } from '../guards/guards.ts';
import { attachingFirst, attachmentField, messageWriter } from '../messaging/chat-service.ts';
import { assertContentLength, parseCommand, sendMessageSchema } from '../messaging/commands.ts';
import { checkReplyTo, replyToField } from '../messaging/replies.ts';
import { ChatError, connectionGoneError, ErrorCode } from '../shared/errors.ts';
import { newMessageId, ROOM_ID } from '../shared/ids.ts';
import type {
  ConnectionRecord,
  ConnectionStore,
  MessageStore,
  RoomStore,
  StoredMessage,
} from '../shared/ports.ts';
import { meta, schema } from '../shared/schema.ts';

/**
 * Prefixes that name the other conversation kinds in the messages table and the history
 * API (`private_a_b`, `group_…`, system notices): a room may not take them.
 */
export const RESERVED_ROOM_PREFIXES = ['private_', 'group_', 'system_'] as const;

/** `^[A-Za-z0-9_-]{1,64}$` and no reserved prefix. */
export function isRoomId(value: string): boolean {
  return ROOM_ID.test(value) && !RESERVED_ROOM_PREFIXES.some((prefix) => value.startsWith(prefix));
}

const ROOM_ID_RULE = `room_id must match ^[A-Za-z0-9_-]{1,64}$ and not start with ${RESERVED_ROOM_PREFIXES.join(', ')}`;

/** `isRoomId` as a JSON Schema pattern (documentation: `.meta()` changes no parsing). */
export const ROOM_ID_PATTERN = `^(?!${RESERVED_ROOM_PREFIXES.join('|')})${ROOM_ID.source.slice(1)}`;

const roomIdSchema = /* @__PURE__ */ schema(() =>
  meta(z.string().check(z.refine(isRoomId, ROOM_ID_RULE)), {
    pattern: ROOM_ID_PATTERN,
    description: `1-64 letters, digits, _ or -, not starting with ${RESERVED_ROOM_PREFIXES.join(', ')}.`,
  }),
);

/** `join_room` / `leave_room` data. */
export const roomTargetSchema = /* @__PURE__ */ schema(() => z.object({ room_id: roomIdSchema }));

/** `send_room_message` data besides `room_id`: the same rules as `send_message`. */
export const roomMessageSchema = /* @__PURE__ */ schema(() =>
  z.omit(sendMessageSchema, { to_user_id: true }),
);

export type RoomTargetInput = z.output<typeof roomTargetSchema>;
export type SendRoomMessageInput = RoomTargetInput & z.output<typeof roomMessageSchema>;

/** Missing, empty or blank `room_id` → 2002; anything else wrong with it → 2001. */
const roomTargetCodes = { required: { room_id: ErrorCode.roomIdEmpty }, invalid: ErrorCode.roomInvalid };

/** Content errors as for `send_message`: missing or blank → 10002, wrong shape → 1001. */
const roomMessageCodes = {
  required: { content: ErrorCode.targetAndContentRequired },
  invalid: ErrorCode.badRequest,
};

export function parseRoomTarget(data: unknown): RoomTargetInput {
  return parseCommand(roomTargetSchema, data, roomTargetCodes);
}

/** The room is checked first, then the content. */
export function parseRoomMessage(data: unknown): SendRoomMessageInput {
  const { room_id } = parseRoomTarget(data);
  return { room_id, ...parseCommand(roomMessageSchema, data, roomMessageCodes) };
}

export interface RoomSettings {
  readonly maxContentLength: number;
  readonly maxRoomsPerConnection: number;
}

/** Pushes go through `deliver` (notifier, registry for 410s, fan-out concurrency, log). */
export interface RoomServiceDependencies extends DeliveryDependencies {
  readonly connections: ConnectionStore;
  readonly rooms: RoomStore;
  readonly messages: MessageStore;
  readonly settings: RoomSettings;
  /** Blocked content answers 10007 and is neither stored nor delivered; unset: no filter. */
  readonly contentFilter?: ContentFilter;
  /** Rate limit and `client_msg_id` dedupe for messages; unset: neither. */
  readonly guards?: MessageGuards;
  /** `message.sent` for each stored room message; unset: none. */
  readonly events?: EventPublisher;
  /** Messages of type 2-5 carry a checked upload; unset (no bucket): such messages answer 1001. */
  readonly attachments?: AttachmentService;
  readonly now?: () => Date;
}

export interface RoomJoined {
  readonly type: 'join_room_success';
  readonly room_id: string;
  readonly user_id: string;
  readonly time: string;
}

export interface RoomLeft {
  readonly type: 'leave_room_success';
  readonly room_id: string;
  readonly user_id: string;
  readonly time: string;
}

export interface RoomMessageSent {
  readonly type: 'room_message_sent';
  readonly room_id: string;
  readonly message_id: string;
  readonly sent_count: number;
  /** Extension: connections still failing after retries (410s not counted). */
  readonly failed: number;
  /** Extension: present (true) when this was a retry of a `client_msg_id` already stored. */
  readonly duplicate?: true;
  /** Extension: connections handed to fan-out workers (present only when some were). */
  readonly queued?: number;
  readonly time: string;
}

export class RoomService {
  constructor(private readonly deps: RoomServiceDependencies) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** The sending connection's row: who it is, its expiry and its rooms (1401 when gone). */
  private async connection(connectionId: string): Promise<ConnectionRecord> {
    const connection = await this.deps.connections.get(connectionId);
    if (!connection) throw connectionGoneError();
    return connection;
  }

  /** Joins the room with this connection; joining again changes nothing. */
  async join(connectionId: string, input: RoomTargetInput): Promise<RoomJoined> {
    const roomId = input.room_id;
    const connection = await this.connection(connectionId);
    const max = this.deps.settings.maxRoomsPerConnection;
    // The connection lists the room before the member row exists, so closing the
    // connection always finds every row to remove. The limit is part of that write (a
    // check of the row read above would let racing joins all pass).
    const added = await this.deps.connections.addRoom(connectionId, roomId, max);
    if (added === 'gone') throw connectionGoneError();
    if (added === 'full') {
      throw new ChatError(
        ErrorCode.roomInvalid,
        `a connection may be in at most ${max} rooms; leave one before joining another`,
      );
    }
    const now = this.now();
    await this.deps.rooms.join({
      roomId,
      connectionId,
      userId: connection.userId,
      joinedAt: now.toISOString(),
      expiresAt: connection.expiresAt,
      ...(connection.tokenExpiresAt === undefined ? {} : { tokenExpiresAt: connection.tokenExpiresAt }),
    });
    return {
      type: 'join_room_success',
      room_id: roomId,
      user_id: connection.userId,
      time: now.toISOString(),
    };
  }

  /** Leaves the room; leaving a room this connection is not in succeeds as well. */
  async leave(connectionId: string, input: RoomTargetInput): Promise<RoomLeft> {
    const roomId = input.room_id;
    const connection = await this.connection(connectionId);
    // The member row goes first: a row must never outlive its entry on the connection.
    await this.deps.rooms.leave(roomId, connectionId);
    await this.deps.connections.removeRoom(connectionId, roomId);
    return {
      type: 'leave_room_success',
      room_id: roomId,
      user_id: connection.userId,
      time: this.now().toISOString(),
    };
  }

  /** Stores the message, then posts it to every connection in the room except the sender's user's. */
  async send(connectionId: string, input: SendRoomMessageInput): Promise<RoomMessageSent> {
    const roomId = input.room_id;
    assertContentLength(input.content, this.deps.settings.maxContentLength);
    const connection = await this.connection(connectionId);
    const notInRoom = () => new ChatError(ErrorCode.forbidden, 'join the room before posting to it');
    // The connection row is already read: a connection that never joined costs no Query.
    if (!connection.rooms?.includes(roomId)) throw notInRoom();
    const members = await this.deps.rooms.members(roomId);
    if (!members.some((member) => member.connectionId === connectionId)) throw notInRoom();
    if ((await this.deps.contentFilter?.check(input.content))?.blocked) {
      throw new ChatError(ErrorCode.contentBlocked, 'message has blocked content');
    }
    const attachment = await verifiedAttachment(this.deps.attachments, connection.userId, input);

    const now = this.now();
    const message: StoredMessage = {
      roomId,
      messageId: newMessageId(now),
      kind: 'room',
      fromUserId: connection.userId,
      content: input.content,
      messageType: input.message_type,
      createdAt: now.toISOString(),
      ...(input.client_msg_id ? { clientMsgId: input.client_msg_id } : {}),
      ...(input.reply_to ? { replyTo: input.reply_to } : {}),
      ...(attachment ? { attachment } : {}),
    };
    await checkReplyTo(this.deps.messages, message);
    const accepted = await admitAndStore(
      this.deps.guards,
      message,
      now,
      attachingFirst(
        messageWriter(this.deps.messages, ErrorCode.messageNotStored),
        this.deps.attachments,
        ErrorCode.messageNotStored,
      ),
    );
    const stored = accepted.message;
    if (accepted.duplicate && !accepted.undelivered) {
      return {
        type: 'room_message_sent',
        room_id: roomId,
        message_id: stored.messageId,
        sent_count: 0,
        failed: 0,
        duplicate: true,
        time: stored.createdAt,
      };
    }
    const recipients = members
      .filter((member) => member.userId !== connection.userId)
      .map(({ connectionId: id, userId, tokenExpiresAt }) =>
        tokenExpiresAt === undefined
          ? { connectionId: id, userId }
          : { connectionId: id, userId, tokenExpiresAt },
      );
    const push = {
      type: 'room_message',
      room_id: roomId,
      message_id: stored.messageId,
      from_user_id: connection.userId,
      content: stored.content,
      message_type: stored.messageType,
      // Only the room's connections get the push, hence the URL.
      ...(await attachmentField(this.deps.attachments, stored)),
      time: stored.createdAt,
      ...replyToField(stored),
    };
    // A 410 closes that connection (which removes its rooms) and also deletes this room's
    // member row, in case the connection row was already gone.
    const result = await deliverOrMark(this.deps.guards, stored, () =>
      deliver(this.deps, recipients, push, {
        alsoOnGone: (recipient) => this.deps.rooms.leave(roomId, recipient.connectionId),
        goneCleanup: { leaveRoom: roomId },
        name: 'room',
        logDetails: { roomId },
      }),
    );
    if (this.deps.events?.collecting?.() !== false) this.deps.events?.publish(messageSent(stored));
    return {
      type: 'room_message_sent',
      room_id: roomId,
      message_id: stored.messageId,
      sent_count: result.delivered,
      failed: result.failed.length,
      ...queuedField(result),
      ...(accepted.duplicate ? { duplicate: true as const } : {}),
      time: stored.createdAt,
    };
  }
}
