/**
 * Fault injection for the local runtime, off by default: the Management API answers a
 * share of `POST @connections/{id}` with 429, 500 or 410 (and may add latency), and the
 * DynamoDB endpoint answers a share of requests with a throttle. Decisions come from a
 * seeded PRNG, so a run's fault sequence is reproducible (which request meets which
 * decision still depends on timing when requests run concurrently).
 *
 * Faults are transient by default: the same post to the same connection fails at most
 * `postMaxConsecutive` times in a row (2: below the welcome's 3 attempts and the fan-out's
 * 4), so a lost push is a product bug, not bad luck. Raise it to exhaust the product's
 * retries. DynamoDB throttles are independent by default (the SDK's 4 attempts all fail
 * with p = rate⁴); `dynamoDbMaxConsecutive` caps them per SDK call (`amz-sdk-invocation-id`).
 *
 * An injected failure happens before anything else: a failed post sent no frame, a
 * throttled DynamoDB request changed nothing, exactly what the status promises.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface FaultOptions {
  /** Share (0–1) of @connections POSTs that fail. */
  readonly postRate?: number;
  /** Statuses a failing POST picks from (uniformly): 429, 500, 410. Default [429, 500]. */
  readonly postStatuses?: readonly number[];
  /** Every POST waits a uniform 0..postLatencyMs first. */
  readonly postLatencyMs?: number;
  /** Failures in a row for one post (same connection and body) before it is let through. Default 2. */
  readonly postMaxConsecutive?: number;
  /** Share (0–1) of DynamoDB requests answered 400 ProvisionedThroughputExceededException. */
  readonly dynamoDbThrottleRate?: number;
  /** Throttles in a row for one SDK call (by `amz-sdk-invocation-id`). Default unlimited. */
  readonly dynamoDbMaxConsecutive?: number;
  /** PRNG seed; default 1. */
  readonly seed?: number;
  /** Only posts to these connections fail (tests); undefined: any connection. */
  readonly postTargets?: ReadonlySet<string>;
  /**
   * A post to one of these connections that no other fault answered first cuts the
   * connection, as a network failure would, and never runs its `$disconnect` (tests): the
   * client vanished as the post arrived, so it answers a real 410 and the connection stays
   * gone (GetConnection 410 too), unlike an injected 410.
   */
  readonly postDrops?: ReadonlySet<string>;
  /** Only these DynamoDB operations (`GetItem`, `PutItem`, …) are throttled (tests); undefined: any. */
  readonly dynamoDbOperations?: ReadonlySet<string>;
  /** Only requests naming one of these tables are throttled (tests); undefined: any table. */
  readonly dynamoDbTables?: ReadonlySet<string>;
  /**
   * The next `count` asynchronous invocations of `functionId` fail: `before` the handler
   * runs (nothing happened), or `after` it ran (its work is done but Lambda sees an error,
   * like a timeout at the end, and retries). Replaces the previous setting.
   */
  readonly asyncInvocationFault?: AsyncInvocationFault;
}

export interface AsyncInvocationFault {
  readonly functionId: string;
  readonly phase: 'before' | 'after';
  readonly count: number;
}

export const FAULT_POST_STATUSES = [429, 410, 500] as const;
const DEFAULT_POST_STATUSES: readonly number[] = [429, 500];
const DEFAULT_POST_MAX_CONSECUTIVE = 2;
/** Bound on remembered in-progress posts/calls (entries of faults that were never retried). */
const MAX_TRACKED = 50_000;

export interface FaultStats {
  readonly posts: number;
  readonly postFaults: Readonly<Record<string, number>>;
  readonly postLatencyMsTotal: number;
  readonly dynamoDbRequests: number;
  readonly dynamoDbThrottles: number;
}

