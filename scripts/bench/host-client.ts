/** The benchmark's side of scripts/bench/host.ts: spawn it, ask it things, read its memory. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Snapshot } from './accounting.ts';
import type { HostInfo, SeedRequest } from './host.ts';
import { memoryOf } from './machine.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class Host {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Why the host can no longer answer (it exited), once it cannot. */
  private gone: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly info: HostInfo,
  ) {
    child.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`bench host: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      this.gone = `bench host exited with ${signal ?? code}`;
      for (const waiter of this.pending.values()) waiter.reject(new Error(this.gone));
      this.pending.clear();
    });
    // A failed send is reported through its callback (see call); without a listener an
    // 'error' event would end the benchmark with ERR_IPC_CHANNEL_CLOSED and hide the cause.
    child.on('error', () => {});
  }

  /**
   * Starts a host; `env` is extra handler configuration (e.g. MAX_GROUP_MEMBERS);
   * `awsSample` mounts the AWS sample's message route and creates its table (host.ts).
   */
  static async start(env: Record<string, string> = {}, options: { awsSample?: boolean } = {}): Promise<Host> {
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=64', '--import', 'tsx', 'scripts/bench/host.ts'],
      {
        cwd: REPOSITORY_ROOT,
        env: {
          ...process.env,
          BENCH_HOST_ENV: JSON.stringify(env),
          BENCH_HOST_AWS_SAMPLE: options.awsSample ? '1' : '',
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const info = await new Promise<HostInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('The bench host did not start within 120 s.'));
      }, 120_000);
      child.once('exit', (code) => reject(new Error(`The bench host exited with ${code} while starting.`)));
      child.once('message', (message: { result: HostInfo }) => {
        clearTimeout(timer);
        resolve(message.result);
      });
    });
    return new Host(child, info);
  }

  private call<T>(request: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.gone || !this.child.connected) {
        reject(new Error(`${this.gone ?? 'bench host disconnected'}; cannot ${String(request.cmd)}`));
        return;
      }
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...request, id }, (error) => {
        if (!error || !this.pending.delete(id)) return;
        reject(
          new Error(
            `${this.gone ?? 'bench host unreachable'}; cannot ${String(request.cmd)}: ${error.message}`,
          ),
        );
      });
    });
  }

  reset(): Promise<boolean> {
    return this.call({ cmd: 'reset' });
  }

  snapshot(): Promise<Snapshot> {
    return this.call({ cmd: 'snapshot' });
  }

  /** Until nothing runs and nothing was counted for `quietMs`; false when `timeoutMs` passed first. */
  quiesce(quietMs = 150, timeoutMs = 60_000): Promise<boolean> {
    return this.call({ cmd: 'quiesce', quietMs, timeoutMs });
  }

  seed(seed: SeedRequest): Promise<boolean> {
    return this.call({ cmd: 'seed', seed });
  }

  /** Writes the AWS sample's rows (`{ connectionId }`) for these open connections. */
  seedSample(connectionIds: readonly string[]): Promise<boolean> {
    return this.call({ cmd: 'seedSample', connectionIds });
  }

  memory() {
    return memoryOf(this.info.pid);
  }

  /** Ends the host at once: its data is in memory, and a graceful stop would run `$disconnect` for every connection. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
