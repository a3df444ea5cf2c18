/** The startup banner of `npm start`: where everything is and how to connect right away. */
import type { LocalRuntime } from './runtime.ts';

export interface BannerInput {
  readonly runtime: LocalRuntime;
  /** A fresh token for user 1, or undefined when tokens come from elsewhere (JWKS, Secrets Manager). */
  readonly sampleToken: string | undefined;
  readonly idleTimeoutSeconds: number;
  readonly maxConnectionSeconds: number;
}

/** Loopback only: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** What `--host` exposes beyond this machine; empty when the runtime listens on loopback only. */
export function exposureWarning(host: string): string[] {
  if (isLoopbackHost(host)) return [];
  return [
    `  WARNING             --host ${host} exposes this runtime beyond loopback: anyone who can reach`,
    '                      the port can open connections with tokens signed by its secret and try the',
    '                      control plane (DynamoDB, @connections, Lambda Invoke), which only accepts',
    "                      requests signed with this runtime's credentials. Use 127.0.0.1 unless you must.",
    '',
  ];
}

export function formatBanner({
  runtime,
  sampleToken,
  idleTimeoutSeconds,
  maxConnectionSeconds,
}: BannerInput): string {
  // Humans and browsers reach the loopback runtime as localhost.
  const http = runtime.httpUrl.replace('//127.0.0.1:', '//localhost:');
  const ws = runtime.wsUrl.replace('//127.0.0.1:', '//localhost:');
  const dynamo =
    runtime.dynamoDbEndpoint === runtime.httpUrl
      ? `${http} (embedded dynalite)`
      : `${runtime.dynamoDbEndpoint} (DYNAMODB_ENDPOINT)`;
  const data = runtime.dataDir
    ? `${runtime.dataDir} (kept across restarts; --in-memory keeps nothing)`
    : runtime.dynamoDbEndpoint === runtime.httpUrl
      ? 'in memory (gone when the runtime stops)'
      : `wherever ${runtime.dynamoDbEndpoint} keeps it`;
  const secret = runtime.usesDevelopmentSecret
    ? 'WARNING: JWT_SECRET is not set; using the development secret (never use it anywhere real)'
    : runtime.jwtSecret
      ? 'HS256 with JWT_SECRET from the environment'
      : 'verified with JWT_SECRET_ID / JWKS_URL / COGNITO_USER_POOL_ID from the environment';

  const lines = [
    '',
    'Chat backend — local runtime',
    '',
    `  Web chat page       ${http}/  (sign in as any user id; local only)`,
    `  WebSocket API       ${ws}  (any path, e.g. ${ws}ws/chat)`,
    `  HTTP API            ${http}/api/ws/...`,
    `  Management API      ${http}/${runtime.stage}/@connections/{connectionId}  (also ${http}/@connections/...)`,
    `  Lambda Invoke API   ${http}/2015-03-31/functions/chat-local-{function}/invocations`,
    `  DynamoDB            ${dynamo}`,
    '  Control plane       SigV4 with IAM as deployed (each function its own keys); admin key LOCALADMIN',
    `  Data                ${data}`,
    `  Tokens              ${secret}`,
    `  Connections         idle timeout ${idleTimeoutSeconds} s, at most ${maxConnectionSeconds} s`,
    `  Events              ${
      process.env.EVENTS_WEBHOOK_URL
        ? `POSTed to ${process.env.EVENTS_WEBHOOK_URL} (EVENTS_WEBHOOK_URL; docs/events.md)`
        : 'off (set EVENTS_WEBHOOK_URL to receive them; docs/events.md)'
    }`,
    '',
  ];
  lines.push(...exposureWarning(runtime.host));
  const faults = runtime.faults.describe();
  if (faults) lines.push(`  FAULT INJECTION ON  ${faults}`, '');
  if (sampleToken) {
    lines.push(
      'Connect as user 1 (token valid for 24 h):',
      `  npx wscat -c "${ws}?token=${sampleToken}"`,
      '',
      'Tokens for other users:  npm run token -- <userId> [--role admin] [--ttl 3600]',
      '',
    );
  }
  lines.push('Stop with Ctrl+C.', '');
  return lines.join('\n');
}
