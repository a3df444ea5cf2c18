/**
 * Attachments end to end, over real sockets and real HTTP against the embedded S3: a PNG
 * uploaded with the presigned PUT (fetch), sent as an image, and fetched again through the
 * URLs that the push, history and sync carry; and every way to get it wrong.
 * Run: npx tsx --test test/e2e/attachments.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CopyObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ulid } from 'ulid';
import { attachedKey, uploadKey } from '../../functions/core/attachments/attachments.ts';
import type { FunctionId } from '../../lib/function-specs.ts';
import { localCredentials } from '../../local/iam/credentials.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import {
  assertErrorReply,
  type ChatConnection,
  nextPush,
  pushesOf,
  sendCommand,
  settle,
} from '../support/chat.ts';
import { connectEach } from '../support/clients.ts';
import { callApi, historyMessages, postApi } from '../support/http.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

/** A real 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

interface UploadGrant {
  upload_url: string;
  method: string;
  headers: Record<string, string>;
  attachment_id: string;
  expires_at: string;
}

interface Attachment {
  attachment_id: string;
  file_name: string;
  content_type: string;
  size: number;
  url: string;
}

let runtime: LocalRuntime;
let alice: ChatConnection;
let bob: ChatConnection;
let eve: ChatConnection;

async function grant(userId: string, body: unknown) {
  return postApi<UploadGrant>(runtime, '/api/ws/uploads', body, await tokenFor(runtime, userId));
}

/** Asks for an upload and PUTs `bytes` with exactly the URL and headers given. */
async function upload(userId: string, bytes: Buffer, fileName = 'pixel.png', contentType = 'image/png') {
  const response = await grant(userId, {
    file_name: fileName,
    content_type: contentType,
    size: bytes.length,
  });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const data = response.body.data as UploadGrant;
  const put = await fetch(data.upload_url, { method: data.method, headers: data.headers, body: bytes });
  assert.equal(put.status, 200, await put.text());
  return data;
}

/** The bytes behind a presigned GET. */
async function download(url: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const response = await fetch(url);
  return {
    status: response.status,
    bytes: Buffer.from(await response.arrayBuffer()),
    type: response.headers.get('content-type'),
  };
}

function adminS3(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: runtime.s3Endpoint,
    forcePathStyle: true,
    credentials: runtime.adminCredentials,
  });
}

