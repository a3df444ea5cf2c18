/**
 * `npm run soak -- --connections N --rate R --minutes M`: a load and soak run against the
 * local runtime. By default it spawns the runtime (`local/main.ts --in-memory --quiet
 * --handler-threads 2`, RATE_LIMIT_PER_MINUTE=0) as a child process so its memory and CPU
 * time can be sampled, opens N connections as N users, sends R private messages per second
 * between random pairs, then drains, waits for the runtime to settle (idle, nothing more
 * arriving) and prints sent, acknowledged, stored, delivered, late, duplicates, lost,
 * errors, latency percentiles, the runtime's CPU time per message and its peak RSS. Exits
 * 1 when anything was lost, duplicated or still pending. Loopback only: the runtime it
 * talks to is the one it started or `--url`.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import WebSocket from 'ws';
import { tableDefinitions } from '../lib/table-definitions.ts';
import { prng } from '../local/faults.ts';
import { ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ENV } from '../local/iam/credentials.ts';
import { mintToken } from '../local/tokens.ts';
import { commandLine } from './cli.ts';
import { cpuTimesMs, spawnLocalRuntime } from './runtime-process.ts';

const USAGE = `Usage: npm run soak -- [options]

Drives the local runtime with N connections (one user each) sending R private messages/s
for M minutes, then reports delivery, loss, duplicates, latency and the runtime's memory.

Options:
  --connections <n>    connections (= users) to open (default 100)
  --rate <r>           messages per second, all senders together (default 20)
  --minutes <m>        how long to send, after the ramp-up (default 0.5)
  --connect-concurrency <n>  handshakes in flight during the ramp-up (default 50)
  --drain-seconds <s>  longest wait for outstanding pushes after sending stops (default 60)
  --settle-seconds <s> then the longest wait for the runtime to go idle before counting losses (default 120)
  --url <ws://…>       use a runtime that is already running (loopback only) instead of spawning one
  --http <http://…>    its HTTP / DynamoDB endpoint (default: derived from --url)
  --spawn              spawn a runtime (the default unless --url is given)
  --handler-threads <n>  handler threads of a spawned runtime (default 2; 0 = handlers on its main thread)
  --seed <n>           seed for sender/recipient choice (default 1)
  --pid <pid>          with --url: the runtime's process id, for its CPU and memory figures
  --node-arg <arg>     extra node option for a spawned runtime, repeatable (e.g. --node-arg=--cpu-prof)
  -h, --help           shows this help

Environment: JWT_SECRET (tokens; the development secret otherwise). FAULT_* variables are
passed to a spawned runtime (see npm start -- --help).

Smoke:  npm run soak -- --connections 100 --rate 20 --minutes 0.5
Target: npm run soak -- --connections 2000 --rate 200 --minutes 5`;

interface Options {
  connections: number;
  rate: number;
  minutes: number;
  connectConcurrency: number;
  drainSeconds: number;
  settleSeconds: number;
  url?: string;
  http?: string;
  spawn: boolean;
  seed: number;
  nodeArgs: string[];
  handlerThreads: number;
  pid?: number;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(value > 0)) fail(`--${name} must be a positive number; got "${raw}".`);
  return value;
}

/** Two handler threads by default: with the runtime's main thread, they keep both cores of a small machine busy. */
function handlerThreads(raw: string | undefined): number {
  if (raw === undefined) return 2;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) fail(`--handler-threads must be a whole number; got "${raw}".`);
  return value;
}

