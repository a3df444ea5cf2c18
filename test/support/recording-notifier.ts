/** A ConnectionNotifier that records what is posted, in place of the Management API. */
import {
  type ConnectionNotifier,
  DeliveryError,
  type DeliveryFailure,
} from '../../functions/core/shared/ports.ts';

/** A posted frame, parsed: the envelope of a push. */
export interface PostedFrame {
  readonly code: number;
  readonly message: string;
  readonly data: Record<string, unknown>;
}

export class RecordingNotifier implements ConnectionNotifier {
  /** The frames each connection received, in order. */
  readonly frames = new Map<string, PostedFrame[]>();
  /** Every post, in order, including those answered with 410. */
  readonly attempts: string[] = [];
  /** Connections that answer 410 (gone). */
  readonly gone = new Set<string>();

  /** Connections whose every post fails this way (e.g. `permanent`: a 403). */
  readonly failing = new Map<string, DeliveryFailure>();
  /** Failures the next posts to a connection meet, in order, before posts succeed again. */
  readonly scripted = new Map<string, DeliveryFailure[]>();

  async post(connectionId: string, frame: string): Promise<void> {
    this.attempts.push(connectionId);
    if (this.gone.has(connectionId)) throw new DeliveryError('gone', '410');
    const always = this.failing.get(connectionId);
    if (always) throw new DeliveryError(always, `scripted ${always} failure`);
    const next = this.scripted.get(connectionId)?.shift();
    if (next) throw new DeliveryError(next, `scripted ${next} failure`);
    const list = this.frames.get(connectionId) ?? [];
    list.push(JSON.parse(frame));
    this.frames.set(connectionId, list);
  }

  /** Every frame `connectionId` received. */
  received(connectionId: string): PostedFrame[] {
    return this.frames.get(connectionId) ?? [];
  }

  /** The `data` of every push of `type` to a connection. */
  pushes(connectionId: string, type: string): Record<string, unknown>[] {
    return this.received(connectionId)
      .filter((frame) => frame.data.type === type)
      .map((frame) => frame.data);
  }

  /** The `data` of the pushes `connectionId` received since the last call. */
  take(connectionId: string): Record<string, unknown>[] {
    const list = this.received(connectionId);
    this.frames.delete(connectionId);
    return list.map((frame) => frame.data);
  }

  /** Forgets every frame received so far. */
  clear(): void {
    this.frames.clear();
  }
}
