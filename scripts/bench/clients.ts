/**
 * Many WebSocket clients in one process, cheap enough for 10,000: each is opened with a
 * token minted for its user (local/tokens.ts) and counts as open once its `welcome` frame
 * arrived, as in scripts/soak.ts. Replies are matched by `request_id`; every other frame
 * goes to `onPush` with its arrival time.
 */
import WebSocket from 'ws';
import { mintToken } from '../../local/tokens.ts';
import { sleep } from './machine.ts';

export interface ClientUser {
  readonly userId: string;
  readonly role?: string;
}

export interface Reply {
  readonly code?: number;
  readonly message?: string;
  readonly data?: Record<string, unknown> | null;
  readonly request_id?: string;
}

export class ClientPool {
  private readonly sockets: (WebSocket | undefined)[] = [];
  private readonly users: ClientUser[] = [];
  /** Each client's connection id, from its `welcome` frame. */
  private readonly connectionIds: (string | undefined)[] = [];
  /** Clients closed on purpose (`close`): their close is not unexpected. */
  private readonly closedOnPurpose = new Set<number>();
  private readonly replies = new Map<string, (reply: Reply) => void>();
  private nextRequest = 1;
  private closing = false;
  closedUnexpectedly = 0;
  connectFailures = 0;
  /** Every frame that is not a reply: the client's index, the text, performance.now() at arrival. */
  onPush: (index: number, text: string, at: number) => void = () => {};

  constructor(
    private readonly wsUrl: string,
    private readonly secret: string,
  ) {}

  get size(): number {
    return this.sockets.length;
  }

  userOf(index: number): ClientUser {
    const user = this.users[index];
    if (!user) throw new Error(`No client ${index}`);
    return user;
  }

  /** Opens one connection per entry (a user may appear more than once: several devices); returns their indexes. */
  async open(users: readonly ClientUser[], concurrency = 50): Promise<number[]> {
    const first = this.sockets.length;
    const indexes = users.map((user, i) => {
      this.users[first + i] = user;
      this.sockets[first + i] = undefined;
      return first + i;
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, users.length) }, async () => {
        while (next < indexes.length) {
          const index = indexes[next++] as number;
          await this.connect(index);
        }
      }),
    );
    const missing = indexes.filter((index) => !this.sockets[index]).length;
    if (missing > 0) throw new Error(`${missing} of ${indexes.length} connections did not open.`);
    return indexes;
  }

  private async connect(index: number): Promise<void> {
    const user = this.userOf(index);
    const token = await mintToken(user.userId, {
      secret: this.secret,
      ttlSeconds: 6 * 3600,
      ...(user.role ? { role: user.role } : {}),
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const socket = await new Promise<WebSocket | undefined>((resolve) => {
        const ws = new WebSocket(`${this.wsUrl}?token=${token}`, { perMessageDeflate: false });
        let welcomed = false;
        const timer = setTimeout(() => done(undefined), 60_000);
        const done = (result: WebSocket | undefined) => {
          clearTimeout(timer);
          if (!result) ws.terminate();
          resolve(result);
        };
        ws.on('message', (data) => {
          const at = performance.now();
          const text = data.toString();
          if (!welcomed) {
            if (text.includes('"welcome"')) {
              welcomed = true;
              this.connectionIds[index] = welcomeConnectionId(text);
              done(ws);
            }
            return;
          }
          this.frame(index, text, at);
        });
        ws.on('error', () => {
          if (!welcomed) done(undefined);
        });
        ws.on('close', () => {
          if (!welcomed) done(undefined);
          else if (!this.closing && !this.closedOnPurpose.has(index)) this.closedUnexpectedly++;
        });
      });
      if (socket) {
        this.sockets[index] = socket;
        return;
      }
      this.connectFailures++;
      await sleep(500 * attempt);
    }
  }

  private frame(index: number, text: string, at: number): void {
    if (text.includes('"request_id"')) {
      const reply = JSON.parse(text) as Reply;
      const resolve = typeof reply.request_id === 'string' ? this.replies.get(reply.request_id) : undefined;
      if (resolve) {
        this.replies.delete(reply.request_id as string);
        resolve(reply);
        return;
      }
    }
    this.onPush(index, text, at);
  }

  /** The connection id the runtime gave client `index` (from its welcome frame). */
  connectionIdOf(index: number): string {
    const id = this.connectionIds[index];
    if (!id) throw new Error(`No connection id for client ${index}`);
    return id;
  }

  /** Sends a frame as it is, waiting for nothing (a route that answers no `request_id`). */
  send(index: number, frame: unknown): void {
    const socket = this.sockets[index];
    if (!socket) throw new Error(`Client ${index} is not open.`);
    socket.send(JSON.stringify(frame));
  }

  /** Closes client `index` with 1000 (the runtime runs `$disconnect`) and waits for the close. */
  async close(index: number): Promise<void> {
    const socket = this.sockets[index];
    if (!socket) return;
    this.closedOnPurpose.add(index);
    this.sockets[index] = undefined;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(1000);
    });
  }

  /** Sends a command and waits for its reply (the integration response). */
  request(index: number, cmd: string, data: unknown, timeoutMs = 30_000): Promise<Reply> {
    const socket = this.sockets[index];
    if (!socket) return Promise.reject(new Error(`Client ${index} is not open.`));
    const requestId = `bench-${this.nextRequest++}`;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(requestId);
        reject(new Error(`No reply to ${cmd} within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.replies.set(requestId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(JSON.stringify({ cmd, request_id: requestId, data }));
    });
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    for (const socket of this.sockets) socket?.terminate();
    this.sockets.length = 0;
    this.users.length = 0;
    this.connectionIds.length = 0;
    await sleep(100);
  }
}

/** `data.connection_id` of a welcome frame; undefined when it has none. */
function welcomeConnectionId(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as Reply).data?.connection_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** A reply that must be a success (`code` 0); throws with the reply otherwise. */
export function expectSuccess(reply: Reply, what: string): Record<string, unknown> {
  if (reply.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(reply)}`);
  return (reply.data ?? {}) as Record<string, unknown>;
}
