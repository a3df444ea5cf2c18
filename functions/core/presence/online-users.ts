/**
 * Who may list the online users (`GET /api/ws/online-users`), a deployment choice
 * (`ONLINE_USERS_VISIBILITY`): `all` (every signed-in user, the default), `admins` (the
 * admin role only; others 1403) or `peers` (each caller sees only their presence peers:
 * the users who would hear about their own presence).
 */
import { ChatError, ErrorCode } from '../shared/errors.ts';
import { isValidUserId } from '../shared/ids.ts';
import type { PresenceStore } from '../shared/ports.ts';

export type OnlineUsersVisibility = 'all' | 'admins' | 'peers';

export const ONLINE_USERS_VISIBILITIES: readonly OnlineUsersVisibility[] = ['all', 'admins', 'peers'];

export interface OnlinePage {
  readonly users: string[];
  readonly next_cursor?: string;
}

/**
 * The caller's online peers in user-id order, `limit` a page; the cursor is the last user
 * id of the previous page (base64url). One peer lookup and one batched presence read a page.
 */
export async function onlinePeersPage(
  peers: readonly string[],
  presence: Pick<PresenceStore, 'connectionsOf'>,
  limit: number,
  cursor: string | undefined,
): Promise<OnlinePage> {
  const after = cursor === undefined ? undefined : decodePeerCursor(cursor);
  const candidates = [...new Set(peers)].filter((id) => after === undefined || id > after);
  const online = candidates.length > 0 ? await presence.connectionsOf(candidates) : [];
  const users = online.map((user) => user.userId).sort();
  const page = users.slice(0, limit);
  const last = page.at(-1);
  return users.length > limit && last !== undefined
    ? { users: page, next_cursor: Buffer.from(last, 'utf8').toString('base64url') }
    : { users: page };
}

function decodePeerCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!isValidUserId(decoded)) throw new ChatError(ErrorCode.badRequest, 'cursor is not valid');
  return decoded;
}
