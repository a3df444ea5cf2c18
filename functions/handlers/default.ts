/** `$default`: frames whose `cmd` names no route, and frames that are not JSON at all. */
import { failure, readRequestId } from '../core/shared/envelope.ts';
import { ErrorCode } from '../core/shared/errors.ts';
import { parseFrame, reply, type WebSocketHandler } from '../runtime/websocket.ts';

export const handler: WebSocketHandler = async (event) => {
  const frame = parseFrame(event);
  if (!frame) return reply(failure(ErrorCode.badRequest, 'frame is not a JSON object'));
  const requestId = readRequestId(frame.request_id);
  if (typeof frame.cmd !== 'string' || frame.cmd === '') {
    return reply(failure(ErrorCode.badRequest, 'cmd is required', requestId));
  }
  return reply(failure(ErrorCode.unknownCommand, `unknown command: ${frame.cmd.slice(0, 64)}`, requestId));
};
