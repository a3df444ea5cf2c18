/**
 * Verifies an S3 request's Signature Version 4 as S3 does, in either form: the
 * `Authorization` header (the SDK's HeadObject) or the query string of a presigned URL
 * (a browser's PUT or GET). S3's canonical request differs from the other services'
 * (local/iam/sigv4.ts): the path is used as sent (no second escaping, no `.` folding) and
 * the payload hash is `x-amz-content-sha256` as declared, `UNSIGNED-PAYLOAD` for presigned
 * URLs. A signed header the request carries with another value (a PUT of another
 * Content-Length or Content-Type than presigned) makes the signature differ: S3's
 * SignatureDoesNotMatch.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { LocalCredential, LocalCredentials } from '../iam/credentials.ts';

/** S3 allows 15 minutes between the request's date and its own clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most 7 days. */
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;

export type S3SignatureCheck =
  | { readonly ok: true; readonly credential: LocalCredential }
  | { readonly ok: false; readonly code: string; readonly message: string };

const CREDENTIAL = /^([A-Za-z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/s3\/aws4_request$/;
const HEADER_AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^,\s]+), ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function parseAmzDate(value: string | undefined): number | undefined {
  const m = value ? AMZ_DATE.exec(value) : null;
  if (!m) return undefined;
  const [, y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = m.map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function canonicalHeaderValue(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

function fail(code: string, message: string): S3SignatureCheck {
  return { ok: false, code, message };
}

/** `rawUrl`'s query without `X-Amz-Signature`, canonical (escaped, sorted). */
function canonicalQuery(params: URLSearchParams): string {
  const pairs: string[] = [];
  for (const [name, value] of params) {
    if (name === 'X-Amz-Signature') continue;
    pairs.push(`${escapeUri(name)}=${escapeUri(value)}`);
  }
  return pairs.sort().join('&');
}

/** Checks the signature of `req` (path as sent, e.g. `/s3/bucket/key`) against this runtime's credentials. */
export function verifyS3Signature(
  req: IncomingMessage,
  credentials: LocalCredentials,
  now: number = Date.now(),
): S3SignatureCheck {
  const rawUrl = req.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
  const params = new URLSearchParams(queryAt < 0 ? '' : rawUrl.slice(queryAt + 1));
  const authorization = header(req, 'authorization');
  const presigned = params.has('X-Amz-Algorithm');
  if (authorization && presigned) {
    return fail(
      'InvalidArgument',
      'Only one auth mechanism allowed: the Authorization header or X-Amz-Algorithm.',
    );
  }

  let credentialScope: string;
  let signedHeaderList: string;
  let signature: string;
  let amzDate: string | undefined;
  let payloadHash: string;
  if (presigned) {
    if (params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
      return fail('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    credentialScope = params.get('X-Amz-Credential') ?? '';
    signedHeaderList = params.get('X-Amz-SignedHeaders') ?? '';
    signature = params.get('X-Amz-Signature') ?? '';
    amzDate = params.get('X-Amz-Date') ?? undefined;
    payloadHash = params.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    const expires = Number(params.get('X-Amz-Expires'));
    const signedAt = parseAmzDate(amzDate);
    if (
      !Number.isInteger(expires) ||
      expires < 1 ||
      expires > MAX_EXPIRES_SECONDS ||
      signedAt === undefined
    ) {
      return fail(
        'AuthorizationQueryParametersError',
        'X-Amz-Date and X-Amz-Expires (1-604800) are required.',
      );
    }
    if (now > signedAt + expires * 1000) return fail('AccessDenied', 'Request has expired');
    if (signedAt - now > MAX_CLOCK_SKEW_MS) return fail('AccessDenied', 'Request is not valid yet');
  } else if (authorization) {
    const parsed = HEADER_AUTH.exec(authorization);
    if (!parsed) return fail('AuthorizationHeaderMalformed', 'The authorization header is malformed.');
    [, credentialScope = '', signedHeaderList = '', signature = ''] = parsed;
    amzDate = header(req, 'x-amz-date');
    payloadHash = header(req, 'x-amz-content-sha256') ?? '';
    if (!payloadHash)
      return fail('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined)
      return fail('AccessDenied', 'AWS authentication requires a valid x-amz-date header');
    if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
      return fail(
        'RequestTimeTooSkewed',
        'The difference between the request time and the current time is too large.',
      );
    }
  } else {
    return fail('AccessDenied', 'Access Denied');
  }

  const scope = CREDENTIAL.exec(credentialScope);
  if (!scope)
    return fail(
      'AuthorizationHeaderMalformed',
      'The credential scope must be <key>/<date>/<region>/s3/aws4_request.',
    );
  const [, accessKeyId = '', day = '', region = ''] = scope;
  const credential = credentials.find(accessKeyId);
  if (!credential)
    return fail('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  if (amzDate?.slice(0, 8) !== day)
    return fail('AuthorizationHeaderMalformed', 'The credential date does not match X-Amz-Date.');

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return fail('AccessDenied', "'Host' must be a signed header.");
  const canonicalHeaders: string[] = [];
  for (const name of signedHeaders) {
    const value = header(req, name);
    // A signed header the request lacks (a PUT without its Content-Type) cannot match.
    if (value === undefined)
      return fail('SignatureDoesNotMatch', `Signed header ${name} is missing from the request.`);
    canonicalHeaders.push(`${name}:${canonicalHeaderValue(value)}`);
  }
  const canonicalRequest = [
    req.method ?? 'GET',
    path,
    canonicalQuery(params),
    ...canonicalHeaders,
    '',
    signedHeaderList,
    payloadHash,
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    `${day}/${region}/s3/aws4_request`,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credential.secretAccessKey}`, day), region), 's3'), 'aws4_request');
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  const matches =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  if (!matches) {
    return fail(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  return { ok: true, credential };
}
