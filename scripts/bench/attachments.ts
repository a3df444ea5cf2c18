/**
 * Section `attachments`: the S3 requests of one image message, counted by the local
 * runtime's embedded S3 (`runtime.s3Requests()`: what reached it, not an estimate). A
 * group of `members` (all online) so that the push shows what each recipient costs: the
 * upload grant, the client's PUT, the send (HeadObject of the upload, CopyObject to
 * `attachments/`, and the push's presigned GET, signed locally), and a history page and a
 * sync that carry the URL.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { startLocalRuntime } from '../../local/runtime.ts';
import { mintToken } from '../../local/tokens.ts';
import type { AttachmentsSection } from './types.ts';

export interface AttachmentsOptions {
  /** Group members (2 or more), all online. */
  readonly members: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

/** A PNG header and padding: S3 stores bytes, the type is what the upload declared. */
const IMAGE = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(4096, 7)]);

interface Client {
  readonly socket: WebSocket;
  readonly frames: Record<string, unknown>[];
  waitFor(match: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function connect(url: string, token: string): Promise<Client> {
  const socket = new WebSocket(`${url}?token=${token}`);
  const frames: Record<string, unknown>[] = [];
  const waiters: {
    match: (f: Record<string, unknown>) => boolean;
    done: (f: Record<string, unknown>) => void;
  }[] = [];
  socket.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as Record<string, unknown>;
    frames.push(frame);
    for (const waiter of [...waiters]) {
      if (waiter.match(frame)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.done(frame);
      }
    }
  });
  const client: Client = {
    socket,
    frames,
    waitFor: (match) =>
      new Promise((done, fail) => {
        const found = frames.find(match);
        if (found) return done(found);
        const timer = setTimeout(() => fail(new Error('bench: a frame did not arrive in 30 s')), 30_000);
        waiters.push({
          match,
          done: (frame) => {
            clearTimeout(timer);
            done(frame);
          },
        });
      }),
  };
  await once(socket, 'open');
  await client.waitFor((frame) => (frame.data as { type?: string } | null)?.type === 'welcome');
  return client;
}

let requestCounter = 0;
async function request(client: Client, cmd: string, data: unknown): Promise<Record<string, unknown>> {
  const requestId = `bench-att-${++requestCounter}`;
  client.socket.send(JSON.stringify({ cmd, data, request_id: requestId }));
  const reply = await client.waitFor((frame) => frame.request_id === requestId);
  if (reply.code !== 0) throw new Error(`bench: ${cmd} answered ${JSON.stringify(reply)}`);
  return reply.data as Record<string, unknown>;
}

export async function runAttachmentsSection(options: AttachmentsOptions): Promise<AttachmentsSection> {
  const startedAt = performance.now();
  const { log, members, repetitions } = options;
  const runtime = await startLocalRuntime({
    port: 0,
    inMemory: true,
    quiet: true,
    env: { RATE_LIMIT_PER_MINUTE: '0', READ_RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' },
  });
  const secret = runtime.jwtSecret as string;
  const userIds = Array.from({ length: members }, (_, i) => `att${i}`);
  const clients: Client[] = [];
  try {
    for (const userId of userIds)
      clients.push(await connect(runtime.wsUrl, await mintToken(userId, { secret })));
    const [sender, ...others] = clients as [Client, ...Client[]];
    const group = await request(sender, 'create_group', {
      group_name: 'bench',
      member_ids: userIds.slice(1),
    });
    const senderToken = await mintToken(userIds[0] as string, { secret });
    const totals = new Map<string, number>();
    const count = async (step: string, run: () => Promise<void>) => {
      const before = runtime.s3Requests();
      await run();
      const after = runtime.s3Requests();
      let delta = 0;
      for (const [name, value] of after) delta += value - (before.get(name) ?? 0);
      totals.set(step, (totals.get(step) ?? 0) + delta);
    };
    for (let i = 0; i < repetitions; i++) {
      log(`  image message ${i + 1}/${repetitions} to a group of ${members}`);
      let grant: { upload_url: string; headers: Record<string, string>; attachment_id: string } | undefined;
      await count('grant', async () => {
        const response = await fetch(`${runtime.httpUrl}/api/ws/uploads`, {
          method: 'POST',
          headers: { authorization: `Bearer ${senderToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ file_name: 'bench.png', content_type: 'image/png', size: IMAGE.length }),
        });
        grant = ((await response.json()) as { data: typeof grant }).data;
      });
      if (!grant) throw new Error('bench: no upload grant');
      const { upload_url, headers, attachment_id } = grant;
      await count('put', async () => {
        const put = await fetch(upload_url, { method: 'PUT', headers, body: IMAGE });
        if (put.status !== 200) throw new Error(`bench: PUT answered ${put.status}`);
      });
      let messageId = '';
      await count('send', async () => {
        const sent = await request(sender, 'send_group_message', {
          group_id: group.group_id,
          content: `image ${i}`,
          message_type: 2,
          attachment_id,
        });
        messageId = String(sent.message_id);
        await Promise.all(
          others.map((client) =>
            client.waitFor(
              (frame) => (frame.data as { message_id?: string } | null)?.message_id === messageId,
            ),
          ),
        );
      });
      await count('history', async () => {
        await request(others[0] as Client, 'history', { room_id: group.group_id, limit: 50 });
      });
      await count('sync', async () => {
        await request(others[0] as Client, 'sync', {});
      });
    }
    const per = (step: string) => (totals.get(step) ?? 0) / repetitions;
    return {
      members,
      repetitions,
      steps: [
        { step: 'POST /api/ws/uploads (presign the PUT)', s3Requests: per('grant') },
        { step: "the client's PUT of the file", s3Requests: per('put') },
        {
          step: `send_group_message with attachment_id (HeadObject, CopyObject), pushed to ${members - 1} members with a URL each`,
          s3Requests: per('send'),
        },
        { step: 'history page (URLs for every attachment on it)', s3Requests: per('history') },
        { step: 'sync (URLs for every attachment on the page)', s3Requests: per('sync') },
      ],
      seconds: Math.round((performance.now() - startedAt) / 1000),
    };
  } finally {
    for (const client of clients) client.socket.close();
    await runtime.stop();
  }
}
