/**
 * local/web.ts without a browser: static files of the built page (content types, caching,
 * no way out of the directory), the "not built" answer, and `POST /dev/token` (valid
 * tokens, the backend's user id rules, loopback only, off without a local secret).
 * Run: npx tsx --test test/browser/web-server.test.ts
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jwtVerify } from 'jose';
import { createLogger } from '../../local/log.ts';
import { handleWebRequest, resolveStaticPath, type WebOptions } from '../../local/web.ts';

const SECRET = 'web-server-test-secret-0123456789abcdef';
let root: string;
let missingRoot: string;

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A server answering like the runtime: the page's requests, else 404. */
async function serve(options: Omit<WebOptions, 'logger'>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    handleWebRequest(req, res, { ...options, logger: createLogger({ quiet: true }) }).then((handled) => {
      if (!handled) res.writeHead(404).end('fallback 404');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A raw request: fetch would normalize `..` out of the path before sending it. */
function send(
  base: string,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = { 'content-type': 'application/json' };
const postToken = (base: string, body: unknown, headers: Record<string, string> = json) =>
  send(base, 'POST', '/dev/token', { body: JSON.stringify(body), headers });

let withSecret: { url: string; server: Server };
let withoutSecret: { url: string; server: Server };
let notBuilt: { url: string; server: Server };

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'chat-web-static-'));
  missingRoot = join(root, 'does-not-exist');
  await mkdir(join(root, 'assets'));
  await writeFile(join(root, 'index.html'), '<!doctype html><title>chat</title>');
  await writeFile(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
  await writeFile(join(root, 'assets', 'index-abc123.css'), 'body{}');
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(tmpdir(), 'chat-web-outside.txt'), 'outside');
  withSecret = await serve({ root, tokenSecret: SECRET });
  withoutSecret = await serve({ root, tokenSecret: undefined });
  notBuilt = await serve({ root: missingRoot, tokenSecret: SECRET });
});

after(async () => {
  for (const { server } of [withSecret, withoutSecret, notBuilt]) server?.close();
  await rm(root, { recursive: true, force: true });
  await rm(join(tmpdir(), 'chat-web-outside.txt'), { force: true });
});

