/**
 * Catch-up after every welcome: re-join the rooms, page `sync` from the sync position, read
 * missed room messages with `history`, and merge in the live messages held back meanwhile,
 * so the application sees each message once, in order. Only then may the outbox send.
 */
import type { Backoff } from './backoff.ts';
import type { Connection, Session } from './connection.ts';
import type { Deferral, Delivery } from './delivery.ts';
import type { Emitter } from './emitter.ts';
import { ChatError, ChatRequestError, RECONNECT_CODE } from './errors.ts';
import type { ChatEvents } from './events.ts';
import { maxId, normalizeId, ulidFloor } from './ids.ts';
import { byId, fromHistoryItem, fromSyncItem, type Incoming, isRoomItem } from './incoming.ts';
import { type ChatClientOptions, DEFAULTS } from './options.ts';
import type { Outbox } from './outbox.ts';
import type { Requests } from './requests.ts';
import type { Timers } from './timers.ts';
import type { HistoryPage, RoomJoined, SyncPage } from './types.ts';

/** The follow-up sync starts this long before the welcome. */
const RESYNC_WINDOW_MS = 10_000;
/** Live messages held back at most; dropping is safe, they are stored and read again. */
const LIVE_BUFFER_LIMIT = 5_000;

export interface CatchUpDeps {
  readonly options: Pick<
    ChatClientOptions,
    'syncFromStart' | 'rejoinRooms' | 'syncPageSize' | 'roomCatchUpLimit' | 'resyncDelayMs'
  >;
  readonly timers: Timers;
  readonly retryBackoff: Backoff;
  readonly session: Session;
  readonly delivery: Delivery;
  readonly requests: Pick<Requests, 'requestOn'>;
  readonly outbox: Pick<Outbox, 'pump' | 'settled'>;
  readonly emitter: Emitter<ChatEvents>;
}

interface CatchUpRun extends Deferral {
  readonly conn: Connection;
  /** Live messages held back while the catch-up runs. */
  buffer: Incoming[];
  /** The greatest position seen from live messages and replies meanwhile. */
  deferred: string | undefined;
  delivered: number;
  readonly since: string | undefined;
  retry: unknown;
}

/** Thrown when a newer catch-up, a closed connection or close() ends this one. */
class Abandoned extends Error {}

export class CatchUp {
  private active: CatchUpRun | undefined;
  private resyncTimer: unknown;

  constructor(private readonly deps: CatchUpDeps) {}

  /** The running catch-up, if any. */
  get running(): Deferral | undefined {
    return this.active;
  }

  /** `conn` was welcomed: catch up from the sync position, if there is one to catch up from. */
  start(conn: Connection, first: boolean, welcomedAt: number): void {
    const sync =
      this.deps.delivery.position !== undefined || (first && this.deps.options.syncFromStart === true);
    if (!sync) {
      // Nothing seen yet: everything from now on is pushed live, and this is where a later catch-up starts.
      this.deps.delivery.advancePosition(ulidFloor(welcomedAt));
    }
    void this.recover(conn, sync, welcomedAt);
  }

  /** A live message: held back until its connection's welcome and while a catch-up runs, delivered otherwise. */
  ingest(conn: Connection, item: Incoming): void {
    if (!conn.welcome && conn.role === 'primary') {
      if (conn.early.length < LIVE_BUFFER_LIMIT) conn.early.push(item);
      return;
    }
    const run = this.active;
    if (run) {
      if (this.deps.delivery.wasDelivered(item.id) || run.buffer.some((held) => held.id === item.id)) return;
      run.buffer.push(item);
      if (run.buffer.length > LIVE_BUFFER_LIMIT) run.buffer.shift();
      return;
    }
    this.deps.delivery.deliver(item);
  }

  /** The current connection closed: a catch-up on it stops. */
  connectionLost(conn: Connection): void {
    if (this.active?.conn === conn) this.abandon();
  }

  cancelResync(): void {
    this.deps.timers.clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
  }

  abandon(): void {
    const run = this.active;
    if (!run) return;
    this.active = undefined;
    this.deps.timers.clearTimeout(run.retry);
    // Held-back messages are stored: the next catch-up fetches them again.
    run.buffer = [];
  }

