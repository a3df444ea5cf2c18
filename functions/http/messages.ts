/**
 * Editing and reactions over HTTP: the same schemas, core and rules as `edit_message`,
 * `react` and `unreact`; path parameters and the JSON body (or, for DELETE, the query)
 * together make the command's `data`. Every open connection of the participants gets the
 * push (no connection asked). Typing has no HTTP route: it stores nothing.
 */
import { parseCommand } from '../core/messaging/commands.ts';
import { editMessage, editMessageErrorCodes, editMessageSchema } from '../core/messaging/edit.ts';
import { react, reactErrorCodes, reactSchema } from '../core/reactions/reactions.ts';
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

export const messageRoutes: Readonly<Record<string, HttpRoute>> = {
  'PATCH /api/ws/messages/{message_id}': async (request) => {
    const editor = await request.identity();
    const data = bodyWith(request, { message_id: request.param('message_id') });
    const input = parseCommand(editMessageSchema, data, editMessageErrorCodes);
    return editMessage(request.services.edits(callbackUrlFor()), editor.userId, input);
  },

  'POST /api/ws/messages/{message_id}/reactions': async (request) => {
    const reactor = await request.identity();
    const data = bodyWith(request, { message_id: request.param('message_id') });
    const input = parseCommand(reactSchema, data, reactErrorCodes);
    return react(request.services.reactions(callbackUrlFor()), reactor.userId, input, 'added');
  },

  'DELETE /api/ws/messages/{message_id}/reactions/{emoji}': async (request) => {
    const reactor = await request.identity();
    const data = {
      room_id: request.query('room_id'),
      message_id: request.param('message_id'),
      emoji: request.param('emoji'),
    };
    const input = parseCommand(reactSchema, data, reactErrorCodes);
    return react(request.services.reactions(callbackUrlFor()), reactor.userId, input, 'removed');
  },
};
