/**
 * The chat commands, independent of Lambda and API Gateway: they take validated input
 * and the sender's verified identity, and work through the stores and the notifier.
 */
import { isAdmin } from './auth.ts';
import type {
  BroadcastInput,
  CreateGroupInput,
  SendGroupMessageInput,
  SendMessageInput,
} from './commands.ts';
import { assertGroupId } from './commands.ts';
import type { ConnectionRegistry } from './connections.ts';
import { success } from './envelope.ts';
import { ChatError, ErrorCode, type ErrorCodeValue } from './errors.ts';
import { type FanOutResult, fanOut, type Recipient } from './fan-out.ts';
import { newGroupId, newMessageId, privateRoomId } from './ids.ts';
import type {
  ConnectionNotifier,
  GroupStore,
  MessageStore,
  PresenceStore,
  StoredMessage,
  UserConnections,
} from './ports.ts';

export interface Sender {
  readonly userId: string;
  readonly roles: readonly string[];
}

export interface ChatSettings {
  readonly fanOutConcurrency: number;
  readonly maxGroupMembers: number;
  readonly maxContentLength: number;
  readonly broadcastAllowAll: boolean;
}

export interface ChatServiceDependencies {
  readonly presence: PresenceStore;
  readonly messages: MessageStore;
  readonly groups: GroupStore;
  readonly registry: ConnectionRegistry;
  readonly notifier: ConnectionNotifier;
  readonly settings: ChatSettings;
  readonly now?: () => Date;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
}

export interface MessageSent {
  readonly type: 'message_sent';
  readonly message_id: string;
  readonly room_id: string;
  readonly delivered: number;
  readonly time: string;
}

export interface GroupMessageSent {
  readonly type: 'group_message_sent';
  readonly group_id: string;
  readonly message_id: string;
  readonly sent_count: number;
  readonly time: string;
}

export interface GroupCreated {
  readonly type: 'group_created';
  readonly group_id: string;
  readonly group_name: string;
  readonly member_ids: readonly string[];
}

export interface BroadcastSent {
  readonly type: 'broadcast_sent';
  readonly sent_count: number;
}

function recipientsOf(users: readonly UserConnections[], exceptUserId?: string): Recipient[] {
  return users
    .filter((user) => user.userId !== exceptUserId)
    .flatMap((user) => user.connectionIds.map((connectionId) => ({ connectionId, userId: user.userId })));
}

export class ChatService {
  constructor(private readonly deps: ChatServiceDependencies) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private checkContentLength(content: string, code: ErrorCodeValue = ErrorCode.tooLarge): void {
    if (content.length > this.deps.settings.maxContentLength) {
      throw new ChatError(code, `content is longer than ${this.deps.settings.maxContentLength} characters`);
    }
  }

  private async store(message: StoredMessage, failureCode: ErrorCodeValue): Promise<void> {
    try {
      await this.deps.messages.put(message);
    } catch (error) {
      throw new ChatError(failureCode, 'message could not be stored', { cause: error });
    }
  }

  /** Posts a push frame to every recipient; 410s remove that recipient's connection. */
  private async deliver(recipients: readonly Recipient[], data: unknown): Promise<FanOutResult> {
    const result = await fanOut(this.deps.notifier, recipients, JSON.stringify(success(data)), {
      concurrency: this.deps.settings.fanOutConcurrency,
      onGone: (recipient) =>
        this.deps.registry.closeGone(recipient.connectionId, recipient.userId).catch((error: unknown) => {
          this.deps.log?.('gone connection cleanup failed', { connectionId: recipient.connectionId, error });
        }),
    });
    if (result.failed.length > 0) {
      this.deps.log?.('fan-out left connections undelivered', {
        failed: result.failed.length,
        delivered: result.delivered,
      });
    }
    return result;
  }

  async sendMessage(sender: Sender, input: SendMessageInput): Promise<MessageSent> {
    this.checkContentLength(input.content);
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
    };
    // Stored before delivery (an offline recipient reads it from history later); the
    // recipient lookup does not depend on the write, so the two overlap.
    const [, online] = await Promise.all([
      this.store(message, ErrorCode.messageNotStored),
      this.deps.presence.connectionsOf([input.to_user_id]),
    ]);
    const recipients = recipientsOf(online);
    const result = await this.deliver(recipients, {
      type: 'new_message',
      message_id: message.messageId,
      room_id: message.roomId,
      from_user_id: sender.userId,
      to_user_id: input.to_user_id,
      content: message.content,
      message_type: message.messageType,
      time: message.createdAt,
    });
    return {
      type: 'message_sent',
      message_id: message.messageId,
      room_id: message.roomId,
      delivered: result.delivered,
      time: message.createdAt,
    };
  }

  async createGroup(sender: Sender, input: CreateGroupInput): Promise<GroupCreated> {
    const memberIds = [...new Set([sender.userId, ...input.member_ids])];
    if (memberIds.length > this.deps.settings.maxGroupMembers) {
      throw new ChatError(
        ErrorCode.groupInvalid,
        `a group has at most ${this.deps.settings.maxGroupMembers} members; received ${memberIds.length}`,
      );
    }
    const now = this.now();
    const groupId = newGroupId(now);
    await this.deps.groups.create({
      groupId,
      groupName: input.group_name,
      createdBy: sender.userId,
      createdAt: now.toISOString(),
      memberIds,
    });
    return { type: 'group_created', group_id: groupId, group_name: input.group_name, member_ids: memberIds };
  }

  async sendGroupMessage(sender: Sender, input: SendGroupMessageInput): Promise<GroupMessageSent> {
    assertGroupId(input.group_id);
    this.checkContentLength(input.content);
    const group = await this.deps.groups.get(input.group_id);
    // Same answer for a missing group and a non-member: no probing which groups exist.
    if (!group?.memberIds.includes(sender.userId)) {
      throw new ChatError(ErrorCode.forbidden, 'not a member of this group');
    }
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
    };
    const others = group.memberIds.filter((userId) => userId !== sender.userId);
    const [, online] = await Promise.all([
      this.store(message, ErrorCode.groupMessageNotStored),
      others.length > 0 ? this.deps.presence.connectionsOf(others) : [],
    ]);
    const result = await this.deliver(recipientsOf(online, sender.userId), {
      type: 'group_message',
      group_id: group.groupId,
      group_name: group.groupName,
      message_id: message.messageId,
      from_user_id: sender.userId,
      content: message.content,
      message_type: message.messageType,
      time: message.createdAt,
    });
    return {
      type: 'group_message_sent',
      group_id: group.groupId,
      message_id: message.messageId,
      sent_count: result.delivered,
      time: message.createdAt,
    };
  }

  async broadcast(sender: Sender, input: BroadcastInput): Promise<BroadcastSent> {
    if (!this.deps.settings.broadcastAllowAll && !isAdmin(sender.roles)) {
      throw new ChatError(ErrorCode.forbidden, 'broadcast needs the admin role');
    }
    this.checkContentLength(input.message);
    const data = {
      type: 'broadcast',
      from_user_id: sender.userId,
      message: input.message,
      time: this.now().toISOString(),
    };
    let sent = 0;
    try {
      for await (const page of this.deps.presence.allOnline()) {
        sent += (await this.deliver(recipientsOf(page), data)).delivered;
      }
    } catch (error) {
      throw new ChatError(ErrorCode.broadcastFailed, 'broadcast failed', { cause: error });
    }
    return { type: 'broadcast_sent', sent_count: sent };
  }
}
