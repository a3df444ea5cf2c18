/**
 * The chat commands, independent of Lambda and API Gateway: they take validated input
 * and the sender's verified identity, and work through the stores and the notifier.
 */
import {
  type AttachmentService,
  type AttachmentWire,
  verifiedAttachment,
} from '../attachments/attachments.ts';
import { isAdmin } from '../auth/auth.ts';
import { type BlockStore, blockedByRecipient } from '../blocks/blocks.ts';
import { type EventPublisher, messageSent, messageUndelivered } from '../events/app-events.ts';
import { connectionsOf, type DeliveryDependencies, deliver, queuedField } from '../fan-out/delivery.ts';
import type { FanOutDispatcher, ShardStart } from '../fan-out/fan-out-dispatch.ts';
import type { ContentFilter } from '../filter/content-filter.ts';
import type { OnlineGroupAudience } from '../groups/online-members.ts';
import { admitAndStore, deliverOrMark, type MessageGuards, type MessageWriter } from '../guards/guards.ts';
import { success } from '../shared/envelope.ts';
import { ChatError, ErrorCode, type ErrorCodeValue } from '../shared/errors.ts';
import { newMessageId, peerOf, privateRoomId } from '../shared/ids.ts';
import type {
  GroupStore,
  MessageStore,
  PresenceStore,
  PutOptions,
  RecipientReader,
  RecipientView,
  StoredMessage,
  UserConnections,
} from '../shared/ports.ts';
import type { BroadcastInput, SendGroupMessageInput, SendMessageInput } from './commands.ts';
import { assertContentLength, assertGroupId } from './commands.ts';
import { checkReplyTo, replyToField } from './replies.ts';

export interface Sender {
  readonly userId: string;
  readonly roles: readonly string[];
}

export interface ChatSettings {
  readonly maxContentLength: number;
  readonly broadcastAllowAll: boolean;
  /**
   * Application events are sent somewhere, so a group message's `message.undelivered`
   * needs the offline members: with `onlineGroups`, the member rows are then read too.
   */
  readonly undeliveredEvents?: boolean;
}

/** Pushes go through `deliver` (notifier, registry for 410s, fan-out concurrency, log). */
export interface ChatServiceDependencies extends DeliveryDependencies {
  readonly presence: PresenceStore;
  readonly messages: MessageStore;
  readonly groups: GroupStore;
  /**
   * Group messages: the sender's membership (meta and member item) and the online members
   * (`byOnlineGroup`), so only their presence is read; unset: every member's presence.
   */
  readonly onlineGroups?: OnlineGroupAudience;
  /** Block rows: a recipient who blocked the sender refuses their messages (1403); unset: no blocks. */
  readonly blocks?: Pick<BlockStore, 'has'>;
  /**
   * A private message's recipient (presence and block row) in one read; unset: `presence`
   * and `blocks` are read in parallel, a request each.
   */
  readonly recipients?: RecipientReader;
  readonly settings: ChatSettings;
  /** Blocked content answers 10007 (3008 in groups) and is neither stored nor delivered; unset: no filter. */
  readonly contentFilter?: ContentFilter;
  /** Rate limit and `client_msg_id` dedupe for messages; unset: neither. */
  readonly guards?: MessageGuards;
  /** `message.sent`, and `message.undelivered` for recipients with no open connection; unset: none. */
  readonly events?: EventPublisher;
  /** Messages of type 2-5 carry a checked upload; unset (no bucket): such messages answer 1001. */
  readonly attachments?: AttachmentService;
  readonly now?: () => Date;
}

export interface MessageSent {
  readonly type: 'message_sent';
  readonly message_id: string;
  readonly room_id: string;
  /** The recipient: the sender's peer in `room_id` (which cannot be split reliably when ids contain `_`). */
  readonly peer_id: string;
  readonly delivered: number;
  /** Extension: connections still failing after retries (410s not counted). */
  readonly failed: number;
  /** Extension: present (true) when this was a retry of a `client_msg_id` already stored. */
  readonly duplicate?: true;
  /** Extension: connections handed to fan-out workers (present only when some were). */
  readonly queued?: number;
  readonly time: string;
}

