/**
 * Invoked asynchronously by `$connect`. The connection only exists once `$connect`
 * has returned, so wait for it with GetConnection (410 until then), then post the
 * welcome frame, retrying a 410 briefly in case of a race.
 */
import { delay } from '../core/shared/concurrency.ts';
import { success } from '../core/shared/envelope.ts';
import { DeliveryError } from '../core/shared/ports.ts';
import { getServices } from '../runtime/container.ts';
import { log } from '../runtime/logger.ts';
import type { ManagementApiNotifier } from '../runtime/management-api.ts';
import '../runtime/wiring/management-api.ts';

export interface WelcomeRequest {
  readonly connectionId: string;
  readonly userId: string;
  readonly callbackUrl: string;
}

/** How long to wait for `$connect` to finish before giving up. */
const WAIT_FOR_OPEN_MS = 10_000;

async function waitUntilOpen(notifier: ManagementApiNotifier, connectionId: string): Promise<boolean> {
  const deadline = Date.now() + WAIT_FOR_OPEN_MS;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (await notifier.isOpen(connectionId)) return true;
    await delay(Math.min(25 * 2 ** attempt, 500));
  }
  return false;
}

export const handler = async (request: WelcomeRequest): Promise<{ delivered: boolean }> => {
  const { connectionId, userId, callbackUrl } = request;
  try {
    const notifier = getServices().notifier(callbackUrl);
    const frame = JSON.stringify(
      success({
        type: 'welcome',
        user_id: userId,
        connection_id: connectionId,
        time: new Date().toISOString(),
      }),
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!(await waitUntilOpen(notifier, connectionId))) break;
      try {
        await notifier.post(connectionId, frame);
        return { delivered: true };
      } catch (error) {
        if (!(error instanceof DeliveryError) || error.kind === 'permanent') throw error;
      }
    }
    log('warn', 'welcome not delivered: connection never opened or closed', { connectionId });
    return { delivered: false };
  } catch (error) {
    log('error', 'welcome failed', { connectionId, error });
    return { delivered: false };
  }
};
