/**
 * Builds docs/asyncapi.json (WebSocket protocol, AsyncAPI 3.0.0) and docs/openapi.json
 * (HTTP API, OpenAPI 3.1.0). Inbound payloads come from the zod schemas the handlers
 * validate with (input side: what clients send); outbound frames from ./frames.ts; the
 * routes from lib/function-specs.ts. Output is deterministic: keys sorted, 2-space JSON,
 * trailing newline.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { createUploadSchema } from '../../functions/core/attachments/upload-schema.ts';
import { blockUserSchema, listBlockedSchema } from '../../functions/core/blocks/blocks.ts';
import { listConversationsSchema } from '../../functions/core/conversations/conversation-list.ts';
import {
  addGroupMembersSchema,
  groupIdOnlySchema,
  groupMemberSchema,
  listGroupInvitesSchema,
  listGroupsSchema,
  setGroupRoleSchema,
  updateGroupSchema,
} from '../../functions/core/groups/group-commands.ts';
import {
  broadcastSchema,
  createGroupSchema,
  sendGroupMessageSchema,
  sendMessageSchema,
} from '../../functions/core/messaging/commands.ts';
import { editMessageSchema } from '../../functions/core/messaging/edit.ts';
import { notifySchema } from '../../functions/core/messaging/notify.ts';
import { deleteMessageSchema } from '../../functions/core/messaging/recall.ts';
import { syncSchema } from '../../functions/core/messaging/sync.ts';
import { reactSchema } from '../../functions/core/reactions/reactions.ts';
import { markReadSchema } from '../../functions/core/receipts/read-receipts.ts';
import { roomMessageSchema, roomTargetSchema } from '../../functions/core/rooms/rooms.ts';
import { typingSchema } from '../../functions/core/typing/typing.ts';
import { httpRoutes, webSocketRoutes } from '../../lib/function-specs.ts';
import { buildEventsSchema, EVENTS_SCHEMA_PATH } from './events.ts';
import {
  envelope,
  errorEnvelope,
  historyCommand,
  httpQueryParameters,
  httpResponses,
  type JsonSchema,
  pingCommand,
  pushes,
  replies,
} from './frames.ts';

export const ASYNCAPI_PATH = 'docs/asyncapi.json';
export const OPENAPI_PATH = 'docs/openapi.json';

const TITLE = 'Serverless chat backend';
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The input side of a zod schema as JSON Schema (refinements are not representable and are left out). */
function fromZod(schema: z.core.$ZodType): JsonSchema {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return json;
}

/** `data` of each command: from zod where the handler validates with zod, else hand-written. */
function commandData(): Record<
  string,
  { readonly schema: JsonSchema; readonly source: 'zod' | 'hand-written' }
> {
  const zod = (schema: z.core.$ZodType) => ({ schema: fromZod(schema), source: 'zod' as const });
  return {
    send_message: zod(sendMessageSchema),
    send_group_message: zod(sendGroupMessageSchema),
    create_group: zod(createGroupSchema),
    list_groups: zod(listGroupsSchema),
    group_info: zod(groupIdOnlySchema),
    add_group_members: zod(addGroupMembersSchema),
    remove_group_member: zod(groupMemberSchema),
    leave_group: zod(groupIdOnlySchema),
    update_group: zod(updateGroupSchema),
    set_group_role: zod(setGroupRoleSchema),
    delete_group: zod(groupIdOnlySchema),
    accept_group_invite: zod(groupIdOnlySchema),
    decline_group_invite: zod(groupIdOnlySchema),
    list_group_invites: zod(listGroupInvitesSchema),
    block_user: zod(blockUserSchema),
    unblock_user: zod(blockUserSchema),
    list_blocked: zod(listBlockedSchema),
    broadcast: zod(broadcastSchema),
    ping: { schema: pingCommand, source: 'hand-written' },
    join_room: zod(roomTargetSchema),
    leave_room: zod(roomTargetSchema),
    // parseRoomMessage checks roomTargetSchema, then roomMessageSchema, on the same data.
    send_room_message: zod(z.object({ ...roomTargetSchema.shape, ...roomMessageSchema.shape })),
    history: { schema: historyCommand, source: 'hand-written' },
    sync: zod(syncSchema),
    mark_read: zod(markReadSchema),
    delete_message: zod(deleteMessageSchema),
    edit_message: zod(editMessageSchema),
    react: zod(reactSchema),
    unreact: zod(reactSchema),
    typing: zod(typingSchema),
    list_conversations: zod(listConversationsSchema),
  };
}

