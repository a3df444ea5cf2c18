/**
 * Delivers one frame to many connections: a bounded number of posts in flight,
 * 429/5xx retried with full-jitter backoff, 410 reported so the caller removes that
 * connection, and one failure never failing the rest (unlike `Promise.all`).
 */
import { delay } from '../shared/concurrency.ts';
import { type ConnectionNotifier, DeliveryError } from '../shared/ports.ts';

export interface Recipient {
  readonly connectionId: string;
  readonly userId: string;
  /** The connection's token `exp` (epoch seconds), when known: `deliver` skips it once passed. */
  readonly tokenExpiresAt?: number;
}

export interface FanOutOptions {
  readonly concurrency: number;
  /** Attempts per connection for retryable failures, including the first. @default 4 */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff, in ms. @default 50 */
  readonly baseDelayMs?: number;
  /** Called for each connection that answered 410; it should delete that connection and log its own failures. */
  readonly onGone?: (recipient: Recipient) => Promise<void>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface FanOutResult {
  readonly delivered: number;
  readonly gone: number;
  /** Connections still failing after all retries, or failing permanently. */
  readonly failed: readonly Recipient[];
}

async function postWithRetry(
  notifier: ConnectionNotifier,
  recipient: Recipient,
  frame: string,
  options: FanOutOptions,
): Promise<'delivered' | 'gone' | 'failed'> {
  const maxAttempts = options.maxAttempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 50;
  const sleep = options.sleep ?? delay;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      await notifier.post(recipient.connectionId, frame);
      return 'delivered';
    } catch (error) {
      const kind = error instanceof DeliveryError ? error.kind : 'retryable';
      if (kind === 'gone') return 'gone';
      if (kind === 'permanent' || attempt >= maxAttempts) return 'failed';
      await sleep(random() * baseDelayMs * 2 ** (attempt - 1));
    }
  }
}

export async function fanOut(
  notifier: ConnectionNotifier,
  recipients: readonly Recipient[],
  frame: string,
  options: FanOutOptions,
): Promise<FanOutResult> {
  let delivered = 0;
  let gone = 0;
  const failed: Recipient[] = [];
  const cleanups: Promise<unknown>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < recipients.length) {
      const recipient = recipients[next++] as Recipient;
      const outcome = await postWithRetry(notifier, recipient, frame, options);
      if (outcome === 'delivered') delivered++;
      else if (outcome === 'gone') {
        gone++;
        // Caught at once: a failed cleanup must neither fail the delivery nor go unhandled.
        if (options.onGone) cleanups.push(options.onGone(recipient).catch(() => undefined));
      } else failed.push(recipient);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, recipients.length));
  await Promise.allSettled(Array.from({ length: workers }, worker));
  // Cleanup of gone connections must not fail the delivery that found them.
  await Promise.allSettled(cleanups);
  return { delivered, gone, failed };
}
