/**
 * DynamoDB requests per message command, measured through the real route handlers (their
 * composition root, the sender taken from the `$connect` authorizer context, the stores)
 * against a dynalite that records every request, with a stand-in Management API that
 * accepts every post (so no 410 cleanup adds to the counts). Rate limit on, no
 * client_msg_id. Audiences too large for real sockets in a test are seeded directly:
 * a group of 1,000 members of whom 10% (100, the sender included) are online.
 * Set REQUEST_COUNT_REPORT=1 to print the counts.
 * Run: npx tsx --test test/unit/request-count.test.ts
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { authorizerContext } from '../../functions/core/auth/auth.ts';
import { onlineSessionToken } from '../../functions/core/groups/online-members.ts';
import { handler as broadcast } from '../../functions/handlers/broadcast.ts';
import { handler as deleteMessage } from '../../functions/handlers/delete-message.ts';
import { handler as markRead } from '../../functions/handlers/mark-read.ts';
import { handler as sendGroupMessage } from '../../functions/handlers/send-group-message.ts';
import { handler as sendMessage } from '../../functions/handlers/send-message.ts';
import { handler as updateGroup } from '../../functions/handlers/update-group.ts';
import { setServices } from '../../functions/runtime/container.ts';
import { setLogWriter } from '../../functions/runtime/logger.ts';
import type { WebSocketHandler } from '../../functions/runtime/websocket.ts';
import { DynamoGroupStore } from '../../functions/stores/groups.ts';
import { DynamoOnlineGroupMarks } from '../../functions/stores/online-groups.ts';
import { DynamoPresenceStore } from '../../functions/stores/presence.ts';
import { PRESENCE_SHARDS, type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { createTableInput } from '../../lib/table-input.ts';
import { type CountingDynamo, startCountingDynamo, tally } from '../support/counting-dynamo.ts';

const GROUP_ID = 'group_count_1000';
const MEMBERS = 1_000;
const ONLINE = 100;
const member = (i: number) => `member-${i}`;

let dynamo: CountingDynamo;
let managementApi: Server;
let posts = 0;
const tables = {} as Record<TableId, string>;
/** A batch across tables is labelled with each table's id: `conversations,messages`. */
const label = (names: string) =>
  names
    .split(',')
    .map((name) => tableIds.get(name) ?? name)
    .join(',');
const tableIds = new Map<string, string>();
const savedEnv = { ...process.env };

before(async () => {
  dynamo = await startCountingDynamo();
  // The Management API: every post (and anything else) succeeds.
  managementApi = createServer((req, res) => {
    if (req.method === 'POST') posts++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => managementApi.listen(0, '127.0.0.1', resolve));

  const credentials = { accessKeyId: 'count', secretAccessKey: 'count' };
  const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'local', credentials });
  for (const [id, definition] of Object.entries(tableDefinitions) as [
    TableId,
    (typeof tableDefinitions)[TableId],
  ][]) {
    tables[id] = `count-${definition.localName}`;
    tableIds.set(tables[id], id);
    await raw.send(new CreateTableCommand(createTableInput(definition, tables[id])));
  }
  // The handlers' configuration, read on their first invocation.
  Object.assign(process.env, {
    ...Object.fromEntries(
      Object.entries(tableDefinitions).map(([id, d]) => [d.envVar, tables[id as TableId]]),
    ),
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    WS_CALLBACK_URL: `http://127.0.0.1:${(managementApi.address() as AddressInfo).port}/prod`,
    AWS_REGION: 'local',
    AWS_ACCESS_KEY_ID: 'count',
    AWS_SECRET_ACCESS_KEY: 'count',
    RATE_LIMIT_PER_MINUTE: '60',
    LOG_LEVEL: 'warn',
  });
  setServices(undefined);
  setLogWriter(() => {});

  // A group of 1,000 whose first 100 members are online, one connection each.
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  await new DynamoGroupStore(client, tables.groups).create({
    groupId: GROUP_ID,
    groupName: 'Thousand',
    createdBy: member(0),
    createdAt: new Date().toISOString(),
    memberIds: Array.from({ length: MEMBERS }, (_, i) => member(i)),
  });
  const presence = new DynamoPresenceStore(client, tables.presence);
  const expiresAt = Math.floor(Date.now() / 1000) + 7800;
  // Online as `$connect` makes them: the session token, then their member row marked.
  const marks = new DynamoOnlineGroupMarks(client, tables.groups);
  for (let i = 0; i < ONLINE; i++) {
    await presence.addConnection(member(i), `conn-${i}`, expiresAt);
    const token = onlineSessionToken(new Date().toISOString(), `conn-${i}`);
    assert.ok(await presence.claimOnlineSession(member(i), token));
    await marks.markAll(member(i), token);
  }
  await presence.addConnection('dm-recipient', 'dm-phone', expiresAt);
  await presence.addConnection('dm-recipient', 'dm-laptop', expiresAt);
  raw.destroy();
});

after(async () => {
  setServices(undefined);
  setLogWriter(undefined);
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  await new Promise<void>((resolve) => managementApi.close(() => resolve()));
  await dynamo.close();
});

