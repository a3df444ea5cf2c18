/**
 * Signing in survives a reload: the user id and the admin box are kept in sessionStorage,
 * and the page signs in again with a fresh development token. Never the token itself (a
 * script injected into the page could read it from storage; minting a new one is cheap).
 * sessionStorage is per tab, so two tabs can still be two different users; a new tab starts
 * signed out.
 */

const KEY = 'chat.sign-in';

export interface SavedSignIn {
  readonly userId: string;
  readonly admin: boolean;
}

export function loadSignIn(): SavedSignIn | undefined {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { userId, admin } = parsed as Record<string, unknown>;
    return typeof userId === 'string' && userId !== '' ? { userId, admin: admin === true } : undefined;
  } catch {
    return undefined;
  }
}

export function saveSignIn(saved: SavedSignIn): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(saved));
  } catch {
    // Storage off (private mode, quota): the page still works, without surviving a reload.
  }
}

export function forgetSignIn(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // as above
  }
}
