/**
 * `POST /api/ws/uploads` (HTTP API, JWT): a presigned S3 PUT for one file of the declared
 * size and content type, and the `attachment_id` a message of type 2-5 then names.
 * Its own function: the only one allowed to sign PUTs into the bucket (`uploads/*`).
 */
import { createUploadSchema } from '../core/attachments/upload-schema.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import { ChatError, ErrorCode } from '../core/shared/errors.ts';
import { httpApiHandler } from '../runtime/http-route.ts';
import '../runtime/wiring/s3.ts';
// Every call presigns: the S3 client loads with the handler, not as a chunk on first use
// (wiring/s3.ts imports it with `import()` for the functions that rarely need it).
import '../stores/attachments.ts';

export const handler = httpApiHandler({
  'POST /api/ws/uploads': async ({ services, identity, json }) => {
    const uploader = await identity();
    const input = parseCommand(createUploadSchema, json(), { required: {}, invalid: ErrorCode.badRequest });
    const attachments = services.attachments;
    if (!attachments)
      throw new ChatError(ErrorCode.badRequest, 'attachments are not enabled (no ATTACHMENTS_BUCKET)');
    return attachments.createUpload(uploader.userId, input);
  },
});
