/**
 * The group life cycle over HTTP: the same schemas, service and rules as the WebSocket
 * commands; path parameters and the JSON body together make the command's `data`.
 * `group_updated` pushes go to every connection of the members (no connection asked).
 */
import {
  addGroupMembersSchema,
  groupCommandErrorCodes,
  groupIdOnlySchema,
  groupMemberSchema,
  listGroupInvitesSchema,
  listGroupsSchema,
  setGroupRoleSchema,
  updateGroupSchema,
} from '../core/groups/group-commands.ts';
import { commandErrorCodes, createGroupSchema, parseCommand } from '../core/messaging/commands.ts';
import { ChatError, ErrorCode } from '../core/shared/errors.ts';
import { callbackUrlFor } from '../runtime/container.ts';
import type { HttpRequest, HttpRoute } from '../runtime/http-route.ts';

/** The JSON body as an object (1001 otherwise), with the path parameters on top. */
function bodyWith(request: HttpRequest, params: Record<string, string>): Record<string, unknown> {
  const body = request.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChatError(ErrorCode.badRequest, 'body must be a JSON object');
  }
  return { ...body, ...params };
}

/** A query-string integer (absent: undefined); anything else is 1001 through the schema. */
function queryNumber(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  return /^\d{1,6}$/.test(value) ? Number(value) : value;
}

const service = (request: HttpRequest) => request.services.groupService(callbackUrlFor());

export const groupRoutes: Readonly<Record<string, HttpRoute>> = {
  'GET /api/ws/groups': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      listGroupsSchema,
      {
        limit: queryNumber(request.query('limit')),
        cursor: request.query('cursor'),
      },
      groupCommandErrorCodes,
    );
    await request.services.readLimiter.check(sender.userId);
    return service(request).listGroups(sender, input);
  },

  'POST /api/ws/groups': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(createGroupSchema, request.json(), commandErrorCodes.createGroup);
    return service(request).createGroup(sender, input);
  },

  'GET /api/ws/groups/{group_id}': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupIdOnlySchema,
      { group_id: request.param('group_id') },
      groupCommandErrorCodes,
    );
    await request.services.readLimiter.check(sender.userId);
    return service(request).groupInfo(sender, input);
  },

  'PATCH /api/ws/groups/{group_id}': async (request) => {
    const sender = await request.identity();
    const data = bodyWith(request, { group_id: request.param('group_id') });
    return service(request).rename(sender, parseCommand(updateGroupSchema, data, groupCommandErrorCodes));
  },

  'DELETE /api/ws/groups/{group_id}': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupIdOnlySchema,
      { group_id: request.param('group_id') },
      groupCommandErrorCodes,
    );
    return service(request).deleteGroup(sender, input);
  },

  'POST /api/ws/groups/{group_id}/members': async (request) => {
    const sender = await request.identity();
    const data = bodyWith(request, { group_id: request.param('group_id') });
    return service(request).addMembers(
      sender,
      parseCommand(addGroupMembersSchema, data, groupCommandErrorCodes),
    );
  },

  'DELETE /api/ws/groups/{group_id}/members/{user_id}': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupMemberSchema,
      { group_id: request.param('group_id'), user_id: request.param('user_id') },
      groupCommandErrorCodes,
    );
    return service(request).removeMember(sender, input);
  },

  'PATCH /api/ws/groups/{group_id}/members/{user_id}': async (request) => {
    const sender = await request.identity();
    const data = bodyWith(request, {
      group_id: request.param('group_id'),
      user_id: request.param('user_id'),
    });
    return service(request).setRole(sender, parseCommand(setGroupRoleSchema, data, groupCommandErrorCodes));
  },

  'POST /api/ws/groups/{group_id}/leave': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupIdOnlySchema,
      { group_id: request.param('group_id') },
      groupCommandErrorCodes,
    );
    return service(request).leave(sender, input);
  },

  'GET /api/ws/group-invites': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      listGroupInvitesSchema,
      {
        limit: queryNumber(request.query('limit')),
        cursor: request.query('cursor'),
      },
      groupCommandErrorCodes,
    );
    await request.services.readLimiter.check(sender.userId);
    return service(request).listInvites(sender, input);
  },

  'POST /api/ws/groups/{group_id}/invite/accept': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupIdOnlySchema,
      { group_id: request.param('group_id') },
      groupCommandErrorCodes,
    );
    return service(request).acceptInvite(sender, input);
  },

  'POST /api/ws/groups/{group_id}/invite/decline': async (request) => {
    const sender = await request.identity();
    const input = parseCommand(
      groupIdOnlySchema,
      { group_id: request.param('group_id') },
      groupCommandErrorCodes,
    );
    return service(request).declineInvite(sender, input);
  },
};