/** The `new_message` push, to the recipient's connections. */
export interface NewMessage {
  readonly type: 'new_message';
  readonly message_id: string;
  readonly room_id: string;
  /** The recipient's peer in `room_id`: the sender. */
  readonly peer_id: string;
  readonly from_user_id: string;
  readonly to_user_id: string;
  readonly content: string;
  readonly message_type: number;
  /** Message types 2-5: the file, with a short-lived presigned GET. */
  readonly attachment?: AttachmentWire;
  readonly time: string;
  /** The message of this conversation it replies to. */
  readonly reply_to?: string;
}

export interface GroupMessageSent {
  readonly type: 'group_message_sent';
  readonly group_id: string;
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

export interface BroadcastSent {
  readonly type: 'broadcast_sent';
  readonly sent_count: number;
  /** Extension: connections still failing after retries (410s not counted). */
  readonly failed: number;
  /**
   * Extension, present only when the broadcast went to fan-out workers: about how many
   * connections they will post to (from the online counter: workers read the audience).
   */
  readonly queued?: number;
}

/** Online users per `byShard` page that an inline broadcast reads. */
export const BROADCAST_PAGE_USERS = 500;

/** Stores a message before it is pushed; a failed write is `failureCode` (10008, 3009). */
export async function storeMessage(
  messages: Pick<MessageStore, 'put'>,
  message: StoredMessage,
  failureCode: ErrorCodeValue,
  options?: PutOptions,
): Promise<void> {
  try {
    await messages.put(message, options);
  } catch (error) {
    throw new ChatError(failureCode, 'message could not be stored', { cause: error });
  }
}

/** `messages.put` as the guards call it, and the read-back of a stored message (`admitAndStore`). */
export function messageWriter(
  messages: MessageStore,
  failureCode: ErrorCodeValue,
  fresh?: (outcome: 'new' | 'seen') => boolean,
) {
  return {
    store: (message: StoredMessage, outcome: 'new' | 'seen') =>
      storeMessage(messages, message, failureCode, fresh?.(outcome) ? { fresh: true } : undefined),
    ...(messages.get ? { load: messages.get.bind(messages) } : {}),
  };
}

/**
 * `writer`, copying the message's attachment to where attached files are kept just before
 * it is stored (after the guards: a refused message copies nothing). A retry that stores
 * again copies again, harmlessly. A failed copy stores nothing (`failureCode`).
 */
export function attachingFirst<Writer extends MessageWriter>(
  writer: Writer,
  attachments: AttachmentService | undefined,
  failureCode: ErrorCodeValue,
): Writer {
  if (!attachments) return writer;
  return {
    ...writer,
    store: async (message: StoredMessage, outcome: 'new' | 'seen') => {
      if (message.attachment) {
        try {
          await attachments.attach(message.fromUserId, message.attachment);
        } catch (error) {
          throw new ChatError(failureCode, 'attachment could not be stored', { cause: error });
        }
      }
      await writer.store(message, outcome);
    },
  };
}

/** The push's `attachment` field: a fresh presigned GET for the participants it goes to. */
export async function attachmentField(
  attachments: AttachmentService | undefined,
  message: StoredMessage,
): Promise<{ attachment?: AttachmentWire }> {
  if (!attachments || !message.attachment) return {};
  return { attachment: await attachments.toWire(message.fromUserId, message.attachment) };
}

/** Every connection of `users`, without those of `exceptUserId`. */
function recipientsOf(users: readonly UserConnections[], exceptUserId?: string) {
  return connectionsOf(users.filter((user) => user.userId !== exceptUserId));
}

export class ChatService {
  constructor(private readonly deps: ChatServiceDependencies) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private checkContentLength(content: string): void {
    assertContentLength(content, this.deps.settings.maxContentLength);
  }

  /** Throws `code` (10007, 3008) when the content filter blocks `content`. */
  private async checkContent(content: string, code: ErrorCodeValue): Promise<void> {
    if ((await this.deps.contentFilter?.check(content))?.blocked) {
      const what = code === ErrorCode.groupContentBlocked ? 'group message' : 'message';
      throw new ChatError(code, `${what} has blocked content`);
    }
  }

  /** See `ChatServiceDependencies.recipients`. */
  private async recipientOf(recipientId: string, senderId: string): Promise<RecipientView> {
    if (this.deps.recipients) return this.deps.recipients.recipient(recipientId, senderId);
    const [online, blocksSender] = await Promise.all([
      this.deps.presence.connectionsOf([recipientId]),
      this.deps.blocks?.has(recipientId, senderId) ?? false,
    ]);
    return { online, blocksSender };
  }

