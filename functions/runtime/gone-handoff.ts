/**
 * Connections that answered 410 to a post, handed to the stale-connection sweep function
 * (an asynchronous Invoke with `{ gone: [...] }`), which closes them through the one close
 * path ($disconnect's: counters once, `connection.closed`, `offline` and the marks on the
 * user's last connection). The 410s one fan-out meets in the same turn of the event loop
 * go in one Invoke (at most MAX_GONE_PER_HANDOFF each), so a fan-out into a deploy's
 * dropped connections costs a few invocations, not one per connection.
 */
import { type GoneConnection, MAX_GONE_PER_HANDOFF } from '../core/connections/sweep.ts';

export type GoneInvoke = (payload: { readonly gone: readonly GoneConnection[] }) => Promise<void>;

interface Pending {
  readonly connection: GoneConnection;
  readonly settle: { resolve: () => void; reject: (error: unknown) => void };
}

export class GoneHandoff {
  private pending: Pending[] = [];

  constructor(private readonly invoke: GoneInvoke) {}

  /** Resolves once the Invoke carrying this connection was accepted; rejects when it was not. */
  closeGone(connectionId: string, userId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      this.pending.push({ connection: { connectionId, userId }, settle: { resolve, reject } });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += MAX_GONE_PER_HANDOFF) {
      const part = batch.slice(i, i + MAX_GONE_PER_HANDOFF);
      try {
        await this.invoke({ gone: part.map((entry) => entry.connection) });
        for (const entry of part) entry.settle.resolve();
      } catch (error) {
        for (const entry of part) entry.settle.reject(error);
      }
    }
  }
}
