/** What a ChatClient tells the application: its state and its events. */
import type {
  BroadcastPush,
  ChatMessage,
  GroupUpdatedPush,
  KickedPush,
  MessageDeletedPush,
  MessageEditedPush,
  MessageReadPush,
  PresencePush,
  ReactionPush,
  SystemNotification,
  TypingPush,
  UnreadCountPush,
  Welcome,
} from './types.ts';

export type ChatClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface CatchUpSummary {
  /** The position the catch-up started from (undefined: the beginning). */
  readonly since: string | undefined;
  /** The position afterwards. */
  readonly position: string | undefined;
  /** Messages and notifications delivered by this catch-up (missed ones and live ones held back meanwhile). */
  readonly delivered: number;
}

export interface ChatEvents {
  state: ChatClientState;
  /** Every welcome push: the first connection and each reconnect. */
  welcome: Welcome;
  /** new_message | group_message | room_message, live and from catch-up: each once, in order. */
  message: ChatMessage;
  broadcast: BroadcastPush;
  presence: PresencePush;
  /** Live and from catch-up, each once. */
  system_notify: SystemNotification;
  message_deleted: MessageDeletedPush;
  message_read: MessageReadPush;
  unread_count: UnreadCountPush;
  /** A message was edited by its sender: show `content` and an "edited" mark. */
  message_edited: MessageEditedPush;
  /** A reaction was added or removed; `counts` are the message's counts after it. */
  reaction: ReactionPush;
  /**
   * Another participant started or stopped typing. Expire a `start` yourself after a few
   * seconds without a repeat: a `stop` may never come (the other side closed the page).
   */
  typing: TypingPush;
  /**
   * A group this user is (or was, until this change) in changed: renamed, members added,
   * removed or left, deleted. `user_ids` includes this user when they were added or removed.
   */
  group_updated: GroupUpdatedPush;
  /** Single-session deployments: signed in elsewhere. The client is closed and does not reconnect. */
  kicked: KickedPush;
  /** The `data` of every push frame of the current connection, raw. */
  push: unknown;
  /** Non-fatal problems: a failed catch-up, a refused reconnect attempt, a throwing listener. */
  error: Error;
  /** The sync position moved: persist it and pass it as `since` to resume after a restart. */
  position: string;
  /** A catch-up finished. */
  synced: CatchUpSummary;
}