/** The commands: every WebSocket route but `$connect`, `$disconnect` and `$default`. */
export function commandRoutes(): string[] {
  return Object.keys(webSocketRoutes).filter((route) => !route.startsWith('$'));
}

const pascal = (name: string): string =>
  name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

const requestId = {
  anyOf: [{ type: 'string', maxLength: 128 }, { type: 'number' }],
  description: 'echoed in the reply when a string of at most 128 characters or a finite number',
};

export function buildAsyncApi(): JsonSchema {
  const data = commandData();
  const schemas: Record<string, JsonSchema> = {};
  const messages: Record<string, JsonSchema> = {};
  const operations: Record<string, JsonSchema> = {};
  const channelMessages: Record<string, JsonSchema> = {};
  const channelRef = { $ref: '#/channels/chat' };
  const addMessage = (name: string, message: JsonSchema): void => {
    messages[name] = message;
    channelMessages[name] = { $ref: `#/components/messages/${name}` };
  };

  addMessage('Error', {
    name: 'Error',
    title: 'Error reply',
    summary: 'A refused command: data is null, code says why (docs/protocol.md#error-codes).',
    payload: errorEnvelope,
  });

  for (const cmd of commandRoutes()) {
    const input = data[cmd];
    const reply = replies[cmd];
    if (!input || !reply) throw new Error(`no inbound schema or reply for WebSocket route ${cmd}: add it`);
    const commandName = `${pascal(cmd)}Command`;
    const dataName = `${pascal(cmd)}Data`;
    schemas[dataName] = { ...input.schema, 'x-source': input.source };
    schemas[reply.name] = reply.schema;
    addMessage(commandName, {
      name: commandName,
      title: `${cmd} command`,
      payload: {
        type: 'object',
        properties: {
          cmd: { type: 'string', const: cmd },
          data: { $ref: `#/components/schemas/${dataName}` },
          request_id: requestId,
        },
        required: ['cmd'],
      },
    });
    const replyName = `${reply.name}Reply`;
    addMessage(replyName, {
      name: replyName,
      title: `${cmd} reply`,
      payload: envelope({ $ref: `#/components/schemas/${reply.name}` }, true),
    });
    operations[cmd] = {
      action: 'send',
      channel: channelRef,
      summary: `Send the ${cmd} command`,
      messages: [{ $ref: `#/channels/chat/messages/${commandName}` }],
      reply: {
        channel: channelRef,
        messages: [
          { $ref: `#/channels/chat/messages/${replyName}` },
          { $ref: '#/channels/chat/messages/Error' },
        ],
      },
    };
  }

  for (const [type, push] of Object.entries(pushes)) {
    schemas[push.name] = push.schema;
    const pushName = `${push.name}Push`;
    addMessage(pushName, {
      name: pushName,
      title: `${type} push`,
      payload: envelope({ $ref: `#/components/schemas/${push.name}` }, false),
    });
    operations[`receive_${type}`] = {
      action: 'receive',
      channel: channelRef,
      summary: `Receive the ${type} push`,
      messages: [{ $ref: `#/channels/chat/messages/${pushName}` }],
    };
  }

  const security = [
    { $ref: '#/components/securitySchemes/tokenQuery' },
    { $ref: '#/components/securitySchemes/bearer' },
    { $ref: '#/components/securitySchemes/legacyHeader' },
    { $ref: '#/components/securitySchemes/subprotocol' },
  ];

  return {
    asyncapi: '3.0.0',
    info: {
      title: `${TITLE}: WebSocket protocol`,
      version: VERSION,
      description:
        'Generated by `npm run specs` from the zod schemas the handlers validate with; see docs/protocol.md. Frames are JSON text: `{cmd, data, request_id}` in, `{code, message, data, request_id}` out.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: 'localhost:8009',
        pathname: '/',
        protocol: 'ws',
        description: 'The local runtime (`npm start`); any path works.',
        security,
      },
      aws: {
        host: '{apiId}.execute-api.{region}.amazonaws.com',
        pathname: '/{stage}',
        protocol: 'wss',
        description: 'The deployed WebSocket API (stack output WebSocketUrl).',
        variables: {
          apiId: { description: 'The WebSocket API id.' },
          region: { default: 'us-east-1', description: 'The AWS region.' },
          stage: { default: 'prod', description: 'The stage name.' },
        },
        security,
      },
    },
    channels: {
      chat: {
        address: '/',
        title: 'Chat connection',
        description: 'One WebSocket connection; the route is selected by `cmd`.',
        messages: channelMessages,
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        tokenQuery: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The JWT as `?token=` (browsers cannot set headers). Checked first.',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Header `Authorization: Bearer <jwt>`.',
        },
        legacyHeader: {
          type: 'httpApiKey',
          name: 'websocket',
          in: 'header',
          description: 'Header `websocket: <jwt>` (legacy clients).',
        },
        subprotocol: {
          type: 'httpApiKey',
          name: 'Sec-WebSocket-Protocol',
          in: 'header',
          description:
            "Subprotocols `chat` and `bearer.<jwt>`: `new WebSocket(url, ['chat', 'bearer.' + jwt])`.",
        },
      },
    },
  };
}

