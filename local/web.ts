/**
 * The web chat page on the local runtime: the built page (`web/dist`, `npm run build:web`)
 * at `/`, and `POST /dev/token`, which mints a development token for any user id so the
 * page can sign in. Both exist only in the local runtime: the deployed stack has neither.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { userIdSchema } from '../functions/core/messaging/commands.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-util.ts';
import { elapsed, type Logger } from './log.ts';
import { DEFAULT_TOKEN_TTL_SECONDS, mintToken } from './tokens.ts';

/** Where `npm run build:web` writes the page, whatever the working directory. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../web/dist', import.meta.url));
export const DEV_TOKEN_PATH = '/dev/token';
const MAX_TOKEN_BODY_BYTES = 4096;
const MAX_TTL_SECONDS = 24 * 3600;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page talks only to this origin (HTTP API, dev token, WebSocket) and to the storage
 * its presigned URLs name (uploads are PUT there, images load from there); `blob:` images
 * are the sender's own picked files, shown while they upload.
 */
function pageHeaders(storageOrigin: string | undefined): Record<string, string> {
  const storage = storageOrigin ? ` ${storageOrigin}` : '';
  return {
    'content-security-policy':
      `default-src 'self'; connect-src 'self'${storage}; img-src 'self' data: blob:${storage}; ` +
      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

const NOT_BUILT = [
  'The web chat page is not built yet.',
  '',
  'Run `npm run build:web` and reload (`npm start` builds it before starting).',
  '',
].join('\n');

export interface WebOptions {
  /** Absolute directory of the built page. */
  readonly root: string;
  /** The HS256 secret the handlers verify with; undefined (JWKS, Secrets Manager) turns `/dev/token` off. */
  readonly tokenSecret: string | undefined;
  readonly logger: Logger;
  /** The origin of an S3_ENDPOINT other than the embedded S3 (which is this origin, at /s3). */
  readonly storageOrigin?: string;
}

/** Answers the page's requests; false when the request is not the page's (the caller answers 404). */
export async function handleWebRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: WebOptions,
): Promise<boolean> {
  const startedAt = Date.now();
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  let status: number | undefined;
  if (path === DEV_TOKEN_PATH) status = await devToken(req, res, options);
  else if (method === 'GET' || method === 'HEAD') status = await staticFile(req, res, path, options);
  if (status !== undefined) options.logger.info(`WEB ${method} ${path} ${status} ${elapsed(startedAt)}`);
  return status !== undefined;
}

function envelope(code: number, message: string, data: unknown = null) {
  return { code, message, data };
}

/** Resolves a URL path inside `root`, or undefined when it is malformed or points outside. */
export function resolveStaticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\') || !decoded.startsWith('/')) return undefined;
  if (decoded.split('/').some((part) => part === '..' || part.startsWith('.'))) return undefined;
  const relative = decoded.endsWith('/') ? `${decoded}index.html` : decoded;
  const base = resolve(root);
  const file = resolve(join(base, relative));
  return file.startsWith(base + sep) ? file : undefined;
}

async function staticFile(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  { root, storageOrigin }: WebOptions,
): Promise<number | undefined> {
  const isPage = path === '/' || path === '/index.html';
  const file = resolveStaticPath(root, path);
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!file || !info?.isFile()) {
    if (!isPage) return undefined;
    const rootExists = await stat(root).catch(() => undefined);
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(rootExists ? `${root} has no index.html.\n\n${NOT_BUILT}` : NOT_BUILT);
    return 404;
  }
  const body = await readFile(file);
  const hashedAsset = path.startsWith('/assets/');
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': hashedAsset ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...pageHeaders(storageOrigin),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return 200;
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** `localhost`, `127.x.x.x` or `[::1]`, with or without a port: refuses DNS-rebound names. */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return name === 'localhost' || name === '[::1]' || /^127(\.\d{1,3}){3}$/.test(name ?? '');
}

interface TokenRequest {
  readonly userId: string;
  readonly role: string | undefined;
  readonly ttlSeconds: number;
}

function parseTokenRequest(body: Buffer): TokenRequest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body must be JSON: {"user_id": "alice", "role": "admin"?, "ttl_seconds": 3600?}';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'the body must be an object';
  const input = parsed as Record<string, unknown>;
  const userId = userIdSchema.safeParse(input.user_id);
  if (!userId.success) return userId.error.issues[0]?.message ?? 'user_id is invalid';
  const role = input.role ?? undefined;
  if (role !== undefined && (typeof role !== 'string' || !ROLE.test(role)))
    return 'role must be 1-64 letters, digits or _.:-';
  const ttl = input.ttl_seconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS)
    return `ttl_seconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`;
  return { userId: userId.data, role: role || undefined, ttlSeconds: ttl };
}

async function devToken(req: IncomingMessage, res: ServerResponse, options: WebOptions): Promise<number> {
  const refuse = (status: number, code: number, message: string, headers: Record<string, string> = {}) => {
    // A body may still be arriving: closing keeps it from being read as the next request.
    const close: Record<string, string> = req.complete ? {} : { connection: 'close' };
    sendJson(res, status, envelope(code, message), { 'cache-control': 'no-store', ...close, ...headers });
    return status;
  };
  if (req.method !== 'POST') return refuse(405, 1001, 'use POST', { allow: 'POST' });
  // Local tools only: not other hosts (--host 0.0.0.0), not web sites reaching localhost
  // through a rebound DNS name, not cross-site form posts (no JSON content type).
  if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host))
    return refuse(403, 1403, 'development tokens are only minted for clients on this machine (localhost)');
  if (!options.tokenSecret)
    return refuse(
      403,
      1403,
      'development tokens are off: this runtime verifies tokens with JWT_SECRET_ID / JWKS_URL / COGNITO_USER_POOL_ID, get one from your issuer',
    );
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    return refuse(415, 1001, 'the body must be JSON (content-type: application/json)');
  let body: Buffer;
  try {
    body = await readBody(req, MAX_TOKEN_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    return refuse(413, 1002, 'the body is too large');
  }
  const request = parseTokenRequest(body);
  if (typeof request === 'string') return refuse(400, 1001, request);
  const token = await mintToken(request.userId, {
    role: request.role,
    ttlSeconds: request.ttlSeconds,
    secret: options.tokenSecret,
  });
  const exp = decodeJwt(token).exp ?? 0;
  const data = {
    token,
    user_id: request.userId,
    ...(request.role ? { role: request.role } : {}),
    expires_at: new Date(exp * 1000).toISOString(),
  };
  sendJson(res, 200, envelope(0, 'success', data), { 'cache-control': 'no-store' });
  return 200;
}
