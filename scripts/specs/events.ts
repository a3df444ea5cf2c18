/**
 * docs/events.schema.json: the application events (functions/core/events/app-events.ts)
 * as JSON Schema 2020-12 — the envelope an EventBridge rule's target (or, locally, the
 * EVENTS_WEBHOOK_URL receiver) gets, with one `detail` schema per `detail-type`. Details
 * allow no other properties. Keep it faithful to the TypeScript interfaces; the e2e test
 * test/e2e/app-events.test.ts validates real events from the local runtime against it.
 */
import {
  APP_EVENT_SOURCE,
  APP_EVENT_TYPES,
  type AppEventType,
} from '../../functions/core/events/app-events.ts';
import { groupChange, type JsonSchema } from './frames.ts';

export const EVENTS_SCHEMA_PATH = 'docs/events.schema.json';

const string = (description?: string): JsonSchema =>
  description ? { type: 'string', description } : { type: 'string' };
const time = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', description });
const userIds = (description: string): JsonSchema => ({
  type: 'array',
  items: { type: 'string' },
  description,
});

/** A closed object: the listed properties, required unless named in `optional`. */
function detail(
  description: string,
  properties: Record<string, JsonSchema>,
  optional: readonly string[] = [],
): JsonSchema {
  return {
    type: 'object',
    description,
    properties,
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    additionalProperties: false,
  };
}

const messageRef: Record<string, JsonSchema> = {
  message_id: string('message id (ULID)'),
  room_id: string('the conversation: private_{a}_{b}, the group id, or the room id'),
  kind: { type: 'string', enum: ['private', 'group', 'room'] },
  from_user_id: string('the sender'),
  to_user_id: string('private messages: the recipient'),
  group_id: string('group messages'),
};
const messageRefOptional = ['to_user_id', 'group_id'];
const content: Record<string, JsonSchema> = {
  content: string('the message text, as stored (after the content filter)'),
  reply_to: string('the message id it replies to (reply_to), same conversation'),
  attachment: detail(
    'its attachment, metadata only: never a URL (fetch the object with your own grant on the attachments bucket)',
    {
      attachment_id: string(
        'the upload id; the attached object key is attachments/{base64url of from_user_id}/{attachment_id}',
      ),
      file_name: string(),
      content_type: string(),
      size: { type: 'integer', minimum: 0, description: 'bytes' },
    },
  ),
  message_type: {
    type: 'integer',
    minimum: 1,
    maximum: 5,
    description: '1 text, 2 image, 3 file, 4 audio, 5 video',
  },
};

const details: Record<AppEventType, JsonSchema> = {
  'message.sent': detail(
    'A message was stored (private, group or room). Not published for a client_msg_id retry answered as a duplicate.',
    { ...messageRef, ...content, time: time('when the message was stored') },
    [...messageRefOptional, 'reply_to', 'attachment'],
  ),
  'message.edited': detail(
    'A message was edited by its sender.',
    {
      ...messageRef,
      ...content,
      edited_at: time('when it was edited'),
      time: time('when the message was first stored'),
    },
    [...messageRefOptional, 'reply_to', 'attachment'],
  ),
  'message.deleted': detail(
    'A message was recalled by its sender (delete_message); its content is gone.',
    { ...messageRef, deleted_by: string('the sender who recalled it'), time: time('when it was recalled') },
    messageRefOptional,
  ),
  'message.undelivered': detail(
    'Recipients of a stored message had no open connection (the hook for mobile push). Published with message.sent; one event per 500 such recipients.',
    {
      ...messageRef,
      ...content,
      user_ids: userIds('the recipients with no open connection'),
      group_name: string('group messages: the group name'),
      time: time('when the message was stored'),
    },
    [...messageRefOptional, 'reply_to', 'attachment', 'group_name'],
  ),
  'message.reacted': detail(
    'A reaction was added to or removed from a message (react, unreact); nothing is published when nothing changed.',
    {
      ...messageRef,
      user_id: string('who reacted'),
      emoji: string('the reaction, compared exactly'),
      action: { type: 'string', enum: ['added', 'removed'] },
      counts: {
        type: 'object',
        additionalProperties: { type: 'integer', minimum: 1 },
        description: "the message's counts after the change, emoji with none left out",
      },
      time: time('when the reaction changed'),
    },
    messageRefOptional,
  ),
  'group.created': detail(
    'A group was created.',
    {
      group_id: string(),
      group_name: string(),
      owner_id: string('the creator'),
      member_ids: userIds('the members, the owner first'),
      invited_user_ids: userIds('GROUP_INVITES=required: the users invited'),
      time: time('when it was created'),
    },
    ['invited_user_ids'],
  ),
  'group.updated': detail(
    'A group changed; the same change the members get as a group_updated push.',
    {
      group_id: string(),
      group_name: string(),
      change: groupChange,
      user_ids: userIds('whom the change is about'),
      by: string('who made it'),
      owner_id: string('present when ownership moved (an owner left)'),
      role: { type: 'string', enum: ['owner', 'admin', 'member'], description: 'role_changed: the new role' },
      time: time('when it changed'),
    },
    ['owner_id', 'role'],
  ),
  'presence.changed': detail(
    "A user's first connection opened (online) or their last one closed (offline).",
    {
      user_id: string(),
      status: { type: 'string', enum: ['online', 'offline'] },
      time: time('when it changed'),
    },
  ),
  'connection.opened': detail('A connection was registered ($connect accepted it).', {
    connection_id: string('API Gateway connection id'),
    user_id: string(),
    time: time('when it connected'),
  }),
  'connection.closed': detail('A connection closed ($disconnect).', {
    connection_id: string('API Gateway connection id'),
    user_id: string(),
    time: time('when $disconnect ran'),
  }),
};

export function buildEventsSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Serverless chat application events',
    description:
      "Events on the EventBridge bus (or POSTed to EVENTS_WEBHOOK_URL locally), as a rule's target receives them. See docs/events.md.",
    type: 'object',
    properties: {
      version: { type: 'string', const: '0' },
      id: string('unique per event (EventBridge assigns it; locally a UUID, the same on retries)'),
      'detail-type': { type: 'string', enum: [...APP_EVENT_TYPES] },
      source: { type: 'string', const: APP_EVENT_SOURCE },
      account: string('AWS account id (000000000000 locally)'),
      time: string('when it happened, to the second (YYYY-MM-DDTHH:MM:SSZ)'),
      region: string(),
      resources: { type: 'array', items: { type: 'string' } },
      detail: { type: 'object' },
    },
    required: ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'],
    // One alternative per detail-type, whose detail must match that type's schema.
    oneOf: APP_EVENT_TYPES.map((type) => ({
      properties: { 'detail-type': { const: type }, detail: { $ref: `#/$defs/${type}` } },
    })),
    $defs: details,
  };
}
