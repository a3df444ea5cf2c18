/**
 * The `data` of the group life-cycle commands. Shapes answer 1001; a malformed group id
 * answers 3006 (checked after the shape, as `send_group_message` does); a malformed user id
 * is a bad shape (1001), as everywhere a user id is an argument rather than a message target.
 */
import * as z from 'zod/mini';
import { userIdSchema } from '../messaging/commands.ts';
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { GROUP_ID } from '../shared/ids.ts';
import { meta, schema } from '../shared/schema.ts';

/** `GROUP_INVITES`: `required` turns adds into invitations the invitee must accept. */
export const GROUP_INVITE_MODES = ['off', 'required'] as const;
export type GroupInviteMode = (typeof GROUP_INVITE_MODES)[number];

/** Ids one `add_group_members` may name (before duplicates are dropped). */
export const MAX_IDS_PER_ADD = 1000;
export const LIST_GROUPS_DEFAULT_LIMIT = 20;
/** Two keys per group in one BatchGetItem (100 keys). */
export const LIST_GROUPS_MAX_LIMIT = 50;

const groupIdSchema = /* @__PURE__ */ schema(() =>
  meta(z.string().check(z.minLength(1)), {
    pattern: GROUP_ID.source,
    description: 'A group id from create_group; another shape answers 3006.',
  }),
);

export const groupNameSchema = /* @__PURE__ */ schema(() =>
  z
    .pipe(
      meta(z.string(), {
        pattern: String.raw`^[^\p{Cs}]*[^\s\p{Cs}][^\p{Cs}]*$`,
        description: 'Trimmed, then 1-100 UTF-16 code units; no lone surrogates.',
      }),
      z.transform((value) => value.trim()),
    )
    .check(z.refine((value) => value.length > 0, 'group name is empty'))
    .check(z.refine((value) => value.length <= 100, 'group name is longer than 100 characters'))
    .check(
      z.refine((value) => !/\p{Cs}/u.test(value), 'must not contain lone surrogates (ill-formed UTF-16)'),
    ),
);

export const listGroupsSchema = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z.optional(
      meta(z.number().check(z.int()).check(z.gte(1)).check(z.lte(LIST_GROUPS_MAX_LIMIT)), {
        description: `Groups per page, 1-${LIST_GROUPS_MAX_LIMIT} (default ${LIST_GROUPS_DEFAULT_LIMIT}).`,
      }),
    ),
    cursor: z.optional(
      meta(z.string().check(z.minLength(1)).check(z.maxLength(200)), {
        description: 'next_cursor of the previous page (opaque).',
      }),
    ),
  }),
);

export const listGroupInvitesSchema = /* @__PURE__ */ schema(() =>
  z.object({
    limit: z.optional(
      meta(z.number().check(z.int()).check(z.gte(1)).check(z.lte(LIST_GROUPS_MAX_LIMIT)), {
        description: `Invitations per page, 1-${LIST_GROUPS_MAX_LIMIT} (default ${LIST_GROUPS_DEFAULT_LIMIT}).`,
      }),
    ),
    cursor: z.optional(
      meta(z.string().check(z.minLength(1)).check(z.maxLength(200)), {
        description: 'next_cursor of the previous page (opaque).',
      }),
    ),
  }),
);

export const groupIdOnlySchema = /* @__PURE__ */ schema(() => z.object({ group_id: groupIdSchema }));

export const addGroupMembersSchema = /* @__PURE__ */ schema(() =>
  z.object({
    group_id: groupIdSchema,
    member_ids: meta(z.array(userIdSchema).check(z.minLength(1)).check(z.maxLength(MAX_IDS_PER_ADD)), {
      description:
        `1-${MAX_IDS_PER_ADD} user ids. Duplicates, the caller and members already in the group are skipped; ` +
        'the reply lists only those added. More new members than MAX_GROUP_MEMBERS allows answers 3001.',
    }),
  }),
);

export const groupMemberSchema = /* @__PURE__ */ schema(() =>
  z.object({ group_id: groupIdSchema, user_id: userIdSchema }),
);

export const updateGroupSchema = /* @__PURE__ */ schema(() =>
  z.object({ group_id: groupIdSchema, group_name: groupNameSchema }),
);

export const setGroupRoleSchema = /* @__PURE__ */ schema(() =>
  z.object({
    group_id: groupIdSchema,
    user_id: userIdSchema,
    role: meta(z.enum(['admin', 'member']), {
      description: 'admin or member; only the owner may change roles, and never their own.',
    }),
  }),
);

export type ListGroupsInput = z.output<typeof listGroupsSchema>;
export type ListGroupInvitesInput = z.output<typeof listGroupInvitesSchema>;
export type GroupIdInput = z.output<typeof groupIdOnlySchema>;
export type AddGroupMembersInput = z.output<typeof addGroupMembersSchema>;
export type GroupMemberInput = z.output<typeof groupMemberSchema>;
export type UpdateGroupInput = z.output<typeof updateGroupSchema>;
export type SetGroupRoleInput = z.output<typeof setGroupRoleSchema>;

/** Every group command but `create_group`: any bad shape is 1001. */
export const groupCommandErrorCodes = { required: {}, invalid: ErrorCode.badRequest } as const;

/** Opaque `list_groups` cursor: the last group id of the page, base64url. */
export function encodeGroupCursor(groupId: string): string {
  return Buffer.from(groupId, 'utf8').toString('base64url');
}

export function decodeGroupCursor(cursor: string): string {
  const groupId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!GROUP_ID.test(groupId) || encodeGroupCursor(groupId) !== cursor) {
    throw new ChatError(ErrorCode.badRequest, 'cursor is not a cursor this server gave');
  }
  return groupId;
}
