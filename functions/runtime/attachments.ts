/**
 * Where the attachment service comes from: wiring/s3.ts registers its factory when imported,
 * so the services built by wiring/dynamo.ts (chat, rooms) verify attachments in the functions
 * that have the bucket, and in the others (no S3 client in their bundle) have none.
 */
import type { AttachmentService } from '../core/attachments/attachments.ts';
import type { ChatConfig } from './config.ts';

type AttachmentsFactory = (config: ChatConfig) => AttachmentService | undefined;

let factory: AttachmentsFactory | undefined;

export function registerAttachments(build: AttachmentsFactory): void {
  factory = build;
}

/** The attachment service for `config`, when wiring/s3.ts is imported and ATTACHMENTS_BUCKET set. */
export function attachmentsFor(config: ChatConfig): AttachmentService | undefined {
  return factory?.(config);
}
