/** Opening several authenticated sockets at once for a test's cast. */
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed } from './chat.ts';

/**
 * Connects each of `userIds` in turn, waiting for each welcome before the next connect
 * (so presence pushes arrive in a known order); a user named twice gets two devices.
 */
export async function connectEach<const UserIds extends readonly string[]>(
  runtime: LocalRuntime,
  userIds: UserIds,
): Promise<{ -readonly [I in keyof UserIds]: ChatConnection }> {
  const connections: ChatConnection[] = [];
  for (const userId of userIds) connections.push(await connectWelcomed(runtime, userId));
  return connections as { -readonly [I in keyof UserIds]: ChatConnection };
}
