/**
 * Wiring (see functions/runtime/container.ts and functions/runtime/app-events.ts): where
 * application events go. EVENT_BUS_NAME: EventBridge (the stack sets it, with the grant,
 * on the functions with `publishesEvents` in lib/function-specs.ts); EVENTS_WEBHOOK_URL:
 * a JSON POST per event (local runtime). Only those functions import this module, so only
 * they carry the EventBridge client; and they import it (`import()`) with the first batch
 * they send, so a cold start that publishes nothing does not evaluate it.
 */
import type { EventSink } from '../../core/events/event-batches.ts';
import { provideEventSink } from '../app-events.ts';
import { WebhookSink } from '../event-webhook-sink.ts';

/** The EventBridge sink of `busName`, its client built on the first send. */
function eventBridgeOnFirstSend(busName: string): EventSink {
  let sink: Promise<EventSink> | undefined;
  return {
    async send(events) {
      sink ??= import('../event-bridge-sink.ts').then(
        ({ EventBridgeSink, eventBridgeClient }) => new EventBridgeSink(eventBridgeClient(), busName),
      );
      return (await sink).send(events);
    },
  };
}

provideEventSink((config) => {
  const { events } = config;
  if (events.busName) return eventBridgeOnFirstSend(events.busName);
  if (events.webhookUrl) return new WebhookSink(events.webhookUrl, events.region);
  return undefined;
});
