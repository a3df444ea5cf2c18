/**
 * Sends one invocation's events through a sink (EventBridge PutEvents, or a webhook
 * locally): in requests of at most `maxEntries` entries and `maxRequestBytes` bytes, all
 * requests of a round in parallel, so a handler waits for one request's time when nothing
 * fails. Entries that fail retryably (throttling, internal errors) are sent again, with
 * jittered exponential backoff, at most `attempts` rounds in all; the rest are given up and
 * reported to the caller, which counts them. Never throws.
 */
import { APP_EVENT_SOURCE, type AppEvent } from './app-events.ts';

/** PutEvents: at most 10 entries per request. */
export const MAX_ENTRIES_PER_REQUEST = 10;
/** PutEvents: the entries of one request add up to at most 256 KB (as EventBridge sizes them). */
export const MAX_REQUEST_BYTES = 256 * 1024;

export interface EntryFailure {
  /** Index into the entries of that one request. */
  readonly index: number;
  /** EventBridge's ErrorCode (ThrottlingException, InternalFailure…), an exception name, or an HTTP status. */
  readonly code: string;
  readonly retryable: boolean;
}

export interface EventSink {
  /**
   * Sends one request's entries; resolves with the entries that failed (none: all sent).
   * A failure of the whole request is reported for every entry, not thrown.
   */
  send(events: readonly AppEvent[]): Promise<readonly EntryFailure[]>;
}

export interface PublishSettings {
  /** Rounds in all, the first included. @default 3 */
  readonly attempts?: number;
  /** Backoff before round n+1: a random delay up to base × 2^(n−1). @default 50 */
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface GivenUp {
  readonly event: AppEvent;
  readonly code: string;
}

export interface PublishOutcome {
  readonly published: number;
  /** Requests sent, retries included. */
  readonly requests: number;
  readonly givenUp: readonly GivenUp[];
}

export const DEFAULT_PUBLISH_ATTEMPTS = 3;
export const DEFAULT_PUBLISH_BASE_DELAY_MS = 50;

/**
 * An entry's size as EventBridge counts it toward the 256 KB: UTF-8 bytes of Source,
 * DetailType and Detail, plus 14 bytes for Time.
 */
export function entrySize(event: AppEvent): number {
  return 14 + utf8Bytes(APP_EVENT_SOURCE) + utf8Bytes(event.type) + utf8Bytes(JSON.stringify(event.detail));
}

const encoder = new TextEncoder();
const utf8Bytes = (text: string) => encoder.encode(text).length;

/** Splits `events` into requests of at most `maxEntries` entries and `maxBytes` bytes, in order. */
export function requestsOf(
  events: readonly AppEvent[],
  maxEntries = MAX_ENTRIES_PER_REQUEST,
  maxBytes = MAX_REQUEST_BYTES,
): AppEvent[][] {
  const requests: AppEvent[][] = [];
  let current: AppEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = entrySize(event);
    if (current.length > 0 && (current.length >= maxEntries || bytes + size > maxBytes)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function publishEvents(
  sink: EventSink,
  events: readonly AppEvent[],
  settings: PublishSettings = {},
): Promise<PublishOutcome> {
  const attempts = Math.max(1, settings.attempts ?? DEFAULT_PUBLISH_ATTEMPTS);
  const baseDelayMs = settings.baseDelayMs ?? DEFAULT_PUBLISH_BASE_DELAY_MS;
  const sleep = settings.sleep ?? realSleep;
  const random = settings.random ?? Math.random;
  const givenUp: GivenUp[] = [];
  // An entry EventBridge can never take is given up at once.
  let pending = events.filter((event) => {
    if (entrySize(event) <= MAX_REQUEST_BYTES) return true;
    givenUp.push({ event, code: 'EntryTooLarge' });
    return false;
  });
  let published = 0;
  let requests = 0;
  for (let round = 1; pending.length > 0; round++) {
    const batches = requestsOf(pending);
    requests += batches.length;
    const failures = await Promise.all(batches.map((batch) => sendSafely(sink, batch)));
    const retry: AppEvent[] = [];
    const lastRound = round >= attempts;
    batches.forEach((batch, b) => {
      const failed = failures[b] ?? [];
      published += batch.length - failed.length;
      for (const failure of failed) {
        const event = batch[failure.index];
        if (!event) continue;
        if (failure.retryable && !lastRound) retry.push(event);
        else givenUp.push({ event, code: failure.code });
      }
    });
    pending = retry;
    if (pending.length > 0) await sleep(Math.floor(random() * baseDelayMs * 2 ** (round - 1)));
  }
  return { published, requests, givenUp };
}

/** A sink that throws (it should not) fails its whole request, retryably. */
async function sendSafely(sink: EventSink, batch: readonly AppEvent[]): Promise<readonly EntryFailure[]> {
  try {
    const failures = await sink.send(batch);
    // Deduplicated: one failure per entry.
    const byIndex = new Map(failures.map((failure) => [failure.index, failure]));
    return [...byIndex.values()].filter((failure) => failure.index >= 0 && failure.index < batch.length);
  } catch (error) {
    const code = error instanceof Error ? error.name : 'Error';
    return batch.map((_, index) => ({ index, code, retryable: true }));
  }
}
