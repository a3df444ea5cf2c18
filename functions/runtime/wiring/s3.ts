/**
 * Wiring (see functions/runtime/container.ts): `attachments`, the attachments bucket on S3
 * (presigned PUTs and GETs, HeadObject). For the functions with `attachments` grants in
 * lib/function-specs.ts. The endpoint comes from configuration only (S3_ENDPOINT or the
 * SDK's AWS_ENDPOINT_URL_S3): the local runtime points it at its embedded S3.
 */
import { AttachmentService } from '../../core/attachments/attachments.ts';
import { attachmentsClient, S3AttachmentObjects } from '../../stores/attachments.ts';
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
        new S3AttachmentObjects(
          attachmentsClient({ endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle }),
          settings.bucket,
          (message, details) => log('warn', message, details),
        ),
        settings,
      )
    : undefined;
  built.set(config, service);
  return service;
}

registerAttachments(attachmentService);
provideServices((config) => ({ attachments: attachmentService(config) }));
