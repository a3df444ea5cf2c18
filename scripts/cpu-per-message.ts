/**
 * `npx tsx scripts/cpu-per-message.ts [options]`: the CPU time a 1:1 message costs the local
 * runtime, measured so that load on a shared machine decides as little as possible. It
 * spawns `npm start`'s runtime (`local/main.ts --in-memory --quiet`, rate limits off),
 * opens one connection per user, and runs a closed loop: `--in-flight` `send_message`s
 * (with `client_msg_id`, as the SDK sends) between random pairs, a new one whenever one is
 * both acknowledged and delivered. After `--warmup` messages it reads the runtime's CPU
 * time from /proc (every thread, and its main thread alone) and its own, sends
 * `--messages` more, and reads them again once all of those arrived. Prints one JSON line.
 *
 * Open-loop latency depends on who else uses the cores; CPU time per message much less
 * (it still grows with load: caches, frequency), so compare versions in alternating runs.
 * `--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=DIR` profiles the runtime (every thread).
 */
import { readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import WebSocket from 'ws';
import { prng } from '../local/faults.ts';
import { mintToken } from '../local/tokens.ts';
import { commandLine } from './cli.ts';
import { cpuTimesMs, spawnLocalRuntime } from './runtime-process.ts';

const USAGE = `Usage: npx tsx scripts/cpu-per-message.ts [options]

Measures the CPU time a 1:1 message costs the local runtime (npm start's, rate limits off)
in a closed loop, and prints it as one JSON line: in all, per thread, and the clients'.
DYNAMODB_THREAD and the other npm start variables are passed to the runtime.

Options:
  --users <n>            connections, one user each (default 50)
  --in-flight <n>        messages in flight (default 16)
  --warmup <n>           messages before the measurement (default 1000)
  --messages <n>         messages measured (default 2000)
  --handler-threads <n>  the runtime's handler threads (default 2)
  --node-arg <arg>       extra node option for the runtime, repeatable
                         (e.g. --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof)
  --seed <n>             seed for sender/recipient choice (default 1)
  -h, --help             shows this help`;

const { values, fail } = commandLine(USAGE, {
  options: {
    users: { type: 'string' },
    'in-flight': { type: 'string' },
    warmup: { type: 'string' },
    messages: { type: 'string' },
    'handler-threads': { type: 'string' },
    'node-arg': { type: 'string', multiple: true },
    seed: { type: 'string' },
  },
});
function count(name: keyof typeof values, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    return fail(`--${name} must be a whole number ≥ ${min}; got "${raw}".`);
  return value;
}
const users = count('users', 50, 2);
const inFlight = count('in-flight', 16);
const warmup = count('warmup', 1000);
const measured = count('messages', 2000);
const handlerThreads = count('handler-threads', 2, 0);
const seed = count('seed', 1, 0);
const nodeArgs = (values['node-arg'] as string[] | undefined) ?? [];

/** The process's CPU ms, its main thread's, and each thread's by thread id. */
function runtimeCpu(pid: number) {
  const threads = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(tid), cpuMs(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { total: cpuMs(`/proc/${pid}/stat`), main: cpuMs(`/proc/${pid}/task/${pid}/stat`), threads };
}

/** User + system CPU ms of a /proc stat file. */
function cpuMs(path: string): number {
  const { userMs, systemMs } = cpuTimesMs(path);
  return userMs + systemMs;
}

async function main(): Promise<void> {
  const { child, wsUrl: url } = await spawnLocalRuntime({
    nodeArgs,
    handlerThreads,
    env: { JWT_SECRET: '', LOG_LEVEL: 'warn' },
  });
  const pid = child.pid as number;
  const sockets = await Promise.all(
    Array.from({ length: users }, async (_, i) => {
      const token = await mintToken(`c${i}`, { ttlSeconds: 3600 });
      const socket = new WebSocket(`${url}?token=${token}`, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        socket.on('message', function welcome(data) {
          if (!data.toString().includes('"welcome"')) return;
          socket.off('message', welcome);
          resolve();
        });
        socket.once('error', reject);
      });
      return socket;
    }),
  );
  const random = prng(seed);
  const total = warmup + measured;
  const state = new Uint8Array(total); // bit 1: acknowledged, bit 2: delivered
  let next = 0;
  let done = 0;
  let atWarm: { runtime: ReturnType<typeof runtimeCpu>; client: NodeJS.CpuUsage; load: number } | undefined;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const sendOne = () => {
    if (next >= total) return;
    const seq = next++;
    const from = Math.floor(random() * users);
    const to = (from + 1 + Math.floor(random() * (users - 1))) % users;
    sockets[from]?.send(
      `{"cmd":"send_message","request_id":${seq},"data":{"to_user_id":"c${to}","content":"${seq}","client_msg_id":"cpu-${seq}"}}`,
    );
  };
  const settle = (seq: number, bit: number) => {
    if (!(seq >= 0 && seq < total) || (state[seq] as number) & bit) return;
    state[seq] = (state[seq] as number) | bit;
    if (state[seq] !== 3) return;
    done++;
    if (done === warmup)
      atWarm = { runtime: runtimeCpu(pid), client: process.cpuUsage(), load: loadavg()[0] ?? 0 };
    if (done === total) finished();
    else sendOne();
  };
  for (const socket of sockets) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as {
        code?: number;
        request_id?: number;
        data?: { type?: string; content?: string };
      };
      if (typeof frame.request_id === 'number') {
        if (frame.code !== 0) throw new Error(`send_message ${frame.request_id} failed: ${data.toString()}`);
        settle(frame.request_id, 1);
      } else if (frame.data?.type === 'new_message') settle(Number(frame.data.content), 2);
    });
  }
  for (let i = 0; i < inFlight; i++) sendOne();
  await allDone;
  const end = runtimeCpu(pid);
  const client = process.cpuUsage(atWarm?.client);
  const start = atWarm as NonNullable<typeof atWarm>;
  const perMessage = (ms: number) => Number((ms / measured).toFixed(2));
  const report = {
    dynamodbThread: process.env.DYNAMODB_THREAD ?? '0 (default)',
    handlerThreads,
    messages: measured,
    runtimeCpuMsPerMessage: perMessage(end.total - start.runtime.total),
    runtimeMainThreadCpuMsPerMessage: perMessage(end.main - start.runtime.main),
    clientCpuMsPerMessage: perMessage((client.user + client.system) / 1000),
    // Every thread that worked, by its id minus the process id (the first few after the main
    // thread are V8's platform threads: GC and compilers), busiest first.
    threadsCpuMsPerMessage: Object.fromEntries(
      [...end.threads]
        .map(
          ([tid, ms]) => [`+${tid - pid}`, perMessage(ms - (start.runtime.threads.get(tid) ?? 0))] as const,
        )
        .filter(([, ms]) => ms >= 0.05)
        .sort((a, b) => b[1] - a[1]),
    ),
    load: [Number(start.load.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  for (const socket of sockets) socket.terminate();
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
