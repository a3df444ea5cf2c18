/**
 * The connection limit under racing handshakes (issue 15, red-team finding 1): refusing a
 * handshake costs a constant number of DynamoDB requests, so N parallel handshakes of one
 * token cost at most c·N requests (they used to cost ~N²/2: each racer beyond the limit
 * read every connection row in the presence set). The limit still holds exactly, and
 * presence entries whose `$disconnect` never came do not lock the user out.
 * The local runtime runs the real handlers against a dynalite that counts every request.
 * Run: npx tsx --test test/e2e/connection-limit-cost.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, disconnect, sendCommand } from '../support/chat.ts';
import { type CountingDynamo, startCountingDynamo, tally } from '../support/counting-dynamo.ts';
import { pollUntil } from '../support/http.ts';
import {
  expectHandshakeRefused,
  startTestRuntime,
  tokenFor,
  webSocketUrl,
} from '../support/local-runtime.ts';
import { type RuntimeTables, runtimeTables } from '../support/runtime-tables.ts';

const LIMIT = 3;
const RACERS = 60;
/**
 * Requests per handshake, whatever N: an accepted one writes its row, its presence entry
 * and the online counts and is welcomed; a refused one writes its row, fails the presence
 * condition, reads the presence record and the rows in it (one batch) and deletes its row.
 */
const REQUESTS_PER_HANDSHAKE = 6;

let dynamo: CountingDynamo;
let runtime: LocalRuntime;
let tables: RuntimeTables;

before(async () => {
  dynamo = await startCountingDynamo();
  runtime = await startTestRuntime({
    env: { DYNAMODB_ENDPOINT: dynamo.endpoint, MAX_CONNECTIONS_PER_USER: String(LIMIT) },
  });
  tables = runtimeTables(runtime);
});
after(async () => {
  tables.destroy();
  await runtime.stop();
  await dynamo.close();
});

/** Opens `count` handshakes of one user at once; the opened ones and the refusals' statuses. */
async function race(userId: string, count: number): Promise<{ opened: ChatConnection[]; refused: number[] }> {
  const attempts = await Promise.allSettled(
    Array.from({ length: count }, () => connectWelcomed(runtime, userId, { timeoutMs: 60_000 })),
  );
  const opened: ChatConnection[] = [];
  const refused: number[] = [];
  for (const attempt of attempts) {
    if (attempt.status === 'fulfilled') opened.push(attempt.value);
    else refused.push((attempt.reason as { status?: number }).status ?? -1);
  }
  return { opened, refused };
}

/** Puts presence entries for connections whose `$disconnect` never came (rows gone or expired). */
async function addStaleEntries(userId: string, ids: readonly string[], expiredRows: boolean): Promise<void> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  for (const connectionId of ids) {
    if (expiredRows) {
      await tables.client.send(
        new PutCommand({
          TableName: tables.names.connections,
          Item: {
            connectionId,
            userId,
            roles: [],
            connectedAt: new Date((nowSeconds - 9000) * 1000).toISOString(),
            expiresAt: nowSeconds - 60,
          },
        }),
      );
    }
    await tables.client.send(
      new UpdateCommand({
        TableName: tables.names.presence,
        Key: { userId },
        UpdateExpression:
          'ADD connectionIds :ids, connectionCount :one SET expiresAt = :expiresAt, onlineShard = :shard',
        ExpressionAttributeValues: {
          ':ids': new Set([connectionId]),
          ':one': 1,
          ':expiresAt': nowSeconds + 3600,
          ':shard': 's00',
        },
      }),
    );
  }
}

test(`${RACERS} parallel handshakes of one token: exactly ${LIMIT} open, the rest 429, at most ${REQUESTS_PER_HANDSHAKE}·N DynamoDB requests`, async () => {
  await dynamo.idle();
  dynamo.start();
  const { opened, refused } = await race('racer', RACERS);
  await dynamo.idle();
  const requests = dynamo.stop();
  if (process.env.REQUEST_COUNT_REPORT === '1') {
    console.log(`${RACERS} handshakes: ${requests.length} requests ${JSON.stringify(tally(requests))}`);
  }

  assert.equal(opened.length, LIMIT, `opened ${opened.length}; refused ${JSON.stringify(refused)}`);
  assert.deepEqual(refused, Array(RACERS - LIMIT).fill(429));
  assert.deepEqual(await tables.presenceOf('racer'), opened.map((c) => c.connectionId).sort());
  assert.ok(
    requests.length <= REQUESTS_PER_HANDSHAKE * RACERS,
    `${requests.length} DynamoDB requests for ${RACERS} handshakes: ${JSON.stringify(tally(requests))}`,
  );
  // A refused handshake leaves no row behind.
  const rows = (await tables.scan('connections')).filter((row) => row.userId === 'racer');
  assert.equal(rows.length, LIMIT);

  // Still exactly the limit afterwards, and the open connections work.
  const token = await tokenFor(runtime, 'racer');
  assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 429);
  for (const { client } of opened) assert.equal((await sendCommand(client, 'ping')).data?.type, 'pong');
  await disconnect(runtime, ...opened);
});

test('presence entries whose $disconnect never came (row gone or expired) do not lock the user out', async () => {
  await addStaleEntries('ghosted', ['ghost-1=', 'ghost-2='], false);
  await addStaleEntries('ghosted', ['ghost-3='], true);
  assert.equal((await tables.presenceOf('ghosted'))?.length, LIMIT);

  const first = await connectWelcomed(runtime, 'ghosted');
  assert.deepEqual(await tables.presenceOf('ghosted'), [first.connectionId]);
  const second = await connectWelcomed(runtime, 'ghosted');
  const third = await connectWelcomed(runtime, 'ghosted');
  // The limit counts live connections again once the stale ones are gone.
  const token = await tokenFor(runtime, 'ghosted');
  assert.equal(await expectHandshakeRefused(webSocketUrl(runtime, { token })), 429);
  assert.deepEqual(
    await tables.presenceOf('ghosted'),
    [first.connectionId, second.connectionId, third.connectionId].sort(),
  );
  await disconnect(runtime, first, second, third);
  // Counts stayed consistent: the last $disconnect empties the record.
  await pollUntil(
    () => tables.presenceOf('ghosted'),
    (ids) => ids === undefined,
    'the presence record of ghosted to be removed',
  );
});

test('one stale entry among live ones frees exactly one slot', async () => {
  const live = [await connectWelcomed(runtime, 'half'), await connectWelcomed(runtime, 'half')];
  await addStaleEntries('half', ['ghost-4='], false);
  const { opened, refused } = await race('half', 6);
  assert.equal(opened.length, 1, `refused ${JSON.stringify(refused)}`);
  assert.deepEqual(refused, Array(5).fill(429));
  assert.deepEqual(await tables.presenceOf('half'), [...live, ...opened].map((c) => c.connectionId).sort());
  await disconnect(runtime, ...live, ...opened);
});
