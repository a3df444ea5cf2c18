/**
 * Invoked asynchronously by `$connect`. The connection only exists once `$connect`
 * has returned, so wait for it with GetConnection (410 until then), then post the
 * welcome frame, retrying a 410 briefly in case of a race.
 *
 * Lambda may run one event twice (a retry after an error or a timeout that came after
 * the post, or a repeated delivery), so the push is claimed per connection in the guards
 * table first: a second run finds the claim and posts nothing. The claim is a lease
 * (longer than the function's timeout): a run that died before posting does not keep
 * the retry from welcoming.
 */
import { delay } from '../core/shared/concurrency.ts';
import { success } from '../core/shared/envelope.ts';
import { DeliveryError } from '../core/shared/ports.ts';
import { getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import type { ManagementApiNotifier } from '../runtime/management-api.ts';
import '../runtime/wiring/connection-closer.ts';
import '../runtime/wiring/dynamo.ts';

export interface WelcomeRequest {
  readonly connectionId: string;
  readonly userId: string;
  readonly callbackUrl: string;
}

/** How long to wait for `$connect` to finish before giving up. */
const WAIT_FOR_OPEN_MS = 10_000;
/** Longer than any run of this function (15 s timeout), shorter than Lambda's first retry delay (1 min). */
const CLAIM_LEASE_SECONDS = 30;

export function welcomeClaimKey(connectionId: string): string {
  return `welcome#${connectionId}`;
}

async function waitUntilOpen(notifier: ManagementApiNotifier, connectionId: string): Promise<boolean> {
  const deadline = Date.now() + WAIT_FOR_OPEN_MS;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (await notifier.isOpen(connectionId)) return true;
    await delay(Math.min(25 * 2 ** attempt, 500));
  }
  return false;
}

export const handler = async (request: WelcomeRequest): Promise<{ delivered: boolean }> => {
  const { connectionId } = request;
  const claimKey = welcomeClaimKey(connectionId);
  // Released on failure unless the frame went out: a retry must not post it again.
  let holdsUnpostedClaim = false;
  try {
    const { onceClaims } = getServices();
    if (!(await onceClaims.claim(claimKey, CLAIM_LEASE_SECONDS))) {
      log('info', 'welcome already posted or being posted by another run of this event', { connectionId });
      return { delivered: false };
    }
    holdsUnpostedClaim = true;
    const delivered = await postWelcome(request);
    holdsUnpostedClaim = !delivered;
    if (delivered) await onceClaims.complete(claimKey);
    else await onceClaims.release(claimKey);
    holdsUnpostedClaim = false;
    return { delivered };
  } catch (error) {
    log('error', 'welcome failed', { connectionId, error });
    if (holdsUnpostedClaim) await releaseQuietly(claimKey);
    return { delivered: false };
  }
};

async function releaseQuietly(claimKey: string): Promise<void> {
  try {
    await getServices().onceClaims.release(claimKey);
  } catch (error) {
    log('warn', 'welcome claim not released; a retry waits for its lease to end', { claimKey, error });
  }
}

async function postWelcome({ connectionId, userId, callbackUrl }: WelcomeRequest): Promise<boolean> {
  const notifier = getServices().notifier(callbackUrl);
  const frame = JSON.stringify(
    success({
      type: 'welcome',
      user_id: userId,
      connection_id: connectionId,
      time: new Date().toISOString(),
    }),
  );
  let goneAfterOpen = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!(await waitUntilOpen(notifier, connectionId))) break;
    try {
      await notifier.post(connectionId, frame);
      return true;
    } catch (error) {
      if (!(error instanceof DeliveryError) || error.kind === 'permanent') throw error;
      goneAfterOpen = error.kind === 'gone';
    }
  }
  log('warn', 'welcome not delivered: connection never opened or closed', { connectionId });
  // Open, then 410: closed without (or before) its $disconnect. The same close path as any
  // 410 (the sweep function checks it and keeps it if it is still inside its handshake).
  if (goneAfterOpen) {
    try {
      await getServices().delivery(callbackUrl).registry.closeGone(connectionId, userId);
    } catch (error) {
      log('warn', 'gone connection not handed over; the sweep finds it', { connectionId, error });
    }
  }
  return false;
}
