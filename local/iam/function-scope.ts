/**
 * Each invocation sees its own function's environment, as in Lambda, where every function
 * runs in a process of its own: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (its
 * credentials, which the SDK's default provider and functions/runtime/env-credentials.ts
 * read) and `AWS_LAMBDA_FUNCTION_NAME`. The local runtime runs all functions in one
 * process (or a few handler threads), so `process.env` becomes a view that answers
 * these names from the running invocation's scope (AsyncLocalStorage, which follows the
 * invocation's promises) and everything else from the real environment.
 *
 * The per-container caches in functions/runtime (services, SDK clients) are keyed by
 * `AWS_LAMBDA_FUNCTION_NAME`, so a client signs with the credentials of the one function
 * that uses it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type ScopedEnvironment = ReadonlyMap<string, string | undefined>;

const scope = new AsyncLocalStorage<ScopedEnvironment>();
let installed = false;

function scoped(name: string | symbol): { readonly found: boolean; readonly value?: string } {
  const store = typeof name === 'string' ? scope.getStore() : undefined;
  if (!store || typeof name !== 'string' || !store.has(name)) return { found: false };
  return { found: true, value: store.get(name) };
}

/** Replaces `process.env` by the scoped view, once per thread. */
function installScopedEnvironment(): void {
  if (installed) return;
  installed = true;
  const real = process.env;
  process.env = new Proxy(real, {
    get(target, name) {
      const { found, value } = scoped(name);
      return found ? value : Reflect.get(target, name);
    },
    // Writes go to the real environment (whose setter wants a plain assignment).
    set(target, name, value) {
      if (typeof name !== 'string') return false;
      target[name] = value;
      return true;
    },
    deleteProperty(target, name) {
      if (typeof name === 'string') delete target[name];
      return true;
    },
    has(target, name) {
      const { found, value } = scoped(name);
      return found ? value !== undefined : Reflect.has(target, name);
    },
    ownKeys(target) {
      const store = scope.getStore();
      const keys = new Set(Reflect.ownKeys(target));
      for (const [name, value] of store ?? []) {
        if (value === undefined) keys.delete(name);
        else keys.add(name);
      }
      return [...keys];
    },
    getOwnPropertyDescriptor(target, name) {
      const { found, value } = scoped(name);
      if (!found) return Reflect.getOwnPropertyDescriptor(target, name);
      if (value === undefined) return undefined;
      return { value, writable: true, enumerable: true, configurable: true };
    },
  });
}

/** The environment a function's invocations see on top of the process's. */
export function functionEnvironment(
  functionName: string,
  keys: { readonly accessKeyId: string; readonly secretAccessKey: string },
): ScopedEnvironment {
  return new Map<string, string | undefined>([
    ['AWS_LAMBDA_FUNCTION_NAME', functionName],
    ['AWS_ACCESS_KEY_ID', keys.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', keys.secretAccessKey],
    // A session token from the developer's shell would be signed along with these keys.
    ['AWS_SESSION_TOKEN', undefined],
    ['AWS_CREDENTIAL_EXPIRATION', undefined],
  ]);
}

/** Runs `fn` (an invocation, and everything it starts) with `environment` in `process.env`. */
export function runWithEnvironment<T>(environment: ScopedEnvironment, fn: () => T): T {
  installScopedEnvironment();
  return scope.run(environment, fn);
}
