/**
 * Attachments: files uploaded straight to S3 with a presigned PUT, then referred to by
 * `attachment_id` in messages of type 2–5 (image, file, audio, video).
 *
 * No table: the upload's key is `uploads/{base64url(uploader)}/{attachment_id}`, so the key a
 * sender's message names is always under the sender's own prefix, and someone else's
 * attachment id simply names no object there. When a message attaches it, the send copies
 * it (CopyObject, metadata kept) to `attachments/{base64url(uploader)}/{attachment_id}`,
 * which is kept as long as messages; `uploads/` expires soon after `maxAgeSeconds`, so an
 * upload no message attached is soon gone. The upload is not deleted after the copy (one
 * more request per message; the lifecycle rule removes it). The attachment id is a ULID minted when the
 * upload is granted, so its time says how old the upload is. The object carries what the
 * message needs: its size and content type (signed into the PUT) and the file name
 * and declared size (`x-amz-meta-file-name`, `x-amz-meta-declared-size`, signed into the PUT's
 * query string).
 *
 * Messages store the attachment's metadata, never a URL; readers get a short-lived
 * presigned GET made when the frame is built (history, sync, pushes), which costs no request.
 */
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { newMessageId, ULID } from '../shared/ids.ts';
import type { StoredMessage } from '../shared/ports.ts';

/** What a message stores about its attachment. */
export interface AttachmentMeta {
  readonly attachmentId: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly size: number;
}

/** The `attachment` field of pushes, history and sync. */
export interface AttachmentWire {
  readonly attachment_id: string;
  readonly file_name: string;
  readonly content_type: string;
  readonly size: number;
  /** A presigned GET, valid for `downloadUrlTtlSeconds`. */
  readonly url: string;
}

export interface AttachmentSettings {
  /** Largest upload in bytes (`ATTACHMENT_MAX_BYTES`). */
  readonly maxBytes: number;
  /** Content types an upload may declare (`ATTACHMENT_CONTENT_TYPES`), lower case. */
  readonly contentTypes: readonly string[];
  /** Seconds the presigned PUT is valid (`ATTACHMENT_UPLOAD_URL_TTL_SECONDS`). */
  readonly uploadUrlTtlSeconds: number;
  /** Seconds a presigned GET is valid (`ATTACHMENT_URL_TTL_SECONDS`). */
  readonly downloadUrlTtlSeconds: number;
  /** Seconds after the upload was granted during which messages may attach it (`ATTACHMENT_MAX_AGE_SECONDS`). */
  readonly maxAgeSeconds: number;
}