const HTTP_SUMMARIES: Record<string, string> = {
  'GET /api/ws/online-count': 'Users and connections online',
  'GET /api/ws/online-users': 'A page of online user ids',
  'GET /api/ws/online/check': 'Whether a user is online',
  'POST /api/ws/send-message': 'Send a private message (as the send_message command)',
  'POST /api/ws/broadcast': 'Broadcast to every connection (admin)',
  'GET /api/ws/messages': 'A page of a conversation, newest first',
  'GET /api/ws/unread': "The caller's unread counts",
  'GET /api/ws/conversations': "The caller's conversation list, most recent activity first",
  'POST /api/ws/notify': 'Store and push a system notification (admin)',
  'GET /api/ws/groups': "A page of the caller's groups (as list_groups)",
  'POST /api/ws/groups': 'Create a group (as create_group)',
  'GET /api/ws/groups/{group_id}': 'A group and its members (as group_info; members only)',
  'PATCH /api/ws/groups/{group_id}': 'Rename a group (as update_group; owner, admin)',
  'DELETE /api/ws/groups/{group_id}': 'Delete a group (as delete_group; owner)',
  'POST /api/ws/groups/{group_id}/members': 'Add members (as add_group_members; owner, admin)',
  'DELETE /api/ws/groups/{group_id}/members/{user_id}':
    'Remove a member (as remove_group_member; owner, admin)',
  'PATCH /api/ws/groups/{group_id}/members/{user_id}': "Change a member's role (as set_group_role; owner)",
  'POST /api/ws/groups/{group_id}/leave': 'Leave a group (as leave_group)',
  'GET /api/ws/group-invites': "A page of the caller's pending group invitations (as list_group_invites)",
  'POST /api/ws/groups/{group_id}/invite/accept': 'Accept an invitation (as accept_group_invite)',
  'POST /api/ws/groups/{group_id}/invite/decline': 'Decline an invitation (as decline_group_invite)',
  'GET /api/ws/blocks': 'A page of the users the caller blocked (as list_blocked)',
  'POST /api/ws/blocks': 'Block a user (as block_user)',
  'DELETE /api/ws/blocks/{user_id}': 'Lift a block (as unblock_user)',
  'PATCH /api/ws/messages/{message_id}': "Replace one of the caller's messages (as edit_message; its sender)",
  'POST /api/ws/messages/{message_id}/reactions': 'Add an emoji to a message (as react; participants)',
  'DELETE /api/ws/messages/{message_id}/reactions/{emoji}':
    'Take back an emoji (as unreact; participants); room_id in the query',
  'POST /api/ws/uploads': 'A presigned S3 PUT for one attachment of the declared size and content type',
};

const HTTP_BODIES: Record<string, z.core.$ZodType> = {
  'POST /api/ws/send-message': sendMessageSchema,
  'POST /api/ws/broadcast': broadcastSchema,
  'POST /api/ws/notify': notifySchema,
  'POST /api/ws/groups': createGroupSchema,
  'POST /api/ws/blocks': blockUserSchema,
  'POST /api/ws/uploads': createUploadSchema,
  'PATCH /api/ws/messages/{message_id}': z.omit(editMessageSchema, { message_id: true }),
  'POST /api/ws/messages/{message_id}/reactions': z.omit(reactSchema, { message_id: true }),
  'PATCH /api/ws/groups/{group_id}': z.omit(updateGroupSchema, { group_id: true }),
  'POST /api/ws/groups/{group_id}/members': z.omit(addGroupMembersSchema, { group_id: true }),
  'PATCH /api/ws/groups/{group_id}/members/{user_id}': z.omit(setGroupRoleSchema, {
    group_id: true,
    user_id: true,
  }),
};

