/**
 * `npm run smoke -- --url <ws…> --http <http…> --token <jwt> --token2 <jwt>`: a short
 * conformance pass against a deployment (AWS or the local runtime). Two users connect and
 * go through welcome, ping, a private message, a group message, the online count and
 * check, history over HTTP and WebSocket, the 1000/1001 answers and a clean close. Each
 * check prints `✔ name (ms)` or `✖ name: why`; the exit code is 1 when any check failed.
 *
 * Every run uses its own run id in its content, so it can run against a shared deployment.
 * It leaves behind only what it sent: one private message and one group (with one message).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { mintToken } from '../local/tokens.ts';
import { commandLine } from './cli.ts';

const DEFAULT_TIMEOUT_SECONDS = 10;

const USAGE = `Usage: npm run smoke -- --url <ws(s)://…> --http <http(s)://…> [options]

Runs a short conformance pass against a deployment (AWS or the local runtime) with two
users, A and B, and prints each check. Exit code 0 when every check passed, 1 otherwise,
2 for bad options.

Options:
  --url <url>        WebSocket URL: stack output WebSocketUrl (wss://…/prod), or
                     ws://localhost:8009/ for the local runtime
  --http <url>       HTTP API base: stack output HttpApiUrl, or http://localhost:8009/
  --token <jwt>      token for user A
  --token2 <jwt>     token for user B (another user; needed for delivery and groups)
  --secret <secret>  HS256 secret to mint the tokens that were not given (default:
                     JWT_SECRET); minted users are smoke-a-<run id> / smoke-b-<run id>,
                     with iss/aud from JWT_ISSUER / JWT_AUDIENCE when set.
                     Against a local runtime (--http on localhost/127.0.0.1/[::1]),
                     without tokens or a secret, the tokens come from its POST /dev/token.
  --timeout <s>      longest wait per check, in seconds (default ${DEFAULT_TIMEOUT_SECONDS})
  -h, --help         shows this help

Checks: connect A, welcome, connect B, ping, 1:1 message, group message, online count,
online check, history (HTTP), history (WebSocket), unknown command (1000), non-JSON frame
(1001), clean close. Each run creates one group owned by user A: with fixed tokens, a
user reaches the groups-per-user limit (MAX_GROUPS_PER_USER, default 100) after that many
runs; minted tokens use new users every run.

Examples:
  npm run smoke -- --url ws://localhost:8009/ --http http://localhost:8009/     (npm start first)
  npm run smoke -- --url wss://abc.execute-api.eu-west-1.amazonaws.com/prod \\
    --http https://def.execute-api.eu-west-1.amazonaws.com/ --secret "$SECRET"
  npm run smoke -- --url <WebSocketUrl> --http <HttpApiUrl> --token "$JWT_A" --token2 "$JWT_B"`;

interface Options {
  readonly url: string;
  readonly http: string;
  readonly token?: string;
  readonly token2?: string;
  readonly secret?: string;
  /** No tokens, no secret, and --http is a loopback address: ask the local runtime's POST /dev/token. */
  readonly devTokens: boolean;
  readonly timeoutMs: number;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseUrl(name: string, raw: string | undefined, protocols: readonly string[]): string {
  if (raw === undefined || !raw.trim()) fail(`Missing --${name}.`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    fail(`--${name} is not a URL: "${raw}".`);
  }
  if (!protocols.includes(url.protocol))
    fail(`--${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}; got "${raw}".`);
  return url.toString();
}

