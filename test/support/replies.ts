/**
 * Commands whose success (or error code) a test needs before it checks what it is about:
 * the data of a success reply, a command's reply code, a group created, a message sent.
 */
import assert from 'node:assert/strict';
import { assertErrorReply, type ChatConnection, type PushData, sendCommand } from './chat.ts';
import type { FrameJson } from './local-runtime.ts';

/** The `data` of a success reply; fails with the reply (after `label`, when given) otherwise. */
export function okData(reply: FrameJson, label?: string): PushData {
  const shown =
    label === undefined ? JSON.stringify(reply) : `${label}: ${JSON.stringify(reply).slice(0, 300)}`;
  assert.equal(reply.code, 0, shown);
  return reply.data as PushData;
}

/** Sends `cmd` and returns the `data` of its reply, which must be a success. */
export async function sendOk(connection: ChatConnection, cmd: string, data: unknown): Promise<PushData> {
  return okData(await sendCommand(connection.client, cmd, data), cmd);
}

/** Sends `cmd` and returns its reply's code (an error reply's shape checked by assertErrorReply). */
export async function sendForCode(connection: ChatConnection, cmd: string, data: unknown): Promise<number> {
  const reply = await sendCommand(connection.client, cmd, data);
  const replyCode = Number(reply.code);
  if (replyCode !== 0) assertErrorReply(reply, replyCode);
  return replyCode;
}

/** Sends a message command (`send_message`, `send_group_message`, ...) and returns the new message's id. */
export async function sendMessageId(
  from: ChatConnection,
  cmd: string,
  data: Record<string, unknown>,
): Promise<string> {
  return String(okData(await sendCommand(from.client, cmd, data)).message_id);
}

/** `create_group` by `owner` with `memberIds`, which must succeed; the new group's id. */
export async function createGroup(
  owner: ChatConnection,
  name: string,
  memberIds: unknown[],
): Promise<string> {
  return String(
    okData(await sendCommand(owner.client, 'create_group', { group_name: name, member_ids: memberIds }))
      .group_id,
  );
}
