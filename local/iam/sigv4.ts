/**
 * Verifies an AWS Signature Version 4 `authorization` header the way AWS does: the
 * signature is recomputed from the request (method, path, query, the signed headers,
 * the body's SHA-256) with the secret of the access key it names, and compared in
 * constant time; the date must be within 5 minutes of now.
 *
 * The canonical request is built as the SDK's signer (`@smithy/signature-v4`, with
 * `uriEscapePath`, no checksum header) builds it, so what the SDK signs is what is
 * checked; test/unit/local-iam.test.ts signs requests of every shape the control plane
 * sees with that signer and checks they pass here, and altered ones do not. It is done
 * here rather than by re-signing with the SDK's signer because every control-plane
 * request pays for it: the derived signing key is kept per credential, day, region and
 * service, the body is hashed once, and a request without a query string skips URL parsing.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LocalCredential, LocalCredentials } from './credentials.ts';

/** What AWS allows between the request's `x-amz-date` and its own clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export type SignatureFailure =
  | 'MissingAuthenticationToken'
  | 'IncompleteSignature'
  | 'UnrecognizedClient'
  | 'InvalidSignature';

export type SignatureCheck =
  | { readonly ok: true; readonly credential: LocalCredential }
  | { readonly ok: false; readonly failure: SignatureFailure; readonly message: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const CONTENT_SHA256 = 'x-amz-content-sha256';
/**
 * Headers the SDK's signer drops before signing even when listed (it sets `x-amz-date`
 * itself, from the signing date, and always signs it).
 */
const REGENERATED_HEADERS = new Set(['authorization', 'date', 'x-amz-date']);

/** Derived signing keys per credential (`day/region/service`): four HMACs saved per request. */
const signingKeys = new WeakMap<LocalCredential, Map<string, Buffer>>();
/** Days and services are few; a caller that varies the region could grow the map, so it is capped. */
const MAX_SIGNING_KEYS_PER_CREDENTIAL = 64;

/** One-shot hashing: no Hash object per call (every control-plane request hashes twice). */
function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKey(credential: LocalCredential, day: string, region: string, service: string): Buffer {
  let keys = signingKeys.get(credential);
  if (!keys) {
    keys = new Map();
    signingKeys.set(credential, keys);
  }
  const scope = `${day}/${region}/${service}`;
  let key = keys.get(scope);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${credential.secretAccessKey}`, day), region), service), 'aws4_request');
    if (keys.size >= MAX_SIGNING_KEYS_PER_CREDENTIAL) keys.clear();
    keys.set(scope, key);
  }
  return key;
}

/** RFC 3986 escaping, as the SDK's signer does it. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The path with `.` and `..` resolved, escaped once more (the SDK's `uriEscapePath`). */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

/** Parameters sorted by escaped name (values too, for a repeated name); `X-Amz-Signature` left out. */
function canonicalQuery(rawUrl: string): string {
  const params = new URL(rawUrl, 'http://local').searchParams;
  const byKey = new Map<string, string>();
  for (const name of new Set(params.keys())) {
    if (name.toLowerCase() === 'x-amz-signature') continue;
    const key = escapeUri(name);
    const pairs = params.getAll(name).map((value) => `${key}=${escapeUri(value)}`);
    byKey.set(key, pairs.length === 1 ? (pairs[0] as string) : pairs.sort().join('&'));
  }
  return [...byKey.keys()]
    .sort()
    .map((key) => byKey.get(key))
    .join('&');
}

/** Whitespace the canonical form folds or trims; most values have none. */
const FOLDED_WHITESPACE = /[\r\n\t]| {2}|^ | $/;

function canonicalHeaderValue(value: string): string {
  if (!FOLDED_WHITESPACE.test(value)) return value;
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

function failure(kind: SignatureFailure, message: string): SignatureCheck {
  return { ok: false, failure: kind, message };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The date of a well-formed `x-amz-date` that names a real instant (no 13th month). */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value ? AMZ_DATE.exec(value) : null;
  if (!m) return undefined;
  const [, year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC carries an out-of-range field into the next one (month 13, day 32, hour 24).
  const real =
    date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  return real ? date : undefined;
}

/**
 * Checks the request's signature for `service`; `body` is the whole request body.
 * Refuses unsigned requests, keys this runtime did not issue, a wrong service or a stale date.
 */
export async function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  service: string,
  credentials: LocalCredentials,
  now: number = Date.now(),
): Promise<SignatureCheck> {
  const authorization = headerValue(req, 'authorization');
  if (!authorization) return failure('MissingAuthenticationToken', 'Request is missing Authentication Token');
  const parsed = AUTHORIZATION.exec(authorization);
  if (!parsed) {
    return failure(
      'IncompleteSignature',
      'Authorization header requires Credential, SignedHeaders and Signature (AWS4-HMAC-SHA256).',
    );
  }
  const [
    ,
    accessKeyId = '',
    scopeDate = '',
    region = '',
    scopeService,
    signedHeaderList = '',
    signature = '',
  ] = parsed;
  const credential = credentials.find(accessKeyId);
  if (!credential)
    return failure('UnrecognizedClient', 'The security token included in the request is invalid.');
  if (scopeService !== service) {
    return failure('InvalidSignature', `Credential should be scoped to correct service: '${service}'.`);
  }
  const amzDate = headerValue(req, 'x-amz-date');
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate || amzDate?.slice(0, 8) !== scopeDate) {
    return failure(
      'IncompleteSignature',
      'x-amz-date is missing or does not match the credential scope date.',
    );
  }
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    return failure(
      'InvalidSignature',
      `Signature expired: ${amzDate} is more than 5 minutes from the server's time.`,
    );
  }
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) {
    return failure('InvalidSignature', "'Host' must be a signed header.");
  }
  const bodyHash = sha256Hex(body);
  const declaredHash = headerValue(req, CONTENT_SHA256);
  if (declaredHash !== undefined && declaredHash !== bodyHash) {
    return failure('InvalidSignature', 'The provided x-amz-content-sha256 header does not match the body.');
  }

  const headers = new Map<string, string>([['x-amz-date', amzDate as string]]);
  for (const name of signedHeaders) {
    const value = headerValue(req, name);
    if (value === undefined) return failure('InvalidSignature', `Signed header ${name} is missing.`);
    if (!REGENERATED_HEADERS.has(name)) headers.set(name, canonicalHeaderValue(value));
  }
  const names = [...headers.keys()].sort();
  const rawUrl = req.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const canonicalRequest = [
    req.method ?? 'GET',
    canonicalPath(queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt)),
    queryAt < 0 ? '' : canonicalQuery(rawUrl),
    ...names.map((name) => `${name}:${headers.get(name)}`),
    '',
    names.join(';'),
    // A signed x-amz-content-sha256 equals bodyHash (checked above).
    bodyHash,
  ].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = createHmac('sha256', signingKey(credential, scopeDate, region, service))
    .update(stringToSign, 'utf8')
    .digest('hex');
  const matches =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  if (!matches) {
    return failure(
      'InvalidSignature',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { ok: true, credential };
}