const POST_ERRORS: Readonly<Record<number, { readonly type: string; readonly message: string }>> = {
  429: { type: 'LimitExceededException', message: 'Rate exceeded (injected fault)' },
  410: { type: 'GoneException', message: 'Connection is gone (injected fault)' },
  500: { type: 'InternalServerErrorException', message: 'Internal server error (injected fault)' },
};

export interface InjectedPostFault {
  readonly status: number;
  readonly errorType: string;
  readonly message: string;
}

/** mulberry32: a small, fast seeded PRNG, good enough for fault decisions and reproducible load. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function share(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new Error(`${name} must be between 0 and 1; got ${value}.`);
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(v >= 0)) throw new Error(`${name} must be a number ≥ 0; got ${value}.`);
  return v;
}

function validStatuses(statuses: readonly number[] | undefined): readonly number[] {
  const list = statuses ?? DEFAULT_POST_STATUSES;
  if (list.length === 0) throw new Error('FAULT_POST_STATUSES must name at least one status.');
  for (const status of list) {
    if (!POST_ERRORS[status])
      throw new Error(`FAULT_POST_STATUSES: ${status} is not one of ${FAULT_POST_STATUSES.join(', ')}.`);
  }
  return list;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (Number.isNaN(value)) throw new Error(`${name} must be a number; got "${raw}".`);
  return value;
}

/** Reads FAULT_* variables; an empty object when none is set. Throws on invalid values. */
export function faultOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultOptions {
  const statuses = env.FAULT_POST_STATUSES?.trim();
  const options: FaultOptions = {
    postRate: numberFrom(env, 'FAULT_POST_RATE'),
    postStatuses: statuses ? statuses.split(',').map((s) => Number(s.trim())) : undefined,
    postLatencyMs: numberFrom(env, 'FAULT_POST_LATENCY_MS'),
    postMaxConsecutive: numberFrom(env, 'FAULT_POST_MAX_CONSECUTIVE'),
    dynamoDbThrottleRate: numberFrom(env, 'FAULT_DYNAMODB_THROTTLE_RATE'),
    dynamoDbMaxConsecutive: numberFrom(env, 'FAULT_DYNAMODB_MAX_CONSECUTIVE'),
    seed: numberFrom(env, 'FAULT_SEED'),
    asyncInvocationFault: asyncFaultFrom(env.FAULT_ASYNC_INVOKE),
  };
  // Validates now, so a typo stops the start instead of silently injecting nothing.
  new FaultInjector(options);
  return options;
}

/** `FAULT_ASYNC_INVOKE=welcome:after:1` (function id, before|after, how many). */
function asyncFaultFrom(raw: string | undefined): AsyncInvocationFault | undefined {
  if (!raw?.trim()) return undefined;
  const [functionId = '', phase = '', count = '1'] = raw.trim().split(':');
  if ((phase !== 'before' && phase !== 'after') || !/^\d+$/.test(count)) {
    throw new Error(`FAULT_ASYNC_INVOKE must be <function>:before|after[:count]; got "${raw}".`);
  }
  return { functionId, phase, count: Number(count) };
}

/** Remembers consecutive failures per key; the oldest entries go when the map is full. */
class ConsecutiveFailures {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  failed(key: string): void {
    this.counts.set(key, this.get(key) + 1);
    if (this.counts.size > MAX_TRACKED) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
  }

  passed(key: string): void {
    this.counts.delete(key);
  }
}

export class FaultInjector {
  private postRate = 0;
  private postStatuses: readonly number[] = DEFAULT_POST_STATUSES;
  private postLatencyMs = 0;
  private postMaxConsecutive = DEFAULT_POST_MAX_CONSECUTIVE;
  private dynamoDbThrottleRate = 0;
  private dynamoDbMaxConsecutive = Number.POSITIVE_INFINITY;
  private postTargets: ReadonlySet<string> | undefined;
  private postDrops: ReadonlySet<string> | undefined;
  private dynamoDbOperations: ReadonlySet<string> | undefined;
  private dynamoDbTables: ReadonlySet<string> | undefined;
  private seed = 1;
  private postRandom = prng(1);
  private dynamoRandom = prng(2);
  private readonly postFailures = new ConsecutiveFailures();
  private readonly dynamoFailures = new ConsecutiveFailures();
  private counters = { posts: 0, postLatencyMsTotal: 0, dynamoDbRequests: 0, dynamoDbThrottles: 0 };
  private postFaultCounts: Record<string, number> = {};
  private asyncFault: { functionId: string; phase: 'before' | 'after'; remaining: number } | undefined;