describe('static files', () => {
  test('/ is index.html, with the page headers', async () => {
    const answer = await send(withSecret.url, 'GET', '/');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(answer.headers['cache-control'], 'no-cache');
    assert.match(String(answer.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.match(answer.body, /<title>chat<\/title>/);
  });

  test("the CSP allows this origin's storage and blob: images; another S3 endpoint only when configured", async () => {
    const csp = (answer: Answer) => String(answer.headers['content-security-policy']);
    const own = csp(await send(withSecret.url, 'GET', '/'));
    assert.match(own, /connect-src 'self';/);
    assert.match(own, /img-src 'self' data: blob:;/);
    const external = await serve({ root, tokenSecret: SECRET, storageOrigin: 'http://minio.test:9000' });
    try {
      const page = csp(await send(external.url, 'GET', '/'));
      assert.match(page, /connect-src 'self' http:\/\/minio\.test:9000;/);
      assert.match(page, /img-src 'self' data: blob: http:\/\/minio\.test:9000;/);
    } finally {
      external.server.close();
    }
  });

  test('assets have their content types and are cached for good (hashed names)', async () => {
    const js = await send(withSecret.url, 'GET', '/assets/index-abc123.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /immutable/);
    const css = await send(withSecret.url, 'GET', '/assets/index-abc123.css?v=1');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.body, 'body{}');
  });

  test('HEAD answers the headers only', async () => {
    const answer = await send(withSecret.url, 'HEAD', '/assets/index-abc123.js');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-length'], String('console.log(1)'.length));
    assert.equal(answer.body, '');
  });

  test('nothing outside the directory, no dot files, unknown paths left to the runtime', async () => {
    for (const path of [
      '/../chat-web-outside.txt',
      '/%2e%2e/chat-web-outside.txt',
      '/assets/..%2f..%2fchat-web-outside.txt',
      '/..%5cchat-web-outside.txt',
      '/.env',
      '/%00',
      '/%E0%A4%A',
      '/missing.js',
      '/assets/',
    ]) {
      const answer = await send(withSecret.url, 'GET', path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body, 'fallback 404', path);
    }
    assert.equal(resolveStaticPath(root, '/../x'), undefined);
    assert.equal(resolveStaticPath(root, '/assets/a.js'), join(root, 'assets', 'a.js'));
  });

  test('other methods are not the page’s', async () => {
    assert.equal((await send(withSecret.url, 'POST', '/')).body, 'fallback 404');
  });

  test('without a build, / says how to build the page', async () => {
    const answer = await send(notBuilt.url, 'GET', '/');
    assert.equal(answer.status, 404);
    assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(answer.body, /npm run build:web/);
  });
});

describe('POST /dev/token', () => {
  test('mints a token for the user, verifiable with the runtime secret', async () => {
    const answer = await postToken(withSecret.url, { user_id: 'alice' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['cache-control'], 'no-store');
    const body = JSON.parse(answer.body);
    assert.equal(body.code, 0);
    assert.equal(body.message, 'success');
    const { payload } = await jwtVerify(body.data.token, new TextEncoder().encode(SECRET));
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.role, undefined);
    assert.equal(body.data.user_id, 'alice');
    assert.equal(body.data.expires_at, new Date((payload.exp ?? 0) * 1000).toISOString());
    // The default lifetime (1 h), read from the token's own claims rather than the clock.
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
  });

  test('admin role, numeric user ids and a ttl', async () => {
    const answer = await postToken(withSecret.url, { user_id: 42, role: 'admin', ttl_seconds: 60 });
    const body = JSON.parse(answer.body);
    const { payload } = await jwtVerify(body.data.token, new TextEncoder().encode(SECRET));
    assert.equal(payload.sub, '42');
    assert.equal(payload.role, 'admin');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 60);
  });

  test('user ids follow the backend rules; bad bodies are 400 / 1001', async () => {
    for (const body of [
      { user_id: '' },
      { user_id: '   ' },
      { user_id: '#system' },
      { user_id: 'a'.repeat(129) },
      { user_id: 'tab\there' },
      { user_id: -1 },
      {},
      { user_id: 'alice', role: 'admin role' },
      { user_id: 'alice', ttl_seconds: 0 },
      { user_id: 'alice', ttl_seconds: 86_401 },
      [],
    ]) {
      const answer = await postToken(withSecret.url, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      const parsed = JSON.parse(answer.body);
      assert.equal(parsed.code, 1001);
      assert.equal(parsed.data, null);
    }
    const notJson = await send(withSecret.url, 'POST', '/dev/token', { body: '{', headers: json });
    assert.equal(notJson.status, 400);
  });

  test('JSON only (no cross-site form posts), POST only, small bodies', async () => {
    const form = await postToken(withSecret.url, { user_id: 'alice' }, { 'content-type': 'text/plain' });
    assert.equal(form.status, 415);
    const get = await send(withSecret.url, 'GET', '/dev/token');
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST');
    const big = await postToken(withSecret.url, { user_id: 'alice', pad: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
  });

  test('a Host that is not localhost is refused (DNS rebinding)', async () => {
    const answer = await postToken(
      withSecret.url,
      { user_id: 'alice' },
      { ...json, host: 'evil.example:80' },
    );
    assert.equal(answer.status, 403);
    assert.equal(JSON.parse(answer.body).code, 1403);
    const localhost = await postToken(
      withSecret.url,
      { user_id: 'alice' },
      { ...json, host: 'localhost:8009' },
    );
    assert.equal(localhost.status, 200);
  });

  test('off when tokens are verified with JWKS / Secrets Manager (no local secret)', async () => {
    const answer = await postToken(withoutSecret.url, { user_id: 'alice' });
    assert.equal(answer.status, 403);
    const body = JSON.parse(answer.body);
    assert.equal(body.code, 1403);
    assert.match(body.message, /JWKS_URL/);
  });
});
