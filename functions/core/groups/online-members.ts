/**
 * Online group members: a member row of a user who is online carries a mark (the sparse
 * `byOnlineGroup` index of the groups table), so a group message reads the presence of
 * the online members only, not of every member.
 *
 * - A user's online transition (first connection) claims a session token on their presence
 *   item, then marks all their member rows with it, before `$connect` returns.
 * - Their last disconnect clears the rows still carrying that token, so a mark written by a
 *   newer session (a quick reconnect) is never cleared by the older one; a mark only ever
 *   replaces an older token, so a slow marker of an older session cannot overwrite it.
 * - A user added to a group while online gets the new row marked with their current token.
 *
 * A stale mark costs reads only (the presence read finds no connection); a missing mark
 * would lose a push, so every ordering here errs on marking (docs/architecture.md).
 */

/** Marks on member rows (groups table, `byOnlineGroup` index). */
export interface OnlineGroupMarks {
  /** Marks every member row of `userId` with `token` (rows with a newer token are left alone). */
  markAll(userId: string, token: string): Promise<void>;
  /** Clears every member row of `userId` whose mark is still `token`. */
  clearAll(userId: string, token: string): Promise<void>;
  /** Marks one member row, if it exists and carries no newer token. */
  mark(groupId: string, userId: string, token: string): Promise<void>;
  /** The members of the group whose rows are marked (eventually consistent; stale marks included). */
  onlineMemberIds(groupId: string): Promise<string[]>;
}

/**
 * The token of an online session: when it began, then the connection that began it, so
 * tokens of one user order by time (compared as strings) and never repeat.
 */
export function onlineSessionToken(connectedAt: string, connectionId: string): string {
  return `${connectedAt}#${connectionId}`;
}

/** What a group message (or a command about one) needs to reach the online members only. */
export interface OnlineGroupAudience {
  /** The live group's name when `userId` is a member (strongly consistent); undefined otherwise. */
  memberView(groupId: string, userId: string): Promise<{ readonly groupName: string } | undefined>;
  /** See `OnlineGroupMarks.onlineMemberIds`. */
  onlineMemberIds(groupId: string): Promise<string[]>;
}

/** Presence peers among the groups a user posted in: their online members only. */
export interface OnlinePeerGroups {
  /** Of `groupIds`, those `userId` is a member of (one BatchGetItem per 100). */
  memberOfAmong(userId: string, groupIds: readonly string[]): Promise<Set<string>>;
  /** See `OnlineGroupMarks.onlineMemberIds`. */
  onlineMemberIds(groupId: string): Promise<string[]>;
}
