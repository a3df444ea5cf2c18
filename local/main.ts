/**
 * `npm start [-- --port 8009 --data-dir .chat-data --in-memory]`: runs the whole backend
 * locally and stops cleanly on SIGINT/SIGTERM.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { FunctionId } from '../lib/function-specs.ts';
import { formatBanner } from './banner.ts';
import type { MountedRoute } from './functions.ts';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_IDLE_TIMEOUT_SECONDS,
  DEFAULT_MAX_CONNECTION_SECONDS,
  DEFAULT_PORT,
  DEFAULT_SWEEP_INTERVAL_SECONDS,
  type LocalRuntime,
  startLocalRuntime,
} from './runtime.ts';
import { mintToken } from './tokens.ts';

/**
 * Handler threads unless told otherwise: with handlers on the runtime's thread, their SDK
 * work (about three quarters of the CPU a 1:1 message costs, docs/soak.md) and the
 * gateway, the emulated services and dynalite share one core. Two threads put the
 * handlers on the other cores; on a single core they would only add the messages between
 * threads. Tests and the benchmark's in-process host (startLocalRuntime) keep 0, where
 * in-process hooks reach the handlers.
 */
const DEFAULT_HANDLER_THREADS = availableParallelism() > 1 ? 2 : 0;

const USAGE = `Usage: npm start [-- options]

Runs the chat backend locally: WebSocket API, HTTP API, Management API, Lambda Invoke
API and DynamoDB on one port, with the real handlers.

Options:
  --port <port>        port to listen on (env PORT, default ${DEFAULT_PORT}; 0 = any free port)
  --host <host>        interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it)
  --data-dir <dir>     where DynamoDB data persists (env DATA_DIR, default ${DEFAULT_DATA_DIR})
  --in-memory          keep nothing: data is gone when the runtime stops
  --quiet              no request logs
  --handler-threads <n>
                       worker threads that run the handlers, each like a Lambda container
                       (env HANDLER_THREADS; default ${DEFAULT_HANDLER_THREADS}: 2 on a machine with 2+ cores,
                       else 0, on the runtime's own thread; see docs/soak.md)
  --mount <route>=<module>[@<function>]
                       mounts a handler module written for AWS on an extra WebSocket route
                       (frames whose cmd is <route>), with the grants of <function> from
                       lib/function-specs.ts (default: none); repeatable (docs/local-fidelity.md)
  -h, --help           shows this help

Environment:
  JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE   token verification (a development secret otherwise)
  COGNITO_USER_POOL_ID, COGNITO_CLIENT_IDS
                                         Cognito tokens instead (README, "Sign in with Amazon Cognito");
                                         COGNITO_JWKS_URL: a JWKS on this machine in place of the pool's
  DYNAMODB_ENDPOINT                      use DynamoDB Local / LocalStack / AWS instead of the embedded one
  S3_ENDPOINT                            another S3 (MinIO, LocalStack) for attachments instead of the embedded one at /s3
  DYNAMODB_THREAD=1                      the embedded DynamoDB (dynalite) in a thread of its own (default 0:
                                         on the runtime's thread; no gain measured on 2 cores, docs/soak.md)
  LOCAL_ADMIN_SECRET                     the secret of the admin key LOCALADMIN (20+ characters; random
                                         otherwise), which may do anything on the local DynamoDB,
                                         @connections and Invoke APIs, e.g. for the AWS CLI
  IDLE_TIMEOUT_SECONDS                   default ${DEFAULT_IDLE_TIMEOUT_SECONDS}
  MAX_CONNECTION_SECONDS                 default ${DEFAULT_MAX_CONNECTION_SECONDS}
  SWEEP_INTERVAL_SECONDS                 the stale-connection sweep's interval (default ${DEFAULT_SWEEP_INTERVAL_SECONDS}; 0 = off)
  EVENTS_WEBHOOK_URL                     POST each application event (message.sent, …) as JSON here
                                         (EventBridge's envelope; docs/events.md)
  BLOCKED_WORDS, BROADCAST_ALLOW_ALL, ... handler configuration, passed through
  FANOUT_WORKER_THRESHOLD                fan-outs to more connections go to the fan-out worker
                                         through the Lambda Invoke API (default 1000; e.g. 3 to try it),
                                         in chunks of FANOUT_CHUNK_SIZE (5000) at FANOUT_RATE_PER_SECOND (3000)

Fault injection (off by default; see docs/soak.md):
  FAULT_POST_RATE                 share 0-1 of @connections POSTs that fail
  FAULT_POST_STATUSES             statuses they fail with, e.g. 429,500 (default) or 429,500,410
  FAULT_POST_LATENCY_MS           every POST waits a uniform 0..N ms
  FAULT_POST_MAX_CONSECUTIVE      failures in a row of one post to one connection (default 2)
  FAULT_DYNAMODB_THROTTLE_RATE    share 0-1 of DynamoDB requests throttled (400 ProvisionedThroughputExceeded)
  FAULT_DYNAMODB_MAX_CONSECUTIVE  throttles in a row of one SDK call (default unlimited)
  FAULT_ASYNC_INVOKE              <function>:before|after[:count]: the next asynchronous invocations
                                  of that function fail (before its handler runs or after), e.g. welcome:after:1
  FAULT_SEED                      PRNG seed (default 1)

Asynchronous invocations (Lambda Invoke API, InvocationType Event) are retried as Lambda
does (the function's retryAttempts, default 2, after about 1 and 2 minutes; maximum event
age); events that still fail are logged into in-memory dead-letter / on-failure queues.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1))
    fail(`${name} must be a whole number; got "${raw}".`);
  return value;
}

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'in-memory': { type: 'boolean' },
        quiet: { type: 'boolean' },
        'handler-threads': { type: 'string' },
        mount: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

/** `--mount sendmessage=handlers/send.ts@sendRoomMessage` -> `{ sendmessage: { module, runAs } }`. */
function parseMounts(values: readonly string[]): Record<string, MountedRoute> {
  const routes: Record<string, MountedRoute> = {};
  for (const value of values) {
    const match = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(value);
    if (!match) fail(`--mount takes <route>=<module>[@<function>]; got "${value}".`);
    const [, route = '', module = '', runAs] = match;
    routes[route] = runAs ? { module, runAs: runAs as FunctionId } : module;
  }
  return routes;
}

function stopOnSignals(runtime: LocalRuntime): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without waiting.\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`\n${signal}: closing connections and the database…\n`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Stopping failed: ${error instanceof Error ? error.stack : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function main(): Promise<void> {
  const args = parseCommandLine();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args['in-memory'] && args['data-dir']) fail('Pass either --in-memory or --data-dir, not both.');
  const env = process.env;
  const idleTimeoutSeconds = positiveInteger(
    'IDLE_TIMEOUT_SECONDS',
    env.IDLE_TIMEOUT_SECONDS,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
  );
  const maxConnectionSeconds = positiveInteger(
    'MAX_CONNECTION_SECONDS',
    env.MAX_CONNECTION_SECONDS,
    DEFAULT_MAX_CONNECTION_SECONDS,
  );
  const handlerThreads = positiveInteger(
    '--handler-threads / HANDLER_THREADS',
    args['handler-threads'] ?? env.HANDLER_THREADS,
    DEFAULT_HANDLER_THREADS,
    true,
  );
  const runtime = await startLocalRuntime({
    port: positiveInteger('--port / PORT', args.port ?? env.PORT, DEFAULT_PORT, true),
    host: args.host,
    inMemory: args['in-memory'] ?? false,
    dataDir: args['data-dir'] ?? env.DATA_DIR,
    quiet: args.quiet ?? false,
    handlerThreads,
    idleTimeoutSeconds,
    maxConnectionSeconds,
    mountedRoutes: parseMounts(args.mount ?? []),
    sweepIntervalSeconds: positiveInteger(
      'SWEEP_INTERVAL_SECONDS',
      env.SWEEP_INTERVAL_SECONDS,
      DEFAULT_SWEEP_INTERVAL_SECONDS,
      true,
    ),
  });
  stopOnSignals(runtime);
  const sampleToken = runtime.jwtSecret
    ? await mintToken('1', { secret: runtime.jwtSecret, ttlSeconds: 24 * 3600 })
    : undefined;
  process.stdout.write(formatBanner({ runtime, sampleToken, idleTimeoutSeconds, maxConnectionSeconds }));
}

main().catch((error: unknown) => {
  const cause =
    error instanceof Error && error.cause instanceof Error ? `\n  caused by: ${error.cause.message}` : '';
  process.stderr.write(
    `Could not start the local runtime: ${error instanceof Error ? error.message : String(error)}${cause}\n`,
  );
  process.exit(1);
});