  async sendMessage(sender: Sender, input: SendMessageInput): Promise<MessageSent> {
    this.checkContentLength(input.content);
    await this.checkContent(input.content, ErrorCode.contentBlocked);
    // The upload is checked (one HeadObject) before anything is counted or stored.
    const attachment = await verifiedAttachment(this.deps.attachments, sender.userId, input);
    const now = this.now();
    const message: StoredMessage = {
      roomId: privateRoomId(sender.userId, input.to_user_id),
      messageId: newMessageId(now),
      kind: 'private',
      fromUserId: sender.userId,
      toUserId: input.to_user_id,
      content: input.content,
      messageType: input.message_type,
      createdAt: now.toISOString(),
      ...(input.client_msg_id ? { clientMsgId: input.client_msg_id } : {}),
      ...(input.reply_to ? { replyTo: input.reply_to } : {}),
      ...(attachment ? { attachment } : {}),
    };
    // The recipient's connections and whether they blocked the sender, in one read before
    // anything is counted or stored. Then the guards (dedupe, rate limit), then the message
    // is stored before delivery (an offline recipient reads it from history later); a
    // duplicate answers with the first message's id.
    const recipient = await this.recipientOf(input.to_user_id, sender.userId);
    if (recipient.blocksSender) throw blockedByRecipient();
    await checkReplyTo(this.deps.messages, message);
    const accepted = await admitAndStore(
      this.deps.guards,
      message,
      now,
      attachingFirst(
        messageWriter(this.deps.messages, ErrorCode.messageNotStored, (outcome) => outcome === 'new'),
        this.deps.attachments,
        ErrorCode.messageNotStored,
      ),
    );
    const stored = accepted.message;
    if (accepted.duplicate && !accepted.undelivered) {
      return {
        type: 'message_sent',
        message_id: stored.messageId,
        room_id: stored.roomId,
        peer_id: peerOf(stored, sender.userId),
        delivered: 0,
        failed: 0,
        duplicate: true,
        time: stored.createdAt,
      };
    }
    // A recovered first attempt is the same conversation (guards.ts refuses any other).
    const result = await deliverOrMark(this.deps.guards, stored, async () =>
      deliver(this.deps, recipientsOf(recipient.online), {
        type: 'new_message',
        message_id: stored.messageId,
        room_id: stored.roomId,
        // The recipient's peer: the sender.
        peer_id: sender.userId,
        from_user_id: sender.userId,
        to_user_id: input.to_user_id,
        content: stored.content,
        message_type: stored.messageType,
        ...(await attachmentField(this.deps.attachments, stored)),
        time: stored.createdAt,
        ...replyToField(stored),
      } satisfies NewMessage),
    );
    // The duplicate answered above published nothing: its first attempt did.
    this.published(
      stored,
      recipient.online.some((user) => user.connectionIds.length > 0) ? [] : [input.to_user_id],
    );
    return {
      type: 'message_sent',
      message_id: stored.messageId,
      room_id: stored.roomId,
      peer_id: peerOf(stored, sender.userId),
      delivered: result.delivered,
      failed: result.failed.length,
      ...queuedField(result),
      ...(accepted.duplicate ? { duplicate: true as const } : {}),
      time: stored.createdAt,
    };
  }