  /** After a welcome: re-join rooms, catch up, then let the outbox send. */
  private async recover(conn: Connection, sync: boolean, welcomedAt: number): Promise<void> {
    const { delivery, outbox } = this.deps;
    const rooms = this.deps.options.rejoinRooms === false ? [] : delivery.joinedRooms;
    // Live messages held so far: pushed before the welcome, or held by a catch-up that a
    // rotation interrupted. They are merged into this catch-up (or delivered now).
    const held = [...(this.active?.buffer ?? []), ...conn.early];
    conn.early = [];
    this.abandon();
    if (!sync && rooms.length === 0) {
      for (const item of held.sort(byId)) delivery.deliver(item);
      conn.ready = true;
      outbox.pump();
      return;
    }
    const run: CatchUpRun = {
      conn,
      buffer: held,
      deferred: undefined,
      delivered: 0,
      since: delivery.position,
      retry: undefined,
    };
    this.active = run;
    await this.runCatchUp(run, sync, rooms, welcomedAt);
  }

  private async runCatchUp(run: CatchUpRun, sync: boolean, rooms: string[], welcomedAt: number) {
    const { conn } = run;
    const { delivery, outbox } = this.deps;
    try {
      await Promise.all(rooms.map((room) => this.rejoin(conn, room)));
      this.checkRun(run);
      if (sync) {
        // A send cut off by the drop may be stored already: resend it first (same
        // client_msg_id), so its reply tells us it is ours before sync lists it.
        outbox.pump(true);
        await outbox.settled();
        this.checkRun(run);
        await this.syncPages(run, delivery.position);
      }
      for (const room of rooms) if (delivery.isJoined(room)) await this.roomCatchUp(run, room);
      this.checkRun(run);
      this.finish(run);
      if (sync) this.scheduleResync(conn, run.since, welcomedAt);
    } catch (error) {
      if (error instanceof Abandoned || this.active !== run || conn.closed) return;
      this.emitError(new ChatError('catch-up failed; retrying', { cause: error }));
      // Let queued sends go out meanwhile; live messages stay held back until the catch-up succeeds.
      conn.ready = true;
      outbox.pump();
      run.retry = this.deps.timers.setTimeout(() => {
        run.retry = undefined;
        if (this.active === run && !conn.closed) void this.runCatchUp(run, sync, rooms, welcomedAt);
      }, this.deps.retryBackoff.next());
    }
  }

  private checkRun(run: CatchUpRun): void {
    if (this.active !== run || run.conn.closed || this.deps.session.stopped) throw new Abandoned();
  }

  private async rejoin(conn: Connection, room: string): Promise<void> {
    try {
      await this.deps.requests.requestOn<RoomJoined>(conn, 'join_room', { room_id: room });
    } catch (error) {
      if (error instanceof ChatRequestError && error.code !== RECONNECT_CODE) {
        // Refused for good (e.g. too many rooms): forget it.
        this.deps.delivery.leaveRoom(room);
        this.emitError(new ChatError(`could not re-join room ${room}`, { cause: error }));
        return;
      }
      throw error;
    }
  }

  private async syncPages(run: CatchUpRun, since: string | undefined): Promise<void> {
    const { delivery, outbox, requests } = this.deps;
    const limit = this.deps.options.syncPageSize ?? DEFAULTS.syncPageSize;
    let cursor = since;
    for (let pages = 0; ; pages++) {
      const page = await requests.requestOn<SyncPage>(
        run.conn,
        'sync',
        cursor ? { since: cursor, limit } : { limit },
      );
      // A send in flight may be in this page before its reply tells us it is ours.
      await outbox.settled();
      this.checkRun(run);
      const upTo = page.next_since ? normalizeId(page.next_since) : undefined;
      const items = page.messages.map(fromSyncItem);
      if (upTo !== undefined) {
        // Live messages held back that this page covers go out with it, in id order.
        const covered = run.buffer.filter((item) => !isRoomItem(item) && item.id <= upTo);
        run.buffer = run.buffer.filter((item) => !covered.includes(item));
        items.push(...covered);
      }
      items.sort(byId);
      for (const item of items) if (delivery.deliver(item)) run.delivered++;
      if (upTo !== undefined) delivery.advancePosition(upTo);
      if (!page.has_more || upTo === undefined || upTo === cursor) return;
      cursor = upTo;
      if (pages > 100_000) return;
    }
  }

