/**
 * Development tokens from the local runtime's `POST /dev/token` (local only: a deployed
 * page would get its token from the real identity provider instead).
 */

interface Envelope<T> {
  readonly code: number;
  readonly message: string;
  readonly data: T | null;
}

interface DevToken {
  readonly token: string;
  readonly expires_at: string;
}

/** Refreshed this long before it expires. */
const REFRESH_MARGIN_MS = 60_000;

export async function fetchDevToken(userId: string, admin: boolean): Promise<DevToken> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(admin ? { user_id: userId, role: 'admin' } : { user_id: userId }),
  });
  const body = (await response.json().catch(() => null)) as Envelope<DevToken> | null;
  if (!response.ok || body?.code !== 0 || !body.data) {
    throw new Error(body?.message ?? `the dev-token endpoint answered HTTP ${response.status}`);
  }
  return body.data;
}

/** A token source for the SDK: one token until shortly before it expires, then a new one. */
export function devTokenSource(userId: string, admin: boolean): () => Promise<string> {
  let current: { token: string; refreshAt: number } | undefined;
  return async () => {
    if (current && Date.now() < current.refreshAt) return current.token;
    const minted = await fetchDevToken(userId, admin);
    current = { token: minted.token, refreshAt: Date.parse(minted.expires_at) - REFRESH_MARGIN_MS };
    return minted.token;
  };
}