const PATH_PARAMETER_DESCRIPTIONS: Record<string, string> = {
  group_id: 'a group id (another shape answers 3006)',
  message_id: 'a message id',
  emoji: 'the emoji (URL-encoded UTF-8), as in unreact',
};

const PUBLIC_ROUTES = new Set(['GET /api/ws/online-count']);

export function buildOpenApi(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const schemas: Record<string, JsonSchema> = { ErrorEnvelope: errorEnvelope };
  const errorResponse = (description: string): JsonSchema => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
  });
  for (const { method, path } of httpRoutes) {
    const key = `${method} ${path}`;
    const responseData = httpResponses[key];
    if (!responseData) throw new Error(`no response schema for ${key}: add it to scripts/specs/frames.ts`);
    const base = pascal(path.replace('/api/ws/', '').replace(/[{}]/g, '').replace(/[-/]/g, '_'));
    const operationId = `${method.toLowerCase()}${base}`;
    // Paths served for several methods (GET and POST /api/ws/groups) need one response
    // schema per method, or the last would stand for all of them.
    const sharedPath = httpRoutes.filter((route) => route.path === path).length > 1;
    const responseName = `${sharedPath ? pascal(method.toLowerCase()) : ''}${base}Response`;
    schemas[responseName] = responseData;
    const isPublic = PUBLIC_ROUTES.has(key);
    const responses: Record<string, JsonSchema> = {
      '200': {
        description: 'Success',
        content: {
          'application/json': { schema: envelope({ $ref: `#/components/schemas/${responseName}` }, false) },
        },
      },
      '400': errorResponse("Bad input: the command's code (1001 and others)"),
      '500': errorResponse('Storing failed (10008, 3009) or an unexpected fault (5000)'),
    };
    if (!isPublic) {
      responses['401'] = errorResponse('Token missing or rejected (1401)');
      responses['403'] = errorResponse('Not allowed (1403)');
      responses['429'] = errorResponse('Rate limited (1029)');
    }
    const operation: JsonSchema = {
      operationId,
      summary: HTTP_SUMMARIES[key] ?? key,
      security: isPublic ? [] : [{ bearer: [] }],
      responses,
    };
    const pathParameters = [...path.matchAll(/\{([a-z_]+)\}/g)].map(([, name]) => ({
      in: 'path',
      name,
      required: true,
      schema: { type: 'string' },
      description: PATH_PARAMETER_DESCRIPTIONS[name ?? ''] ?? 'a user id (URL-encoded)',
    }));
    const parameters = [
      ...pathParameters,
      ...(httpQueryParameters[key] ?? []).map((parameter) => ({ in: 'query', ...parameter })),
    ];
    if (parameters.length > 0) operation.parameters = parameters;
    const body = HTTP_BODIES[key];
    if (body) {
      schemas[`${base}Request`] = { ...fromZod(body), 'x-source': 'zod' };
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${base}Request` } } },
      };
      if (key === 'POST /api/ws/send-message') responses['413'] = errorResponse('Content too long (1002)');
    }
    const byMethod = paths[path] ?? {};
    byMethod[method.toLowerCase()] = operation;
    paths[path] = byMethod;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `${TITLE}: HTTP API`,
      version: VERSION,
      description:
        'Generated by `npm run specs` from the zod schemas the handlers validate with; see docs/protocol.md#http-api. Every response uses the envelope `{code, message, data}`.',
    },
    servers: [
      { url: 'http://localhost:8009', description: 'The local runtime (`npm start`)' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'The deployed HTTP API (stack output HttpApiUrl)',
        variables: {
          apiId: { default: 'example', description: 'The HTTP API id' },
          region: { default: 'us-east-1', description: 'The AWS region' },
        },
      },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}

/** Object keys sorted at every level (array order kept), so output never depends on insertion order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function render(document: JsonSchema): string {
  return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
}

/** Every generated file, path → content. */
export function generateSpecs(): Record<string, string> {
  return {
    [ASYNCAPI_PATH]: render(buildAsyncApi()),
    [OPENAPI_PATH]: render(buildOpenApi()),
    [EVENTS_SCHEMA_PATH]: render(buildEventsSchema()),
  };
}
