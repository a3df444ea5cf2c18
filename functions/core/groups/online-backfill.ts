/**
 * The one-off migration of the online marks (functions/core/groups/online-members.ts):
 * users who were online when the version with `byOnlineGroup` was deployed have unmarked
 * member rows until their next connect. This walks the online users shard by shard (the
 * presence `byShard` index: Queries, no Scan), claims a session token for each and marks
 * their rows. Running it twice is harmless: a mark only replaces an older token.
 */
import { type OnlineGroupMarks, onlineSessionToken } from './online-members.ts';

export interface OnlineBackfillDependencies {
  readonly presence: {
    readonly shardCount: number;
    onlineInShard(
      shard: number,
      limit: number,
      after?: string,
    ): Promise<{ readonly users: readonly { readonly userId: string }[]; readonly after?: string }>;
    claimOnlineSession(userId: string, token: string): Promise<boolean>;
  };
  readonly marks: Pick<OnlineGroupMarks, 'markAll'>;
  readonly now?: () => Date;
  /** Online users read per Query page. @default 100 */
  readonly pageSize?: number;
  /** Called after each page (progress). */
  readonly onPage?: (progress: OnlineBackfillResult & { readonly shard: number }) => void;
}

export interface OnlineBackfillResult {
  /** Online users found. */
  readonly users: number;
  /** Of those, users whose rows were marked (the others went offline meanwhile). */
  readonly marked: number;
}

/** The token's connection part: no connection id looks like it (they are base64). */
const BACKFILL_MARKER = 'backfill';

export async function backfillOnlineGroups(deps: OnlineBackfillDependencies): Promise<OnlineBackfillResult> {
  let users = 0;
  let marked = 0;
  for (let shard = 0; shard < deps.presence.shardCount; shard++) {
    let after: string | undefined;
    do {
      const page = await deps.presence.onlineInShard(shard, deps.pageSize ?? 100, after);
      for (const user of page.users) {
        users++;
        // A token newer than any session's so far: this user's last disconnect clears these
        // marks; a session that began meanwhile is replaced, harmlessly (all rows get this one).
        const token = onlineSessionToken((deps.now?.() ?? new Date()).toISOString(), BACKFILL_MARKER);
        if (!(await deps.presence.claimOnlineSession(user.userId, token))) continue; // went offline
        await deps.marks.markAll(user.userId, token);
        marked++;
      }
      after = page.after;
      deps.onPage?.({ shard, users, marked });
    } while (after);
  }
  return { users, marked };
}
