/**
 * The commands' `data`, validated by one schema per command. A failed check becomes
 * the protocol's error code: a missing or empty required field gets the command's
 * "required" code, anything else of the wrong shape its "invalid" code.
 */
import * as z from 'zod/mini';
import { ChatError, ErrorCode, type ErrorCodeValue } from '../shared/errors.ts';
import { GROUP_ID, isValidUserId, ULID } from '../shared/ids.ts';
import { meta, schema } from '../shared/schema.ts';

/**
 * Lone surrogates (ill-formed UTF-16, e.g. `"\ud800"` in JSON) are refused in every text
 * field: DynamoDB stores strings as UTF-8 and would silently turn them into U+FFFD, so what is
 * stored, keyed and pushed would differ.
 */
const LONE_SURROGATE = /\p{Cs}/u;
export const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value);
const WELL_FORMED = 'must not contain lone surrogates (ill-formed UTF-16)';

/*
 * The refinements below (`.refine`, `.transform`) are invisible to `z.toJSONSchema`, so each
 * schema also carries its rule as JSON Schema metadata (`.meta()`: `pattern`, `description`),
 * which `npm run specs` puts in docs/asyncapi.json and docs/openapi.json. Metadata never
 * changes what a schema accepts; test/unit/specs.test.ts checks that each pattern agrees
 * with the refinement it documents. Patterns are ECMA-262 with the `u` flag.
 */

/** Text with no lone surrogate and at least one non-whitespace character (`trim()`'s set). */
export const NOT_BLANK_WELL_FORMED_PATTERN = String.raw`^[^\p{Cs}]*[^\s\p{Cs}][^\p{Cs}]*$`;
/** Text with no lone surrogate. */
export const WELL_FORMED_PATTERN = String.raw`^[^\p{Cs}]*$`;
/** `isValidUserId` and `isWellFormed` together, on strings. */
export const USER_ID_PATTERN = String.raw`^(?!\s*$)[^\p{Cc}\p{Cs}#][^\p{Cc}\p{Cs}]{0,127}$`;
/** A ULID in either case (`ULID` after upper-casing). */
export const MESSAGE_ID_PATTERN = '^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$';

/*
 * Schemas are written with zod/mini and built by `schema` (see ./schema.ts), which lets a
 * bundle leave out those its handler never uses; the other modules with schemas (rooms,
 * read-receipts, recall, sync, notify) do the same.
 */

/** User ids are strings; integers on input are accepted and turned into strings. */
export const userIdSchema = /* @__PURE__ */ schema(() =>
  meta(
    z
      .pipe(
        z.union([
          meta(z.string(), { pattern: USER_ID_PATTERN, minLength: 1, maxLength: 128 }),
          z.number().check(z.int()).check(z.nonnegative()).check(z.lte(Number.MAX_SAFE_INTEGER)),
        ]),
        z.transform((value) => String(value)),
      )
      .check(z.refine(isWellFormed, WELL_FORMED))
      .check(
        z.refine(
          isValidUserId,
          'user id must be 1-128 characters, not blank, without control characters or a leading #',
        ),
      ),
    {
      description:
        'A user id: 1-128 characters, not blank, no control characters or lone surrogates, no leading #. ' +
        'A non-negative integer is accepted and turned into its decimal string.',
    },
  ),
);

/** A message id (ULID); lower case is accepted and normalised to the stored upper case. */
export const messageIdSchema = /* @__PURE__ */ schema(() =>
  z
    .pipe(
      meta(z.string(), {
        pattern: MESSAGE_ID_PATTERN,
        description: 'A message id (ULID); lower case is accepted and normalised to upper case.',
      }),
      z.transform((value) => value.toUpperCase()),
    )
    .check(z.refine((value) => ULID.test(value), 'must be a message id (ULID)')),
);

/** Text content; its length limit is applied by the service (it is configurable). */
export const contentSchema = /* @__PURE__ */ schema(() =>
  meta(
    z
      .string()
      .check(z.refine((value) => value.trim().length > 0, 'content is empty'))
      .check(z.refine(isWellFormed, WELL_FORMED)),
    {
      pattern: NOT_BLANK_WELL_FORMED_PATTERN,
      description:
        'Not blank, no lone surrogates; at most MAX_CONTENT_LENGTH UTF-16 code units (default 4000), ' +
        'longer answers 1002.',
    },
  ),
);

/** 1 text, 2 image, 3 file, 4 audio, 5 video. */
const messageTypeSchema = /* @__PURE__ */ schema(() =>
  z._default(z.number().check(z.int()).check(z.gte(1)).check(z.lte(5)), 1),
);

const clientMessageIdSchema = /* @__PURE__ */ schema(() =>
  z.optional(
    meta(
      z.string().check(z.minLength(1)).check(z.maxLength(128)).check(z.refine(isWellFormed, WELL_FORMED)),
      {
        pattern: WELL_FORMED_PATTERN,
        description:
          "The sender's id for this message: a retry with the same id within DEDUPE_TTL_SECONDS " +
          'answers the first message instead of storing another.',
      },
    ),
  ),
);

