/**
 * Attachments: what a file is (a browser `File`/`Blob`, or bytes such as a Node `Buffer`),
 * which message type it makes, and the presigned PUT that carries it to S3.
 */
import { ChatError } from './errors.ts';
import type { MessageType, UploadRequest, UploadTicket } from './types.ts';

/** What fetch takes as a body (BodyInit is a DOM-only name). */
type FetchBody = NonNullable<Parameters<typeof fetch>[1]>['body'];

/** A browser `File` or `Blob`, or bytes (a Node `Buffer` is a `Uint8Array`). */
export type UploadBody = Blob | ArrayBuffer | ArrayBufferView;

export interface UploadOptions {
  /** Default: the `File`'s name. Required for a `Blob` or bytes. */
  readonly file_name?: string;
  /** Default: the `Blob`'s type, else `application/octet-stream` (which the server may refuse). */
  readonly content_type?: string;
}

/** What `upload()` resolves with: the id to send, and what the server was told about the file. */
export interface Uploaded extends UploadRequest {
  readonly attachment_id: string;
}

/** The upload was refused by the storage (S3) after the server had granted it. */
export class UploadFailedError extends ChatError {
  override name = 'UploadFailedError';
  constructor(
    /** The storage's HTTP status. */
    readonly status: number,
    /** S3's error code (`SignatureDoesNotMatch`, `AccessDenied`, …) when it said one. */
    readonly storageCode: string | undefined,
  ) {
    super(`the upload was refused: HTTP ${status}${storageCode ? ` (${storageCode})` : ''}`);
  }
}

const isBlob = (body: UploadBody): body is Blob => typeof Blob !== 'undefined' && body instanceof Blob;

/** The file's name, type and size, as `POST /api/ws/uploads` wants them. */
export function describeUpload(body: UploadBody, options: UploadOptions = {}): UploadRequest {
  const blob = isBlob(body) ? body : undefined;
  const named = blob as (Blob & { name?: unknown }) | undefined;
  const fileName = options.file_name ?? (typeof named?.name === 'string' ? named.name : undefined);
  if (!fileName) throw new TypeError('upload: a file_name is needed for a Blob or bytes');
  const contentType = options.content_type || blob?.type || 'application/octet-stream';
  const size = isBlob(body) ? body.size : body.byteLength;
  return { file_name: fileName, content_type: contentType, size };
}

/**
 * Headers the runtime sets from the body itself: browsers refuse to set them, and a second
 * value would not match the body. The signature covers what the body already says.
 */
const SET_BY_FETCH = new Set(['content-length', 'host']);

/** PUTs the bytes to the presigned URL with the headers the server signed. */
export async function putUpload(
  fetchImpl: typeof fetch,
  ticket: UploadTicket,
  body: UploadBody,
): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ticket.headers ?? {}))
    if (!SET_BY_FETCH.has(name.toLowerCase())) headers[name] = value;
  const response = await fetchImpl(ticket.upload_url, {
    method: ticket.method ?? 'PUT',
    headers,
    body: body as FetchBody,
  });
  if (response.ok) return;
  const text = await response.text().catch(() => '');
  throw new UploadFailedError(response.status, /<Code>([^<]{1,100})<\/Code>/.exec(text)?.[1]);
}

/** The message type a content type makes: 2 image, 4 audio, 5 video, 3 any other file. */
export function messageTypeFor(contentType: string): MessageType {
  const major = contentType.split('/')[0]?.trim().toLowerCase();
  if (major === 'image') return 2;
  if (major === 'audio') return 4;
  if (major === 'video') return 5;
  return 3;
}