  /** Missed room messages: `history` pages, newest first, back to the last one seen. */
  private async roomCatchUp(run: CatchUpRun, room: string): Promise<void> {
    const { delivery, requests } = this.deps;
    const limit = this.deps.options.roomCatchUpLimit ?? DEFAULTS.roomCatchUpLimit;
    const seenUpTo = delivery.roomPosition(room);
    const missed: Incoming[] = [];
    let cursor: string | undefined;
    while (limit > 0 && seenUpTo !== undefined && missed.length < limit) {
      const page = await requests.requestOn<HistoryPage>(run.conn, 'history', {
        room_id: room,
        limit: Math.min(100, limit - missed.length),
        ...(cursor ? { cursor } : {}),
      });
      this.checkRun(run);
      let reached = false;
      for (const message of page.messages) {
        if (normalizeId(message.message_id) <= seenUpTo) {
          reached = true;
          break;
        }
        missed.push(fromHistoryItem(message));
      }
      if (reached || !page.next_cursor) break;
      cursor = page.next_cursor;
    }
    const live = run.buffer.filter((item) => isRoomItem(item) && item.payload.room_id === room);
    run.buffer = run.buffer.filter((item) => !live.includes(item));
    const items = [...missed, ...live].sort(byId);
    for (const item of items) if (delivery.deliver(item)) run.delivered++;
  }

  private finish(run: CatchUpRun): void {
    if (this.active !== run) return;
    const { delivery } = this.deps;
    this.active = undefined;
    const rest = run.buffer.sort(byId);
    run.buffer = [];
    for (const item of rest) if (delivery.deliver(item)) run.delivered++;
    if (run.deferred !== undefined) delivery.advancePosition(run.deferred);
    run.conn.ready = true;
    this.deps.emitter.emit('synced', {
      since: run.since,
      position: delivery.position,
      delivered: run.delivered,
    });
    this.deps.outbox.pump();
  }

  /**
   * A message stored in the instant before the reconnect can reach the sync index late
   * (docs/protocol.md, step 7): sync once more, a few seconds later, from shortly before
   * the welcome; anything already delivered is skipped.
   */
  private scheduleResync(conn: Connection, since: string | undefined, welcomedAt: number): void {
    const delay = this.deps.options.resyncDelayMs ?? DEFAULTS.resyncDelayMs;
    if (!(delay > 0)) return;
    this.deps.timers.clearTimeout(this.resyncTimer);
    const from = maxId(since, ulidFloor(welcomedAt - RESYNC_WINDOW_MS));
    this.resyncTimer = this.deps.timers.setTimeout(() => {
      this.resyncTimer = undefined;
      if (conn !== this.deps.session.current || conn.closed || this.active) return;
      void this.resync(conn, from);
    }, delay);
  }

  private async resync(conn: Connection, from: string | undefined): Promise<void> {
    const { delivery, outbox, requests, session } = this.deps;
    const limit = this.deps.options.syncPageSize ?? DEFAULTS.syncPageSize;
    let cursor = from;
    try {
      for (;;) {
        const page = await requests.requestOn<SyncPage>(
          conn,
          'sync',
          cursor ? { since: cursor, limit } : { limit },
        );
        await outbox.settled();
        if (conn !== session.current || conn.closed || this.active) return;
        const items = page.messages.map(fromSyncItem).sort(byId);
        for (const item of items) delivery.deliver(item);
        const upTo = page.next_since ? normalizeId(page.next_since) : undefined;
        if (!page.has_more || upTo === undefined || upTo === cursor) return;
        cursor = upTo;
      }
    } catch (error) {
      if (!conn.closed) this.emitError(new ChatError('the follow-up sync failed', { cause: error }));
    }
  }

  private emitError(error: Error): void {
    this.deps.emitter.emit('error', error);
  }
}
