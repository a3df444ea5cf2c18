/**
 * The webhook sink of application events (functions/runtime/app-events.ts), chosen by
 * EVENTS_WEBHOOK_URL (the local runtime's stand-in for an EventBridge bus): each event is
 * POSTed as JSON in the envelope an EventBridge rule's target receives — `version`, `id`,
 * `detail-type`, `source`, `account`, `time` (whole seconds, as EventBridge writes it),
 * `region`, `resources` and `detail` — so a receiver written for one works with the other.
 * A network error, 429 or 5xx is retried like a throttled entry; another status is not.
 */
import { randomUUID } from 'node:crypto';
import { APP_EVENT_SOURCE, type AppEvent } from '../core/events/app-events.ts';
import type { EntryFailure, EventSink } from '../core/events/event-batches.ts';

/** The account the local runtime reports (local/events.ts uses the same). */
export const WEBHOOK_ACCOUNT_ID = '000000000000';
const TIMEOUT_MS = 2_000;

export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/** `2026-12-03T12:14:05Z`: EventBridge's `time` has no fraction of a second. */
export function envelopeTime(iso: string): string {
  const date = new Date(iso);
  return `${(Number.isNaN(date.getTime()) ? new Date() : date).toISOString().slice(0, 19)}Z`;
}

export function envelopeOf(event: AppEvent, region: string, id: string = randomUUID()): EventEnvelope {
  return {
    version: '0',
    id,
    'detail-type': event.type,
    source: APP_EVENT_SOURCE,
    account: WEBHOOK_ACCOUNT_ID,
    time: envelopeTime(event.time),
    region,
    resources: [],
    detail: event.detail,
  };
}

export class WebhookSink implements EventSink {
  /** One id per event, kept across retries so a receiver can drop a repeat. */
  private readonly ids = new WeakMap<AppEvent, string>();

  constructor(
    private readonly url: string,
    private readonly region: string,
  ) {}

  async send(events: readonly AppEvent[]): Promise<readonly EntryFailure[]> {
    const outcomes = await Promise.all(events.map((event) => this.post(event)));
    return outcomes.flatMap((failure, index) => (failure ? [{ ...failure, index }] : []));
  }

  private idOf(event: AppEvent): string {
    let id = this.ids.get(event);
    if (!id) {
      id = randomUUID();
      this.ids.set(event, id);
    }
    return id;
  }

  private async post(event: AppEvent): Promise<Omit<EntryFailure, 'index'> | undefined> {
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelopeOf(event, this.region, this.idOf(event))),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return undefined;
      const status = response.status;
      return { code: `HTTP ${status}`, retryable: status === 429 || status >= 500 };
    } catch (error) {
      return { code: error instanceof Error ? error.name : 'Error', retryable: true };
    }
  }
}
