/**
 * dynalite opened for the local runtime, without a public port of its own: the caller
 * gets its request listener and a `close`. Used by the DynamoDB thread
 * (`dynamodb-worker.ts`, with `DYNAMODB_THREAD=1`) or on the runtime's own thread.
 */
import type { RequestListener, Server } from 'node:http';
import dynalite from 'dynalite';

export interface OpenDynalite {
  readonly listener: RequestListener;
  /** Closes the database (waiting for its pending operations). */
  close(): Promise<void>;
}

/**
 * dynalite closes its LevelDB only through `server.close()`, which fails on a server that
 * never listened, so it also listens on an ephemeral loopback port nobody uses; closing
 * then releases the database, and a restart in the same process can open the same
 * directory again.
 */
export async function openDynalite(dataDir: string | undefined): Promise<OpenDynalite> {
  const server: Server = dynalite({
    ...(dataDir ? { path: dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const listener = server.listeners('request')[0] as RequestListener | undefined;
  if (!listener) throw new Error('dynalite exposes no request listener; its version is not supported.');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    listener,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
