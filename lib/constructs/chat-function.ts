import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
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
   * Added to `NODE_OPTIONS=--enable-source-maps`, which every function gets.
   *
   * @default - no other variables
   */
  readonly environment?: Readonly<Record<string, string>>;

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
}

/**
 * A Node.js 22 / arm64 function bundled locally with esbuild as ESM, with its own log group
 * and an execution role that starts with nothing but writing to that log group.
 * Callers add every other permission statement by statement (`addToRolePolicy`).
 */
export class ChatFunction extends Construct {
  readonly function: NodejsFunction;
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

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(projectRoot, props.entry),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(28),
      role: this.role,
      logGroup: this.logGroup,
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      deadLetterQueue: props.deadLetterQueue,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer the ESM builds of dependencies, which tree-shake better.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // NODE_OPTIONS=--enable-source-maps only needs the mappings, not the sources.
        sourcesContent: false,
        // Bundle the AWS SDK too: the versions are pinned in package-lock.json instead of
        // whatever the runtime happens to ship, and cold starts load one file.
        externalModules: [],
        banner: ESM_REQUIRE_SHIM,
        // esbuild is a devDependency; never fall back to Docker.
        forceDockerBundling: false,
        // Only what needs attention, not a size report per function on every synth.
        logLevel: LogLevel.WARNING,
      },
    });
  }

  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPrincipalPolicy(statement);
  }

  addEnvironment(key: string, value: string): void {
    this.function.addEnvironment(key, value);
  }
}
