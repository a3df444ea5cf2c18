/**
 * `startLocalRuntime`: the whole backend in this process on one port — the WebSocket API,
 * the HTTP API, the Management API, the Lambda Invoke API and DynamoDB — running the
 * real handler modules with the configuration the CDK stack would give them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type { SweepReport } from '../functions/core/connections/sweep.ts';
import { setLogWriter } from '../functions/runtime/logger.ts';
import {
  type FunctionId,
  functionSpecs,
  scheduledFunctions,
  webSocketRoutes,
} from '../lib/function-specs.ts';
import { type AsyncFailureQueues, type AsyncInvocationOptions, AsyncInvoker } from './async-invocations.ts';
import { ConnectionRegistry } from './connections.ts';
import {
  DYNAMODB_TARGET_PREFIX,
  type EmbeddedDynamoDb,
  ensureTables,
  isDynamoDbRequest,
  startEmbeddedDynamoDb,
} from './dynamodb.ts';
import { FaultInjector, type FaultOptions, faultOptionsFromEnv, sendDynamoDbThrottle } from './faults.ts';
import { FunctionRegistry, type LambdaHandler, type MountedRoute } from './functions.ts';
import {
  applyHandlerEnvironment,
  assertSameAsLoadedHandlers,
  DEFAULT_REGION,
  portToListenOn,
  resolveHandlerEnvironment,
} from './handler-env.ts';
import { HTTP_API_PREFIX, handleHttpApiRequest } from './http-gateway.ts';
import { sendAwsError, sendJson } from './http-util.ts';
import { admitControlPlaneRequest, type ControlPlaneOptions } from './iam/control-plane.ts';
import { type KeyPair, localCredentials } from './iam/credentials.ts';
import {
  dynamoDbPermissions,
  type Grants,
  invokePermission,
  manageConnectionsPermission,
} from './iam/policy.ts';
import { handleInvokeRequest, matchInvokePath } from './lambda-service.ts';
import { createLogger, type Logger, printHandlerLine } from './log.ts';
import { handleManagementRequest, matchManagementPath } from './management-api.ts';
import { type EmbeddedS3, isS3Request, startEmbeddedS3 } from './s3/embedded-s3.ts';
import { LocalSchedules } from './schedules.ts';
import type { TableHost } from './table-migration.ts';
import { DEFAULT_WEB_ROOT, handleWebRequest, type WebOptions } from './web.ts';
import { type GatewayStats, refuseHandshake, WebSocketGateway } from './websocket-gateway.ts';

export const DEFAULT_PORT = 8009;
export const DEFAULT_DATA_DIR = '.chat-data';
export const DEFAULT_STAGE = 'local';
/** API Gateway's limits. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 600;
export const DEFAULT_MAX_CONNECTION_SECONDS = 7200;
export const DEFAULT_SWEEP_INTERVAL_SECONDS = scheduledFunctions.sweepConnections.defaultIntervalMinutes * 60;

export interface LocalRuntimeOptions {
  /** Default 8009; 0 picks a free port (or, in a process that ran a runtime before, that one's port). */
  readonly port?: number;
  /** Interface to listen on; default 127.0.0.1 (a development secret should not face a network). */
  readonly host?: string;
  /** Keep DynamoDB data in memory only. */
  readonly inMemory?: boolean;
  /** Where DynamoDB data persists; default `.chat-data` in the working directory. */
  readonly dataDir?: string;
  /** Stage in the callback URL; default `local`. */
  readonly stage?: string;
  readonly idleTimeoutSeconds?: number;
  readonly maxConnectionSeconds?: number;
  /** Commands one connection may have running; beyond it a frame is answered 1029 at once. Default 10. */
  readonly maxInFlightPerConnection?: number;
  /** Unread outbound bytes after which a connection is closed with 1013. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** No logs on stderr. */
  readonly quiet?: boolean;
  /** Receives every log line (even when quiet). */
  readonly log?: (line: string) => void;
  /** Extra handler configuration (e.g. JWT_ISSUER, BROADCAST_ALLOW_ALL), set in process.env. */
  readonly env?: Readonly<Record<string, string>>;
  /** Replace handler modules with functions, for tests of the runtime itself. */
  readonly handlers?: Partial<Record<FunctionId, LambdaHandler>>;
  /**
   * Fault injection (Management API POST failures and latency, DynamoDB throttles); off
   * by default. Default: read from the FAULT_* environment variables.
   */
  readonly faults?: FaultOptions;
  /**
   * Worker threads that run the handler modules (local/handler-threads.ts), so their SDK
   * work uses another core; default 0: on this thread, where in-process hooks reach them.
   */
  readonly handlerThreads?: number;
  /**
   * Handler modules written for AWS, mounted on extra WebSocket routes: route key ->
   * module path (relative to the working directory), or `{ module, runAs }` to give it the
   * grants of a function of lib/function-specs.ts (default `default`: none), e.g.
   * `{ sendmessage: { module: 'my/handler.ts', runAs: 'sendRoomMessage' } }`. Frames
   * whose `cmd` names the route reach them (docs/local-fidelity.md).
   */
  readonly mountedRoutes?: Readonly<Record<string, MountedRoute>>;
  /** The built web chat page served at `/` (local/web.ts); default `web/dist` of this checkout. */
  readonly webRoot?: string;
  /**
   * The grants the control plane checks each function's requests against; default
   * `functionSpecs` (lib/function-specs.ts), what the stack turns into IAM. Tests pass a
   * copy with a grant removed to see the path that needs it fail with AccessDenied.
   */
  readonly grants?: Grants;
  /** Retry delays and event age of asynchronous invocations (tests shorten them); default Lambda's. */
  readonly asyncInvocation?: AsyncInvocationOptions;
  /**
   * Seconds between runs of the stale-connection sweep (`sweepConnections`, on an
   * EventBridge schedule in the stack); 0: only when `sweepConnections()` is called.
   * Default DEFAULT_SWEEP_INTERVAL_SECONDS, the stack's default.
   */
  readonly sweepIntervalSeconds?: number;
}