/** A message event of `member-0`'s connection, as API Gateway sends it after the authorizer allowed it. */
function event(cmd: string, data: unknown, roles: string[] = []): APIGatewayProxyWebsocketEventV2 {
  const identity = { userId: member(0), roles, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
  return {
    body: JSON.stringify({ cmd, data, request_id: cmd }),
    isBase64Encoded: false,
    requestContext: {
      connectionId: 'conn-0',
      routeKey: cmd,
      requestId: `api-${cmd}`,
      domainName: 'x',
      stage: 'prod',
      authorizer: { principalId: member(0), ...authorizerContext(identity), integrationLatency: 10 },
    },
  } as unknown as APIGatewayProxyWebsocketEventV2;
}

async function measure(handler: WebSocketHandler, input: APIGatewayProxyWebsocketEventV2) {
  await dynamo.idle(100);
  posts = 0;
  dynamo.start();
  const result = await handler(input);
  const requests = dynamo.stop();
  const reply = JSON.parse(result.body ?? '{}') as { code: number; data: Record<string, unknown> };
  assert.equal(reply.code, 0, JSON.stringify(reply));
  const counts = tally(requests, label);
  if (process.env.REQUEST_COUNT_REPORT === '1') {
    console.log(
      `${input.requestContext.routeKey}: ${requests.length} DynamoDB requests, ${posts} posts ${JSON.stringify(counts)}`,
    );
  }
  return { total: requests.length, counts, data: reply.data };
}

describe('DynamoDB requests per command (rate limit on, no client_msg_id)', () => {
  it('send_message to a user with 2 devices: 3', async () => {
    const { total, counts, data } = await measure(
      sendMessage,
      event('send_message', { to_user_id: 'dm-recipient', content: 'hi' }),
    );
    assert.equal(data.delivered, 2);
    // The message and both participants' conversation-list rows: one BatchWriteItem;
    // the recipient's presence and whether they blocked the sender: one BatchGetItem.
    assert.deepEqual(counts, {
      'BatchGetItem blocks,presence': 1,
      'BatchWriteItem conversations,messages': 1,
      'UpdateItem guards': 1,
    });
    assert.equal(total, 3);
  });

  it('send_group_message to 1,000 members, 100 online: membership, the online members, 1 presence batch, guard, message and the group’s last message id', async () => {
    const { total, counts, data } = await measure(
      sendGroupMessage,
      event('send_group_message', { group_id: GROUP_ID, content: 'hello all' }),
    );
    assert.equal(data.sent_count, ONLINE - 1, 'every online member but the sender');
    // The meta item and the sender's member item: one strongly consistent BatchGetItem.
    assert.equal(counts['BatchGetItem groups'], 1);
    // The 100 marked members (byOnlineGroup): one Query page; never the 1,000 member rows.
    assert.equal(counts['Query groups'], 1);
    // 99 other online members, 100 keys per BatchGetItem.
    assert.equal(counts['BatchGetItem presence'], 1);
    assert.equal(counts['UpdateItem guards'], 1);
    assert.equal(counts['PutItem messages'], 1);
    // The group's lastMessageId for the conversation list (conditional, forward only).
    assert.equal(counts['UpdateItem groups'], 1);
    assert.equal(counts['GetItem connections'], undefined, 'no sender read');
    assert.equal(total, 6);
  });

  it('broadcast to 100 online users: one byShard Query per shard, nothing else', async () => {
    const { total, counts, data } = await measure(
      broadcast,
      event('broadcast', { message: 'all hands' }, ['admin']),
    );
    assert.equal(data.sent_count, ONLINE + 2, 'every open connection, the sender’s included');
    assert.equal(counts['Query presence'], PRESENCE_SHARDS);
    assert.equal(total, PRESENCE_SHARDS);
  });

  it('update_group (rename) in a group of 1,000, 100 online: the renamer, the rename, the online members, 1 presence batch', async () => {
    const { total, counts } = await measure(
      updateGroup,
      event('update_group', { group_id: GROUP_ID, group_name: 'Thousand renamed' }),
    );
    // The renamer's member item and the meta item (consistent GetItems), then the name.
    assert.equal(counts['GetItem groups'], 2);
    assert.equal(counts['UpdateItem groups'], 1);
    // The 100 marked members (byOnlineGroup), never the 1,000 member rows: one Query page.
    assert.equal(counts['Query groups'], 1);
    // Their presence (the renamer among them): 100 keys, one BatchGetItem (not 10).
    assert.equal(counts['BatchGetItem presence'], 1);
    assert.equal(posts, ONLINE - 1, 'every online member but the asking connection');
    assert.equal(total, 5);
  });

  it('mark_read and delete_message of a message in a group of 1,000, 100 online: one byOnlineGroup Query and one presence batch each', async () => {
    const sent = await sendGroupMessage(
      event('send_group_message', { group_id: GROUP_ID, content: 'read me' }),
    );
    const messageId = (JSON.parse(sent.body ?? '{}') as { data: { message_id: string } }).data.message_id;
    const read = await measure(markRead, event('mark_read', { room_id: GROUP_ID, message_id: messageId }));
    // The reader's membership (meta and member item, consistent) beside the message.
    assert.equal(read.counts['BatchGetItem groups'], 1);
    assert.equal(read.counts['GetItem messages'], 1);
    assert.equal(read.counts['UpdateItem readState'], 1);
    assert.equal(read.counts['Query groups'], 1, 'the online members only');
    assert.equal(read.counts['BatchGetItem presence'], 1);
    assert.equal(posts, ONLINE - 1, 'message_read to every other online member');

    const recalled = await measure(
      deleteMessage,
      event('delete_message', { room_id: GROUP_ID, message_id: messageId }),
    );
    assert.deepEqual(recalled.counts, {
      'UpdateItem messages': 1,
      'Query groups': 1,
      'BatchGetItem presence': 1,
    });
    assert.equal(recalled.data.delivered, ONLINE - 1);
  });
});
