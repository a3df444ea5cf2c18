/**
 * Wiring (see functions/runtime/container.ts): `attachments`, the attachments bucket on S3
 * (presigned PUTs and GETs, HeadObject). For the functions with `attachments` grants in
 * lib/function-specs.ts. The endpoint comes from configuration only (S3_ENDPOINT or the
 * SDK's AWS_ENDPOINT_URL_S3): the local runtime points it at its embedded S3.
 *
 * The S3 client and the presigner are imported on first use (`import()`), not with the
 * handler: most messages name no attachment, and their cold start then does not evaluate
 * the S3 client (about a third of sendMessage's bundle).
 */
import { type AttachmentObjects, AttachmentService } from '../../core/attachments/attachments.ts';
import type { S3ClientSettings } from '../../stores/attachments.ts';
import { registerAttachments } from '../attachments.ts';
import type { ChatConfig } from '../config.ts';
import { provideServices } from '../container.ts';
import { log } from '../logger.ts';

/** One service (one S3 client) per configuration, whoever asks first. */
const built = new WeakMap<ChatConfig, AttachmentService | undefined>();

function attachmentService(config: ChatConfig): AttachmentService | undefined {
  if (built.has(config)) return built.get(config);
  const settings = config.attachments;
  const service = settings
    ? new AttachmentService(
        s3ObjectsOnFirstUse(
          { endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle },
          settings.bucket,
        ),
        settings,
      )
    : undefined;
  built.set(config, service);
  return service;
}

/** The bucket's objects through an S3 client built (and its module imported) on the first call. */
function s3ObjectsOnFirstUse(client: S3ClientSettings, bucket: string): AttachmentObjects {
  let objects: Promise<AttachmentObjects> | undefined;
  const load = () => {
    objects ??= import('../../stores/attachments.ts').then(
      ({ attachmentsClient, S3AttachmentObjects }) =>
        new S3AttachmentObjects(attachmentsClient(client), bucket, (message, details) =>
          log('warn', message, details),
        ),
    );
    return objects;
  };
  return {
    presignPut: async (key, object, expiresIn) => (await load()).presignPut(key, object, expiresIn),
    head: async (key) => (await load()).head(key),
    copy: async (sourceKey, destinationKey) => (await load()).copy(sourceKey, destinationKey),
    presignGet: async (key, contentDisposition, expiresIn) =>
      (await load()).presignGet(key, contentDisposition, expiresIn),
  };
}

registerAttachments(attachmentService);
provideServices((config) => ({ attachments: attachmentService(config) }));