export interface LocalRuntime {
  readonly port: number;
  /** `ws://127.0.0.1:{port}/` — any path works. */
  readonly wsUrl: string;
  /** `http://127.0.0.1:{port}`: HTTP API under /api/ws, Lambda Invoke API, DynamoDB. */
  readonly httpUrl: string;
  /** Management API endpoint including the stage (what handlers get as WS_CALLBACK_URL). */
  readonly callbackUrl: string;
  readonly dynamoDbEndpoint: string;
  /** The S3 endpoint handlers use (path style): the embedded one at `{httpUrl}/s3`, or S3_ENDPOINT. */
  readonly s3Endpoint: string;
  /** The attachments bucket (ATTACHMENTS_BUCKET). */
  readonly attachmentsBucket: string;
  /** Requests the embedded S3 served or refused, by method and outcome (empty with S3_ENDPOINT). */
  s3Requests(): ReadonlyMap<string, number>;
  readonly stage: string;
  /** Absent when in memory or when DYNAMODB_ENDPOINT points elsewhere. */
  readonly dataDir?: string;
  /** Secret handlers verify tokens with; undefined when JWT_SECRET_ID, JWKS_URL or COGNITO_USER_POOL_ID is configured. */
  readonly jwtSecret?: string;
  readonly usesDevelopmentSecret: boolean;
  /** Everything the runtime set in process.env for the handlers. */
  readonly handlerEnv: Readonly<Record<string, string>>;
  /** Fault injection: `enabled` is false unless configured; `configure` changes it while running. */
  readonly faults: FaultInjector;
  /** The interface it listens on (`--host`). */
  readonly host: string;
  /**
   * The runtime's own credentials, allowed everything on its DynamoDB, Management API and
   * Lambda Invoke API (which refuse any others but the functions'): for tools and tests.
   */
  readonly adminCredentials: KeyPair;
  /** What the WebSocket gateway did with frames: handlers run, frames refused, slow consumers closed. */
  webSocketStats(): GatewayStats;
  /** The dead-letter and on-failure destination queues of asynchronous invocations (in memory). */
  readonly asyncFailures: AsyncFailureQueues;
  /** Runs the stale-connection sweep now, as its schedule does, and returns its report. */
  sweepConnections(): Promise<SweepReport>;
  /**
   * Cuts an open connection as a network failure would and never runs its `$disconnect`
   * (API Gateway delivers it best effort); false when no such connection is open.
   */
  dropWithoutDisconnect(connectionId: string): boolean;
  /** Closes connections with 1001 (running `$disconnect`), waits for handlers, closes the database. */
  stop(): Promise<void>;
}

