/**
 * The "Lambda service": loads the handler modules named in `functionSpecs` and invokes
 * them the way Lambda does (event + context, a timeout), in this process: on the runtime's
 * thread, or in handler threads (`threads`, handler-threads.ts).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { type FunctionId, functionSpecs } from '../lib/function-specs.ts';
import { LOCAL_ACCOUNT_ID } from './events.ts';
import { HandlerThreads } from './handler-threads.ts';
import type { LocalCredentials } from './iam/credentials.ts';
import { functionEnvironment, runWithEnvironment } from './iam/function-scope.ts';
import type { Logger } from './log.ts';

export type LambdaHandler = (event: unknown, context: Context) => unknown;

export type InvocationOutcome =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: unknown; readonly timedOut: boolean };

/** Lambda's default is 3 s, but the stack gives chat functions more; API Gateway waits 29 s. */
export const DEFAULT_FUNCTION_TIMEOUT_MS = 30_000;
export const INTEGRATION_TIMEOUT_MS = 29_000;

const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));
const FUNCTION_NAME_PREFIX = 'chat-local-';

export function localFunctionName(id: FunctionId): string {
  return `${FUNCTION_NAME_PREFIX}${id}`;
}

const functionIds = Object.keys(functionSpecs) as FunctionId[];

/** Accepts `name`, `name:qualifier` and full ARNs, as the Invoke API does. */
export function functionIdFromName(nameOrArn: string): FunctionId | undefined {
  const parts = nameOrArn.split(':');
  const name = nameOrArn.startsWith('arn:') ? parts[6] : parts[0];
  return functionIds.find((id) => localFunctionName(id) === name);
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export interface FunctionRegistryOptions {
  readonly region: string;
  readonly logger: Logger;
  /** Handlers that replace the modules (tests of the runtime itself). */
  readonly overrides?: Partial<Record<FunctionId, LambdaHandler>>;
  readonly timeoutMs?: number;
  /**
   * Worker threads that run the handler modules, each like one Lambda container
   * (handler-threads.ts); 0 or unset: on the runtime's thread. Overrides always run there.
   */
  readonly threads?: number;
  /** Each function's credentials, which its invocations see in their environment (local/iam). */
  readonly credentials: LocalCredentials;
}

/** Imports a handler module and returns its `handler` export. */
export async function importHandler(id: FunctionId): Promise<LambdaHandler> {
  const entry = resolve(REPOSITORY_ROOT, functionSpecs[id].entry);
  const module = (await import(pathToFileURL(entry).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function') {
    throw new Error(`${functionSpecs[id].entry} does not export a function named "handler".`);
  }
  return module.handler as LambdaHandler;
}

/** Route keys extra handlers may be mounted on: not `$`-routes, not the chat's own routes. */
const MOUNTABLE_ROUTE_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

/** A handler module mounted on a route, alone or with the function whose grants it runs with. */
export type MountedRoute = string | { readonly module: string; readonly runAs?: FunctionId };

/** The local function name of a handler mounted on a route. */
export function mountedFunctionName(routeKey: string): string {
  return `${FUNCTION_NAME_PREFIX}route-${routeKey}`;
}

export class FunctionRegistry {
  private readonly handlers = new Map<FunctionId, LambdaHandler>();
  /** Handlers mounted on extra WebSocket routes (`mount`), by route key. */
  private readonly mounted = new Map<
    string,
    { readonly handler: LambdaHandler; readonly runAs: FunctionId }
  >();
  private readonly loadErrors = new Map<FunctionId, unknown>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private threads: HandlerThreads | undefined;

  constructor(private readonly options: FunctionRegistryOptions) {}

  /**
   * Imports every handler module once, after the runtime has set the environment they
   * read at cold start. A module that fails to load is reported and fails its invocations,
   * so one broken handler does not keep the others from running.
   */
  async load(): Promise<void> {
    const imported = functionIds.filter((id) => !this.options.overrides?.[id]);
    if ((this.options.threads ?? 0) > 0) return this.loadInThreads(imported);
    await Promise.all(
      functionIds.map(async (id) => {
        const override = this.options.overrides?.[id];
        if (override) {
          this.handlers.set(id, override);
          return;
        }
        try {
          this.handlers.set(id, await importHandler(id));
        } catch (error) {
          this.loadFailed(id, error);
        }
      }),
    );
  }

  /**
   * Imports handler modules written for AWS (paths relative to the working directory) and
   * mounts each on a WebSocket route key of its own. They run on the runtime's thread with
   * the chat handlers' environment (region, AWS_ENDPOINT_URL_*) and the credentials of the
   * function named in `runAs` (default: `default`, which has no grants), so the local
   * control plane allows exactly what that function's grants allow.
   */
  async mount(routes: Readonly<Record<string, MountedRoute>>, reserved: ReadonlySet<string>): Promise<void> {
    for (const [routeKey, route] of Object.entries(routes)) {
      const { module: modulePath, runAs = 'default' } = typeof route === 'string' ? { module: route } : route;
      if (!MOUNTABLE_ROUTE_KEY.test(routeKey) || reserved.has(routeKey)) {
        throw new Error(
          `Cannot mount ${modulePath} on route "${routeKey}": use letters, digits, "_", "-" or "." and no route the chat already has.`,
        );
      }
      if (!Object.hasOwn(functionSpecs, runAs)) {
        throw new Error(
          `Cannot mount ${modulePath} to run as "${runAs}": no such function in lib/function-specs.ts.`,
        );
      }
      const module = (await import(pathToFileURL(resolve(modulePath)).href)) as { handler?: unknown };
      if (typeof module.handler !== 'function') {
        throw new Error(
          `${modulePath} (mounted on "${routeKey}") does not export a function named "handler".`,
        );
      }
      this.mounted.set(routeKey, { handler: module.handler as LambdaHandler, runAs });
      this.options.logger.info(
        `λ ${mountedFunctionName(routeKey)} mounted on route "${routeKey}" from ${modulePath}, with the grants of ${runAs}`,
      );
    }
  }

  get mountedRoutes(): ReadonlySet<string> {
    return new Set(this.mounted.keys());
  }

  /** Runs the handler mounted on `routeKey`, as `invoke` does. */
  invokeMounted(routeKey: string, event: unknown, timeoutMs = DEFAULT_FUNCTION_TIMEOUT_MS) {
    const mounted = this.mounted.get(routeKey);
    const name = mountedFunctionName(routeKey);
    const outcome = mounted
      ? this.runHandler(name, mounted.runAs, mounted.handler, event, timeoutMs)
      : Promise.resolve<InvocationOutcome>({
          ok: false,
          error: new Error(`Nothing is mounted on route "${routeKey}".`),
          timedOut: false,
        });
    this.track(outcome);
    return outcome;
  }

  private loadFailed(id: FunctionId, error: unknown): void {
    this.loadErrors.set(id, error);
    this.options.logger.error(`λ ${localFunctionName(id)} failed to load; its invocations will fail`, error);
  }

  /** `threads` > 0: the modules load (and their invocations run) in handler threads. */
  private async loadInThreads(imported: readonly FunctionId[]): Promise<void> {
    const { threads, failures } = await HandlerThreads.start({
      threads: this.options.threads ?? 1,
      functionIds: imported,
      functionKeys: this.options.credentials.functionKeyPairs(),
      logger: this.options.logger,
    });
    this.threads = threads;
    for (const [id, override] of Object.entries(this.options.overrides ?? {}))
      if (override) this.handlers.set(id as FunctionId, override);
    for (const id of imported) this.handlers.set(id, threads.handler(id));
    for (const { functionId, error } of failures) {
      this.handlers.delete(functionId);
      this.loadFailed(functionId, error);
    }
  }

  /** Stops the handler threads, if any (after `settle`: running invocations fail). */
  async close(): Promise<void> {
    await this.threads?.close();
    this.threads = undefined;
  }

  /** Runs the handler and waits for it, at most the timeout (the spec's, when it sets one). */
  invoke(
    id: FunctionId,
    event: unknown,
    timeoutMs = this.options.timeoutMs ??
      (functionSpecs[id].timeoutSeconds ?? DEFAULT_FUNCTION_TIMEOUT_MS / 1000) * 1000,
  ) {
    const outcome = this.run(id, event, timeoutMs);
    this.track(outcome);
    return outcome;
  }

  get runningCount(): number {
    return this.inFlight.size;
  }

  /** Waits for running invocations (they may still write to DynamoDB), at most `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((done) => {
        timer = setTimeout(done, deadline - Date.now());
      });
      await Promise.race([Promise.allSettled([...this.inFlight]), timeout]);
      clearTimeout(timer);
    }
  }

  private track(invocation: Promise<unknown>): void {
    this.inFlight.add(invocation);
    void invocation.finally(() => this.inFlight.delete(invocation));
  }

  private async run(id: FunctionId, event: unknown, timeoutMs: number): Promise<InvocationOutcome> {
    const handler = this.handlers.get(id);
    if (!handler) {
      const error = this.loadErrors.get(id) ?? new Error(`${localFunctionName(id)} is not loaded.`);
      return { ok: false, error, timedOut: false };
    }
    return this.runHandler(localFunctionName(id), id, handler, event, timeoutMs);
  }

  /** `credentialsOf`: the function whose credentials (and so grants) the invocation has. */
  private async runHandler(
    functionName: string,
    credentialsOf: FunctionId,
    handler: LambdaHandler,
    event: unknown,
    timeoutMs: number,
  ): Promise<InvocationOutcome> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<InvocationOutcome>((done) => {
      timer = setTimeout(() => {
        const seconds = (timeoutMs / 1000).toFixed(2);
        done({
          ok: false,
          error: new TimeoutError(`Task timed out after ${seconds} seconds`),
          timedOut: true,
        });
      }, timeoutMs);
    });
    const completed = (async (): Promise<InvocationOutcome> => {
      try {
        const keys = this.options.credentials.forFunction(credentialsOf);
        const environment = functionEnvironment(functionName, keys);
        const context = this.context(functionName, deadline);
        return { ok: true, result: await runWithEnvironment(environment, () => handler(event, context)) };
      } catch (error) {
        return { ok: false, error, timedOut: false };
      }
    })();
    try {
      return await Promise.race([completed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private context(functionName: string, deadline: number): Context {
    const unsupported = () => {
      throw new Error(
        'Callback-style completion (context.done/succeed/fail) is not supported; return a value.',
      );
    };
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${this.options.region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
      memoryLimitInMB: '1024',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/${functionName}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: unsupported,
      fail: unsupported,
      succeed: unsupported,
    };
  }
}
