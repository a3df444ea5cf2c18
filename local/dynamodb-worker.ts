/**
 * The embedded DynamoDB's own thread: dynalite (request validation, expression parsing,
 * its LevelDB or in-memory store, the JSON of its answers) runs here, so it uses another
 * core than the runtime's thread, which runs the gateway, the emulated APIs and the
 * handlers. The runtime's HTTP server still receives every DynamoDB request on its one
 * port (and may throttle it, see faults.ts); it passes method, URL, the headers dynalite reads
 * (dynamodb.ts) and body here and writes back the status, headers and body dynalite
 * produced, byte for byte.
 *
 * dynalite's request listener is called with a minimal request (an EventEmitter with
 * `method`, `url`, `headers`, one `data` chunk and `end`) and response (`statusCode`,
 * `setHeader`, `end`): all it uses of Node's objects.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDynalite } from './dynamodb-dynalite.ts';

export interface DynamoDbWorkerData {
  /** LevelDB directory; in memory when undefined. */
  readonly dataDir: string | undefined;
}

export type ToDynamoDbWorker =
  | {
      readonly type: 'request';
      readonly id: number;
      readonly method: string;
      readonly url: string;
      readonly headers: IncomingHttpHeaders;
      /** The body as UTF-8 text (dynalite reads it as such). */
      readonly body: string;
    }
  | { readonly type: 'close' };

export type FromDynamoDbWorker =
  | { readonly type: 'ready' }
  | {
      readonly type: 'response';
      readonly id: number;
      readonly status: number;
      /** Header names as dynalite set them, in the order it set them. */
      readonly headers: Record<string, OutgoingHttpHeader>;
      readonly body: string | Uint8Array;
    }
  | { readonly type: 'closed'; readonly error?: string };

class WorkerRequest extends EventEmitter {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super();
  }
}

class WorkerResponse {
  statusCode = 200;
  /** dynalite keeps the content type it answers with on the response object. */
  contentType: string | undefined;
  /** Lowercased name → [name as set, value], as Node's ServerResponse keeps them. */
  private readonly headers = new Map<string, [string, OutgoingHttpHeader]>();

  constructor(private readonly finish: (response: WorkerResponse, body: string | Uint8Array) => void) {}

  setHeader(name: string, value: OutgoingHttpHeader): this {
    this.headers.set(name.toLowerCase(), [name, value]);
    return this;
  }

  getHeader(name: string): OutgoingHttpHeader | undefined {
    return this.headers.get(name.toLowerCase())?.[1];
  }

  end(body?: string | Uint8Array): void {
    this.finish(this, body ?? '');
  }

  headerRecord(): Record<string, OutgoingHttpHeader> {
    const record: Record<string, OutgoingHttpHeader> = {};
    for (const [name, value] of this.headers.values()) record[name] = value;
    return record;
  }
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const send = (message: FromDynamoDbWorker) => port.postMessage(message);
  const { dataDir } = workerData as DynamoDbWorkerData;
  const { listener, close } = await openDynalite(dataDir);

  port.on('message', (message: ToDynamoDbWorker) => {
    if (message.type === 'close') {
      close().then(
        () => send({ type: 'closed' }),
        (error: unknown) =>
          send({ type: 'closed', error: error instanceof Error ? error.message : String(error) }),
      );
      return;
    }
    const { id, method, url, headers, body } = message;
    const req = new WorkerRequest(method, url, headers);
    const res = new WorkerResponse((response, responseBody) =>
      send({
        type: 'response',
        id,
        status: response.statusCode,
        headers: response.headerRecord(),
        // A Buffer may be a view of a larger pool: copy just its bytes.
        body: typeof responseBody === 'string' ? responseBody : Uint8Array.from(responseBody),
      }),
    );
    listener(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    if (body.length > 0) req.emit('data', Buffer.from(body, 'utf8'));
    req.emit('end');
  });
  send({ type: 'ready' });
}

if (!isMainThread) await serve();
