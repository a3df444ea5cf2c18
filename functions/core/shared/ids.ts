import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/** A message id as stored and sent: a ULID in upper case. */
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Time-ordered, unique message id (ULID): sorting ids sorts messages by time. */
export function newMessageId(now: Date = new Date()): string {
  return nextUlid(now.getTime());
}

export function newGroupId(now: Date = new Date()): string {
  return `group_${nextUlid(now.getTime())}`;
}

/**
 * User ids are 1–128 characters, not blank (whitespace only), no control characters, and
 * never start with `#` (reserved keys).
 */
const USER_ID = /^(?!\s*$)[^\p{Cc}#][^\p{Cc}]{0,127}$/u;

export function isValidUserId(value: string): boolean {
  return USER_ID.test(value);
}

export const GROUP_ID = /^group_[A-Za-z0-9_-]{1,64}$/;
export const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `private_{smaller}_{larger}` in string order, as the services we replace named them. */
export function privateRoomId(a: string, b: string): string {
  return a < b ? `private_${a}_${b}` : `private_${b}_${a}`;
}

/**
 * The other participant of a private message as `viewerId` (one of the two) sees it. Taken
 * from the message, never from the room id: `private_a_b_c` is both `a_b`+`c` and `a`+`b_c`.
 */
export function peerOf(
  message: { readonly fromUserId: string; readonly toUserId?: string },
  viewerId: string,
): string {
  return message.fromUserId === viewerId ? (message.toUserId ?? viewerId) : message.fromUserId;
}

/** Whether `userId` is one of the two participants of the private room `roomId`. */
export function isPrivateRoomParticipant(roomId: string, userId: string): boolean {
  const prefix = `private_${userId}_`;
  if (roomId.startsWith(prefix)) {
    const other = roomId.slice(prefix.length);
    if (other.length > 0 && privateRoomId(userId, other) === roomId) return true;
  }
  const suffix = `_${userId}`;
  if (roomId.startsWith('private_') && roomId.endsWith(suffix)) {
    const other = roomId.slice('private_'.length, roomId.length - suffix.length);
    if (other.length > 0 && privateRoomId(userId, other) === roomId) return true;
  }
  return false;
}