/** The message of the same conversation this one replies to (checked by the service: 2001 otherwise). */
const replyToSchema = /* @__PURE__ */ schema(() => z.optional(messageIdSchema));
/** An attachment id on a message (a ULID); checked against the bucket by the service. */
export const attachmentIdSchema = /* @__PURE__ */ schema(() =>
  z.optional(
    meta(z.string().check(z.minLength(1)).check(z.maxLength(64)).check(z.refine(isWellFormed, WELL_FORMED)), {
      pattern: MESSAGE_ID_PATTERN,
      description:
        'Required with message_type 2-5 (image, file, audio, video): the attachment_id from POST /api/ws/uploads, ' +
        'uploaded by the sender, at most ATTACHMENT_MAX_AGE_SECONDS old. Refused (1001) with message_type 1.',
    }),
  ),
);

export const sendMessageSchema = /* @__PURE__ */ schema(() =>
  z.object({
    to_user_id: userIdSchema,
    content: contentSchema,
    message_type: messageTypeSchema,
    client_msg_id: clientMessageIdSchema,
    reply_to: replyToSchema,
    attachment_id: attachmentIdSchema,
  }),
);

export const sendGroupMessageSchema = /* @__PURE__ */ schema(() =>
  z.object({
    group_id: meta(z.string().check(z.minLength(1)), {
      pattern: GROUP_ID.source,
      description: 'A group id from create_group; another shape answers 3006.',
    }),
    content: contentSchema,
    message_type: messageTypeSchema,
    client_msg_id: clientMessageIdSchema,
    reply_to: replyToSchema,
    attachment_id: attachmentIdSchema,
  }),
);

export const createGroupSchema = /* @__PURE__ */ schema(() =>
  z.object({
    group_name: z
      .pipe(
        meta(z.string(), {
          pattern: NOT_BLANK_WELL_FORMED_PATTERN,
          description: 'Trimmed, then 1-100 UTF-16 code units; no lone surrogates.',
        }),
        z.transform((value) => value.trim()),
      )
      .check(z.refine((value) => value.length > 0, 'group name is empty'))
      .check(z.refine((value) => value.length <= 100, 'group name is longer than 100 characters'))
      .check(z.refine(isWellFormed, WELL_FORMED)),
    member_ids: meta(z.array(userIdSchema).check(z.minLength(1)), {
      description:
        'The other members; the creator is added and duplicates are dropped. More than MAX_GROUP_MEMBERS ' +
        '(default 500) in all is refused.',
    }),
  }),
);

export const broadcastSchema = /* @__PURE__ */ schema(() =>
  z.object({
    message: contentSchema,
  }),
);

export type SendMessageInput = z.output<typeof sendMessageSchema>;
export type SendGroupMessageInput = z.output<typeof sendGroupMessageSchema>;
export type CreateGroupInput = z.output<typeof createGroupSchema>;
export type BroadcastInput = z.output<typeof broadcastSchema>;

interface ErrorCodes {
  /** Fields whose absence or emptiness has its own code. */
  readonly required: Readonly<Record<string, ErrorCodeValue>>;
  /** Code for every other shape error. */
  readonly invalid: ErrorCodeValue;
}

export const commandErrorCodes = {
  sendMessage: {
    required: { to_user_id: ErrorCode.targetAndContentRequired, content: ErrorCode.targetAndContentRequired },
    invalid: ErrorCode.badRequest,
  },
  sendGroupMessage: {
    required: { group_id: ErrorCode.groupIdAndContentRequired, content: ErrorCode.groupIdAndContentRequired },
    invalid: ErrorCode.badRequest,
  },
  createGroup: {
    required: { group_name: ErrorCode.groupNameEmpty, member_ids: ErrorCode.groupMembersEmpty },
    invalid: ErrorCode.groupInvalid,
  },
  broadcast: {
    required: { message: ErrorCode.broadcastEmpty },
    invalid: ErrorCode.badRequest,
  },
} as const satisfies Record<string, ErrorCodes>;

function isMissingOrEmpty(issue: z.core.$ZodIssue, input: Record<string, unknown>, field: string): boolean {
  const value = input[field];
  if (value === undefined || value === null) return true;
  if (issue.path.length !== 1) return false;
  if (typeof value === 'string') return value.trim().length === 0;
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

/** Validates `data` against `schema`; throws a ChatError with the protocol's code. */
export function parseCommand<S extends z.ZodMiniType>(
  schema: S,
  data: unknown,
  codes: ErrorCodes,
): z.output<S> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    const firstRequired = Object.values(codes.required)[0];
    throw new ChatError(firstRequired ?? codes.invalid, 'data must be an object');
  }
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = typeof issue?.path[0] === 'string' ? issue.path[0] : undefined;
  const requiredCode = field === undefined ? undefined : codes.required[field];
  if (
    issue &&
    field &&
    requiredCode !== undefined &&
    isMissingOrEmpty(issue, data as Record<string, unknown>, field)
  ) {
    throw new ChatError(requiredCode, `${field} is required`);
  }
  const where = issue?.path.length ? issue.path.join('.') : 'data';
  throw new ChatError(codes.invalid, `${where}: ${issue?.message ?? 'invalid'}`);
}

/** The configurable content limit the services apply: longer content is 1002. */
export function assertContentLength(content: string, maxLength: number): void {
  if (content.length > maxLength) {
    throw new ChatError(ErrorCode.tooLarge, `content is longer than ${maxLength} characters`);
  }
}

/** Group ids have a fixed format; a malformed one is its own error (3006). */
export function assertGroupId(groupId: string): void {
  if (!GROUP_ID.test(groupId)) {
    throw new ChatError(ErrorCode.groupIdInvalid, 'group_id must match ^group_[A-Za-z0-9_-]{1,64}$');
  }
}