/** An object as HeadObject describes it. */
export interface StoredObject {
  readonly size: number;
  readonly contentType: string;
  /** User metadata, names in lower case without `x-amz-meta-`. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface PresignedUpload {
  readonly url: string;
  /** Headers the PUT must carry exactly (the signed ones a client can set). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The bucket, as the attachment logic needs it (functions/stores/attachments.ts on S3). */
export interface AttachmentObjects {
  /** A PUT of exactly `size` bytes of `contentType`, with `metadata`, valid `expiresIn` seconds. */
  presignPut(
    key: string,
    object: {
      readonly contentType: string;
      readonly size: number;
      readonly metadata: Record<string, string>;
    },
    expiresIn: number,
  ): Promise<PresignedUpload>;
  /** The object, or undefined when there is none. */
  head(key: string): Promise<StoredObject | undefined>;
  /** Copies `sourceKey` to `destinationKey` in the bucket, metadata and content type kept. */
  copy(sourceKey: string, destinationKey: string): Promise<void>;
  /** A GET of the object, valid `expiresIn` seconds, served with `contentDisposition`. */
  presignGet(key: string, contentDisposition: string, expiresIn: number): Promise<string>;
}

export interface UploadRequest {
  readonly file_name: string;
  readonly content_type: string;
  readonly size: number;
}

export interface UploadGrant {
  readonly upload_url: string;
  readonly method: 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly attachment_id: string;
  readonly expires_at: string;
  /** Extension: the largest size and the content types this deployment accepts. */
  readonly max_size: number;
}

/** Message types that carry an attachment: image, file, audio, video. */
export function carriesAttachment(messageType: number): boolean {
  return messageType >= 2 && messageType <= 5;
}

export const FILE_NAME_METADATA = 'file-name';
/** The declared size, signed into the PUT with the file name: the send-time check compares the object to it. */
export const SIZE_METADATA = 'declared-size';
/** Where presigned PUTs land (UPLOAD_KEY_PREFIX in lib/function-specs.ts). */
export const UPLOAD_PREFIX = 'uploads/';
/** Where attached files are kept (ATTACHED_KEY_PREFIX in lib/function-specs.ts). */
export const ATTACHED_PREFIX = 'attachments/';

/** `uploads/{base64url(userId)}/{attachmentId}`: user ids may hold `/` and any character. */
export function uploadKey(userId: string, attachmentId: string): string {
  return `${UPLOAD_PREFIX}${Buffer.from(userId, 'utf8').toString('base64url')}/${attachmentId}`;
}

/** `attachments/{base64url(userId)}/{attachmentId}`: the attached copy of that upload. */
export function attachedKey(userId: string, attachmentId: string): string {
  return `${ATTACHED_PREFIX}${Buffer.from(userId, 'utf8').toString('base64url')}/${attachmentId}`;
}

/** The content type without parameters, lower case (`image/PNG; x=y` is `image/png`). */
export function baseContentType(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

/** `inline` for media a browser shows, `attachment` (download) for everything else; with the file name. */
function contentDisposition(meta: AttachmentMeta): string {
  const inline = /^(image|audio|video)\//.test(meta.contentType);
  const ascii = meta.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(meta.fileName)}`;
}

function refuse(message: string): never {
  throw new ChatError(ErrorCode.badRequest, message);
}

export class AttachmentService {
  constructor(
    private readonly objects: AttachmentObjects,
    private readonly settings: AttachmentSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** `POST /api/ws/uploads`: checks the declared file against the limits, presigns its PUT. */
  async createUpload(userId: string, request: UploadRequest): Promise<UploadGrant> {
    const contentType = baseContentType(request.content_type);
    if (!this.settings.contentTypes.includes(contentType)) {
      refuse(
        `content_type ${contentType || '(empty)'} is not allowed; allowed: ${this.settings.contentTypes.join(', ')}`,
      );
    }
    if (request.size > this.settings.maxBytes) {
      refuse(`size ${request.size} is over the limit of ${this.settings.maxBytes} bytes`);
    }
    const now = this.now();
    const attachmentId = newMessageId(now);
    const expiresIn = this.settings.uploadUrlTtlSeconds;
    const presigned = await this.objects.presignPut(
      uploadKey(userId, attachmentId),
      {
        contentType,
        size: request.size,
        metadata: {
          [FILE_NAME_METADATA]: encodeURIComponent(request.file_name),
          [SIZE_METADATA]: String(request.size),
        },
      },
      expiresIn,
    );
    return {
      upload_url: presigned.url,
      method: 'PUT',
      headers: presigned.headers,
      attachment_id: attachmentId,
      expires_at: new Date(now.getTime() + expiresIn * 1000).toISOString(),
      max_size: this.settings.maxBytes,
    };
  }

  /**
   * The attachment a message of `messageType` by `senderId` carries, checked: types 2–5 need
   * an uploaded object under the sender's prefix, within its age, whose size and type are
   * what the upload declared (S3 enforces the signed ones; this catches any other server).
   * Type 1 carries none (an `attachment_id` with it is refused). Every refusal is 1001.
   */
  async verify(
    senderId: string,
    messageType: number,
    attachmentId: string | undefined,
  ): Promise<AttachmentMeta | undefined> {
    if (!carriesAttachment(messageType)) {
      if (attachmentId !== undefined) refuse('attachment_id is only for message_type 2-5');
      return undefined;
    }
    if (attachmentId === undefined) refuse(`message_type ${messageType} needs an attachment_id`);
    const id = attachmentId.toUpperCase();
    if (!ULID.test(id)) refuse('attachment_id is not an attachment id');
    const grantedAt = ulidTime(id);
    const ageMs = this.now().getTime() - grantedAt;
    if (ageMs > this.settings.maxAgeSeconds * 1000) {
      refuse(`attachment ${id} has expired: uploads may be attached for ${this.settings.maxAgeSeconds} s`);
    }
    const object = await this.objects.head(uploadKey(senderId, id));
    if (!object) refuse(`attachment ${id} was not uploaded by you (or not yet)`);
    const contentType = baseContentType(object.contentType);
    if (!this.settings.contentTypes.includes(contentType))
      refuse(`attachment ${id} has a content type that is not allowed`);
    const fileName = decodeFileName(object.metadata[FILE_NAME_METADATA]);
    const declaredSize = Number(object.metadata[SIZE_METADATA]);
    if (fileName === undefined || !Number.isInteger(declaredSize)) {
      refuse(`attachment ${id} was not uploaded through POST /api/ws/uploads`);
    }
    if (object.size !== declaredSize) {
      refuse(`attachment ${id} is ${object.size} bytes, not the ${declaredSize} declared for it`);
    }
    if (object.size < 1 || object.size > this.settings.maxBytes)
      refuse(`attachment ${id} has a size over the limit`);
    return { attachmentId: id, fileName, contentType, size: object.size };
  }

  /**
   * Copies a verified upload to where attached files are kept (one CopyObject), before the
   * message is stored. Idempotent: a retried send copies the same bytes again.
   */
  async attach(senderId: string, meta: AttachmentMeta): Promise<void> {
    await this.objects.copy(uploadKey(senderId, meta.attachmentId), attachedKey(senderId, meta.attachmentId));
  }

  /** The wire form of a stored attachment, with a fresh presigned GET (no request: signing is local). */
  async toWire(ownerId: string, meta: AttachmentMeta): Promise<AttachmentWire> {
    const url = await this.objects.presignGet(
      attachedKey(ownerId, meta.attachmentId),
      contentDisposition(meta),
      this.settings.downloadUrlTtlSeconds,
    );
    return {
      attachment_id: meta.attachmentId,
      file_name: meta.fileName,
      content_type: meta.contentType,
      size: meta.size,
      url,
    };
  }
}

/** Milliseconds since the epoch in a ULID's first ten characters. */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function ulidTime(id: string): number {
  let time = 0;
  for (const char of id.slice(0, 10)) time = time * 32 + CROCKFORD.indexOf(char);
  return time;
}

function decodeFileName(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * The wire form (with a fresh URL) of the attachment of each message that has one, by
 * message id. A recalled message has none. `attachments` unset (no bucket configured): none.
 */
export async function attachmentWires(
  attachments: AttachmentService | undefined,
  messages: readonly StoredMessage[],
): Promise<ReadonlyMap<string, AttachmentWire>> {
  const wires = new Map<string, AttachmentWire>();
  if (!attachments) return wires;
  await Promise.all(
    messages.map(async (message) => {
      if (!message.attachment || message.deleted) return;
      wires.set(message.messageId, await attachments.toWire(message.fromUserId, message.attachment));
    }),
  );
  return wires;
}

/**
 * The checked attachment of a message being sent (see `AttachmentService.verify`); 1001
 * for types 2-5 when no bucket is configured.
 */
export async function verifiedAttachment(
  attachments: AttachmentService | undefined,
  senderId: string,
  input: { readonly message_type: number; readonly attachment_id?: string | undefined },
): Promise<AttachmentMeta | undefined> {
  if (!carriesAttachment(input.message_type) && input.attachment_id === undefined) return undefined;
  if (!attachments) refuse('attachments are not enabled on this deployment (no ATTACHMENTS_BUCKET)');
  return attachments.verify(senderId, input.message_type, input.attachment_id);
}
