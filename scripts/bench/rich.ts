/**
 * Section `rich`: what an edit, a reaction and a typing indicator cost in DynamoDB (and
 * pushes), in a private chat whose recipient is online with one connection. Each step
 * runs `repetitions` times: `edit_message` of the sender's message, `react` with a new
 * emoji, a repeated `react` (idempotent: counted once), `unreact`, and `typing` start
 * (no DynamoDB write: the throttle is in memory; each repetition uses another
 * conversation, so none is throttled). A throttled repeat makes no request at all when it
 * reaches the container that counted the first (test/e2e/request-count.test.ts); here the
 * host's handler threads are separate containers, so it is not measured.
 */
import { ClientPool } from './clients.ts';
import { Host } from './host-client.ts';
import { type OperationRun, runOperation, summarize } from './operations.ts';
import type { OperationCost, RichSection } from './types.ts';

export interface RichOptions {
  /** At most 9: a user has at most 10 reactions on one message. */
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

export async function runRichSection(options: RichOptions): Promise<RichSection> {
  const startedAt = performance.now();
  const { log, repetitions } = options;
  const host = await Host.start({ RATE_LIMIT_PER_MINUTE: '60', READ_RATE_LIMIT_PER_MINUTE: '0' });
  const pool = new ClientPool(host.info.wsUrl, host.info.jwtSecret);
  const operations: OperationCost[] = [];
  const measure = async (
    operation: string,
    label: string,
    expectedPushes: number,
    run: (i: number) => Promise<OperationRun>,
  ) => {
    log(`  ${label}`);
    const runs: OperationRun[] = [];
    for (let i = 0; i < repetitions; i++) runs.push(await run(i));
    operations.push(
      summarize(runs, {
        operation,
        label,
        background: 0,
        registeredConnections: 2 + repetitions,
        recipients: expectedPushes,
      }),
    );
  };
  try {
    const typists = Array.from({ length: repetitions }, (_, i) => `typist${i}`);
    const [sender, recipient, ...typing] = await pool.open([
      { userId: 'writer' },
      { userId: 'reader' },
      ...typists.map((userId) => ({ userId })),
    ]);
    const room = 'private_reader_writer';
    const sent = await pool.request(
      sender as number,
      'send_message',
      { to_user_id: 'reader', content: 'first' },
      30_000,
    );
    const messageId = String(sent.data?.message_id);
    const op = (from: number, cmd: string, expectedPushes: number, data: (marker: string) => unknown) =>
      runOperation({ pool, host, from, cmd, data, expectedPushes });

    await measure('rich-edit', 'edit_message (private, the peer online)', 1, () =>
      op(sender as number, 'edit_message', 1, (marker) => ({
        room_id: room,
        message_id: messageId,
        content: marker,
      })),
    );
    // The setup reaction that the idempotent repeat finds.
    await pool.request(
      recipient as number,
      'react',
      { room_id: room, message_id: messageId, emoji: '👍' },
      30_000,
    );
    // Each run's emoji is its marker (a new emoji each time, and the push carries it).
    const reacted: string[] = [];
    await measure('rich-react', 'react (private, a new emoji)', 1, () =>
      op(recipient as number, 'react', 1, (marker) => {
        reacted.push(marker);
        return { room_id: room, message_id: messageId, emoji: marker };
      }),
    );
    await measure('rich-react-again', 'react again with the same emoji (unchanged, no push)', 0, () =>
      op(recipient as number, 'react', 0, () => ({ room_id: room, message_id: messageId, emoji: '👍' })),
    );
    // The push names the emoji taken back, not this run's marker: the run waits until the host is quiet.
    await measure('rich-unreact', 'unreact (private)', 1, (i) =>
      op(recipient as number, 'unreact', 0, () => ({
        room_id: room,
        message_id: messageId,
        emoji: reacted[i],
      })),
    );
    await measure('rich-typing', 'typing start (private, the peer online)', 1, (i) =>
      // The push carries no marker: the run waits until the host is quiet (the post is counted).
      op(typing[i] as number, 'typing', 0, () => ({ room_id: `private_reader_typist${i}`, state: 'start' })),
    );
    return { operations, seconds: Math.round((performance.now() - startedAt) / 1000) };
  } finally {
    await host.stop();
    await pool.closeAll();
  }
}
