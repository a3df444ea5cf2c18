/**
 * Verifies an AWS Signature Version 4 `authorization` header the way AWS does: the
 * signature is recomputed from the request (method, path, query, the signed headers,
 * the body's SHA-256) with the secret of the access key it names, and compared in
 * constant time; the date must be within 5 minutes of now. The signing itself is the
 * SDK's own (`@smithy/signature-v4`), so what the SDK signs is what is checked.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
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

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** The hash the signer wants: `new Sha256()` hashes, `new Sha256(key)` is an HMAC. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** One signer per key, region and service: it caches its derived signing key per day. */
const signers = new Map<string, SignatureV4>();

function signerFor(credential: LocalCredential, region: string, service: string): SignatureV4 {
  const key = `${credential.accessKeyId}/${region}/${service}`;
  let signer = signers.get(key);
  if (!signer) {
    signer = new SignatureV4({
      credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
      region,
      service,
      sha256: Sha256,
      uriEscapePath: true,
      applyChecksum: false,
    });
    // Few keys, regions and services: a handful of entries, unless a caller varies the region.
    if (signers.size > 1000) signers.clear();
    signers.set(key, signer);
  }
  return signer;
}

function failure(kind: SignatureFailure, message: string): SignatureCheck {
  return { ok: false, failure: kind, message };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value ? AMZ_DATE.exec(value) : null;
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second] = m.map(Number) as number[];
  return new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second));
}

function queryOf(rawUrl: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  const search = new URL(rawUrl, 'http://local').searchParams;
  for (const name of new Set(search.keys())) {
    const values = search.getAll(name);
    query[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return query;
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
  const [, accessKeyId = '', scopeDate, region = '', scopeService, signedHeaderList = '', signature = ''] =
    parsed;
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
  const declaredHash = headerValue(req, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(body).digest('hex')) {
    return failure('InvalidSignature', 'The provided x-amz-content-sha256 header does not match the body.');
  }

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(req, name);
    if (value === undefined) return failure('InvalidSignature', `Signed header ${name} is missing.`);
    headers[name] = value;
  }
  const rawUrl = req.url ?? '/';
  const signer = signerFor(credential, region, service);
  const signed = await signer.sign(
    {
      method: req.method ?? 'GET',
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: rawUrl.split('?')[0] ?? '/',
      query: queryOf(rawUrl),
      headers,
      body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
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
