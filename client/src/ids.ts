/** Random identifiers (client_msg_id, request ids) without Node built-ins. */

interface CryptoLike {
  randomUUID?: () => string;
  getRandomValues?: <T extends Uint8Array>(array: T) => T;
}

function cryptoApi(): CryptoLike | undefined {
  return (globalThis as { crypto?: CryptoLike }).crypto;
}

/**
 * A random UUID-like id. `crypto.randomUUID` is missing in insecure browser contexts
 * (plain http other than localhost), so it falls back to `getRandomValues`, then `Math.random`.
 */
export function randomId(): string {
  const crypto = cryptoApi();
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The smallest ULID of the millisecond `ms`: every message id issued at or after `ms`
 * compares greater or equal (message ids are ULIDs, compared as strings). Used as a `sync`
 * position when the client knows a time but no message id.
 */
export function ulidFloor(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  let encoded = '';
  for (let i = 0; i < 10; i++) {
    encoded = CROCKFORD.charAt(time % 32) + encoded;
    time = Math.floor(time / 32);
  }
  return `${encoded}${'0'.repeat(16)}`;
}

/** Message ids are issued in upper case; commands also accept lower case. */
export function normalizeId(id: string): string {
  return id.toUpperCase();
}

/** The greater of two ids (message ids are ULIDs: they compare as strings); undefined stands for none. */
export function maxId(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a >= b ? a : b;
}
