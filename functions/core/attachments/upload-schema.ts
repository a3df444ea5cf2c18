/** `POST /api/ws/uploads`'s body. The limits themselves (size, content types) are configuration. */
import * as z from 'zod/mini';
import { isWellFormed, WELL_FORMED_PATTERN } from '../messaging/commands.ts';
import { meta, schema } from '../shared/schema.ts';

/** No control characters, no path separators. */
const FILE_NAME_CHARACTERS = /^[^\p{Cc}/\\]+$/u;

export const createUploadSchema = /* @__PURE__ */ schema(() =>
  z.object({
    file_name: meta(
      z
        .string()
        .check(z.minLength(1))
        .check(z.maxLength(255))
        .check(z.refine((value) => value.trim().length > 0, 'file_name is empty'))
        .check(z.refine(isWellFormed, 'must not contain lone surrogates (ill-formed UTF-16)'))
        .check(
          z.refine(
            (value) => FILE_NAME_CHARACTERS.test(value),
            'file_name has control characters or slashes',
          ),
        ),
      {
        pattern: WELL_FORMED_PATTERN,
        description:
          'The file name shown to recipients: 1-255 UTF-16 code units, not blank, no control characters, no / or \\.',
      },
    ),
    content_type: meta(z.string().check(z.minLength(1)).check(z.maxLength(255)), {
      description:
        'The MIME type the PUT must carry; one of ATTACHMENT_CONTENT_TYPES (parameters such as ;charset are dropped).',
    }),
    size: meta(z.number().check(z.int()).check(z.gte(1)), {
      description: 'Exact size in bytes the PUT must carry; at most ATTACHMENT_MAX_BYTES.',
    }),
  }),
);

export type CreateUploadInput = z.output<typeof createUploadSchema>;