  constructor(options: FaultOptions = {}) {
    this.configure(options);
  }

  /** Replaces the given settings (tests switch faults on and off, or aim them at one connection). */
  configure(options: FaultOptions): void {
    this.postRate = share('FAULT_POST_RATE', options.postRate ?? this.postRate);
    this.postStatuses = validStatuses(options.postStatuses ?? this.postStatuses);
    this.postLatencyMs = nonNegative('FAULT_POST_LATENCY_MS', options.postLatencyMs, this.postLatencyMs);
    this.postMaxConsecutive = nonNegative(
      'FAULT_POST_MAX_CONSECUTIVE',
      options.postMaxConsecutive,
      this.postMaxConsecutive,
    );
    this.dynamoDbThrottleRate = share(
      'FAULT_DYNAMODB_THROTTLE_RATE',
      options.dynamoDbThrottleRate ?? this.dynamoDbThrottleRate,
    );
    this.dynamoDbMaxConsecutive = nonNegative(
      'FAULT_DYNAMODB_MAX_CONSECUTIVE',
      options.dynamoDbMaxConsecutive,
      this.dynamoDbMaxConsecutive,
    );
    if ('postTargets' in options) this.postTargets = options.postTargets;
    if ('postDrops' in options) this.postDrops = options.postDrops;
    if ('dynamoDbOperations' in options) this.dynamoDbOperations = options.dynamoDbOperations;
    if ('dynamoDbTables' in options) this.dynamoDbTables = options.dynamoDbTables;
    if (options.asyncInvocationFault) {
      const { functionId, phase, count } = options.asyncInvocationFault;
      this.asyncFault = { functionId, phase, remaining: count };
    }
    if (options.seed !== undefined && options.seed !== this.seed) {
      if (!Number.isInteger(options.seed))
        throw new Error(`FAULT_SEED must be an integer; got ${options.seed}.`);
      this.seed = options.seed;
      this.postRandom = prng(options.seed);
      this.dynamoRandom = prng(options.seed ^ 0x9e3779b9);
    }
  }

  get enabled(): boolean {
    return (
      this.postRate > 0 ||
      this.postLatencyMs > 0 ||
      this.dynamoDbThrottleRate > 0 ||
      (this.postDrops?.size ?? 0) > 0 ||
      (this.asyncFault?.remaining ?? 0) > 0
    );
  }

  /** One line for the banner and the log; undefined when off. */
  describe(): string | undefined {
    if (!this.enabled) return undefined;
    const parts: string[] = [];
    if (this.postRate > 0) {
      const cap = Number.isFinite(this.postMaxConsecutive) ? `, ≤${this.postMaxConsecutive} in a row` : '';
      parts.push(`@connections POST ${pct(this.postRate)} fail (${this.postStatuses.join('/')}${cap})`);
    }
    if (this.postLatencyMs > 0) parts.push(`+0..${this.postLatencyMs} ms per POST`);
    if (this.postDrops?.size) parts.push(`a POST cuts ${this.postDrops.size} connection(s)`);
    if (this.asyncFault && this.asyncFault.remaining > 0) {
      const { functionId, phase, remaining } = this.asyncFault;
      parts.push(`next ${remaining} async invocation(s) of ${functionId} fail ${phase} the handler`);
    }
    if (this.dynamoDbThrottleRate > 0) {
      const cap = Number.isFinite(this.dynamoDbMaxConsecutive)
        ? `, ≤${this.dynamoDbMaxConsecutive} per call`
        : '';
      parts.push(`DynamoDB ${pct(this.dynamoDbThrottleRate)} throttled${cap}`);
    }
    return `${parts.join('; ')}; seed ${this.seed}`;
  }