  async sendGroupMessage(sender: Sender, input: SendGroupMessageInput): Promise<GroupMessageSent> {
    assertGroupId(input.group_id);
    this.checkContentLength(input.content);
    const group = await this.groupAudience(input.group_id, sender.userId);
    await this.checkContent(input.content, ErrorCode.groupContentBlocked);
    const attachment = await verifiedAttachment(this.deps.attachments, sender.userId, input);
    const now = this.now();
    const message: StoredMessage = {
      roomId: group.groupId,
      messageId: newMessageId(now),
      kind: 'group',
      fromUserId: sender.userId,
      groupId: group.groupId,
      content: input.content,
      messageType: input.message_type,
      createdAt: now.toISOString(),
      ...(input.client_msg_id ? { clientMsgId: input.client_msg_id } : {}),
      ...(input.reply_to ? { replyTo: input.reply_to } : {}),
      ...(attachment ? { attachment } : {}),
    };
    await checkReplyTo(this.deps.messages, message);
    const others = group.recipientIds.filter((userId) => userId !== sender.userId);
    const online = others.length > 0 ? this.deps.presence.connectionsOf(others) : Promise.resolve([]);
    online.catch(() => undefined); // awaited after the store; a failure there must not go unhandled
    const accepted = await admitAndStore(
      this.deps.guards,
      message,
      now,
      attachingFirst(
        messageWriter(this.deps.messages, ErrorCode.groupMessageNotStored),
        this.deps.attachments,
        ErrorCode.groupMessageNotStored,
      ),
    );
    const stored = accepted.message;
    if (accepted.duplicate && !accepted.undelivered) {
      // The first attempt may have stopped between storing and recording it.
      await this.recordLastGroupMessage(group.groupId, stored.messageId);
      return {
        type: 'group_message_sent',
        group_id: group.groupId,
        message_id: stored.messageId,
        sent_count: 0,
        failed: 0,
        duplicate: true,
        time: stored.createdAt,
      };
    }
    const [result] = await Promise.all([
      deliverOrMark(this.deps.guards, stored, async () =>
        deliver(this.deps, recipientsOf(await online, sender.userId), {
          type: 'group_message',
          group_id: group.groupId,
          group_name: group.groupName,
          message_id: stored.messageId,
          from_user_id: sender.userId,
          content: stored.content,
          message_type: stored.messageType,
          // One URL for every member: it is the same object, and only members get the push.
          ...(await attachmentField(this.deps.attachments, stored)),
          time: stored.createdAt,
          ...replyToField(stored),
        }),
      ),
      this.recordLastGroupMessage(group.groupId, stored.messageId),
    ]);
    const reachable = new Set(
      (await online).filter((user) => user.connectionIds.length > 0).map((user) => user.userId),
    );
    const members = group.memberIds ? group.memberIds.filter((userId) => userId !== sender.userId) : [];
    this.published(
      stored,
      members.filter((userId) => !reachable.has(userId)),
      group.groupName,
    );
    return {
      type: 'group_message_sent',
      group_id: group.groupId,
      message_id: stored.messageId,
      sent_count: result.delivered,
      failed: result.failed.length,
      ...queuedField(result),
      ...(accepted.duplicate ? { duplicate: true as const } : {}),
      time: stored.createdAt,
    };
  }

  /**
   * The group, when `userId` is a member (1403 otherwise: the same answer for a missing
   * group, so nobody probes which groups exist), with whom to read the presence of
   * (`recipientIds`) and, when `message.undelivered` needs them, all members. With
   * `onlineGroups`: the membership is one strongly consistent BatchGetItem and the
   * recipients the marked members (one `byOnlineGroup` Query page per 1 MB), so the reads
   * follow the online members; the whole member list is read only for the events.
   */
  private async groupAudience(
    groupId: string,
    userId: string,
  ): Promise<{
    groupId: string;
    groupName: string;
    recipientIds: readonly string[];
    memberIds?: readonly string[];
  }> {
    const notMember = () => new ChatError(ErrorCode.forbidden, 'not a member of this group');
    const online = this.deps.onlineGroups;
    if (!online) {
      const group = await this.deps.groups.get(groupId);
      if (!group?.memberIds.includes(userId)) throw notMember();
      return { ...group, recipientIds: group.memberIds };
    }
    const view = await online.memberView(groupId, userId);
    if (!view) throw notMember();
    const [recipientIds, group] = await Promise.all([
      online.onlineMemberIds(groupId),
      this.deps.settings.undeliveredEvents ? this.deps.groups.get(groupId) : undefined,
    ]);
    return {
      groupId,
      groupName: view.groupName,
      recipientIds,
      ...(group ? { memberIds: group.memberIds } : {}),
    };
  }

  /** `message.sent`, and `message.undelivered` naming the recipients who had no open connection. */
  private published(stored: StoredMessage, offlineUserIds: readonly string[], groupName?: string): void {
    const events = this.deps.events;
    if (!events || events.collecting?.() === false) return;
    events.publish(messageSent(stored));
    for (const event of messageUndelivered(stored, offlineUserIds, groupName)) events.publish(event);
  }

  /**
   * The conversation list orders groups by their newest message (one conditional
   * UpdateItem on the group's meta item, forward only). The message is stored and
   * delivered either way, so a failure here is logged, not answered: the list shows the
   * group's previous last message until the next one.
   */
  private async recordLastGroupMessage(groupId: string, messageId: string): Promise<void> {
    try {
      await this.deps.groups.recordLastMessage?.(groupId, messageId);
    } catch (error) {
      this.deps.log?.("recording a group's last message failed", { groupId, messageId, error });
    }
  }

