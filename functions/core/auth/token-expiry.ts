/**
 * Whether a token stored with a connection has expired. Its own module (no `jose`), so
 * every function that pushes can check recipients without bundling the verifier.
 */

export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/**
 * True when a token's `exp` (epoch seconds), stored with the connection, has passed,
 * allowing the same clock tolerance as verification at `$connect` (so a token accepted
 * there is not refused on the first command).
 */
export function tokenExpired(
  expiresAt: number | undefined,
  nowSeconds: number,
  clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_SECONDS,
): boolean {
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return false;
  return nowSeconds > expiresAt + clockToleranceSeconds;
}