function parseOptions(): Options | undefined {
  const { values } = commandLine(USAGE, {
    options: {
      url: { type: 'string' },
      http: { type: 'string' },
      token: { type: 'string' },
      token2: { type: 'string' },
      secret: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const str = (name: keyof typeof values) => {
    const value = values[name];
    return typeof value === 'string' && value.trim() ? value.trim() : undefined;
  };
  const timeoutSeconds = str('timeout') === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(str('timeout'));
  if (!(timeoutSeconds > 0) || !Number.isFinite(timeoutSeconds))
    fail(`--timeout must be a positive number of seconds; got "${values.timeout}".`);
  const secret = str('secret') ?? process.env.JWT_SECRET?.trim() ?? undefined;
  const options: Options = {
    url: parseUrl('url', str('url'), ['ws:', 'wss:']),
    http: parseUrl('http', str('http'), ['http:', 'https:']),
    token: str('token'),
    token2: str('token2'),
    secret: secret || undefined,
    devTokens: false,
    timeoutMs: Math.round(timeoutSeconds * 1000),
  };
  if ((!options.token || !options.token2) && !options.secret) {
    if (LOOPBACK_HOSTS.has(new URL(options.http).hostname)) return { ...options, devTokens: true };
    const missing =
      !options.token && !options.token2 ? '--token and --token2' : options.token ? '--token2' : '--token';
    fail(
      `Missing ${missing}. The smoke test needs two users, A and B. Pass either\n` +
        '  --token <jwt for user A> --token2 <jwt for another user B>, or\n' +
        '  --secret <HS256 secret> (or JWT_SECRET) to mint the missing tokens;\n' +
        '  for a deployed stack: --secret "$(aws secretsmanager get-secret-value --secret-id <JwtSecretArn> --query SecretString --output text)"\n' +
        '  for the local runtime: --token "$(npm run -s token -- smoke-a)" --token2 "$(npm run -s token -- smoke-b)"',
    );
  }
  return options;
}

// ---------------------------------------------------------------- a small WebSocket client

interface Frame {
  readonly raw: string;
  readonly code?: number;
  readonly message?: string;
  readonly data?: { readonly type?: string; readonly [field: string]: unknown } | null;
  readonly request_id?: unknown;
}

class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly consumed = new Set<Frame>();
  private waiters: { predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];

  private constructor(private readonly socket: WebSocket) {
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
    );
    socket.on('error', () => {});
    socket.on('message', (data, binary) => {
      const raw = binary ? '<binary>' : Buffer.from(data as Buffer).toString('utf8');
      let frame: Frame = { raw };
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed === 'object' && parsed !== null) frame = { ...(parsed as object), raw };
      } catch {
        // kept as raw text
      }
      this.frames.push(frame);
      const waiter = this.waiters.find((w) => w.predicate(frame));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.consumed.add(frame);
        waiter.resolve(frame);
      }
    });
  }

  static open(url: string, timeoutMs: number): Promise<Client> {
    const socket = new WebSocket(url, { handshakeTimeout: timeoutMs });
    const client = new Client(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        socket.terminate();
        reject(new HandshakeRefused(res.statusCode ?? 0));
      });
      socket.once('error', (error) => reject(error));
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  waitFor(predicate: (f: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame> {
    const existing = this.frames.find((f) => !this.consumed.has(f) && predicate(f));
    if (existing) {
      this.consumed.add(existing);
      return Promise.resolve(existing);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.frames.slice(-3).map((f) => f.raw.slice(0, 200));
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms${seen.length ? `; last frames: ${seen.join(' | ')}` : '; no frames received'}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends a command and waits for the reply carrying its request_id. */
  async request(cmd: string, data: unknown, requestId: string, timeoutMs: number): Promise<Frame> {
    this.send({ cmd, data, request_id: requestId });
    return this.waitFor(
      (f) => f.request_id === requestId,
      timeoutMs,
      `reply to ${cmd} (request_id ${requestId})`,
    );
  }

  close(): Promise<{ code: number; reason: string }> {
    this.socket.close(1000, 'smoke test done');
    return this.closed;
  }

  terminate(): void {
    this.socket.terminate();
  }
}

// ---------------------------------------------------------------- checks

class CheckFailed extends Error {}

function expect(condition: unknown, why: string): asserts condition {
  if (!condition) throw new CheckFailed(why);
}

/** The reply must be a success of the given type; otherwise says what came instead. */
function expectSuccess(frame: Frame, type: string): NonNullable<Frame['data']> {
  expect(
    frame.code === 0 && frame.data?.type === type,
    `expected ${type}, got code ${frame.code} "${frame.message ?? ''}"${frame.data?.type ? ` (${frame.data.type})` : ''}`,
  );
  return frame.data as NonNullable<Frame['data']>;
}

interface Results {
  passed: number;
  failed: number;
  skipped: number;
}

async function check(
  results: Results,
  name: string,
  run: () => Promise<string | undefined>,
): Promise<boolean> {
  const started = performance.now();
  try {
    const note = await run();
    const ms = Math.round(performance.now() - started);
    results.passed += 1;
    process.stdout.write(`✔ ${name} (${ms} ms)${note ? ` — ${note}` : ''}\n`);
    return true;
  } catch (error) {
    results.failed += 1;
    const why = error instanceof Error ? error.message : String(error);
    process.stdout.write(`✖ ${name}: ${why}\n`);
    return false;
  }
}

function skip(results: Results, name: string, because: string): void {
  results.skipped += 1;
  process.stdout.write(`- ${name}: skipped (${because})\n`);
}

function withToken(wsUrl: string, token: string): string {
  const url = new URL(wsUrl);
  url.searchParams.set('token', token);
  return url.toString();
}

function httpUrl(base: string, path: string, query: Record<string, string> = {}): string {
  const url = new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

async function getJson(url: string, token: string | undefined, timeoutMs: number): Promise<Frame> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((error: unknown) => {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new CheckFailed(
      `GET ${url.split('?')[0]} failed (${error instanceof Error ? error.message : error}${cause})`,
    );
  });
  const text = await response.text();
  let body: Frame;
  try {
    body = { ...(JSON.parse(text) as object), raw: text };
  } catch {
    throw new CheckFailed(
      `GET ${url.split('?')[0]} answered HTTP ${response.status} with non-JSON: ${text.slice(0, 200)}`,
    );
  }
  expect(
    response.ok && body.code === 0,
    `GET ${url.split('?')[0]} answered HTTP ${response.status}, code ${body.code} "${body.message ?? ''}"`,
  );
  return body;
}

function describeConnectError(error: unknown): string {
  if (error instanceof HandshakeRefused) {
    const hints: Record<number, string> = {
      401: 'the token was refused: wrong secret, expired, no "exp" or "sub", or iss/aud not what the deployment expects',
      403: 'the deployment refuses this Origin (ALLOWED_ORIGINS)',
      429: 'this user has too many open connections (MAX_CONNECTIONS_PER_USER)',
    };
    return `${error.message}${hints[error.status] ? ` — ${hints[error.status]}` : ''}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `could not connect (${message}); is --url right and the deployment up?`;
}

/** A token from the local runtime's development endpoint (it signs with the runtime's own secret). */
async function devToken(http: string, userId: string): Promise<string> {
  const url = new URL('/dev/token', http);
  let status: number | undefined;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId }),
    });
    status = response.status;
    const body = (await response.json()) as { data?: { token?: unknown } };
    if (response.ok && typeof body.data?.token === 'string') return body.data.token;
  } catch {
    // Reported below.
  }
  return fail(
    `Could not get a token from ${url} (${status === undefined ? 'no answer' : `HTTP ${status}`}). ` +
      'Is the local runtime up (npm start)? Or pass --token/--token2, or --secret.',
  );
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) return 0;
  const { timeoutMs } = options;
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const results: Results = { passed: 0, failed: 0, skipped: 0 };

  const minted = [options.token ? '' : 'A', options.token2 ? '' : 'B'].filter(Boolean);
  const mint = (userId: string) =>
    options.devTokens ? devToken(options.http, userId) : mintToken(userId, { secret: options.secret });
  const tokenA = options.token ?? (await mint(`smoke-a-${runId}`));
  const tokenB = options.token2 ?? (await mint(`smoke-b-${runId}`));

  process.stdout.write(
    `Smoke test ${runId}\n  WebSocket ${options.url}\n  HTTP      ${options.http}\n` +
      `  tokens    ${minted.length ? `${options.devTokens ? 'from POST /dev/token' : 'minted'} for ${minted.join(' and ')}` : 'as given'}; timeout ${timeoutMs / 1000} s per check\n\n`,
  );

  let a: Client | undefined;
  let b: Client | undefined;
  let userA = '';
  let userB = '';
  let roomId = '';
  let messageId = '';

  const connected = await check(results, 'connect A', async () => {
    a = await Client.open(withToken(options.url, tokenA), timeoutMs).catch((error: unknown) => {
      throw new CheckFailed(describeConnectError(error));
    });
    return undefined;
  });
  if (!connected) skip(results, 'welcome A', 'connect A failed');
  const welcomed =
    connected &&
    (await check(results, 'welcome A', async () => {
      const frame = await (a as Client).waitFor((f) => f.data?.type === 'welcome', timeoutMs, 'welcome push');
      const data = expectSuccess(frame, 'welcome');
      expect(typeof data.user_id === 'string' && data.user_id, 'welcome has no user_id');
      expect(typeof data.connection_id === 'string' && data.connection_id, 'welcome has no connection_id');
      userA = data.user_id as string;
      return `user ${userA}`;
    }));
  if (connected && !welcomed) skip(results, 'connect B', 'no welcome for A');
  if (!connected) skip(results, 'connect B', 'connect A failed');
  const bConnected =
    welcomed &&
    (await check(results, 'connect B', async () => {
      b = await Client.open(withToken(options.url, tokenB), timeoutMs).catch((error: unknown) => {
        throw new CheckFailed(`user B: ${describeConnectError(error)}`);
      });
      const frame = await b.waitFor((f) => f.data?.type === 'welcome', timeoutMs, 'welcome push for B');
      userB = String(expectSuccess(frame, 'welcome').user_id ?? '');
      expect(userB, 'welcome for B has no user_id');
      expect(userB !== userA, `--token and --token2 are both for user ${userA}; B must be another user`);
      return `user ${userB}`;
    }));

  const steps: [string, () => Promise<string | undefined>, needsB: boolean][] = [
    [
      'ping',
      async () => {
        const rid = `${runId}-ping`;
        const reply = await (a as Client).request('ping', {}, rid, timeoutMs);
        expectSuccess(reply, 'pong');
        return undefined;
      },
      false,
    ],
    [
      '1:1 message A → B',
      async () => {
        const content = `smoke ${runId} private`;
        const reply = await (a as Client).request(
          'send_message',
          { to_user_id: userB, content, client_msg_id: `smoke-${runId}-dm` },
          `${runId}-dm`,
          timeoutMs,
        );
        const sent = expectSuccess(reply, 'message_sent');
        expect(typeof sent.message_id === 'string', 'message_sent has no message_id');
        messageId = sent.message_id as string;
        roomId = String(sent.room_id ?? '');
        const push = await (b as Client).waitFor(
          (f) => f.data?.type === 'new_message' && f.data.message_id === messageId,
          timeoutMs,
          `new_message ${messageId} at B`,
        );
        expect(push.data?.content === content, 'B received different content');
        expect(push.data?.from_user_id === userA, `B received from_user_id ${push.data?.from_user_id}`);
        return `delivered ${sent.delivered}`;
      },
      true,
    ],
    [
      'group message',
      async () => {
        const created = expectSuccess(
          await (a as Client).request(
            'create_group',
            { group_name: `smoke ${runId}`, member_ids: [userB] },
            `${runId}-group`,
            timeoutMs,
          ),
          'group_created',
        );
        const groupId = String(created.group_id ?? '');
        expect(groupId.startsWith('group_'), `group_created has group_id "${groupId}"`);
        const content = `smoke ${runId} group`;
        const sent = expectSuccess(
          await (a as Client).request(
            'send_group_message',
            { group_id: groupId, content },
            `${runId}-gm`,
            timeoutMs,
          ),
          'group_message_sent',
        );
        const push = await (b as Client).waitFor(
          (f) => f.data?.type === 'group_message' && f.data.message_id === sent.message_id,
          timeoutMs,
          `group_message ${sent.message_id} at B`,
        );
        expect(
          push.data?.content === content && push.data?.group_id === groupId,
          'B received a different message',
        );
        return groupId;
      },
      true,
    ],
    [
      'online count (HTTP)',
      async () => {
        const body = await getJson(httpUrl(options.http, '/api/ws/online-count'), undefined, timeoutMs);
        const count = Number(body.data?.count);
        expect(count >= 2, `expected at least 2 users online, got ${body.data?.count}`);
        return `${count} users, ${body.data?.connections} connections`;
      },
      true,
    ],
    [
      'online check B (HTTP)',
      async () => {
        const body = await getJson(
          httpUrl(options.http, '/api/ws/online/check', { user_id: userB }),
          tokenA,
          timeoutMs,
        );
        expect(
          body.data?.user_id === userB && body.data?.is_online === true,
          `expected B online, got ${body.raw}`,
        );
        return undefined;
      },
      true,
    ],
    [
      'history (HTTP)',
      async () => {
        expect(messageId, 'no 1:1 message to look for (that check failed)');
        const url = httpUrl(options.http, '/api/ws/messages', { room_id: roomId, limit: '20' });
        const body = await getJson(url, tokenA, timeoutMs);
        const messages = (body.data?.messages ?? []) as { message_id?: string }[];
        expect(
          messages.some((m) => m.message_id === messageId),
          `message ${messageId} not among the ${messages.length} newest of ${roomId}`,
        );
        return undefined;
      },
      true,
    ],
    [
      'history (WebSocket)',
      async () => {
        expect(messageId, 'no 1:1 message to look for (that check failed)');
        const reply = await (a as Client).request(
          'history',
          { room_id: roomId, limit: 20 },
          `${runId}-hist`,
          timeoutMs,
        );
        const messages = (expectSuccess(reply, 'history').messages ?? []) as { message_id?: string }[];
        expect(
          messages.some((m) => m.message_id === messageId),
          `message ${messageId} not among the ${messages.length} newest of ${roomId}`,
        );
        return undefined;
      },
      true,
    ],
    [
      'unknown command → 1000',
      async () => {
        const rid = `${runId}-unknown`;
        (a as Client).send({ cmd: `smoke_no_such_command_${runId}`, data: {}, request_id: rid });
        const reply = await (a as Client).waitFor(
          (f) => f.request_id === rid || (f.code === 1000 && f.request_id === undefined),
          timeoutMs,
          'error reply 1000',
        );
        expect(reply.code === 1000, `expected code 1000, got ${reply.code} "${reply.message ?? ''}"`);
        return undefined;
      },
      false,
    ],
    [
      'non-JSON frame → 1001',
      async () => {
        (a as Client).send(`smoke ${runId} this is not JSON`);
        const reply = await (a as Client).waitFor(
          (f) => f.code === 1001 && f.data?.type === undefined,
          timeoutMs,
          'error reply 1001',
        );
        expect(reply.data === null || reply.data === undefined, `expected data null, got ${reply.raw}`);
        return undefined;
      },
      false,
    ],
  ];

  for (const [name, run, needsB] of steps) {
    if (!welcomed) skip(results, name, connected ? 'no welcome for A' : 'connect A failed');
    else if (needsB && !bConnected) skip(results, name, 'connect B failed');
    else await check(results, name, run);
  }

  if (welcomed) {
    await check(results, 'clean close', async () => {
      const clients = [a, b].filter((c): c is Client => c !== undefined);
      let timer: NodeJS.Timeout | undefined;
      const closes = await Promise.race([
        Promise.all(clients.map((c) => c.close())),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CheckFailed(`the server did not finish the close within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const bad = closes.find((c) => c.code !== 1000);
      expect(!bad, `closed with code ${bad?.code} "${bad?.reason}"`);
      return undefined;
    });
  } else {
    skip(results, 'clean close', 'connect A failed');
  }
  a?.terminate();
  b?.terminate();

  const summary = `${results.passed} passed, ${results.failed} failed${results.skipped ? `, ${results.skipped} skipped` : ''}`;
  process.stdout.write(`\n${summary}\n`);
  return results.failed > 0 || results.skipped > 0 ? 1 : 0;
}

process.exitCode = await main();
