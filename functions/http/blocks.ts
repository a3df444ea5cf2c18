/** Blocking over HTTP: the same schemas and service as `block_user`, `unblock_user`, `list_blocked`. */
import { blockCommandErrorCodes, blockUserSchema, listBlockedSchema } from '../core/blocks/blocks.ts';
import { parseCommand } from '../core/messaging/commands.ts';
import type { HttpRoute } from '../runtime/http-route.ts';

export const blockRoutes: Readonly<Record<string, HttpRoute>> = {
  'GET /api/ws/blocks': async (request) => {
    const caller = await request.identity();
    const limit = request.query('limit');
    const input = parseCommand(
      listBlockedSchema,
      {
        limit: limit !== undefined && /^\d{1,6}$/.test(limit) ? Number(limit) : limit,
        cursor: request.query('cursor'),
      },
      blockCommandErrorCodes,
    );
    return request.services.blockService.list(caller.userId, input);
  },

  'POST /api/ws/blocks': async (request) => {
    const caller = await request.identity();
    const input = parseCommand(blockUserSchema, request.json(), blockCommandErrorCodes);
    return request.services.blockService.block(caller.userId, input);
  },

  'DELETE /api/ws/blocks/{user_id}': async (request) => {
    const caller = await request.identity();
    const input = parseCommand(
      blockUserSchema,
      { user_id: request.param('user_id') },
      blockCommandErrorCodes,
    );
    return request.services.blockService.unblock(caller.userId, input);
  },
};