let runtimeActive = false;

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  if (runtimeActive) {
    throw new Error(
      'A local runtime is already running in this process. Stop it first: handlers read one process-wide environment.',
    );
  }
  runtimeActive = true;
  try {
    return await start(options);
  } catch (error) {
    runtimeActive = false;
    throw error;
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'EADDRINUSE' ? ` Port ${port} is in use: set PORT or pass --port.` : '';
      reject(new Error(`Cannot listen on ${host}:${port}: ${error.message}.${hint}`, { cause: error }));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolvePort((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeAllConnections();
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '127.0.0.1' || host === 'localhost') return '127.0.0.1';
  if (host === '::' || host === '::1') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The parts a request may reach; filled in as startup proceeds. */
interface Services {
  dynamo?: EmbeddedDynamoDb;
  /** Absent when S3_ENDPOINT points elsewhere. */
  s3?: EmbeddedS3;
  externalDynamoDb?: string;
  gateway?: WebSocketGateway;
  functions?: FunctionRegistry;
  asyncInvoker?: AsyncInvoker;
  connections: ConnectionRegistry;
  stage: string;
  region: string;
  logger: Logger;
  /** Set once startup (table creation) is done, so startup itself is never throttled. */
  faults?: FaultInjector;
  /** The web chat page and its dev-token endpoint. */
  web?: WebOptions;
  /** Who may call the control plane, and what each function may do there (local/iam). */
  controlPlane: ControlPlaneOptions;
  schedules?: LocalSchedules;
}

async function route(req: IncomingMessage, res: ServerResponse, services: Services): Promise<void> {
  const { dynamo, functions, asyncInvoker, connections, stage, logger, region, controlPlane } = services;
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  if (isDynamoDbRequest(req)) {
    const operation = String(req.headers['x-amz-target']).slice(DYNAMODB_TARGET_PREFIX.length);
    let touched: readonly string[] = [];
    const permissions = (body: Buffer) => {
      const granted = dynamoDbPermissions(region, operation, body);
      // `arn:aws:dynamodb:{region}:{account}:table/{name}[/index/{index}]`
      touched = granted.map((permission) => permission.resource.split(':table/')[1]?.split('/')[0] ?? '');
      return granted;
    };
    const admitted = await admitControlPlaneRequest(req, res, 'dynamodb', permissions, controlPlane);
    if (!admitted) return;
    req = admitted;
    if (services.faults?.enabled && services.faults.throttleDynamoDb(req, touched)) {
      logger.info(
        `DDB ${String(req.headers['x-amz-target']).slice(DYNAMODB_TARGET_PREFIX.length)} 400 throttled (injected fault)`,
      );
      return sendDynamoDbThrottle(req, res);
    }
    if (dynamo) return dynamo.handle(req, res);
    const message = `The embedded DynamoDB is off: DYNAMODB_ENDPOINT is ${services.externalDynamoDb}`;
    return sendAwsError(res, 400, 'UnknownOperationException', message);
  }
  if (services.s3 && isS3Request(rawPath)) return services.s3.handle(req, res);
  if (!functions || !asyncInvoker || !services.gateway) {
    return sendJson(res, 503, { message: 'The local runtime is starting' });
  }
  const functionName = matchInvokePath(rawPath);
  if (functionName !== undefined) {
    const permissions = () => [invokePermission(region, functionName)];
    const admitted = await admitControlPlaneRequest(req, res, 'lambda', permissions, controlPlane);
    if (!admitted) return;
    return handleInvokeRequest(admitted, res, functionName, { functions, asyncInvoker, logger, region });
  }
  const target = matchManagementPath(rawPath, stage);
  if (target) {
    const connectionId =
      target.kind === 'connection' ? target.connectionId : (rawPath.split('/').pop() ?? '');
    const method = req.method ?? 'GET';
    const permissions = () => [manageConnectionsPermission(region, stage, method, connectionId)];
    const admitted = await admitControlPlaneRequest(req, res, 'execute-api', permissions, controlPlane);
    if (!admitted) return;
    return handleManagementRequest(admitted, res, target, {
      stage,
      connections,
      logger,
      faults: services.faults,
    });
  }
  if (rawPath.startsWith(HTTP_API_PREFIX)) return handleHttpApiRequest(req, res, { functions, logger });
  if (services.web && (await handleWebRequest(req, res, services.web))) return;
  sendJson(res, 404, { message: 'Not Found' });
}

function secondsOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0)) throw new Error(`${name} must be a positive number of seconds; got ${value}.`);
  return value;
}

