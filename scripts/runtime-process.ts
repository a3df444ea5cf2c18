/**
 * The local runtime as a child process, as the soak and cpu-per-message scripts measure it:
 * `npm start`'s runtime (`local/main.ts --in-memory --quiet`) with rate limits off, and the
 * CPU time a process or thread has used, read from /proc (Linux).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ADMIN_SECRET_ENV } from '../local/iam/credentials.ts';

export interface SpawnedRuntime {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly child: ChildProcess;
  /** The secret of the runtime's admin credentials (LOCAL_ADMIN_SECRET), to read its tables. */
  readonly adminSecret: string;
}

export interface SpawnRuntimeOptions {
  /** Extra node options, e.g. `--cpu-prof`. */
  readonly nodeArgs: readonly string[];
  readonly handlerThreads: number;
  /** Variables set on top of this process's environment and the defaults below. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts the runtime on a free port and resolves once its banner names the port. */
export function spawnLocalRuntime(options: SpawnRuntimeOptions): Promise<SpawnedRuntime> {
  // The runtime's control plane accepts only its own credentials: the caller chooses the admin secret.
  const adminSecret = randomBytes(30).toString('base64url');
  // node itself (not the tsx CLI, which forks): the pid is the runtime's, for /proc.
  const child = spawn(
    process.execPath,
    // A larger young generation: the handlers' SDK calls allocate a lot of short-lived objects.
    [
      '--max-semi-space-size=64',
      ...options.nodeArgs,
      '--import',
      'tsx',
      'local/main.ts',
      '--in-memory',
      '--port',
      '0',
      '--quiet',
      // Always passed: `npm start` has run handler threads by default since issue 14.
      '--handler-threads',
      String(options.handlerThreads),
    ],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: {
        ...process.env,
        RATE_LIMIT_PER_MINUTE: '0',
        READ_RATE_LIMIT_PER_MINUTE: '0',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        [ADMIN_SECRET_ENV]: adminSecret,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[runtime] ${chunk}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('The runtime did not print its banner within 60 s.')),
      60_000,
    );
    child.once('exit', (code) => reject(new Error(`The runtime exited with ${code} before it was ready.`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const port = /WebSocket API\s+ws:\/\/localhost:(\d+)\//.exec(stdout)?.[1];
      if (!port || !stdout.includes('Stop with Ctrl+C')) return;
      clearTimeout(timer);
      const faults = /FAULT INJECTION ON\s+(.*)/.exec(stdout)?.[1];
      if (faults) process.stdout.write(`runtime fault injection: ${faults}\n`);
      resolve({ wsUrl: `ws://127.0.0.1:${port}/`, httpUrl: `http://127.0.0.1:${port}`, child, adminSecret });
    });
  });
}

/** User and system CPU ms of a /proc `stat` file (a process's or one of its tasks'). */
export function cpuTimesMs(statPath: string): { userMs: number; systemMs: number } {
  const ticksToMs = 1000 / 100; // USER_HZ is 100 on Linux
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: Number(fields[11]) * ticksToMs, systemMs: Number(fields[12]) * ticksToMs };
}