  stats(): FaultStats {
    return { ...this.counters, postFaults: { ...this.postFaultCounts } };
  }

  /**
   * Called for every @connections POST before it is delivered: waits the added latency,
   * then returns the failure to answer with, or undefined to deliver.
   */
  async beforePost(connectionId: string, body: Buffer): Promise<InjectedPostFault | undefined> {
    this.counters.posts++;
    if (this.postLatencyMs > 0) {
      const ms = Math.round(this.postRandom() * this.postLatencyMs);
      this.counters.postLatencyMsTotal += ms;
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    }
    if (this.postRate === 0 || (this.postTargets && !this.postTargets.has(connectionId))) return undefined;
    const key = `${connectionId}\n${createHash('sha1').update(body).digest('base64')}`;
    if (this.postFailures.get(key) >= this.postMaxConsecutive || this.postRandom() >= this.postRate) {
      this.postFailures.passed(key);
      return undefined;
    }
    this.postFailures.failed(key);
    const status = this.postStatuses[Math.floor(this.postRandom() * this.postStatuses.length)] ?? 500;
    this.postFaultCounts[status] = (this.postFaultCounts[status] ?? 0) + 1;
    const error = POST_ERRORS[status] as { type: string; message: string };
    return { status, errorType: error.type, message: error.message };
  }

  /** Whether a post to `connectionId` (that no other fault answered) cuts the connection first. */
  dropsOnPost(connectionId: string): boolean {
    return this.postDrops?.has(connectionId) ?? false;
  }

  /** Whether this asynchronous invocation of `functionId` fails, and when (consumes one). */
  invocationFault(functionId: string): 'before' | 'after' | undefined {
    const fault = this.asyncFault;
    if (!fault || fault.functionId !== functionId || fault.remaining <= 0) return undefined;
    fault.remaining--;
    return fault.phase;
  }

  /**
   * True when this DynamoDB request should be throttled (answer it with `sendThrottle`);
   * `tables` are the table names the request touches.
   */
  throttleDynamoDb(req: IncomingMessage, tables: readonly string[] = []): boolean {
    this.counters.dynamoDbRequests++;
    if (this.dynamoDbThrottleRate === 0) return false;
    if (this.dynamoDbOperations) {
      // `X-Amz-Target: DynamoDB_20120810.GetItem`
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      if (!this.dynamoDbOperations.has(operation)) return false;
    }
    const only = this.dynamoDbTables;
    if (only && !tables.some((table) => only.has(table))) return false;
    const invocation = req.headers['amz-sdk-invocation-id'];
    const key = typeof invocation === 'string' ? invocation : undefined;
    if (key !== undefined && this.dynamoFailures.get(key) >= this.dynamoDbMaxConsecutive) {
      this.dynamoFailures.passed(key);
      return false;
    }
    if (this.dynamoRandom() >= this.dynamoDbThrottleRate) {
      if (key !== undefined) this.dynamoFailures.passed(key);
      return false;
    }
    if (key !== undefined) this.dynamoFailures.failed(key);
    this.counters.dynamoDbThrottles++;
    return true;
  }
}

function pct(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}

/**
 * DynamoDB's throttle answer, as the real service (and dynalite) shape it: 400 with the
 * error type in `__type` and `x-amzn-errortype`, which the SDK classifies as a throttling
 * error and retries with backoff.
 */
export function sendDynamoDbThrottle(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const body = JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded. (injected fault)',
  });
  res.writeHead(400, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': 'ProvisionedThroughputExceededException',
    'x-amzn-requestid': `fault-${Date.now().toString(36)}`,
  });
  res.end(body);
}