/** An S3 client signing as a function (its local credentials), as its handler's client does. */
function functionS3(functionId: FunctionId): S3Client {
  const { accessKeyId, secretAccessKey } = localCredentials().forFunction(functionId);
  return new S3Client({
    region: 'us-east-1',
    endpoint: runtime.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
}

/** The HTTP status S3 answered `send` with (200 when it succeeded). */
async function statusOf(send: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await send();
    return 200;
  } catch (error) {
    if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode;
    throw error;
  }
}

before(async () => {
  runtime = await startTestRuntime();
  [alice, bob, eve] = await connectEach(runtime, ['att-alice', 'att-bob', 'att-eve']);
});

after(async () => {
  await Promise.all([alice, bob, eve].map((c) => c?.client.close()));
  await runtime?.stop();
});

describe('an image message', () => {
  it('uploads with the presigned PUT, reaches the recipient with a URL of the same bytes, and history and sync carry it', async () => {
    const grantData = await upload(alice.userId, PNG);
    assert.equal(grantData.method, 'PUT');
    assert.match(grantData.attachment_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(Date.parse(grantData.expires_at) > 0);

    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: bob.userId,
      content: 'a pixel',
      message_type: 2,
      attachment_id: grantData.attachment_id,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const messageId = reply.data?.message_id;

    const push = await nextPush(bob.client, 'new_message', (data) => data.message_id === messageId);
    const attachment = push.attachment as Attachment;
    assert.deepEqual(
      { ...attachment, url: typeof attachment.url },
      {
        attachment_id: grantData.attachment_id,
        file_name: 'pixel.png',
        content_type: 'image/png',
        size: PNG.length,
        url: 'string',
      },
    );
    // The URL names the attached copy (kept as long as the message), not the upload (expired soon).
    const attachedPath = `/${runtime.attachmentsBucket}/${attachedKey(alice.userId, grantData.attachment_id)}`;
    assert.equal(new URL(attachment.url).pathname.endsWith(attachedPath), true, attachment.url);
    const fetched = await download(attachment.url);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.type, 'image/png');
    assert.deepEqual(fetched.bytes, PNG);
    // The copy kept the upload's content type and metadata.
    const s3 = adminS3();
    const copied = await s3.send(
      new HeadObjectCommand({
        Bucket: runtime.attachmentsBucket,
        Key: attachedKey(alice.userId, grantData.attachment_id),
      }),
    );
    s3.destroy();
    assert.deepEqual(
      { type: copied.ContentType, size: copied.ContentLength, metadata: copied.Metadata },
      {
        type: 'image/png',
        size: PNG.length,
        metadata: { 'file-name': 'pixel.png', 'declared-size': String(PNG.length) },
      },
    );

    const history = await historyMessages(
      runtime,
      await tokenFor(runtime, bob.userId),
      reply.data?.room_id as string,
    );
    const stored = history.find((message) => message.message_id === messageId);
    const fromHistory = stored?.attachment as Attachment | undefined;
    assert.equal(fromHistory?.attachment_id, grantData.attachment_id);
    assert.deepEqual((await download(fromHistory?.url as string)).bytes, PNG);

    const sync = await sendCommand(bob.client, 'sync', {});
    const synced = ((sync.data?.messages ?? []) as { message_id: string; attachment?: Attachment }[]).find(
      (message) => message.message_id === messageId,
    );
    assert.equal(synced?.attachment?.file_name, 'pixel.png');
    assert.deepEqual((await download(synced?.attachment?.url as string)).bytes, PNG);
  });

  it('copies again harmlessly when a retried send (same client_msg_id) attaches the upload again', async () => {
    const grantData = await upload(alice.userId, PNG, 'again.png');
    const send = () =>
      sendCommand(alice.client, 'send_message', {
        to_user_id: bob.userId,
        content: 'retried',
        message_type: 2,
        attachment_id: grantData.attachment_id,
        client_msg_id: `retry-${grantData.attachment_id}`,
      });
    const first = await send();
    assert.equal(first.code, 0, JSON.stringify(first));
    const retried = await send();
    assert.equal(retried.code, 0, JSON.stringify(retried));
    assert.equal(retried.data?.message_id, first.data?.message_id);
    const history = await historyMessages(
      runtime,
      await tokenFor(runtime, bob.userId),
      first.data?.room_id as string,
    );
    const stored = history.filter((message) => message.message_id === first.data?.message_id);
    assert.equal(stored.length, 1);
    const attachment = stored[0]?.attachment as Attachment | undefined;
    assert.deepEqual((await download(attachment?.url as string)).bytes, PNG);
  });

  it('works in groups: members get the URL; a non-member reading the history gets 1403 and no URL', async () => {
    const created = await sendCommand(alice.client, 'create_group', {
      group_name: 'pictures',
      member_ids: [bob.userId],
    });
    const groupId = created.data?.group_id as string;
    const grantData = await upload(alice.userId, PNG, 'grüße 🖼.png');
    const reply = await sendCommand(alice.client, 'send_group_message', {
      group_id: groupId,
      content: 'for the group',
      message_type: 2,
      attachment_id: grantData.attachment_id,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const push = await nextPush(
      bob.client,
      'group_message',
      (data) => data.message_id === reply.data?.message_id,
    );
    const attachment = push.attachment as Attachment;
    assert.equal(attachment.file_name, 'grüße 🖼.png');
    assert.deepEqual((await download(attachment.url)).bytes, PNG);

    const refused = await sendCommand(eve.client, 'history', { room_id: groupId });
    assertErrorReply(refused, 1403, 'history of a group eve is not in');
    assert.ok(!JSON.stringify(refused).includes('X-Amz-Signature'));
    const overHttp = await callApi(runtime, 'GET', `/api/ws/messages?room_id=${groupId}`, {
      token: await tokenFor(runtime, eve.userId),
    });
    assert.equal(overHttp.status, 403);
    assert.ok(!JSON.stringify(overHttp.body).includes('X-Amz-Signature'));
    await settle(eve.client);
    assert.equal(pushesOf(eve.client, 'group_message').length, 0);
  });

  it('works in rooms and over the HTTP send-message route', async () => {
    for (const client of [alice.client, bob.client]) {
      assert.equal((await sendCommand(client, 'join_room', { room_id: 'att-room' })).code, 0);
    }
    const inRoom = await upload(alice.userId, PNG);
    const reply = await sendCommand(alice.client, 'send_room_message', {
      room_id: 'att-room',
      content: 'room pixel',
      message_type: 2,
      attachment_id: inRoom.attachment_id,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const push = await nextPush(
      bob.client,
      'room_message',
      (data) => data.message_id === reply.data?.message_id,
    );
    assert.deepEqual((await download((push.attachment as Attachment).url)).bytes, PNG);

    const file = Buffer.from('plain text file\n');
    const overHttp = await upload(alice.userId, file, 'notes.txt', 'text/plain');
    const sent = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: bob.userId, content: 'notes', message_type: 3, attachment_id: overHttp.attachment_id },
      await tokenFor(runtime, alice.userId),
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const filePush = await nextPush(
      bob.client,
      'new_message',
      (data) => data.message_id === sent.body.data?.message_id,
    );
    const downloaded = await fetch((filePush.attachment as Attachment).url);
    assert.match(downloaded.headers.get('content-disposition') ?? '', /^attachment; filename="notes.txt"/);
    assert.deepEqual(Buffer.from(await downloaded.arrayBuffer()), file);
  });
});

describe('bad uploads and bad attachments', () => {
  it('refuses uploads over the size limit, of a content type not allowed, or of a bad shape (400, 1001)', async () => {
    for (const body of [
      { file_name: 'huge.png', content_type: 'image/png', size: 26 * 1024 * 1024 },
      { file_name: 'page.html', content_type: 'text/html', size: 10 },
      { file_name: 'drawing.svg', content_type: 'image/svg+xml', size: 10 },
      { file_name: 'a.png', content_type: 'image/png', size: 0 },
      { file_name: 'a.png', content_type: 'image/png', size: 1.5 },
      { file_name: '', content_type: 'image/png', size: 10 },
      { file_name: '../etc/passwd', content_type: 'image/png', size: 10 },
      { content_type: 'image/png', size: 10 },
      'not json',
    ]) {
      const response = await grant(alice.userId, body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.code, 1001, JSON.stringify(body));
      assert.equal(response.body.data, null);
    }
    const anonymous = await postApi(runtime, '/api/ws/uploads', {
      file_name: 'a.png',
      content_type: 'image/png',
      size: 1,
    });
    assert.equal(anonymous.status, 401);
  });

  it('refuses a PUT of another size or content type than presigned, and an unsigned PUT (the local S3 front, as S3)', async () => {
    const response = await grant(alice.userId, {
      file_name: 'p.png',
      content_type: 'image/png',
      size: PNG.length,
    });
    const data = response.body.data as UploadGrant;
    const bigger = await fetch(data.upload_url, {
      method: 'PUT',
      headers: data.headers,
      body: Buffer.concat([PNG, Buffer.from('more')]),
    });
    assert.equal(bigger.status, 403);
    assert.match(await bigger.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    const otherType = await fetch(data.upload_url, {
      method: 'PUT',
      headers: { 'Content-Type': 'text/html' },
      body: PNG,
    });
    assert.equal(otherType.status, 403);
    const unsigned = await fetch(data.upload_url.split('?')[0] as string, {
      method: 'PUT',
      headers: data.headers,
      body: PNG,
    });
    assert.equal(unsigned.status, 403);
    // Nothing was stored: the id names no object, so a message with it is refused.
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: bob.userId,
      content: 'never uploaded',
      message_type: 2,
      attachment_id: data.attachment_id,
    });
    assertErrorReply(reply, 1001);
  });

  it('refuses, stores nothing and delivers nothing for every bad attachment_id', async () => {
    const theirs = await upload(eve.userId, PNG);
    const announced = await grant(alice.userId, { file_name: 'p.png', content_type: 'image/png', size: 3 });
    const s3 = adminS3();
    // An upload granted two days ago (its id's time), past ATTACHMENT_MAX_AGE_SECONDS.
    const oldId = ulid(Date.now() - 2 * 86_400_000);
    await s3.send(
      new PutObjectCommand({
        Bucket: runtime.attachmentsBucket,
        Key: uploadKey(alice.userId, oldId),
        Body: PNG,
        ContentType: 'image/png',
        Metadata: { 'file-name': 'old.png', 'declared-size': String(PNG.length) },
      }),
    );
    // An object of another size than declared (a server that does not enforce the signed length).
    const mismatchId = ulid();
    await s3.send(
      new PutObjectCommand({
        Bucket: runtime.attachmentsBucket,
        Key: uploadKey(alice.userId, mismatchId),
        Body: PNG,
        ContentType: 'image/png',
        Metadata: { 'file-name': 'short.png', 'declared-size': '3' },
      }),
    );
    s3.destroy();
    const sentBefore = await historyMessages(
      runtime,
      await tokenFor(runtime, bob.userId),
      'private_att-alice_att-bob',
    );

    const cases: [string, Record<string, unknown>][] = [
      ['someone else’s upload', { message_type: 2, attachment_id: theirs.attachment_id }],
      [
        'never uploaded',
        { message_type: 2, attachment_id: (announced.body.data as UploadGrant).attachment_id },
      ],
      ['not an id', { message_type: 2, attachment_id: '../../etc' }],
      ['expired', { message_type: 2, attachment_id: oldId }],
      ['size differs from the declared one', { message_type: 2, attachment_id: mismatchId }],
      ['type 2 without attachment_id', { message_type: 2 }],
      ['type 5 without attachment_id', { message_type: 5 }],
      ['attachment_id on a text message', { message_type: 1, attachment_id: theirs.attachment_id }],
      ['attachment_id not a string', { message_type: 2, attachment_id: 42 }],
    ];
    for (const [what, fields] of cases) {
      const reply = await sendCommand(alice.client, 'send_message', {
        to_user_id: bob.userId,
        content: what,
        ...fields,
      });
      assertErrorReply(reply, 1001, what);
    }
    const group = await sendCommand(alice.client, 'create_group', {
      group_name: 'g',
      member_ids: [bob.userId],
    });
    const groupReply = await sendCommand(alice.client, 'send_group_message', {
      group_id: group.data?.group_id,
      content: 'theirs',
      message_type: 3,
      attachment_id: theirs.attachment_id,
    });
    assertErrorReply(groupReply, 1001, 'group message with someone else’s upload');

    await settle(bob.client);
    const delivered = [...pushesOf(bob.client, 'new_message'), ...pushesOf(bob.client, 'group_message')];
    assert.ok(
      !delivered.some((push) => cases.some(([what]) => push.content === what) || push.content === 'theirs'),
      'nothing refused was delivered',
    );
    const sentAfter = await historyMessages(
      runtime,
      await tokenFor(runtime, bob.userId),
      'private_att-alice_att-bob',
    );
    assert.equal(sentAfter.length, sentBefore.length, 'nothing refused was stored');
  });
});

describe('the local S3', () => {
  it("applies the functions' grants of lib/function-specs.ts, as IAM would", async () => {
    const key = uploadKey(alice.userId, ulid());
    const head = (functionId: FunctionId, objectKey = key) =>
      statusOf(() =>
        functionS3(functionId).send(
          new HeadObjectCommand({ Bucket: runtime.attachmentsBucket, Key: objectKey }),
        ),
      );
    const put = (functionId: FunctionId) =>
      statusOf(() =>
        functionS3(functionId).send(
          new PutObjectCommand({
            Bucket: runtime.attachmentsBucket,
            Key: key,
            Body: PNG,
            ContentType: 'image/png',
          }),
        ),
      );
    const attached = attachedKey(alice.userId, ulid());
    const copy = (functionId: FunctionId, source = key, destination = attached) =>
      statusOf(() =>
        functionS3(functionId).send(
          new CopyObjectCommand({
            Bucket: runtime.attachmentsBucket,
            Key: destination,
            CopySource: `${runtime.attachmentsBucket}/${source}`,
          }),
        ),
      );
    // GetObject (HeadObject) on uploads/*: allowed to a send function (the object is missing: 404).
    assert.equal(await head('sendMessage'), 404);
    // Not to a function without the grant, nor to a read function, nor outside the prefixes.
    assert.equal(await head('ping'), 403);
    assert.equal(await head('history'), 403);
    assert.equal(await head('sendMessage', 'elsewhere/x'), 403);
    // PutObject on uploads/*: only createUpload (which signs, never puts, in the handlers).
    assert.equal(await put('sendMessage'), 403);
    assert.equal(await put('createUpload'), 200);
    assert.equal(await head('sendMessage'), 200);
    // CopyObject needs GetObject on the source and PutObject on the destination.
    assert.equal(await copy('createUpload'), 403, 'createUpload may not read uploads');
    assert.equal(
      await copy('createUpload', key, uploadKey(alice.userId, ulid())),
      403,
      'nor copy within them',
    );
    assert.equal(await copy('history'), 403, 'a read function may not write attachments/');
    assert.equal(
      await copy('sendMessage', key, uploadKey(alice.userId, ulid())),
      403,
      'nor a send function uploads/',
    );
    assert.equal(await head('history', attached), 404, 'not copied yet');
    assert.equal(await copy('sendMessage'), 200);
    // Read functions: GetObject on attachments/* only.
    assert.equal(await head('history', attached), 200);
    assert.equal(await head('sync', attached), 200);
  });

  it('counts what one attachment message costs: 1 PUT, 1 HeadObject, 1 CopyObject, no request for the URLs', async () => {
    const before = runtime.s3Requests();
    const data = await upload(alice.userId, PNG);
    const reply = await sendCommand(alice.client, 'send_message', {
      to_user_id: bob.userId,
      content: 'counted',
      message_type: 2,
      attachment_id: data.attachment_id,
    });
    await nextPush(bob.client, 'new_message', (push) => push.message_id === reply.data?.message_id);
    await historyMessages(runtime, await tokenFor(runtime, bob.userId), reply.data?.room_id as string);
    const after = runtime.s3Requests();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    assert.deepEqual(
      {
        put: delta('PUT object'),
        head: delta('HEAD object'),
        copy: delta('COPY object'),
        get: delta('GET object'),
      },
      { put: 1, head: 1, copy: 1, get: 0 },
    );
  });
});
