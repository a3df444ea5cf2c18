/**
 * Frames from the server: a reply goes to the request waiting for it, a push becomes an
 * event. During a rotation both connections get the same pushes: messages are
 * de-duplicated by id; other pushes count only from the current connection.
 */
import type { Connection } from './connection.ts';
import type { Emitter } from './emitter.ts';
import { ChatError, ChatRequestError } from './errors.ts';
import type { ChatEvents } from './events.ts';
import {
  fromGroupMessage,
  fromNewMessage,
  fromRoomMessage,
  fromSystemNotify,
  type Incoming,
  isObject,
} from './incoming.ts';
import type { Lifecycle } from './lifecycle.ts';
import type {
  Envelope,
  GroupMessagePush,
  KickedPush,
  NewMessagePush,
  RoomMessagePush,
  SystemNotifyPush,
  Welcome,
} from './types.ts';

interface Frame {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly data?: unknown;
  readonly request_id?: unknown;
}

export class PushHandler {
  constructor(
    private readonly emitter: Emitter<ChatEvents>,
    private readonly connections: Pick<Lifecycle, 'current' | 'replacing' | 'welcome' | 'shutdown' | 'drop'>,
    /** Hands a message or notification on for delivery (held back while catching up). */
    private readonly ingest: (conn: Connection, item: Incoming) => void,
  ) {}

  onFrame(conn: Connection, raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: Frame;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!isObject(parsed)) return;
      frame = parsed;
    } catch {
      this.emitter.emit('error', new ChatError('a frame that is not JSON'));
      return;
    }
    const code = typeof frame.code === 'number' ? frame.code : -1;
    const envelope: Envelope = {
      code,
      message: typeof frame.message === 'string' ? frame.message : '',
      data: frame.data ?? null,
    };
    if (frame.request_id !== undefined && frame.request_id !== null) {
      const requestId = String(frame.request_id);
      const pending = conn.pending.get(requestId);
      if (!pending) return; // a late reply (after its timeout) or not ours
      conn.pending.delete(requestId);
      pending.onReply({ ...envelope, request_id: requestId });
      if (conn.role === 'retiring' && conn.pending.size === 0) this.connections.drop(conn, 1000, 'replaced');
      return;
    }
    if (code !== 0) {
      this.emitter.emit('error', new ChatRequestError(code, envelope.message));
      return;
    }
    if (isObject(envelope.data) && typeof envelope.data.type === 'string') this.onPush(conn, envelope.data);
  }

  private onPush(conn: Connection, data: Record<string, unknown>): void {
    const type = data.type as string;
    if (type === 'welcome') {
      this.connections.welcome(conn, data as unknown as Welcome);
      return;
    }
    const primary = conn === this.connections.current && conn.role === 'primary';
    const carriesId =
      type === 'new_message' ||
      type === 'group_message' ||
      type === 'room_message' ||
      type === 'system_notify';
    if (!primary && !carriesId) return;
    if (primary) this.emitter.emit('push', data);
    switch (type) {
      case 'new_message':
        this.ingest(conn, fromNewMessage(data as unknown as NewMessagePush));
        return;
      case 'group_message':
        this.ingest(conn, fromGroupMessage(data as unknown as GroupMessagePush));
        return;
      case 'room_message':
        this.ingest(conn, fromRoomMessage(data as unknown as RoomMessagePush, false));
        return;
      case 'system_notify':
        this.ingest(conn, fromSystemNotify(data as unknown as SystemNotifyPush));
        return;
      case 'kicked':
        // Our own replacement connection kicks this one in single-session mode: not a real kick.
        if (this.connections.replacing) return;
        this.emitter.emit('kicked', data as unknown as KickedPush);
        this.connections.shutdown('kicked');
        return;
      case 'broadcast':
      case 'presence':
      case 'message_deleted':
      case 'message_read':
      case 'unread_count':
      case 'group_updated':
      case 'message_edited':
      case 'reaction':
      case 'typing':
        this.emitter.emit(type, data as never);
        return;
      default:
        return;
    }
  }
}
