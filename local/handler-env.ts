/**
 * The environment the handlers run with locally — the same variables the CDK stack sets
 * in AWS, pointing at this runtime. Handlers read them once, when their module is first
 * imported, so they are written to `process.env` before any handler module loads.
 *
 * Node caches ES modules for the life of the process, so handlers keep the configuration
 * of the first runtime started in it. A later runtime in the same process must therefore
 * use the same configuration (with `port: 0` it gets the earlier port back); anything
 * else is refused with an error naming the variables that differ.
 */
import { type FunctionId, type FunctionSpec, functionSpecs } from '../lib/function-specs.ts';
import { tableDefinitions } from '../lib/table-definitions.ts';
import { DEVELOPMENT_JWT_SECRET } from './dev-secret.ts';
import { localFunctionName } from './functions.ts';
import { LOCAL_ATTACHMENTS_BUCKET, S3_PATH_PREFIX } from './s3/embedded-s3.ts';

export interface HandlerEnvironment {
  readonly vars: Readonly<Record<string, string>>;
  /** Set when DYNAMODB_ENDPOINT came from the user: no embedded DynamoDB then. */
  readonly externalDynamoDbEndpoint: string | undefined;
  readonly dynamoDbEndpoint: string;
  /** The HS256 secret handlers verify with; undefined when JWT_SECRET_ID, JWKS_URL or COGNITO_USER_POOL_ID is configured. */
  readonly jwtSecret: string | undefined;
  readonly usesDevelopmentSecret: boolean;
  readonly region: string;
  /** Set when S3_ENDPOINT came from the user: no embedded S3 then. */
  readonly externalS3Endpoint: string | undefined;
}

/** The region handlers get unless AWS_REGION is set: a real name, as in Lambda. */
export const DEFAULT_REGION = 'us-east-1';

/** Values this module wrote, so a restart does not mistake them for the user's settings. */
const writtenByRuntime = new Map<string, string>();
let loadedWith: { readonly port: number; readonly vars: Readonly<Record<string, string>> } | undefined;

function userSetting(name: string, extra: Readonly<Record<string, string>>): string | undefined {
  if (extra[name] !== undefined) return extra[name];
  const value = process.env[name];
  if (value === undefined || value === '' || writtenByRuntime.get(name) === value) return undefined;
  return value;
}

export function resolveHandlerEnvironment(input: {
  readonly baseUrl: string;
  readonly stage: string;
  readonly extra: Readonly<Record<string, string>>;
}): HandlerEnvironment {
  const { baseUrl, stage, extra } = input;
  const setting = (name: string) => userSetting(name, extra);
  const vars: Record<string, string> = {};
  for (const table of Object.values(tableDefinitions)) vars[table.envVar] = table.localName;

  const externalDynamoDbEndpoint = setting('DYNAMODB_ENDPOINT');
  vars.DYNAMODB_ENDPOINT = externalDynamoDbEndpoint ?? baseUrl;
  vars.LAMBDA_ENDPOINT = baseUrl;
  vars.WS_CALLBACK_URL = `${baseUrl}/${stage}`;
  // Every function another one invokes (the welcome push, the fan-out worker), by its local name.
  for (const [id, spec] of Object.entries(functionSpecs) as [FunctionId, FunctionSpec][]) {
    if (spec.nameEnvVar) vars[spec.nameEnvVar] = localFunctionName(id);
  }

  // Another key source configured by the user replaces the shared secret entirely.
  const otherKeySource = setting('JWT_SECRET_ID') ?? setting('JWKS_URL') ?? setting('COGNITO_USER_POOL_ID');
  const userSecret = setting('JWT_SECRET');
  const jwtSecret = otherKeySource ? undefined : (userSecret ?? DEVELOPMENT_JWT_SECRET);
  if (jwtSecret) vars.JWT_SECRET = jwtSecret;

  // Credentials are not set here: each invocation gets its own function's in its
  // environment (local/iam/function-scope.ts), which the local control plane checks.
  // The SDK's standard endpoint variables, so a handler written for AWS (its own clients,
  // no endpoint in code) reaches this runtime: DynamoDB, Lambda, the Management API, and
  // any other service (a 404 here rather than a call to real AWS). Not the generic one
  // when a key source needs real Secrets Manager (JWT_SECRET_ID).
  vars.AWS_ENDPOINT_URL_DYNAMODB = vars.DYNAMODB_ENDPOINT;
  vars.AWS_ENDPOINT_URL_LAMBDA = baseUrl;
  vars.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI = vars.WS_CALLBACK_URL;
  // Attachments: the embedded S3 at /s3 (path style), unless S3_ENDPOINT names another server.
  vars.ATTACHMENTS_BUCKET = setting('ATTACHMENTS_BUCKET') ?? LOCAL_ATTACHMENTS_BUCKET;
  const externalS3Endpoint = setting('S3_ENDPOINT');
  if (externalS3Endpoint) vars.S3_ENDPOINT = externalS3Endpoint;
  else vars.AWS_ENDPOINT_URL_S3 = `${baseUrl}${S3_PATH_PREFIX}`;
  const userEndpoint = setting('AWS_ENDPOINT_URL');
  if (userEndpoint) vars.AWS_ENDPOINT_URL = userEndpoint;
  else if (!setting('JWT_SECRET_ID')) vars.AWS_ENDPOINT_URL = baseUrl;

  // A real region name (handlers may build ARNs or pick endpoints from it), AWS_REGION if set.
  const region = setting('AWS_REGION') ?? DEFAULT_REGION;
  vars.AWS_REGION = region;
  vars.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  // Compact `METRIC name=value` lines instead of EMF documents (METRICS_FORMAT=emf shows those).
  vars.METRICS_FORMAT = setting('METRICS_FORMAT') ?? 'text';
  Object.assign(vars, extra);

  return {
    vars,
    externalDynamoDbEndpoint,
    dynamoDbEndpoint: vars.DYNAMODB_ENDPOINT,
    jwtSecret,
    usesDevelopmentSecret: jwtSecret === DEVELOPMENT_JWT_SECRET,
    region,
    externalS3Endpoint,
  };
}

/** The port to listen on: with `0`, the port handlers were configured with, if any. */
export function portToListenOn(requested: number): number {
  return requested === 0 && loadedWith ? loadedWith.port : requested;
}

/** Refuses a configuration that differs from the one handler modules already hold. */
export function assertSameAsLoadedHandlers(port: number, vars: Readonly<Record<string, string>>): void {
  if (!loadedWith) return;
  const names = new Set([...Object.keys(loadedWith.vars), ...Object.keys(vars)]);
  const changed = [...names].filter((name) => loadedWith?.vars[name] !== vars[name]).sort();
  if (loadedWith.port !== port && !changed.length) changed.push(`port ${loadedWith.port} -> ${port}`);
  if (changed.length === 0) return;
  throw new Error(
    `Handler modules in this process were loaded with another configuration (changed: ${changed.join(', ')}). ` +
      'Node caches modules, so restart the process to change it (node --test runs each test file in its own process).',
  );
}

/** Writes the variables to `process.env` and pins them for later runtimes in this process. */
export function applyHandlerEnvironment(port: number, vars: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(vars)) {
    // Only values the runtime supplied; a value the user set stays theirs on a restart.
    if (process.env[name] !== value) writtenByRuntime.set(name, value);
    process.env[name] = value;
  }
  loadedWith = { port, vars };
}
