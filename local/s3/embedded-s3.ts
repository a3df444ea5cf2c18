/**
 * The local runtime's S3: `s3rver` in this process (no port of its own) behind a front at
 * `/s3/` on the runtime's port, so presigned URLs work from a browser and curl as on AWS.
 *
 * s3rver checks no SigV4 signature (it only looks the access key up), so the front does what
 * S3 and IAM would: it verifies the signature (header or presigned query; a PUT whose
 * Content-Length or Content-Type differs from the signed ones fails as on AWS), refuses
 * expired URLs and unsigned requests, and checks the signing function's `attachments` grants
 * in lib/function-specs.ts (PutObject / GetObject per key prefix; a CopyObject needs GetObject
 * on its source and PutObject on its destination, as on AWS). Then
 * s3rver serves the request (the runtime's keys are registered with it, so response-header
 * overrides of signed GETs work). CORS preflights go straight to s3rver, which answers
 * from the bucket's CORS configuration.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import type { AttachmentAction } from '../../lib/function-specs.ts';
import { localFunctionName } from '../functions.ts';
import type { LocalCredentials, Principal } from '../iam/credentials.ts';
import type { Grants } from '../iam/policy.ts';
import type { Logger } from '../log.ts';
import { verifyS3Signature } from './signature.ts';

/** Where the runtime serves S3: `http://host:port/s3/{bucket}/{key}` (path style). */
export const S3_PATH_PREFIX = '/s3';
/** The attachments bucket's local name (ATTACHMENTS_BUCKET). */
export const LOCAL_ATTACHMENTS_BUCKET = 'chat-attachments';

export interface EmbeddedS3Options {
  /** Objects persist under `{dataDir}/s3`; undefined: a temporary directory removed on close. */
  readonly dataDir?: string;
  readonly bucket: string;
  /** Origins the bucket's CORS allows; undefined: any. */
  readonly allowedOrigins?: readonly string[];
  readonly credentials: LocalCredentials;
  readonly grants: Grants;
  readonly logger: Logger;
}

export interface EmbeddedS3 {
  /** Answers a request whose path starts with S3_PATH_PREFIX. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** S3 requests by method (`COPY` for a CopyObject) and outcome since start (the bench counts them). */
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

export function isS3Request(rawPath: string): boolean {
  return rawPath === S3_PATH_PREFIX || rawPath.startsWith(`${S3_PATH_PREFIX}/`);
}

function corsXml(origins: readonly string[] | undefined): string {
  const allowed = (origins?.length ? origins : ['*']).map(
    (origin) => `<AllowedOrigin>${origin}</AllowedOrigin>`,
  );
  return (
    '<CORSConfiguration><CORSRule>' +
    allowed.join('') +
    '<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>' +
    '<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds>' +
    '</CORSRule></CORSConfiguration>'
  );
}

function xmlEscape(value: string): string {
  return value.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  const temporary = options.dataDir === undefined;
  const directory = temporary
    ? mkdtempSync(join(tmpdir(), 'chat-s3-'))
    : join(options.dataDir as string, 's3');
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [corsXml(options.allowedOrigins)] }],
  });
  await server.configureBuckets();
  // s3rver looks up the access key of signed requests (it checks no V4 signature itself).
  const { admin } = options.credentials;
  DUMMY_ACCOUNT.createKeyPair(admin.accessKeyId, admin.secretAccessKey);
  for (const pair of Object.values(options.credentials.functionKeyPairs())) {
    DUMMY_ACCOUNT.createKeyPair(pair.accessKeyId, pair.secretAccessKey);
  }
  const serve = server.callback();
  const requests = new Map<string, number>();
  const count = (name: string) => requests.set(name, (requests.get(name) ?? 0) + 1);

  const allowOrigin = (req: IncomingMessage): Record<string, string> => {
    const origin = req.headers.origin;
    if (!origin) return {};
    const allowed = !options.allowedOrigins?.length || options.allowedOrigins.includes(origin);
    return allowed ? { 'access-control-allow-origin': options.allowedOrigins?.length ? origin : '*' } : {};
  };
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
  ) => {
    options.logger.warn(`S3 refused ${req.method} ${(req.url ?? '').split('?')[0]}: ${code}: ${message}`);
    count(`${req.method} ${status}`);
    req.resume();
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
    res.writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      ...allowOrigin(req),
      // The body was not read: the connection cannot carry another request.
      ...(req.complete ? {} : { connection: 'close' }),
    });
    res.end(body);
  };

  return {
    requests,
    handle(req, res) {
      const rawUrl = req.url ?? '/';
      const forwarded = rawUrl.slice(S3_PATH_PREFIX.length) || '/';
      if (req.method === 'OPTIONS') {
        req.url = forwarded;
        serve(req, res);
        return;
      }
      const check = verifyS3Signature(req, options.credentials);
      if (!check.ok) {
        const status = check.code === 'InvalidArgument' || check.code.startsWith('Authorization') ? 400 : 403;
        return refuse(req, res, status, check.code, check.message);
      }
      const denied = deniedAction(req, forwarded, check.credential.principal, options);
      if (denied) return refuse(req, res, 403, 'AccessDenied', denied);
      const copy = req.method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined;
      count(
        `${copy ? 'COPY' : req.method} ${forwarded.split('?')[0]?.split('/').length === 2 ? 'bucket' : 'object'}`,
      );
      req.url = forwarded;
      serve(req, res);
    },
    async close() {
      server.logger.exceptions.unhandle();
      server.logger.close();
      if (temporary) rmSync(directory, { recursive: true, force: true });
    },
  };
}

const ACTION_BY_METHOD: Readonly<Record<string, AttachmentAction>> = {
  GET: 'GetObject',
  HEAD: 'GetObject',
  PUT: 'PutObject',
};

/** Why IAM would refuse the request (its grants in lib/function-specs.ts), or undefined. */
function deniedAction(
  req: IncomingMessage,
  forwardedUrl: string,
  principal: Principal,
  options: Pick<EmbeddedS3Options, 'bucket' | 'grants'>,
): string | undefined {
  if (principal.kind === 'admin') return undefined;
  const method = req.method ?? 'GET';
  const who = localFunctionName(principal.functionId);
  const grants = options.grants[principal.functionId]?.attachments ?? [];
  const path = forwardedUrl.split('?')[0] ?? '/';
  const action = ACTION_BY_METHOD[method];
  const checks: { action: AttachmentAction | undefined; object: string }[] = [
    { action, object: path.slice(1) },
  ];
  // CopyObject (a PUT naming its source): GetObject on the source as well, as on AWS.
  const copySource = req.headers['x-amz-copy-source'];
  if (method === 'PUT' && typeof copySource === 'string') {
    checks.push({ action: 'GetObject', object: copySource.split('?')[0]?.replace(/^\//, '') ?? '' });
  }
  for (const check of checks) {
    const [bucket = '', ...keyParts] = check.object.split('/');
    const key = decodeURIComponent(keyParts.join('/'));
    const allowed =
      check.action !== undefined &&
      bucket === options.bucket &&
      grants.some(
        (grant) => key.startsWith(grant.prefix) && grant.actions.includes(check.action as AttachmentAction),
      );
    if (!allowed) {
      return `User: ${who} is not authorized to perform: s3:${check.action ?? method} on resource: arn:aws:s3:::${bucket}/${key}`;
    }
  }
  return undefined;
}
