/**
 * The local runtime the `bundles` section's first calls go to (scripts/bench/bundles.ts), in
 * a process of its own: a runtime pins the handler environment of the process that starts
 * it, which later sections of the bench start runtimes with their own. Sends its handler
 * environment, token secret, every function's credentials and the first calls' seed
 * (scripts/bench/first-calls.ts, sent from a connection it keeps open) over IPC once it listens;
 * stops when the bench disconnects.
 * Run by bundles.ts (`startInitRuntime`), not by hand.
 */
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { localCredentials } from '../../local/iam/credentials.ts';
import { startLocalRuntime } from '../../local/runtime.ts';
import { type FirstCallSeed, seedFirstCalls } from './first-calls.ts';

export interface InitRuntimeInfo {
  readonly handlerEnv: Readonly<Record<string, string>>;
  readonly jwtSecret: string;
  readonly credentials: Readonly<Record<string, { accessKeyId: string; secretAccessKey: string }>>;
  /** The data the first calls use; its connection stays open until the runtime stops. */
  readonly seed: FirstCallSeed;
}

const runtime = await startLocalRuntime({
  port: 0,
  inMemory: true,
  quiet: true,
  // Rate limits off: every first call comes from the same user.
  env: {
    LOG_LEVEL: 'off',
    METRICS_FORMAT: 'off',
    RATE_LIMIT_PER_MINUTE: '0',
    READ_RATE_LIMIT_PER_MINUTE: '0',
  },
});
const credentials = Object.fromEntries(
  (Object.keys(functionSpecs) as FunctionId[]).map((id) => {
    const { accessKeyId, secretAccessKey } = localCredentials().forFunction(id);
    return [id, { accessKeyId, secretAccessKey }];
  }),
);
const { seed, close } = await seedFirstCalls(runtime.wsUrl, runtime.jwtSecret ?? '', runtime.callbackUrl);
const info: InitRuntimeInfo = {
  handlerEnv: runtime.handlerEnv,
  jwtSecret: runtime.jwtSecret ?? '',
  credentials,
  seed,
};
process.send?.({ result: info });
process.once('disconnect', () => {
  void close()
    .then(() => runtime.stop())
    .finally(() => process.exit(0));
});
