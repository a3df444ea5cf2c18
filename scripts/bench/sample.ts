/**
 * Section `sample`: side by side with AWS's simple-websockets-chat-app, whose every
 * message Scans its connections table and posts to every connection (rewritten from its
 * description in scripts/bench/aws-sample.ts, mounted on route `sample_sendmessage` of the
 * same local runtime, same dynalite, counted by the same host: host.ts).
 *
 * At each scale N, N real sockets are open (users `s{i}`, `s0` an admin), registered by
 * our `$connect` in our tables and, with the same connection ids, in the sample's table:
 * the rows its `$connect` would write ({ connectionId }), written directly (its connect
 * handler is not run). Then, interleaved, each repetition sends:
 * - our 1:1: `send_message` from `s1` to `s2` (one device);
 * - the sample's message from `s1`: Scan + PostToConnection to all N (every one a real
 *   socket, so none answers 410 and nothing is deleted);
 * - our broadcast from `s0` to all N.
 * Wall time: the frame sent → the last expected push received.
 */
import { loadavg } from 'node:os';
import { SAMPLE_ROUTE } from './aws-sample.ts';
import { ClientPool } from './clients.ts';
import { Host } from './host-client.ts';
import { round, sampleLoad } from './machine.ts';
import { measureEvent, type OperationRun, runOperation, summarize } from './operations.ts';
import type { SamplePoint, SampleSection } from './types.ts';

export interface SampleOptions {
  /** Connections, ascending; sockets are added between scales. */
  readonly scales: readonly number[];
  readonly repetitions: number;
  readonly connectConcurrency: number;
  readonly log: (line: string) => void;
}

let sampleCounter = 0;

export async function runSampleSection(options: SampleOptions): Promise<SampleSection> {
  const startedAt = performance.now();
  const { log } = options;
  const scales = [...options.scales].sort((a, b) => a - b);
  const host = await Host.start({}, { awsSample: true });
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const points: SamplePoint[] = [];
  try {
    for (const scale of scales) {
      const loadAtStart = round(loadavg()[0] ?? 0, 2);
      const stopSampling = sampleLoad();
      const from = pool.size;
      const rampStarted = performance.now();
      if (scale > from) {
        log(`  opening connections ${from}..${scale - 1}`);
        const opened = await pool.open(
          Array.from({ length: scale - from }, (_, i) => ({
            userId: `s${from + i}`,
            ...(from + i === 0 ? { role: 'admin' } : {}),
          })),
          options.connectConcurrency,
        );
        await host.seedSample(opened.map((index) => pool.connectionIdOf(index)));
        await host.quiesce(500, 120_000);
      }
      const rampSeconds = round((performance.now() - rampStarted) / 1000, 1);
      const direct: OperationRun[] = [];
      const sample: OperationRun[] = [];
      const broadcast: OperationRun[] = [];
      for (let i = 0; i < options.repetitions; i++) {
        direct.push(
          await runOperation({
            pool,
            host,
            from: 1,
            cmd: 'send_message',
            data: (marker) => ({ to_user_id: 's2', content: marker }),
            expectedPushes: 1,
          }),
        );
        const marker = `bench-sample-${process.pid}-${++sampleCounter}`;
        sample.push(
          await measureEvent({
            pool,
            host,
            what: SAMPLE_ROUTE,
            act: async () => pool.send(1, { cmd: SAMPLE_ROUTE, data: marker }),
            isPush: (text) => text.includes(marker),
            expectedPushes: scale,
            timeoutMs: 300_000,
          }),
        );
        broadcast.push(
          await runOperation({
            pool,
            host,
            from: 0,
            cmd: 'broadcast',
            data: (marker) => ({ message: marker }),
            expectedPushes: scale,
            timeoutMs: 300_000,
          }),
        );
        const ms = (runs: OperationRun[]) => `${round(runs.at(-1)?.deliveredMs ?? Number.NaN, 0)} ms`;
        log(
          `  ${scale}: 1:1 ${ms(direct)}, sample ${ms(sample)} (${sample.at(-1)?.delivered} delivered), ` +
            `broadcast ${ms(broadcast)} (${broadcast.at(-1)?.delivered} delivered)`,
        );
      }
      const describe = (operation: string, label: string, recipients: number) => ({
        operation,
        label,
        background: scale,
        registeredConnections: scale,
        recipients,
      });
      const wallRuns = (runs: OperationRun[]) => runs.map((run) => round(run.deliveredMs, 1));
      points.push({
        connections: scale,
        rampSeconds,
        direct: summarize(direct, describe('direct', '1:1 (ours), one device', 1)),
        sample: summarize(
          sample,
          describe('aws-sample', "the sample's sendmessage (Scan + post to all)", scale),
        ),
        broadcast: summarize(broadcast, describe('broadcast', 'broadcast (ours)', scale)),
        wallMsRuns: { direct: wallRuns(direct), sample: wallRuns(sample), broadcast: wallRuns(broadcast) },
        delivered: {
          sample: Math.min(...sample.map((run) => run.delivered)),
          broadcast: Math.min(...broadcast.map((run) => run.delivered)),
        },
        load: { atStart: loadAtStart, max: stopSampling() },
      });
    }
    return {
      scales,
      repetitions: options.repetitions,
      points,
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
