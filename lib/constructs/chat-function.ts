import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The repository root: handlers import `lib/` modules, so bundling must see the whole tree. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Prepended to every bundle. ESM output has no `require`, but CommonJS dependencies that
 * esbuild inlines still call it (e.g. for Node built-ins); this gives them a real one.
 * The import is aliased so it cannot clash with a bundled `createRequire`.
 */
export const ESM_REQUIRE_SHIM =
  "import { createRequire as __chatCreateRequire } from 'node:module'; " +
  'const require = __chatCreateRequire(import.meta.url);';

/**
 * Packages every bundle replaces with a module of this repository (esbuild `alias`; paths
 * relative to the project root, where esbuild runs, locally or in Docker).
 * `@aws-sdk/credential-provider-node` is the SDK's default credential chain: in Lambda
 * only its first link, the environment, ever finds anything, and the rest (the STS and
 * SSO clients among them) is about 120 KB that Node would parse on every cold start; see
 * functions/runtime/env-credentials.ts.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './functions/runtime/env-credentials.ts',
};

/**
 * Injected into every bundle when tracing is on (esbuild `inject`, relative to the project
 * root): it gives the SDK clients X-Ray middleware (functions/runtime/tracing.ts). Without
 * tracing the bundles do not contain it, nor Powertools Tracer and the X-Ray SDK.
 */
export const TRACING_WIRING = './functions/runtime/wiring/tracing.ts';

/**
 * How every handler is bundled, in esbuild's option names: ChatFunction bundles with them
 * at synth, construct/build.ts when it pre-bundles the handlers of the construct package,
 * and the bench (scripts/bench/bundles.ts) when it measures init — all through
 * `handlerBuildOptions`, so the three make the same bundles.
 */
export const HANDLER_BUNDLING = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Prefer the ESM builds of dependencies, which tree-shake better.
  mainFields: ['module', 'main'],
  minify: true,
  // Linked maps beside the bundles (`index.mjs.map`), for mapping a stack offline or for
  // NODE_OPTIONS=--enable-source-maps (`sourceMapsInStackTraces`), which needs the mappings,
  // not the sources.
  sourcemap: true,
  sourcesContent: false,
  // index.mjs holds what the handler imports statically; what it imports with `import()`
  // (the S3, EventBridge and Lambda clients, used by few invocations) goes to chunks beside
  // it, which Node parses only when an invocation needs them (docs/performance.md).
  splitting: true,
  // Bundle the AWS SDK too: the versions are pinned in package-lock.json instead of
  // whatever the runtime happens to ship, and cold starts do not resolve hundreds of modules.
  external: [],
  banner: ESM_REQUIRE_SHIM,
  // The SDK's default credential chain, replaced by the environment provider.
  alias: BUNDLE_ALIASES,
} as const;

/**
 * NODE_OPTIONS that makes Node apply the bundles' source maps to stack traces. Off by
 * default (`ChatFunctionProps.sourceMapsInStackTraces`): Node would read and index every
 * loaded chunk's map on each cold start — about a fifth of a bundle's init (docs/architecture.md,
 * "Bundling and init") — for stacks that only an uncaught error prints (the handlers log an
 * error's name and message, never its stack).
 */
export const SOURCE_MAPS_NODE_OPTIONS = '--enable-source-maps';

/** The NODE_OPTIONS a function gets (none by default): what the bench starts its processes with. */
export function handlerNodeOptions(sourceMapsInStackTraces: boolean): string | undefined {
  return sourceMapsInStackTraces ? SOURCE_MAPS_NODE_OPTIONS : undefined;
}

/** What `handlerBuildOptions` bundles, and where to. */
export interface HandlerBuild {
  /** The repository root: esbuild runs there (aliases and injected modules are relative to it). */
  readonly projectRoot: string;
  /** Handler module relative to `projectRoot`. */
  readonly entry: string;
  /** Gets `index.mjs` (which exports `handler`), its chunks and their source maps. */
  readonly outdir: string;
  /** The stack's `tracing` option: TRACING_WIRING injected. */
  readonly tracing: boolean;
  /** Packages left out of the bundle. @default HANDLER_BUNDLING.external (none) */
  readonly external?: readonly string[];
}

/** esbuild's options for one handler (see HANDLER_BUNDLING). */
export function handlerBuildOptions(build: HandlerBuild) {
  return {
    ...HANDLER_BUNDLING,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    external: [...(build.external ?? HANDLER_BUNDLING.external)],
    banner: { js: HANDLER_BUNDLING.banner },
    alias: { ...HANDLER_BUNDLING.alias },
    inject: handlerInject(build.tracing),
    absWorkingDir: build.projectRoot,
    entryPoints: { index: path.join(build.projectRoot, build.entry) },
    outdir: build.outdir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning' as const,
  };
}

/** The modules esbuild injects into every bundle (relative to the project root). */
export function handlerInject(tracing: boolean): string[] {
  return tracing ? [TRACING_WIRING] : [];
}

/**
 * Where the construct package keeps the handlers it pre-bundled (construct/build.ts),
 * beside the compiled copy of this module: `plain/<module>/index.mjs`, and `traced/…` with
 * TRACING_WIRING injected. It does not exist in the repository, whose app bundles the
 * handlers from source at synth.
 */
export const PREBUILT_BUNDLES_DIR = fileURLToPath(new URL('../lambda-bundles/', import.meta.url));

