/**
 * Custom metrics as CloudWatch Embedded Metric Format (EMF): one JSON log line per event,
 * which CloudWatch Logs turns into metrics in `METRICS_NAMESPACE` (default `ChatBackend`),
 * dimension `Function` (`AWS_LAMBDA_FUNCTION_NAME`, else `local`), plus any event
 * dimensions (e.g. `Kind`). No SDK call, no batching to lose on a crash: each event is
 * written when it happens. Values are counts and ids only — never tokens or content.
 *
 * `METRICS_FORMAT`: `emf` (default), `text` (one compact `METRIC name=value …` line, what
 * the local runtime sets) or `off`.
 */

import type { FanOutResult } from '../core/fan-out/fan-out.ts';
import { ErrorCode, type ErrorCodeValue } from '../core/shared/errors.ts';
import { logContext, writeLine } from './logger.ts';

export const DEFAULT_METRICS_NAMESPACE = 'ChatBackend';

export type MetricsFormat = 'emf' | 'text' | 'off';

/** The metric names this backend emits (all `Count`). */
export const Metric = {
  /** A message stored (dimension `Kind`: direct, group, room). */
  messagesStored: 'MessagesStored',
  /** A `client_msg_id` replay answered with the first message, nothing stored (dimension `Kind`). */
  messagesDuplicate: 'MessagesDuplicate',
  /** Recipients (connections) of one fan-out. */
  fanOutSize: 'FanOutSize',
  fanOutDelivered: 'FanOutDelivered',
  fanOutFailed: 'FanOutFailed',
  /** Connections of a fan-out that answered 410 Gone, whose rows were then cleaned up. */
  fanOutGone: 'FanOutGone',
  /** Connections a handler handed to fan-out workers (a broadcast's: estimated from the online counter). */
  fanOutQueued: 'FanOutQueued',
  /** Connections whose fan-out job Lambda refused (nobody posts to them): should stay 0. */
  fanOutNotQueued: 'FanOutNotQueued',
  /** Commands refused by the rate limit (1029). */
  rateLimited: 'RateLimited',
  /** Commands refused by the content filter (10007, 3008). */
  contentBlocked: 'ContentBlocked',
  connectAccepted: 'ConnectAccepted',
  /** Handshakes refused (dimension `Reason`: origin, token, limit). */
  connectRefused: 'ConnectRefused',
  /** Connections closed because their token had expired. */
  tokenExpiredCloses: 'TokenExpiredCloses',
  /** Application events given up after the retries (EventBridge or the webhook failing): should stay 0. */
  eventsNotPublished: 'EventsNotPublished',
} as const;

export interface MetricEvent {
  /** Metric name → value (unit `Count`). */
  readonly values: Readonly<Record<string, number>>;
  /** Extra dimensions besides `Function`, with low-cardinality values. */
  readonly dimensions?: Readonly<Record<string, string>>;
}

export function metricsFormat(env: NodeJS.ProcessEnv = process.env): MetricsFormat {
  const format = env.METRICS_FORMAT?.trim().toLowerCase();
  return format === 'text' || format === 'off' ? format : 'emf';
}

export interface EmfOptions {
  readonly namespace: string;
  readonly functionName: string;
  readonly timestamp: number;
  /** Extra properties (ids for Logs Insights); never dimensions, never metric names. */
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** The EMF document for one event. */
export function emfDocument(event: MetricEvent, options: EmfOptions): Record<string, unknown> {
  const dimensions = { Function: options.functionName, ...event.dimensions };
  return {
    ...options.properties,
    _aws: {
      Timestamp: options.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: options.namespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.keys(event.values).map((name) => ({ Name: name, Unit: 'Count' })),
        },
      ],
    },
    ...dimensions,
    ...event.values,
  };
}

/** The compact line of `METRICS_FORMAT=text`: `METRIC FanOutSize=2 FanOutDelivered=2 Kind=direct`. */
export function textLine(event: MetricEvent): string {
  const pairs = [...Object.entries(event.values), ...Object.entries(event.dimensions ?? {})];
  return `METRIC ${pairs.map(([name, value]) => `${name}=${value}`).join(' ')}`;
}

/** Writes one event now, in the configured format. */
export function emitMetrics(event: MetricEvent): void {
  if (Object.keys(event.values).length === 0) return;
  const format = metricsFormat();
  if (format === 'off') return;
  if (format === 'text') {
    writeLine(textLine(event));
    return;
  }
  const document = emfDocument(event, {
    namespace: process.env.METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME || 'local',
    timestamp: Date.now(),
    properties: logContext(),
  });
  writeLine(JSON.stringify(document));
}

export function countMetric(name: string, dimensions?: Readonly<Record<string, string>>, value = 1): void {
  emitMetrics({ values: { [name]: value }, ...(dimensions ? { dimensions } : {}) });
}

export type MessageKind = 'direct' | 'group' | 'room';

/** A send command's outcome: stored, or a duplicate answered with the first message. */
export function recordMessage(kind: MessageKind, result: { readonly duplicate?: true }): void {
  countMetric(result.duplicate ? Metric.messagesDuplicate : Metric.messagesStored, { Kind: kind });
}

/** One fan-out: its size and delivered / failed / gone (410, cleaned up) counts. */
export function recordFanOut(result: FanOutResult, size: number): void {
  emitMetrics({
    values: {
      [Metric.fanOutSize]: size,
      [Metric.fanOutDelivered]: result.delivered,
      [Metric.fanOutFailed]: result.failed.length,
      [Metric.fanOutGone]: result.gone,
    },
  });
}

/** What one dispatch handed to fan-out workers (the workers record their own FanOutSize etc.). */
export function recordFanOutDispatch(outcome: { readonly queued: number; readonly notQueued: number }): void {
  emitMetrics({
    values: {
      [Metric.fanOutQueued]: outcome.queued,
      ...(outcome.notQueued > 0 ? { [Metric.fanOutNotQueued]: outcome.notQueued } : {}),
    },
  });
}

/** Refusals worth a metric: the rate limit (1029) and blocked content (10007, 3008). */
export function recordRefusal(code: ErrorCodeValue): void {
  if (code === ErrorCode.rateLimited) countMetric(Metric.rateLimited);
  else if (code === ErrorCode.contentBlocked || code === ErrorCode.groupContentBlocked)
    countMetric(Metric.contentBlocked);
}
