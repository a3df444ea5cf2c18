/**
 * dynalite opened for the local runtime, without a public port of its own: the caller
 * gets its request listener and a `close`. Used on the runtime's own thread or, with
 * `DYNAMODB_THREAD=1`, by the DynamoDB thread (`dynamodb-worker.ts`).
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import type dynaliteFactory from 'dynalite';

type Dynalite = typeof dynaliteFactory;

export interface OpenDynalite {
  readonly listener: RequestListener;
  /** Closes the database (waiting for its pending operations). */
  close(): Promise<void>;
}

let loaded: Dynalite | undefined;

/**
 * dynalite, with its in-memory store (`--in-memory`) keeping keys and values as
 * `Uint8Array`s of their own (memory-level's `storeEncoding: 'view'`) instead of its
 * default Buffers. A small Buffer is a slice of a shared 8 KB pool, and a stored slice
 * keeps its whole slab alive: with the default, the store held ~6 KB of ArrayBuffers per
 * 1:1 message (its item, two index entries and the dedupe record) besides the ~1 KB of
 * data itself, which made the runtime's memory grow by ~7 KB per message. Same bytes,
 * same byte-wise key order (what DynamoDB sorts by); only the allocation differs.
 * On disk (`--data-dir`), LevelDB keeps the data and none of this applies.
 */
function loadDynalite(): Dynalite {
  if (loaded) return loaded;
  // The memory-level instance dynalite itself resolves, replaced before dynalite loads it.
  const requireFromDynalite = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const memoryLevel = requireFromDynalite('memory-level') as {
    MemoryLevel: new (options?: Record<string, unknown>) => object;
  };
  const { MemoryLevel } = memoryLevel;
  memoryLevel.MemoryLevel = class extends MemoryLevel {
    constructor(options?: Record<string, unknown>) {
      super({ storeEncoding: 'view', ...options });
    }
  };
  loaded = requireFromDynalite('dynalite') as Dynalite;
  return loaded;
}

/**
 * dynalite closes its LevelDB only through `server.close()`, which fails on a server that
 * never listened, so it also listens on an ephemeral loopback port nobody uses; closing
 * then releases the database, and a restart in the same process can open the same
 * directory again.
 */
export async function openDynalite(dataDir: string | undefined): Promise<OpenDynalite> {
  const server: Server = loadDynalite()({
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
  const inFlight = new Set<Promise<void>>();
  return {
    listener: (request, response) => {
      const answered = untilAnswered(request, response);
      inFlight.add(answered);
      void answered.then(() => inFlight.delete(answered));
      listener(request, response);
    },
    close: async () => {
      // A request dynalite is still working on would meet a closed database, and dynalite
      // throws that outside the request (an uncaught error in the runtime's process).
      await Promise.race([Promise.all(inFlight), delay(CLOSE_WAIT_MS, undefined, { ref: false })]);
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** How long `close` waits for the requests dynalite is working on. */
const CLOSE_WAIT_MS = 5_000;

/**
 * Resolves when dynalite has answered the request (it calls `end`, even on a socket that
 * is gone) or when the request never arrived whole (dynalite never starts on it).
 */
function untilAnswered(request: IncomingMessage, response: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
    response.end = ((...args: unknown[]) => {
      resolve();
      return end(...args);
    }) as ServerResponse['end'];
    request.once('close', () => {
      if (!request.complete) resolve();
    });
  });
}