/** The directory of `entry`'s pre-built bundle under `bundlesDir`: `plain/send-message`. */
export function prebuiltBundleDir(bundlesDir: string, entry: string, tracing: boolean): string {
  return path.join(bundlesDir, tracing ? 'traced' : 'plain', path.basename(entry, path.extname(entry)));
}

export interface ChatFunctionProps {
  /** Handler module relative to `projectRoot`; it exports `handler`. */
  readonly entry: string;

  /** @default - no description */
  readonly description?: string;

  /**
   * Keep it below API Gateway's 29 s integration timeout for functions behind a route:
   * a stuck invocation is then stopped before the gateway gives up on it, rather than
   * running on (and writing) after the client was told it failed.
   *
   * @default Duration.seconds(28)
   */
  readonly timeout?: Duration;

  /** @default 256 */
  readonly memorySize?: number;

  /**
   * A fixed physical name, for a function that must know its own name and ARN without
   * referring to itself (a CloudFormation resource cannot).
   *
   * @default - generated by CloudFormation
   */
  readonly functionName?: string;

  /**
   * The function's environment variables.
   *
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;

  /**
   * `NODE_OPTIONS=--enable-source-maps`: the stack of an uncaught error names source files,
   * lines and functions instead of positions in the minified `index.mjs`. It costs every
   * cold start the reading and indexing of the loaded chunks' source maps. Without it, the
   * maps still ship beside the bundles, so a stack can be mapped offline, or this turned on
   * for a while (also by setting the variable in the console) without rebuilding.
   *
   * @default false
   */
  readonly sourceMapsInStackTraces?: boolean;

  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;

  /** @default PROJECT_ROOT */
  readonly projectRoot?: string;

  /**
   * Where asynchronous invocations that failed every retry go (Lambda's DLQ; the role
   * gets `sqs:SendMessage` on this queue only).
   *
   * @default - none
   */
  readonly deadLetterQueue?: sqs.IQueue;

  /**
   * AWS X-Ray active tracing, with the SDK calls as subsegments (TRACING_WIRING is bundled
   * in). CDK adds `xray:PutTraceSegments` and `xray:PutTelemetryRecords` to the role.
   *
   * @default false - no tracing configuration, no X-Ray permissions, no tracer in the bundle
   */
  readonly tracing?: boolean;
}

/**
 * A Node.js 22 / arm64 function bundled locally with esbuild as ESM (in the construct
 * package: bundled when the package was built, with the same options), with its own log group
 * and an execution role that starts with nothing but writing to that log group.
 * Callers add every other permission statement by statement (`addToRolePolicy`).
 */
export class ChatFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ChatFunctionProps) {
    super(scope, id);
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;

    // An explicit log group instead of `logRetention`, which would add a custom resource
    // (with its own broad permissions) just to set the retention.
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // Our own role rather than the default one with AWSLambdaBasicExecutionRole, whose log
    // permissions cover every log group in the account.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.entry}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // The log group exists already, so no logs:CreateLogGroup.
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const functionProps = {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      functionName: props.functionName,
      timeout: props.timeout ?? Duration.seconds(28),
      role: this.role,
      logGroup: this.logGroup,
      environment: nodeOptionsEnvironment(props.sourceMapsInStackTraces ?? false, props.environment),
      deadLetterQueue: props.deadLetterQueue,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : undefined,
    } satisfies Partial<lambda.FunctionProps>;
    const tracing = props.tracing ?? false;

    // Inside the construct package: the bundles it ships, so its users need no esbuild.
    if (existsSync(PREBUILT_BUNDLES_DIR)) {
      const bundleDir = prebuiltBundleDir(PREBUILT_BUNDLES_DIR, props.entry, tracing);
      if (!existsSync(path.join(bundleDir, 'index.mjs'))) {
        throw new Error(`The package has no pre-built bundle of ${props.entry} in ${bundleDir}; rebuild it.`);
      }
      this.function = new lambda.Function(this, 'Function', {
        ...functionProps,
        handler: 'index.handler',
        code: lambda.Code.fromAsset(bundleDir),
      });
      return;
    }

    // Bundled at synth with esbuild (a devDependency; never Docker). Not NodejsFunction:
    // its single --outfile rules out the chunks of `splitting`.
    this.function = new lambda.Function(this, 'Function', {
      ...functionProps,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(projectRoot, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: DockerImage.fromRegistry('esbuild-runs-locally'),
          // Never run (local bundling always succeeds), but CDK caches bundles by these
          // options, so they must name what is bundled.
          command: ['bundle', props.entry, tracing ? 'traced' : 'plain'],
          local: {
            tryBundle(outputDir) {
              const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
              esbuild.buildSync(
                handlerBuildOptions({ projectRoot, entry: props.entry, outdir: outputDir, tracing }),
              );
              return true;
            },
          },
        },
      }),
    });
  }

  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }

  addEnvironment(key: string, value: string): void {
    this.function.addEnvironment(key, value);
  }
}

/** `environment`, with NODE_OPTIONS when source maps are on (the caller's own NODE_OPTIONS wins). */
function nodeOptionsEnvironment(
  sourceMapsInStackTraces: boolean,
  environment: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const nodeOptions = handlerNodeOptions(sourceMapsInStackTraces);
  return { ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}), ...environment };
}
