/**
 * What has reached the application: each message once (de-duplicated by id in a bounded
 * memory), and the positions the next catch-up resumes from: the sync position and, per
 * joined room, the last room message seen.
 */
import type { Emitter } from './emitter.ts';
import type { ChatEvents } from './events.ts';
import { maxId, normalizeId, ulidFloor } from './ids.ts';
import { type Incoming, isObject, isRoomItem } from './incoming.ts';
import { LruSet } from './lru.ts';
import { type ChatClientOptions, DEFAULTS } from './options.ts';
import type { SendReply } from './outbox.ts';

/** Where a running catch-up collects positions until it is done. */
export interface Deferral {
  deferred: string | undefined;
}

export class Delivery {
  private readonly seen: LruSet;
  private syncPosition: string | undefined;
  private readonly rooms = new Set<string>();
  private readonly roomPositions = new Map<string, string>();

  constructor(
    options: Pick<ChatClientOptions, 'dedupeCapacity' | 'since'>,
    private readonly emitter: Emitter<ChatEvents>,
    /** The running catch-up, if any: the position must not move past what it has yet to deliver. */
    private readonly catchingUp: () => Deferral | undefined,
  ) {
    this.seen = new LruSet(options.dedupeCapacity ?? DEFAULTS.dedupeCapacity);
    this.syncPosition = options.since ? normalizeId(options.since) : undefined;
  }

  /** The greatest private/group/system message id accounted for. */
  get position(): string | undefined {
    return this.syncPosition;
  }

  get joinedRooms(): string[] {
    return [...this.rooms];
  }

  isJoined(room: string): boolean {
    return this.rooms.has(room);
  }

  /** The last room message seen (or the room's join time). */
  roomPosition(room: string): string | undefined {
    return this.roomPositions.get(room);
  }

  /** Remembers a joined room; a first join counts as seen up to `joinedAt`. */
  joinRoom(room: string, joinedAt: () => number): void {
    this.rooms.add(room);
    if (!this.roomPositions.has(room)) this.roomPositions.set(room, ulidFloor(joinedAt()));
  }

  leaveRoom(room: string): void {
    this.rooms.delete(room);
    this.roomPositions.delete(room);
  }

  wasDelivered(id: string): boolean {
    return this.seen.has(id);
  }

  /** Emits the item unless it was delivered before; returns whether it was emitted. */
  deliver(item: Incoming): boolean {
    if (!this.seen.add(item.id)) return false;
    if (item.event === 'message') {
      if (isRoomItem(item)) this.advanceRoom(item.payload.room_id, item.id);
      else this.notePosition(item.id);
      this.emitter.emit('message', item.payload);
    } else {
      this.notePosition(item.id);
      this.emitter.emit('system_notify', item.payload);
    }
    return true;
  }

  /** The application has this message through the send's promise: never emit it as `message`. */
  noteSent(reply: SendReply): void {
    if (!isObject(reply) || typeof reply.message_id !== 'string') return;
    const id = normalizeId(reply.message_id);
    this.seen.add(id);
    if (reply.type === 'room_message_sent') this.advanceRoom(reply.room_id, id);
    else this.notePosition(id);
  }

  /** A position from a live message or a reply: deferred while a catch-up runs (it must not skip missed ones). */
  notePosition(id: string): void {
    const run = this.catchingUp();
    if (run) run.deferred = maxId(run.deferred, id);
    else this.advancePosition(id);
  }

  advancePosition(id: string): void {
    if (this.syncPosition !== undefined && this.syncPosition >= id) return;
    this.syncPosition = id;
    this.emitter.emit('position', id);
  }

  private advanceRoom(room: string, id: string): void {
    if (!this.rooms.has(room)) return;
    const known = this.roomPositions.get(room);
    if (known === undefined || id > known) this.roomPositions.set(room, id);
  }
}
