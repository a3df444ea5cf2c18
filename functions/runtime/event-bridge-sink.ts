/**
 * The EventBridge sink of application events (functions/runtime/app-events.ts): one
 * PutEvents request per batch (functions/core/events/event-batches.ts decides the batches
 * and retries). PutEvents answers 200 even when some entries failed: those carry an
 * ErrorCode (FailedEntryCount > 0), and are reported by index for a retry.
 */
import { Agent as HttpsAgent } from 'node:https';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { APP_EVENT_SOURCE, type AppEvent } from '../core/events/app-events.ts';
import type { EntryFailure, EventSink } from '../core/events/event-batches.ts';
import { containerKey } from './container-key.ts';
import { traced } from './tracing.ts';

/** What this sink needs of an EventBridgeClient (unit tests of the error paths replace it). */
export interface PutEventsClient {
  send(command: PutEventsCommand): Promise<Pick<PutEventsCommandOutput, 'Entries' | 'FailedEntryCount'>>;
}

/** Entry and request errors worth another try; any other (AccessDenied, a missing bus, a malformed entry) is not. */
const RETRYABLE = /Throttl|InternalFailure|InternalException|ServiceUnavailable|TimeoutError|RequestTimeout/;

function retryable(code: string, error?: { $fault?: string; $metadata?: unknown }): boolean {
  if (RETRYABLE.test(code)) return true;
  if (!error) return false;
  // A server fault, or no answer at all (network error: no response metadata).
  return error.$fault === 'server' || error.$metadata === undefined;
}

export class EventBridgeSink implements EventSink {
  constructor(
    private readonly client: PutEventsClient,
    private readonly busName: string,
  ) {}

  async send(events: readonly AppEvent[]): Promise<readonly EntryFailure[]> {
    let response: Pick<PutEventsCommandOutput, 'Entries' | 'FailedEntryCount'>;
    try {
      response = await this.client.send(
        new PutEventsCommand({
          Entries: events.map((event) => ({
            EventBusName: this.busName,
            Source: APP_EVENT_SOURCE,
            DetailType: event.type,
            Detail: JSON.stringify(event.detail),
            Time: new Date(event.time),
          })),
        }),
      );
    } catch (error) {
      const failure = error as { name?: string; $fault?: string; $metadata?: unknown };
      const code = failure.name ?? 'Error';
      const again = retryable(code, failure);
      return events.map((_, index) => ({ index, code, retryable: again }));
    }
    if (!response.FailedEntryCount) return [];
    const failures: EntryFailure[] = [];
    (response.Entries ?? []).forEach((entry, index) => {
      if (entry.ErrorCode) {
        failures.push({ index, code: entry.ErrorCode, retryable: retryable(entry.ErrorCode) });
      }
    });
    return failures;
  }
}

const clients = new Map<string, EventBridgeClient>();

/**
 * One client per container (containerKey). The SDK's own retries are off: the batch
 * retries failed entries itself, bounded, so a handler's reply waits for at most a few
 * short requests when EventBridge struggles (2 s timeout each).
 */
export function eventBridgeClient(): EventBridgeClient {
  const key = containerKey();
  let client = clients.get(key);
  if (!client) {
    client = traced(
      new EventBridgeClient({
        requestHandler: { httpsAgent: new HttpsAgent({ keepAlive: true }), requestTimeout: 2_000 },
        maxAttempts: 1,
      }),
    );
    clients.set(key, client);
  }
  return client;
}
