/**
 * The attachments bucket on S3: presigned PUTs and GETs (computed locally, no request),
 * HeadObject (one request) when a message names an upload and CopyObject (one request) when
 * it is stored with it.
 */
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AttachmentObjects, PresignedUpload, StoredObject } from '../core/attachments/attachments.ts';

export interface S3ClientSettings {
  readonly region?: string;
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
}

export function attachmentsClient(settings: S3ClientSettings): S3Client {
  return new S3Client({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    // No flexible checksum on presigned PUTs: a browser could not send the checksum of a
    // body the signer never saw (the SDK would sign a CRC32 of an empty body).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export class S3AttachmentObjects implements AttachmentObjects {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly warn?: (message: string, details: Record<string, unknown>) => void,
  ) {}

  async presignPut(
    key: string,
    object: {
      readonly contentType: string;
      readonly size: number;
      readonly metadata: Record<string, string>;
    },
    expiresIn: number,
  ): Promise<PresignedUpload> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentType: object.contentType,
      ContentLength: object.size,
      Metadata: object.metadata,
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn,
      // Signed, so S3 refuses a PUT of another size or type (SignatureDoesNotMatch, 403).
      // The metadata (x-amz-meta-*) is hoisted into the signed query string.
      signableHeaders: new Set(['content-type', 'content-length']),
    });
    // A browser sets Content-Length itself from the body; Content-Type it must send as signed.
    return { url, headers: { 'Content-Type': object.contentType } };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        size: head.ContentLength ?? 0,
        contentType: head.ContentType ?? '',
        metadata: head.Metadata ?? {},
      };
    } catch (error) {
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (status === 404) return undefined;
      if (status === 403) {
        // S3 answers 403 for a missing key to a caller without s3:ListBucket: the functions
        // that check uploads have none (they need none), so this is the usual "not there".
        this.warn?.('HeadObject answered 403 (a missing upload, without s3:ListBucket)', { key });
        return undefined;
      }
      throw error;
    }
  }

  async copy(sourceKey: string, destinationKey: string): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: destinationKey,
        // Keys are base64url and ULID characters (and `/`): nothing to percent-encode.
        CopySource: `${this.bucket}/${sourceKey}`,
        // The default, spelled out: content type and x-amz-meta-* come with the bytes.
        MetadataDirective: 'COPY',
      }),
    );
  }

  presignGet(key: string, contentDisposition: string, expiresIn: number): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentDisposition: contentDisposition }),
      { expiresIn },
    );
  }
}
