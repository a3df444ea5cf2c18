/**
 * Wiring (see functions/runtime/container.ts and functions/runtime/app-events.ts): where
 * application events go. EVENT_BUS_NAME: EventBridge (the stack sets it, with the grant,
 * on the functions with `publishesEvents` in lib/function-specs.ts); EVENTS_WEBHOOK_URL:
 * a JSON POST per event (local runtime). Only those functions import this module, so only
 * they carry the EventBridge client.
 */
import { provideEventSink } from '../app-events.ts';
import { EventBridgeSink, eventBridgeClient } from '../event-bridge-sink.ts';
import { WebhookSink } from '../event-webhook-sink.ts';

provideEventSink((config) => {
  const { events } = config;
  if (events.busName) return new EventBridgeSink(eventBridgeClient(), events.busName);
  if (events.webhookUrl) return new WebhookSink(events.webhookUrl, events.region);
  return undefined;
});
