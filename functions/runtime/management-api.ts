/** The Management API (`@connections`) behind the ConnectionNotifier and ConnectionCloser ports. */
import type { ConnectionCloser } from '../core/connections/sessions.ts';
import { type ConnectionNotifier, DeliveryError, type DeliveryFailure } from '../core/shared/ports.ts';
import type { ManagementApiRequests } from './management-api-client.ts';

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * SDK v3 errors carry no `statusCode`: classify by exception name and `$metadata` (by name,
 * not `instanceof GoneException`, so that this module does not import the client).
 */
export function classifyDeliveryError(error: unknown): DeliveryFailure {
  if ((error as { name?: unknown } | undefined)?.name === 'GoneException') return 'gone';
  const status = statusOf(error);
  if (status === 410) return 'gone';
  if (status === 429 || (status !== undefined && status >= 500)) return 'retryable';
  if (status === undefined) return 'retryable'; // network fault, timeout
  return 'permanent';
}

/**
 * Posts (`POST`), checks (`GET`) and closes (`DELETE`) connections. The SDK client is
 * imported on the first request (management-api-client.ts, a chunk of its own in the bundles).
 */
export class ManagementApiNotifier implements ConnectionNotifier, ConnectionCloser {
  #requests: Promise<ManagementApiRequests> | undefined;

  constructor(
    readonly endpoint: string,
    readonly maxSockets: number,
  ) {}

  private requests(): Promise<ManagementApiRequests> {
    this.#requests ??= import('./management-api-client.ts').then(
      (module) => module.managementApiRequests(this.endpoint, this.maxSockets),
      (error: unknown) => {
        // Tried again by the next request rather than failing every one after.
        this.#requests = undefined;
        throw error;
      },
    );
    return this.#requests;
  }

  async post(connectionId: string, frame: string): Promise<void> {
    try {
      await (await this.requests()).post(connectionId, frame);
    } catch (error) {
      const kind = classifyDeliveryError(error);
      throw new DeliveryError(kind, `post to connection failed (${kind})`, { cause: error });
    }
  }

  /** True when the connection is open; false on 410. */
  async isOpen(connectionId: string): Promise<boolean> {
    const requests = await this.requests();
    return unlessGone(() => requests.get(connectionId));
  }

  /** Closes the connection (`DELETE @connections/{id}`); false when it was already gone (410). */
  async close(connectionId: string): Promise<boolean> {
    const requests = await this.requests();
    return unlessGone(() => requests.delete(connectionId));
  }
}

/** True when `request` succeeds, false when it answers 410; other failures are thrown. */
async function unlessGone(request: () => Promise<unknown>): Promise<boolean> {
  try {
    await request();
    return true;
  } catch (error) {
    if (classifyDeliveryError(error) === 'gone') return false;
    throw error;
  }
}
