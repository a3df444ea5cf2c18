/**
 * One invocation's application events (functions/core/events/app-events.ts): core code
 * publishes into `invocationEvents` while the handler runs; `withAppEvents`, around the
 * handler, sends them in one batch when it is done — after every change they report was
 * stored, before Lambda freezes the container. Sending never throws and never changes the
 * reply: what still fails after the retries is logged and counted (EventsNotPublished).
 *
 * The sink is chosen by configuration, never by asking where the code runs: EVENT_BUS_NAME
 * (EventBridge, set by the stack) or EVENTS_WEBHOOK_URL (a JSON POST per event, set for
 * the local runtime). The sinks are registered by functions/runtime/wiring/app-events.ts,
 * which only the functions that publish import (`publishesEvents` in lib/function-specs.ts),
 * so the others neither collect nor carry the EventBridge client.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AppEvent, EventPublisher } from '../core/events/app-events.ts';
import { type EventSink, type PublishSettings, publishEvents } from '../core/events/event-batches.ts';
import type { ChatConfig } from './config.ts';
import { getServices } from './container.ts';
import { containerKey } from './container-key.ts';
import { log } from './logger.ts';
import { countMetric, Metric } from './metrics.ts';

const batches = new AsyncLocalStorage<AppEvent[]>();

/** The publisher core services get: records into the running invocation's batch, if any. */
export const invocationEvents: EventPublisher = {
  publish(event) {
    batches.getStore()?.push(event);
  },
  // `withAppEvents` collects only when a sink is configured.
  collecting: () => batches.getStore() !== undefined,
};

/** Builds the configured sink; undefined when no events are configured. */
export type EventSinkFactory = (config: ChatConfig) => EventSink | undefined;

let sinkFactory: EventSinkFactory | undefined;
const sinks = new Map<string, EventSink | undefined>();
let publishSettings: PublishSettings = {};

/** Called by wiring/app-events.ts when imported. */
export function provideEventSink(factory: EventSinkFactory): void {
  sinkFactory = factory;
  sinks.clear();
}

/** Tests: the backoff's sleep and jitter, the attempts. */
export function setPublishSettings(settings: PublishSettings): void {
  publishSettings = settings;
}

function configuredSink(): EventSink | undefined {
  if (!sinkFactory) return undefined;
  const key = containerKey();
  if (!sinks.has(key)) {
    let sink: EventSink | undefined;
    try {
      sink = sinkFactory(getServices().config);
    } catch (error) {
      // A configuration error is the handler's to report; events stay off.
      log('error', 'application events are not configured correctly; none are sent', { error });
    }
    sinks.set(key, sink);
  }
  return sinks.get(key);
}

/** Runs one invocation, then sends the events it published (see the module comment). */
export async function withAppEvents<T>(run: () => Promise<T>): Promise<T> {
  const sink = configuredSink();
  if (!sink) return run();
  const events: AppEvent[] = [];
  try {
    return await batches.run(events, run);
  } finally {
    if (events.length > 0) await sendEvents(sink, events);
  }
}

/** Sends `events`; logs and counts what could not be sent. Never throws. */
export async function sendEvents(sink: EventSink, events: readonly AppEvent[]): Promise<void> {
  try {
    const outcome = await publishEvents(sink, events, publishSettings);
    if (outcome.givenUp.length === 0) return;
    countMetric(Metric.eventsNotPublished, undefined, outcome.givenUp.length);
    log('error', 'application events not published', {
      count: outcome.givenUp.length,
      // Types and error codes only: details hold message content.
      events: outcome.givenUp.map(({ event, code }) => ({ type: event.type, code })),
    });
  } catch (error) {
    countMetric(Metric.eventsNotPublished, undefined, events.length);
    log('error', 'application events not published', { count: events.length, error });
  }
}