  /**
   * Every open connection, the sender's included. Small audiences are posted here, shard
   * by shard. When the online counter says the audience is above the fan-out worker
   * threshold, or the pages read here outgrow it (the counter can be off), the shards
   * (or what is left of them) go to fan-out workers, which read them themselves: the
   * handler's time does not grow with the audience.
   */
  async broadcast(sender: Sender, input: BroadcastInput): Promise<BroadcastSent> {
    if (!this.deps.settings.broadcastAllowAll && !isAdmin(sender.roles)) {
      throw new ChatError(ErrorCode.forbidden, 'broadcast needs the admin role');
    }
    this.checkContentLength(input.message);
    await this.checkContent(input.message, ErrorCode.contentBlocked);
    const data = {
      type: 'broadcast',
      from_user_id: sender.userId,
      message: input.message,
      time: this.now().toISOString(),
    };
    const { presence, offload } = this.deps;
    const read = (position: ShardStart) => {
      const page = presence.onlineInShard(position.shard, BROADCAST_PAGE_USERS, position.after);
      page.catch(() => undefined); // read ahead; a page never awaited must not go unhandled
      return page;
    };
    let sent = 0;
    let failed = 0;
    let seen = 0;
    try {
      // The counter and the first page overlap; the page is wasted when workers take over.
      let position: ShardStart | undefined = { shard: 0 };
      let pending = read(position);
      const online = offload ? (await presence.counts()).connections : 0;
      if (offload?.offloads(online)) {
        return await this.broadcastThroughWorkers(
          offload,
          shardsFrom({ shard: 0 }, presence.shardCount),
          data,
          {
            connections: online,
            sent,
            failed,
          },
        );
      }
      while (position) {
        const page = await pending;
        const recipients = recipientsOf(page.users);
        if (offload && seen + recipients.length > offload.threshold) {
          // The counter ran low: this page and everything after it go to workers.
          return await this.broadcastThroughWorkers(
            offload,
            shardsFrom(position, presence.shardCount),
            data,
            {
              connections: Math.max(online - seen, recipients.length),
              sent,
              failed,
            },
          );
        }
        const next: ShardStart | undefined =
          page.after !== undefined
            ? { shard: position.shard, after: page.after }
            : position.shard + 1 < presence.shardCount
              ? { shard: position.shard + 1 }
              : undefined;
        if (next) pending = read(next);
        const result = await deliver(this.deps, recipients, data, { name: 'broadcast' });
        sent += result.delivered;
        failed += result.failed.length;
        seen += recipients.length;
        position = next;
      }
    } catch (error) {
      if (error instanceof ChatError) throw error;
      throw new ChatError(ErrorCode.broadcastFailed, 'broadcast failed', { cause: error });
    }
    return { type: 'broadcast_sent', sent_count: sent, failed };
  }

  private async broadcastThroughWorkers(
    offload: FanOutDispatcher,
    starts: readonly ShardStart[],
    data: unknown,
    progress: { readonly connections: number; readonly sent: number; readonly failed: number },
  ): Promise<BroadcastSent> {
    const dispatched = await offload.dispatchShards(starts, JSON.stringify(success(data)), {
      connections: progress.connections,
      name: 'broadcast',
    });
    if (dispatched.queued.length === 0 && progress.sent === 0 && progress.failed === 0) {
      // Nobody got it and nothing is on its way: the admin may simply retry.
      throw new ChatError(ErrorCode.broadcastFailed, 'broadcast could not be handed to fan-out workers');
    }
    if (dispatched.notQueued.length > 0) {
      this.deps.log?.('broadcast could not hand every shard to workers', {
        shards: dispatched.notQueued.map((start) => start.shard),
        failed: dispatched.notQueuedConnections,
      });
    }
    return {
      type: 'broadcast_sent',
      sent_count: progress.sent,
      failed: progress.failed + dispatched.notQueuedConnections,
      // At least 1 when a shard was queued: the counter may say fewer than there are.
      ...(dispatched.queued.length > 0 ? { queued: Math.max(1, dispatched.queuedConnections) } : {}),
    };
  }
}

/** `position` and every later shard. */
function shardsFrom(position: ShardStart, shardCount: number): ShardStart[] {
  const starts: ShardStart[] = [position];
  for (let shard = position.shard + 1; shard < shardCount; shard++) starts.push({ shard });
  return starts;
}
