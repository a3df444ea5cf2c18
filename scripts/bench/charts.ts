/**
 * The report's charts, as SVG: Vega-Lite specifications compiled to Vega and rendered
 * headless with `view.toSVG()` (no canvas, no browser).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { FanOutSection, LatencySection } from './types.ts';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const config = {
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 0 },
  title: { fontSize: 14 },
} as const;

/** Broadcast wall time against audience size, with the target as a dashed rule. */
export function fanOutChart(fanout: FanOutSection, targetSeconds: number, targetConnections: number) {
  const values = fanout.points.flatMap((point) => [
    { connections: point.connections, seconds: point.wallMs / 1000, series: 'last recipient' },
    { connections: point.connections, seconds: point.replyMs / 1000, series: 'broadcast_sent reply' },
  ]);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Broadcast fan-out through the local runtime (real sockets)',
    width: 520,
    height: 300,
    config,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'connections',
            type: 'quantitative',
            scale: { type: 'log' },
            title: 'connected clients (log scale)',
            axis: { format: ',d' },
          },
          y: { field: 'seconds', type: 'quantitative', title: 'seconds' },
          color: { field: 'series', type: 'nominal', title: 'send →', legend: { orient: 'top-left' } },
        },
      },
      {
        data: {
          values: [
            {
              seconds: targetSeconds,
              label: `target: ${targetConnections.toLocaleString('en-US')} in ≤ ${targetSeconds} s`,
            },
          ],
        },
        layer: [
          {
            mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' },
            encoding: { y: { field: 'seconds', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#c0392b' },
            encoding: {
              y: { field: 'seconds', type: 'quantitative' },
              x: { value: 0 },
              text: { field: 'label' },
            },
          },
        ],
      },
    ],
  };
  return renderSvg(spec);
}

/** 1:1 latency percentiles against the send rate, with the p99 limit as a dashed rule. */
export function latencyChart(latency: LatencySection) {
  const values = latency.points.flatMap((point) =>
    (['p50', 'p95', 'p99'] as const).map((percentile) => ({
      rate: point.rate,
      ms: point[percentile],
      percentile,
    })),
  );
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `1:1 end-to-end latency, ${latency.connections.toLocaleString('en-US')} connected clients (local runtime)`,
    width: 520,
    height: 300,
    config,
    layer: [
      {
        data: { values },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'rate', type: 'quantitative', title: 'messages per second', axis: { format: ',d' } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency, ms (log scale)' },
          color: { field: 'percentile', type: 'nominal', title: null, legend: { orient: 'top-left' } },
        },
      },
      {
        data: { values: [{ ms: latency.p99LimitMs, label: `p99 limit ${latency.p99LimitMs} ms` }] },
        layer: [
          {
            mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' },
            encoding: { y: { field: 'ms', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', align: 'right', dy: -6, color: '#c0392b' },
            encoding: {
              y: { field: 'ms', type: 'quantitative' },
              x: { value: 520 },
              text: { field: 'label' },
            },
          },
        ],
      },
    ],
  };
  return renderSvg(spec);
}