async function start(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const idleTimeoutSeconds = secondsOption(
    'idleTimeoutSeconds',
    options.idleTimeoutSeconds,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
  );
  const maxConnectionSeconds = secondsOption(
    'maxConnectionSeconds',
    options.maxConnectionSeconds,
    DEFAULT_MAX_CONNECTION_SECONDS,
  );
  const logger = createLogger({ quiet: options.quiet, sink: options.log });
  const faults = new FaultInjector(options.faults ?? faultOptionsFromEnv());
  const stage = options.stage ?? DEFAULT_STAGE;
  const host = options.host ?? '127.0.0.1';
  const credentials = localCredentials();
  const services: Services = {
    connections: new ConnectionRegistry(),
    stage,
    region: DEFAULT_REGION,
    logger,
    controlPlane: { credentials, grants: options.grants ?? functionSpecs, logger },
  };

  const server = createServer((req, res) => {
    route(req, res, services).catch((error: unknown) => {
      logger.error(`${req.method} ${req.url?.split('?')[0]} failed`, error);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (services.gateway) services.gateway.handleUpgrade(req, socket, head);
    else refuseHandshake(socket, 503);
  });

  const port = await listen(server, portToListenOn(options.port ?? DEFAULT_PORT), host);
  const baseUrl = `http://${urlHost(host)}:${port}`;
  try {
    const environment = resolveHandlerEnvironment({ baseUrl, stage, extra: options.env ?? {} });
    assertSameAsLoadedHandlers(port, environment.vars);
    applyHandlerEnvironment(port, environment.vars);
    // Handler log and metrics lines (stdout/stderr in Lambda) join the runtime's log, readable.
    setLogWriter((line, level) => printHandlerLine(logger, line, level));
    services.region = environment.region;
    services.externalDynamoDb = environment.externalDynamoDbEndpoint;
    services.web = {
      root: resolve(options.webRoot ?? DEFAULT_WEB_ROOT),
      tokenSecret: environment.jwtSecret,
      logger,
      // The embedded S3 is this origin (/s3); another S3_ENDPOINT must be allowed by the page's CSP.
      ...(environment.externalS3Endpoint
        ? { storageOrigin: new URL(environment.externalS3Endpoint).origin }
        : {}),
    };

    const dataDir =
      options.inMemory || environment.externalDynamoDbEndpoint
        ? undefined
        : resolve(options.dataDir ?? DEFAULT_DATA_DIR);
    if (!environment.externalDynamoDbEndpoint) services.dynamo = await startEmbeddedDynamoDb(dataDir);
    const admin = {
      accessKeyId: credentials.admin.accessKeyId,
      secretAccessKey: credentials.admin.secretAccessKey,
    };
    const tableHost: TableHost = environment.externalDynamoDbEndpoint
      ? { kind: 'configured', endpoint: environment.externalDynamoDbEndpoint }
      : { kind: 'embedded', dataDir };
    await ensureTables(environment.dynamoDbEndpoint, environment.region, admin, logger, tableHost).catch(
      (error: unknown) => {
        throw new Error(`Could not create the tables at ${environment.dynamoDbEndpoint}.`, { cause: error });
      },
    );

    if (!environment.externalS3Endpoint) {
      services.s3 = await startEmbeddedS3({
        dataDir,
        bucket: environment.vars.ATTACHMENTS_BUCKET as string,
        allowedOrigins: environment.vars.ALLOWED_ORIGINS?.split(',')
          .map((origin) => origin.trim())
          .filter(Boolean),
        credentials,
        grants: services.controlPlane.grants,
        logger,
      });
    }

    const functions = new FunctionRegistry({
      region: environment.region,
      logger,
      overrides: options.handlers,
      threads: options.handlerThreads,
      credentials,
    });
    await functions.load();
    await functions.mount(options.mountedRoutes ?? {}, new Set(Object.keys(webSocketRoutes)));
    services.functions = functions;
    const asyncInvoker = new AsyncInvoker({
      functions,
      logger,
      region: environment.region,
      faults: () => services.faults,
      options: options.asyncInvocation,
    });
    services.asyncInvoker = asyncInvoker;
    const gateway = new WebSocketGateway({
      stage,
      region: environment.region,
      functions,
      connections: services.connections,
      logger,
      idleTimeoutMs: idleTimeoutSeconds * 1000,
      maxConnectionMs: maxConnectionSeconds * 1000,
      maxInFlightPerConnection: options.maxInFlightPerConnection,
      maxBufferedBytes: options.maxBufferedBytes,
    });
    services.gateway = gateway;
    const sweepIntervalSeconds = options.sweepIntervalSeconds ?? DEFAULT_SWEEP_INTERVAL_SECONDS;
    if (!(sweepIntervalSeconds >= 0)) {
      throw new Error(
        `sweepIntervalSeconds must be 0 or a positive number of seconds; got ${sweepIntervalSeconds}.`,
      );
    }
    const schedules = new LocalSchedules({
      functions,
      region: environment.region,
      logger,
      intervalsMs: { sweepConnections: sweepIntervalSeconds * 1000 },
    });
    services.schedules = schedules;

    services.faults = faults;
    const faultSummary = faults.describe();
    if (faultSummary) logger.warn(`Fault injection ON: ${faultSummary}`);

    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= shutdown(server, services);
      return stopping;
    };
    return {
      port,
      wsUrl: `ws://${urlHost(host)}:${port}/`,
      httpUrl: baseUrl,
      callbackUrl: environment.vars.WS_CALLBACK_URL ?? `${baseUrl}/${stage}`,
      dynamoDbEndpoint: environment.dynamoDbEndpoint,
      s3Endpoint: environment.externalS3Endpoint ?? (environment.vars.AWS_ENDPOINT_URL_S3 as string),
      attachmentsBucket: environment.vars.ATTACHMENTS_BUCKET as string,
      s3Requests: () => new Map(services.s3?.requests ?? []),
      stage,
      ...(dataDir ? { dataDir } : {}),
      ...(environment.jwtSecret ? { jwtSecret: environment.jwtSecret } : {}),
      usesDevelopmentSecret: environment.usesDevelopmentSecret,
      handlerEnv: environment.vars,
      faults,
      host,
      adminCredentials: admin,
      webSocketStats: () => gateway.stats(),
      asyncFailures: asyncInvoker.failures,
      sweepConnections: () => schedules.run('sweepConnections') as Promise<SweepReport>,
      dropWithoutDisconnect: (connectionId) => gateway.dropWithoutDisconnect(connectionId),
      stop,
    };
  } catch (error) {
    setLogWriter(undefined);
    await closeServer(server);
    await services.dynamo?.close().catch(() => {});
    await services.s3?.close().catch(() => {});
    throw error;
  }
}

/** Handlers still need DynamoDB and the Management API while connections close, so the server closes last. */
async function shutdown(server: Server, services: Services): Promise<void> {
  const { logger } = services;
  try {
    services.schedules?.stop();
    await services.gateway?.closeAll(1001, 'Server shutting down');
    services.asyncInvoker?.close();
    const pending = services.functions?.runningCount ?? 0;
    if (pending > 0) logger.info(`Waiting for ${pending} running handler invocation(s), at most 5 s`);
    await services.functions?.settle(5_000);
    await closeServer(server);
    await services.functions?.close();
    await services.dynamo?.close();
    await services.s3?.close();
    logger.info('Local runtime stopped');
  } finally {
    setLogWriter(undefined);
    runtimeActive = false;
  }
}
