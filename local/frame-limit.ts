/**
 * API Gateway's 32 KB WebSocket frame quota: a message up to 128 KB must come in frames
 * of at most 32 KB each; "if a larger message (or larger frame size) is received, the
 * connection is closed with code 1009" (API Gateway quotas page). The `ws` library only
 * limits whole messages, so this reads the frame headers of the client's byte stream
 * alongside it and reports the first data frame whose payload is over the limit.
 */
import type { Duplex } from 'node:stream';

export const MAX_FRAME_BYTES = 32 * 1024;

/** Control frames (close, ping, pong) are at most 125 bytes by RFC 6455 and never counted. */
const FIRST_CONTROL_OPCODE = 0x8;

/**
 * Calls `onTooLarge` once, for the first data frame over `limitBytes`, then stops
 * watching. Registered before `ws`'s own listener, so it runs before that frame's
 * message can be dispatched.
 */
export function watchFrameSizes(socket: Duplex, limitBytes: number, onTooLarge: (bytes: number) => void) {
  let pending = Buffer.alloc(0);
  /** Payload bytes of the current frame still to skip. */
  let skip = 0;
  const onData = (chunk: Buffer) => {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (data.length > 0) {
      if (skip > 0) {
        const skipped = Math.min(skip, data.length);
        skip -= skipped;
        data = data.subarray(skipped);
        continue;
      }
      const header = parseFrameHeader(data);
      if (!header) {
        pending = Buffer.from(data);
        return;
      }
      if (header.opcode < FIRST_CONTROL_OPCODE && header.payloadBytes > limitBytes) {
        socket.off('data', onData);
        onTooLarge(header.payloadBytes);
        return;
      }
      skip = header.payloadBytes;
      data = data.subarray(header.headerBytes);
    }
  };
  socket.prependListener('data', onData);
  return () => socket.off('data', onData);
}

/** RFC 6455 §5.2; undefined until the whole header has arrived. */
function parseFrameHeader(data: Buffer) {
  if (data.length < 2) return undefined;
  const first = data[0] as number;
  const second = data[1] as number;
  const masked = (second & 0x80) !== 0;
  const length7 = second & 0x7f;
  const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
  const headerBytes = 2 + extended + (masked ? 4 : 0);
  if (data.length < headerBytes) return undefined;
  const payloadBytes =
    length7 === 126 ? data.readUInt16BE(2) : length7 === 127 ? Number(data.readBigUInt64BE(2)) : length7;
  return { opcode: first & 0x0f, payloadBytes, headerBytes };
}
