/**
 * The WebSocket connections the gateway holds, by connection id. The Management API
 * reads them; only connections whose `$connect` succeeded and whose handshake finished
 * are "open" — before that and after close, callers get 410 Gone, as on AWS.
 */
import type { WebSocket } from 'ws';
import type { ClientIdentity, ConnectionFacts } from './events.ts';

/** How long a closing connection may wait for the client's close frame before it is cut. */
const CLOSE_HANDSHAKE_GRACE_MS = 2_000;

/** The close reason a slow consumer gets (with code 1013). */
export const SLOW_CONSUMER_REASON = 'Slow consumer: too much unread data';

export interface OutboundBound {
  /** `bufferedAmount` beyond which the connection is closed with 1013. */
  readonly maxBufferedBytes: number;
  readonly onOverflow: () => void;
}

export interface CloseRecord {
  readonly code: number;
  readonly reason: string;
}

export class ClientConnection implements ConnectionFacts {
  readonly connectedAt = Date.now();
  lastActiveAt = this.connectedAt;
  state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Set when the server (not the client) ends the connection; reported to `$disconnect`. */
  serverClose: CloseRecord | undefined;
  /** `requestContext.authorizer` of every event of this connection, set when the `$connect` authorizer allowed it. */
  authorizer: Readonly<Record<string, string | number>> | undefined;
  /** Commands of this connection whose handler is running (the gateway bounds it). */
  inFlight = 0;
  /** Dropped with `drop`: its close runs no `$disconnect`. */
  lost = false;
  private socket: WebSocket | undefined;
  private outbound: OutboundBound | undefined;

  constructor(
    readonly connectionId: string,
    readonly domainName: string,
    readonly identity: ClientIdentity,
  ) {}

  open(socket: WebSocket, outbound?: OutboundBound): void {
    this.socket = socket;
    this.outbound = outbound;
    this.state = 'open';
  }

  /**
   * Sends a text frame; false when the connection is not open. When the frames the client
   * has not read yet exceed the bound, the connection is closed with 1013 and nothing more
   * is sent: the client reconnects and catches up with `sync`.
   */
  postText(data: Buffer | string): boolean {
    const socket = this.socket;
    if (this.state !== 'open' || !socket || socket.readyState !== socket.OPEN) return false;
    socket.send(data, { binary: false });
    const bound = this.outbound;
    if (bound && socket.bufferedAmount > bound.maxBufferedBytes && !this.serverClose) {
      bound.onOverflow();
      this.close(1013, SLOW_CONSUMER_REASON);
    }
    return true;
  }

  /**
   * Cuts the connection as a network failure would (no close frame: the client sees 1006)
   * and, as API Gateway sometimes does, never delivers its `$disconnect`: for tests and
   * benchmarks of what cleans up after a lost `$disconnect`. At once 410 to the
   * Management API. False when it was not open.
   */
  drop(): boolean {
    const socket = this.socket;
    if (this.state !== 'open' || !socket) return false;
    this.lost = true;
    this.state = 'closed';
    socket.terminate();
    return true;
  }

  /**
   * Server-initiated close; the client gets `code` and `reason`, `$disconnect` the code
   * and `disconnectReason` (API Gateway's own wording, where it differs from the frame's).
   */
  close(code: number, reason: string, disconnectReason = reason): void {
    this.serverClose ??= { code, reason: disconnectReason };
    const socket = this.socket;
    if (!socket || socket.readyState === socket.CLOSED) return;
    socket.close(code, reason);
    // A client that never answers the close frame must not hold a stop() or a test.
    setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_GRACE_MS).unref();
  }
}

export class ConnectionRegistry {
  private readonly connections = new Map<string, ClientConnection>();

  add(connection: ClientConnection): void {
    this.connections.set(connection.connectionId, connection);
  }

  remove(connection: ClientConnection): void {
    connection.state = 'closed';
    if (this.connections.get(connection.connectionId) === connection) {
      this.connections.delete(connection.connectionId);
    }
  }

  /** The connection if the Management API may use it: `$connect` done and not closed. */
  findOpen(connectionId: string): ClientConnection | undefined {
    const connection = this.connections.get(connectionId);
    return connection?.state === 'open' ? connection : undefined;
  }

  all(): ClientConnection[] {
    return [...this.connections.values()];
  }
}