function parseOptions(): Options {
  const { values } = commandLine(USAGE, {
    options: {
      connections: { type: 'string' },
      rate: { type: 'string' },
      minutes: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'drain-seconds': { type: 'string' },
      'settle-seconds': { type: 'string' },
      url: { type: 'string' },
      http: { type: 'string' },
      spawn: { type: 'boolean' },
      seed: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      pid: { type: 'string' },
      'handler-threads': { type: 'string' },
    },
  });
  const str = (name: keyof typeof values) =>
    typeof values[name] === 'string' ? (values[name] as string) : undefined;
  const url = str('url');
  for (const endpoint of [url, str('http')]) {
    if (
      endpoint &&
      !/^(?:ws|http)s?:\/\/(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:\/|$)/.test(endpoint)
    )
      fail(`Load runs target loopback addresses only; got ${endpoint}.`);
  }
  return {
    connections: Math.floor(positive('connections', str('connections'), 100)),
    rate: positive('rate', str('rate'), 20),
    minutes: positive('minutes', str('minutes'), 0.5),
    connectConcurrency: Math.floor(positive('connect-concurrency', str('connect-concurrency'), 50)),
    drainSeconds: positive('drain-seconds', str('drain-seconds'), 60),
    settleSeconds: positive('settle-seconds', str('settle-seconds'), 120),
    url,
    http: str('http'),
    spawn: values.spawn === true || url === undefined,
    seed: Math.floor(positive('seed', str('seed'), 1)),
    nodeArgs: (values['node-arg'] as string[] | undefined) ?? [],
    handlerThreads: handlerThreads(str('handler-threads')),
    ...(str('pid') ? { pid: Math.floor(positive('pid', str('pid'), 1)) } : {}),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** VmHWM (peak RSS) and VmRSS of a process, in MB, from /proc (Linux). */
function memoryOf(pid: number): { peakMb: number; rssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

interface Runtime {
  wsUrl: string;
  httpUrl: string;
  child?: ChildProcess;
  /** The secret of the runtime's admin credentials (LOCAL_ADMIN_SECRET), to read its tables. */
  adminSecret?: string;
}

/**
 * CPU time (ms) a process has used: user + system of all its threads, system alone, and
 * its main JavaScript thread alone (the task whose id is the pid), from /proc (Linux).
 */
function cpuOf(pid: number): { totalMs: number; systemMs: number; mainThreadMs: number } | undefined {
  try {
    const all = cpuTimesMs(`/proc/${pid}/stat`);
    const main = cpuTimesMs(`/proc/${pid}/task/${pid}/stat`);
    return {
      totalMs: all.userMs + all.systemMs,
      systemMs: all.systemMs,
      mainThreadMs: main.userMs + main.systemMs,
    };
  } catch {
    return undefined;
  }
}

/** What the sender's reply said about a message's push (`message_sent`: delivered, failed, queued). */
const Reply = { none: 0, posted: 1, postFailed: 2, queued: 3, noConnection: 4, error: 5 } as const;
const replyNames = ['noReply', 'posted', 'postFailed', 'queued', 'noConnection', 'errorReply'] as const;

function replyOf(
  data: { delivered?: unknown; failed?: unknown; queued?: unknown } | null | undefined,
): number {
  if (typeof data?.failed === 'number' && data.failed > 0) return Reply.postFailed;
  if (typeof data?.delivered === 'number' && data.delivered > 0) return Reply.posted;
  if (typeof data?.queued === 'number' && data.queued > 0) return Reply.queued;
  return Reply.noConnection;
}

/** At most this much runtime CPU (all threads) in a second counts as idle. */
const IDLE_CPU_MS_PER_SECOND = 30;
/** Seconds in a row the runtime must be idle, with no frame arriving, to count as settled. */
const SETTLED_AFTER_IDLE_SECONDS = 3;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const runtime: Runtime = options.spawn
    ? await spawnLocalRuntime({ nodeArgs: options.nodeArgs, handlerThreads: options.handlerThreads })
    : {
        wsUrl: options.url as string,
        httpUrl: options.http ?? (options.url as string).replace(/^ws/, 'http').replace(/\/$/, ''),
        // Set when that runtime was started with LOCAL_ADMIN_SECRET; else the table check is refused.
        adminSecret: process.env[ADMIN_SECRET_ENV],
      };
  const pid = runtime.child?.pid ?? options.pid;
  let runtimePeakSampledMb = 0;
  const sampleMemory = () => {
    const memory = pid ? memoryOf(pid) : undefined;
    if (memory) runtimePeakSampledMb = Math.max(runtimePeakSampledMb, memory.rssMb);
    return memory;
  };
  const stopRuntime = () => {
    if (runtime.child && runtime.child.exitCode === null) runtime.child.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stopRuntime();
    process.exit(130);
  });

  const N = options.connections;
  const totalToSend = Math.round(options.rate * options.minutes * 60);
  const secret = process.env.JWT_SECRET?.trim() || undefined;
  process.stdout.write(
    `soak: ${N} connections, ${options.rate} msg/s for ${options.minutes} min (${totalToSend} messages) against ${runtime.wsUrl}${pid ? ` (runtime pid ${pid})` : ''}${runtime.child ? `, ${options.handlerThreads} handler thread(s)` : ''}\n`,
  );

  // Per message (index = sequence number): when sent, acknowledged, how often received.
  const sentAt = new Float64Array(totalToSend);
  const recipientOf = new Int32Array(totalToSend);
  const acked = new Uint8Array(totalToSend);
  const replies = new Uint8Array(totalToSend);
  const received = new Uint16Array(totalToSend);
  const latencies = new Float64Array(totalToSend);
  let latencyCount = 0;
  let sent = 0;
  let ackedCount = 0;
  let delivered = 0;
  let duplicates = 0;
  /** Set when the drain ends: first receipts after it are late, not lost. */
  let drainEnded = false;
  let late = 0;
  let lastFrameAt = performance.now();
  const errors = new Map<string, number>();
  let errorReplies = 0;
  const countError = (code: string) => errors.set(code, (errors.get(code) ?? 0) + 1);

  // Connections: user `s{i}` on socket i.
  const sockets: WebSocket[] = new Array(N);
  const open = new Uint8Array(N);
  let welcomed = 0;
  let closedUnexpectedly = 0;
  const connectStarted = performance.now();
  const connectOne = async (i: number) => {
    const token = await mintToken(`s${i}`, { ...(secret ? { secret } : {}), ttlSeconds: 6 * 3600 });
    for (let attempt = 1; ; attempt++) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = new WebSocket(`${runtime.wsUrl}?token=${token}`, { perMessageDeflate: false });
        let done = false;
        const timer = setTimeout(() => finish(false), 30_000);
        const finish = (result: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (!result) socket.terminate();
          resolve(result);
        };
        socket.on('message', (data) => {
          lastFrameAt = performance.now();
          const text = data.toString();
          if (!open[i]) {
            if (text.includes('"welcome"')) {
              open[i] = 1;
              sockets[i] = socket;
              welcomed++;
              finish(true);
            }
            return;
          }
          onFrame(text);
        });
        socket.on('error', () => finish(false));
        socket.on('close', () => {
          if (open[i]) {
            open[i] = 0;
            if (!stopping) closedUnexpectedly++;
          }
          finish(false);
        });
      });
      if (ok) return;
      countError('connect-failed');
      if (attempt >= 3) return;
      await sleep(500 * attempt);
    }
  };
  let stopping = false;

  const onFrame = (text: string) => {
    let frame: {
      code?: number;
      request_id?: unknown;
      data?: {
        type?: string;
        content?: string;
        message_id?: string;
        delivered?: unknown;
        failed?: unknown;
        queued?: unknown;
      } | null;
    };
    try {
      frame = JSON.parse(text);
    } catch {
      countError('unparseable-frame');
      return;
    }
    if (typeof frame.request_id === 'number') {
      const seq = frame.request_id;
      if (frame.code === 0) {
        replies[seq] = replyOf(frame.data);
        if (!acked[seq]) {
          acked[seq] = 1;
          ackedCount++;
        }
      } else {
        replies[seq] = Reply.error;
        errorReplies++;
        countError(String(frame.code ?? 'no-code'));
      }
      return;
    }
    if (frame.code === undefined && (frame as { message?: unknown }).message === 'Internal server error') {
      // API Gateway's answer when the integration failed or timed out (29 s): no request_id.
      countError('integration-failed');
      return;
    }
    if (frame.data?.type === 'new_message') {
      const seq = Number(frame.data.content);
      if (!(seq >= 0 && seq < totalToSend)) return;
      const before = received[seq] ?? 0;
      received[seq] = before + 1;
      if (before === 0) {
        delivered++;
        if (drainEnded) late++;
        latencies[latencyCount++] = performance.now() - (sentAt[seq] as number);
      } else duplicates++;
    }
  };

  let nextToConnect = 0;
  const progress = setInterval(() => {
    const memory = sampleMemory();
    process.stdout.write(
      `  ramp-up ${((performance.now() - connectStarted) / 1000).toFixed(0)} s: ${welcomed}/${N} welcomed${memory ? `, runtime RSS ${memory.rssMb.toFixed(0)} MB` : ''}\n`,
    );
  }, 10_000);
  await Promise.all(
    Array.from({ length: Math.min(options.connectConcurrency, N) }, async () => {
      while (nextToConnect < N) await connectOne(nextToConnect++);
    }),
  );
  clearInterval(progress);
  const rampSeconds = (performance.now() - connectStarted) / 1000;
  process.stdout.write(`ramp-up: ${welcomed}/${N} connections welcomed in ${rampSeconds.toFixed(1)} s\n`);
  if (welcomed < 2) {
    stopRuntime();
    fail('Fewer than two connections opened; nothing to measure.');
  }
  const openIndexes = () => Array.from({ length: N }, (_, i) => i).filter((i) => open[i]);

  // Sending: a 10 ms tick sends what the schedule owes, to random open sender→recipient pairs.
  const random = prng(options.seed);
  const live = openIndexes();
  const sendStarted = performance.now();
  const cpuAtSendStart = pid ? cpuOf(pid) : undefined;
  const clientCpuAtSendStart = process.cpuUsage();
  const durationMs = options.minutes * 60_000;
  let windowStart = performance.now();
  let windowDelivered = 0;
  let windowLatencyFrom = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - sendStarted;
      const owed = Math.min(totalToSend, Math.floor((elapsed / 1000) * options.rate));
      while (sent < owed) {
        const from = live[Math.floor(random() * live.length)] as number;
        let to = live[Math.floor(random() * live.length)] as number;
        if (to === from) to = live[(live.indexOf(from) + 1) % live.length] as number;
        const socket = sockets[from];
        const seq = sent++;
        recipientOf[seq] = to;
        sentAt[seq] = performance.now();
        if (!socket || !open[from]) {
          countError('sender-closed');
          continue;
        }
        socket.send(
          `{"cmd":"send_message","request_id":${seq},"data":{"to_user_id":"s${to}","content":"${seq}","client_msg_id":"soak-${seq}"}}`,
        );
      }
      if (sent >= totalToSend || elapsed >= durationMs + 1000) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
    const report = setInterval(() => {
      if (sent >= totalToSend) clearInterval(report);
      const now = performance.now();
      const window = latencies.slice(windowLatencyFrom, latencyCount).sort();
      const memory = sampleMemory();
      process.stdout.write(
        `  ${((now - sendStarted) / 1000).toFixed(0)} s: sent ${sent}, acked ${ackedCount}, delivered ${delivered} (${((delivered - windowDelivered) / ((now - windowStart) / 1000)).toFixed(0)}/s), ` +
          `p50 ${percentile(window, 50).toFixed(0)} ms, p99 ${percentile(window, 99).toFixed(0)} ms, errors ${[...errors.values()].reduce((a, b) => a + b, 0)}` +
          `${memory ? `, runtime RSS ${memory.rssMb.toFixed(0)} MB` : ''}\n`,
      );
      windowStart = now;
      windowDelivered = delivered;
      windowLatencyFrom = latencyCount;
    }, 10_000);
    // The report interval stops itself after the last send.
    report.unref();
  });
  const sendSeconds = (performance.now() - sendStarted) / 1000;

  // Drain: until everything acknowledged has arrived, or no frame came for 5 s, or the limit.
  const drainStarted = performance.now();
  while (performance.now() - drainStarted < options.drainSeconds * 1000) {
    if (ackedCount === sent && delivered >= sent) break;
    if (performance.now() - lastFrameAt > 5_000) break;
    await sleep(200);
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  drainEnded = true;

  // Settle: under overload a stored message's push can still be on its way when the drain
  // gives up (its invocation queued behind others, or past the 29 s integration timeout,
  // which does not stop it), and a Scan can read a message whose push is still queued. So
  // before counting, wait until the runtime is idle (its CPU, when its pid is known) and no
  // frame came for a few seconds: what is missing then is lost; what came since is late.
  const settleStarted = performance.now();
  const allArrived = () => ackedCount === sent && delivered >= sent;
  let settled = allArrived();
  let cpuBefore = pid ? cpuOf(pid) : undefined;
  let idleSeconds = 0;
  while (!settled && performance.now() - settleStarted < options.settleSeconds * 1000) {
    await sleep(1000);
    const cpuNow = pid ? cpuOf(pid) : undefined;
    const runtimeIdle =
      !pid ||
      (cpuNow !== undefined &&
        cpuBefore !== undefined &&
        cpuNow.totalMs - cpuBefore.totalMs < IDLE_CPU_MS_PER_SECOND);
    cpuBefore = cpuNow;
    idleSeconds = runtimeIdle ? idleSeconds + 1 : 0;
    const quiet = performance.now() - lastFrameAt > SETTLED_AFTER_IDLE_SECONDS * 1000;
    settled = (idleSeconds >= SETTLED_AFTER_IDLE_SECONDS && quiet) || allArrived();
  }
  const settleSeconds = (performance.now() - settleStarted) / 1000;
  const cpuAtSettled = pid ? cpuOf(pid) : undefined;
  // The soak's own clients share the cores too: their CPU counts against the rate as well.
  const clientCpu = process.cpuUsage(clientCpuAtSendStart);
  const clientCpuMsPerMessage =
    sent > 0 ? Number(((clientCpu.user + clientCpu.system) / 1000 / sent).toFixed(3)) : Number.NaN;
  // The runtime's CPU from the first send until it settled, per message sent.
  const cpuPerMessage = (field: 'totalMs' | 'systemMs' | 'mainThreadMs') =>
    cpuAtSendStart && cpuAtSettled && sent > 0
      ? Number(((cpuAtSettled[field] - cpuAtSendStart[field]) / sent).toFixed(3))
      : 'n/a (runtime pid unknown)';

  // Stored: read the messages table where the runtime keeps it (a Scan: fine here): its
  // embedded DynamoDB on its port, or DYNAMODB_ENDPOINT (e.g. DynamoDB Local), which the
  // runtime uses instead when set.
  const dynamo = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT || runtime.httpUrl,
    region: 'local',
    credentials: { accessKeyId: ADMIN_ACCESS_KEY_ID, secretAccessKey: runtime.adminSecret ?? '' },
    maxAttempts: 10,
  });
  const storedBySeq = new Uint16Array(totalToSend);
  let stored = 0;
  let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableDefinitions.messages.localName,
        ProjectionExpression: 'clientMsgId',
        FilterExpression: 'begins_with(clientMsgId, :p)',
        ExpressionAttributeValues: { ':p': { S: 'soak-' } },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const seq = Number(item.clientMsgId?.S?.slice(5));
      if (seq >= 0 && seq < totalToSend) {
        storedBySeq[seq] = (storedBySeq[seq] ?? 0) + 1;
        stored++;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  dynamo.destroy();

  // Stored, never received, recipient still connected: lost once the runtime settled; if it
  // was still busy when the soak stopped waiting, pending (its push may yet come).
  let missing = 0;
  let storedTwice = 0;
  let lostToClosedRecipient = 0;
  let unacked = 0;
  const missingBySenderReply: Record<string, number> = {};
  for (let seq = 0; seq < sent; seq++) {
    if (!acked[seq]) unacked++;
    if ((storedBySeq[seq] ?? 0) > 1) storedTwice += (storedBySeq[seq] as number) - 1;
    if ((storedBySeq[seq] ?? 0) > 0 && !received[seq]) {
      if (open[recipientOf[seq] as number]) {
        missing++;
        const reply = replyNames[replies[seq] as number] as string;
        missingBySenderReply[reply] = (missingBySenderReply[reply] ?? 0) + 1;
      } else lostToClosedRecipient++;
    }
  }
  const lost = settled ? missing : 0;
  const pending = settled ? 0 : missing;
  const integrationFailures = errors.get('integration-failed') ?? 0;
  if (unacked > errorReplies + integrationFailures)
    errors.set('no-reply', unacked - errorReplies - integrationFailures);

  const sorted = latencies.slice(0, latencyCount).sort();
  const finalMemory = sampleMemory();
  stopping = true;
  const report = {
    connections: {
      requested: N,
      welcomed,
      rampUpSeconds: Number(rampSeconds.toFixed(1)),
      closedUnexpectedly,
    },
    sent,
    acknowledged: ackedCount,
    stored,
    delivered,
    duplicates: duplicates + storedTwice,
    duplicateDeliveries: duplicates,
    storedTwice,
    late,
    lost,
    pending,
    // Lost (or pending) by what the sender's reply said: posted = the runtime posted it to a
    // connection of the recipient; postFailed = posts failed after retries; noConnection =
    // the recipient had no connection then; noReply / errorReply.
    missingBySenderReply,
    notDeliveredRecipientClosed: lostToClosedRecipient,
    errors: Object.fromEntries(errors),
    latencyMs: {
      p50: Number(percentile(sorted, 50).toFixed(1)),
      p95: Number(percentile(sorted, 95).toFixed(1)),
      p99: Number(percentile(sorted, 99).toFixed(1)),
      max: Number((sorted[sorted.length - 1] ?? Number.NaN).toFixed(1)),
    },
    achievedRate: Number((sent / sendSeconds).toFixed(1)),
    deliveredRate: Number((delivered / (sendSeconds + drainSeconds + settleSeconds)).toFixed(1)),
    sendSeconds: Number(sendSeconds.toFixed(1)),
    drainSeconds: Number(drainSeconds.toFixed(1)),
    settleSeconds: Number(settleSeconds.toFixed(1)),
    settled,
    runtimeCpuMsPerMessage: cpuPerMessage('totalMs'),
    runtimeSystemCpuMsPerMessage: cpuPerMessage('systemMs'),
    runtimeMainThreadCpuMsPerMessage: cpuPerMessage('mainThreadMs'),
    soakClientCpuMsPerMessage: clientCpuMsPerMessage,
    runtimePeakRssMb: finalMemory ? Number(finalMemory.peakMb.toFixed(0)) : 'n/a (runtime pid unknown)',
    runtimeRssAtEndMb: finalMemory ? Number(finalMemory.rssMb.toFixed(0)) : 'n/a',
    soakClientPeakRssMb: Number((memoryOf(process.pid)?.peakMb ?? Number.NaN).toFixed(0)),
  };

  const line = (label: string, value: unknown) =>
    process.stdout.write(
      `  ${label.padEnd(22)} ${typeof value === 'object' ? JSON.stringify(value) : value}\n`,
    );
  process.stdout.write('\nresult\n');
  line('connections', report.connections);
  line('sent', report.sent);
  line('acknowledged', report.acknowledged);
  line('stored', report.stored);
  line('delivered', `${report.delivered}${late ? ` (${late} late: after the drain ended)` : ''}`);
  line('duplicates', `${report.duplicates} (deliveries ${duplicates}, stored twice ${storedTwice})`);
  line(
    'lost',
    `${report.lost}${lostToClosedRecipient ? ` (+${lostToClosedRecipient} whose recipient had disconnected)` : ''}`,
  );
  if (pending > 0)
    line('pending', `${pending} stored, not received, runtime still busy after ${report.settleSeconds} s`);
  if (missing > 0) line('missing by sender reply', missingBySenderReply);
  line('errors', report.errors);
  line('latency ms', report.latencyMs);
  line(
    'achieved rate',
    `${report.achievedRate} msg/s sent over ${report.sendSeconds} s (drain ${report.drainSeconds} s, settle ${report.settleSeconds} s${settled ? '' : ', not settled'})`,
  );
  line(
    'runtime CPU / message',
    `${report.runtimeCpuMsPerMessage} ms (kernel ${report.runtimeSystemCpuMsPerMessage} ms; main thread ${report.runtimeMainThreadCpuMsPerMessage} ms), send start until settled`,
  );
  line(
    'soak client CPU / message',
    `${report.soakClientCpuMsPerMessage} ms (1 process, all its connections)`,
  );
  line('runtime peak RSS', `${report.runtimePeakRssMb} MB (at end ${report.runtimeRssAtEndMb} MB)`);
  line('soak client peak RSS', `${report.soakClientPeakRssMb} MB`);
  process.stdout.write(`\n${JSON.stringify(report)}\n`);

  for (const socket of sockets) socket?.terminate();
  stopRuntime();
  if (runtime.child && runtime.child.exitCode === null) {
    await Promise.race([new Promise((resolve) => runtime.child?.once('exit', resolve)), sleep(10_000)]);
  }
  process.exit(lost > 0 || pending > 0 || report.duplicates > 0 || welcomed < N ? 1 : 0);
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
