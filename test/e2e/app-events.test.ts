/**
 * Application events over the local runtime's webhook (EVENTS_WEBHOOK_URL): a real HTTP
 * receiver on port 0 gets the events of a session over real sockets, in EventBridge's
 * envelope, each valid against docs/events.schema.json, none carrying a token, each sent
 * after the change it reports was stored. A receiver that fails never changes a reply or
 * stops a delivery.
 * Run: npx tsx --test test/e2e/app-events.test.ts
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_PUBLISH_ATTEMPTS } from '../../functions/core/events/event-batches.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { type ChatConnection, connectWelcomed, disconnect, nextPush, sendCommand } from '../support/chat.ts';
import { callApi, historyMessages, pollUntil, postApi } from '../support/http.ts';
import { DEFAULT_WAIT_MS, startTestRuntime, tokenFor } from '../support/local-runtime.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

interface Envelope {
  readonly version: string;
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: unknown[];
  readonly detail: Record<string, unknown>;
}

interface Received {
  readonly raw: string;
  readonly event: Envelope;
  /** message.sent: whether history already held the message when the event arrived. */
  readonly stored?: Promise<boolean>;
}

/** A real 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const schema = JSON.parse(readFileSync(new URL('../../docs/events.schema.json', import.meta.url), 'utf8'));

let receiver: WebhookReceiver;
let runtime: LocalRuntime;
const received: Received[] = [];
/** Contents whose events the receiver answers 503 to, every time. */
const FAILING_CONTENT = 'the receiver refuses this one';
const readerTokens = new Map<string, string>();

before(async () => {
  receiver = await startWebhookReceiver((body) => {
    const event = JSON.parse(body) as Envelope;
    const item: Received = {
      raw: body,
      event,
      ...(event['detail-type'] === 'message.sent' ? { stored: isInHistory(event) } : {}),
    };
    received.push(item);
    const refuse = event.detail.content === FAILING_CONTENT;
    return refuse ? 503 : 204;
  });
  runtime = await startTestRuntime({ env: { EVENTS_WEBHOOK_URL: receiver.url } });
});

after(async () => {
  await runtime?.stop();
  await receiver.close();
});

/** Reads the conversation as its sender, from the moment the event arrives. */
async function isInHistory(event: Envelope): Promise<boolean> {
  const {
    from_user_id: sender,
    room_id: roomId,
    message_id: messageId,
  } = event.detail as Record<string, string>;
  const token = readerTokens.get(sender ?? '') ?? (await tokenFor(runtime, sender ?? ''));
  const messages = await historyMessages(runtime, token, roomId ?? '');
  return messages.some((message) => message.message_id === messageId);
}

function eventsOf(
  type: string,
  where: (detail: Record<string, unknown>) => boolean = () => true,
): Received[] {
  return received.filter((item) => item.event['detail-type'] === type && where(item.event.detail));
}

/** Waits until the receiver holds `count` events of `type` matching `where`. */
async function waitForEvents(
  type: string,
  where: (detail: Record<string, unknown>) => boolean = () => true,
  count = 1,
): Promise<Received[]> {
  return pollUntil(
    async () => eventsOf(type, where),
    (items) => items.length >= count,
    `${count} ${type} event(s)`,
    DEFAULT_WAIT_MS,
  );
}

/** Problems of `value` against a schema of docs/events.schema.json (the subset it uses). */
function problemsOf(node: Record<string, unknown>, value: unknown, at: string): string[] {
  if (typeof node.$ref === 'string') {
    const name = decodeURIComponent(node.$ref.slice('#/$defs/'.length));
    return problemsOf(schema.$defs[name], value, at);
  }
  const problems: string[] = [];
  if ('const' in node && value !== node.const) problems.push(`${at}: not ${JSON.stringify(node.const)}`);
  if (Array.isArray(node.enum) && !node.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (node.type === 'string' && typeof value !== 'string') problems.push(`${at}: not a string`);
  if (node.format === 'date-time' && typeof value === 'string' && new Date(value).toISOString() !== value) {
    problems.push(`${at}: not an ISO-8601 UTC time`);
  }
  if (node.type === 'integer' && !Number.isInteger(value)) problems.push(`${at}: not an integer`);
  if (node.type === 'array') {
    if (!Array.isArray(value)) problems.push(`${at}: not an array`);
    else {
      for (const [i, item] of value.entries()) {
        problems.push(...problemsOf(node.items as Record<string, unknown>, item, `${at}[${i}]`));
      }
    }
  }
  if (node.type === 'object' || node.properties) {
    if (typeof value !== 'object' || value === null) return [...problems, `${at}: not an object`];
    const object = value as Record<string, unknown>;
    const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const name of (node.required ?? []) as string[]) {
      if (!(name in object)) problems.push(`${at}.${name}: missing`);
    }
    for (const [name, field] of Object.entries(object)) {
      const property = properties[name];
      if (property) problems.push(...problemsOf(property, field, `${at}.${name}`));
      else if (node.additionalProperties === false) problems.push(`${at}.${name}: not in the schema`);
    }
  }
  if (Array.isArray(node.oneOf)) {
    const matching = node.oneOf.filter((option) => problemsOf(option, value, at).length === 0);
    if (matching.length !== 1) problems.push(`${at}: matches ${matching.length} of oneOf`);
  }
  return problems;
}

describe('events of a session, POSTed to EVENTS_WEBHOOK_URL', () => {
  let ann: ChatConnection;
  let annToken: string;
  let directMessageId: string;
  let groupId: string;

  test('connect: connection.opened and presence.changed online', async () => {
    annToken = await tokenFor(runtime, 'ev-ann');
    readerTokens.set('ev-ann', annToken);
    ann = await connectWelcomed(runtime, 'ev-ann');
    const [opened] = await waitForEvents('connection.opened', (d) => d.user_id === 'ev-ann');
    assert.equal(opened?.event.detail.connection_id, ann.connectionId);
    const [online] = await waitForEvents('presence.changed', (d) => d.user_id === 'ev-ann');
    assert.equal(online?.event.detail.status, 'online');
  });

  test('a message to a user with no open connection: message.sent, then message.undelivered', async () => {
    const reply = await sendCommand(ann.client, 'send_message', {
      to_user_id: 'ev-offline',
      content: 'are you there?',
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    directMessageId = String(reply.data?.message_id);
    const [sent] = await waitForEvents('message.sent', (d) => d.message_id === directMessageId);
    assert.deepEqual(
      { ...sent?.event.detail },
      {
        message_id: directMessageId,
        room_id: reply.data?.room_id,
        kind: 'private',
        from_user_id: 'ev-ann',
        to_user_id: 'ev-offline',
        content: 'are you there?',
        message_type: 1,
        time: reply.data?.time,
      },
    );
    assert.equal(await sent?.stored, true, 'the message was readable through history when its event arrived');
    const [undelivered] = await waitForEvents('message.undelivered', (d) => d.message_id === directMessageId);
    assert.deepEqual(undelivered?.event.detail.user_ids, ['ev-offline']);
    assert.equal(undelivered?.event.detail.content, 'are you there?');
  });

  test('a reply carries reply_to', async () => {
    const reply = await sendCommand(ann.client, 'send_message', {
      to_user_id: 'ev-offline',
      content: 'and another thing',
      reply_to: directMessageId,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const [sent] = await waitForEvents('message.sent', (d) => d.message_id === reply.data?.message_id);
    assert.equal(sent?.event.detail.reply_to, directMessageId);
  });

  test('an attachment travels as metadata, never as a URL', async () => {
    const grant = await postApi<{
      upload_url: string;
      method: string;
      headers: Record<string, string>;
      attachment_id: string;
    }>(
      runtime,
      '/api/ws/uploads',
      { file_name: 'pixel.png', content_type: 'image/png', size: PNG.length },
      annToken,
    );
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    const upload = grant.body.data;
    assert.ok(upload);
    const put = await fetch(upload.upload_url, { method: upload.method, headers: upload.headers, body: PNG });
    assert.equal(put.status, 200, await put.text());
    const reply = await sendCommand(ann.client, 'send_message', {
      to_user_id: 'ev-offline',
      content: 'a pixel',
      message_type: 2,
      attachment_id: upload.attachment_id,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    const expected = {
      attachment_id: upload.attachment_id,
      file_name: 'pixel.png',
      content_type: 'image/png',
      size: PNG.length,
    };
    const [sent] = await waitForEvents('message.sent', (d) => d.message_id === reply.data?.message_id);
    assert.deepEqual(sent?.event.detail.attachment, expected);
    const [undelivered] = await waitForEvents(
      'message.undelivered',
      (d) => d.message_id === reply.data?.message_id,
    );
    assert.deepEqual(undelivered?.event.detail.attachment, expected);
    for (const item of [sent, undelivered]) {
      assert.doesNotMatch(item?.raw ?? '', /X-Amz-|"url"|https?:\/\//, 'no presigned URL, no URL at all');
    }
  });

  test('a message to an online user: message.sent only', async () => {
    const cy = await connectWelcomed(runtime, 'ev-cy');
    const reply = await sendCommand(ann.client, 'send_message', { to_user_id: 'ev-cy', content: 'hi cy' });
    const messageId = reply.data?.message_id;
    await nextPush(cy.client, 'new_message', (data) => data.message_id === messageId);
    await waitForEvents('message.sent', (d) => d.message_id === messageId);
    // Same batch as message.sent: had it been published, it would have arrived with it.
    const barrier = await sendCommand(ann.client, 'send_message', {
      to_user_id: 'ev-offline',
      content: 'barrier',
    });
    await waitForEvents('message.undelivered', (d) => d.message_id === barrier.data?.message_id);
    assert.equal(eventsOf('message.undelivered', (d) => d.message_id === messageId).length, 0);
    await disconnect(runtime, cy);
  });

  test('group created, renamed, a group message with offline members, a reaction, an edit, a recall', async () => {
    const created = await sendCommand(ann.client, 'create_group', {
      group_name: 'events',
      member_ids: ['ev-offline', 'ev-dee'],
    });
    assert.equal(created.code, 0, JSON.stringify(created));
    groupId = String(created.data?.group_id);
    const [group] = await waitForEvents('group.created', (d) => d.group_id === groupId);
    assert.deepEqual(group?.event.detail.member_ids, ['ev-ann', 'ev-offline', 'ev-dee']);
    assert.equal(group?.event.detail.owner_id, 'ev-ann');

    await sendCommand(ann.client, 'update_group', { group_id: groupId, group_name: 'events 2' });
    const [renamed] = await waitForEvents('group.updated', (d) => d.group_id === groupId);
    assert.equal(renamed?.event.detail.change, 'renamed');
    assert.equal(renamed?.event.detail.group_name, 'events 2');

    const message = await sendCommand(ann.client, 'send_group_message', {
      group_id: groupId,
      content: 'to the group',
    });
    const messageId = message.data?.message_id;
    const [sent] = await waitForEvents('message.sent', (d) => d.message_id === messageId);
    assert.equal(sent?.event.detail.kind, 'group');
    assert.equal(sent?.event.detail.group_id, groupId);
    assert.equal(await sent?.stored, true);
    const [undelivered] = await waitForEvents('message.undelivered', (d) => d.message_id === messageId);
    const offline = (undelivered?.event.detail.user_ids ?? []) as string[];
    assert.deepEqual([...offline].sort(), ['ev-dee', 'ev-offline']);
    assert.equal(undelivered?.event.detail.group_name, 'events 2');

    const reaction = await sendCommand(ann.client, 'react', {
      room_id: sent?.event.detail.room_id,
      message_id: messageId,
      emoji: '👍',
    });
    assert.equal(reaction.code, 0, JSON.stringify(reaction));
    const [reacted] = await waitForEvents('message.reacted', (d) => d.message_id === messageId);
    assert.deepEqual(
      {
        user_id: reacted?.event.detail.user_id,
        action: reacted?.event.detail.action,
        counts: reacted?.event.detail.counts,
      },
      { user_id: 'ev-ann', action: 'added', counts: { '👍': 1 } },
    );
    // Reacting again changes nothing, so publishes nothing (checked with the recall's batch below).
    await sendCommand(ann.client, 'react', {
      room_id: sent?.event.detail.room_id,
      message_id: messageId,
      emoji: '👍',
    });

    const edit = await sendCommand(ann.client, 'edit_message', {
      room_id: sent?.event.detail.room_id,
      message_id: messageId,
      content: 'to the group, edited',
    });
    assert.equal(edit.code, 0, JSON.stringify(edit));
    const [edited] = await waitForEvents('message.edited', (d) => d.message_id === messageId);
    assert.equal(edited?.event.detail.content, 'to the group, edited');
    assert.equal(edited?.event.detail.edited_at, edit.data?.edited_at);
    assert.equal(edited?.event.detail.time, sent?.event.detail.time, 'time stays when the message was sent');

    const recalled = await sendCommand(ann.client, 'delete_message', {
      room_id: sent?.event.detail.room_id,
      message_id: messageId,
    });
    assert.equal(recalled.code, 0, JSON.stringify(recalled));
    const [deleted] = await waitForEvents('message.deleted', (d) => d.message_id === messageId);
    assert.equal(deleted?.event.detail.deleted_by, 'ev-ann');
    assert.equal('content' in (deleted?.event.detail ?? {}), false, 'a recall carries no content');
    assert.equal(eventsOf('message.reacted', (d) => d.message_id === messageId).length, 1);
  });

  test('the HTTP API publishes too: a message sent with POST /api/ws/send-message, edited and reacted to over HTTP', async () => {
    const { status, body } = await postApi(
      runtime,
      '/api/ws/send-message',
      { to_user_id: 'ev-offline', content: 'over HTTP' },
      annToken,
    );
    assert.equal(status, 200, JSON.stringify(body));
    const messageId = (body.data as { message_id?: string } | null)?.message_id;
    const [sent] = await waitForEvents('message.sent', (d) => d.message_id === messageId);
    assert.equal(sent?.event.detail.content, 'over HTTP');
    assert.equal(await sent?.stored, true);
    await waitForEvents('message.undelivered', (d) => d.message_id === messageId);

    const target = `/api/ws/messages/${messageId}`;
    const roomId = sent?.event.detail.room_id;
    const edit = await callApi(runtime, 'PATCH', target, {
      token: annToken,
      body: { room_id: roomId, content: 'over HTTP, edited' },
    });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    const [edited] = await waitForEvents('message.edited', (d) => d.message_id === messageId);
    assert.equal(edited?.event.detail.content, 'over HTTP, edited');
    const reaction = await postApi(
      runtime,
      `${target}/reactions`,
      { room_id: roomId, emoji: '🎉' },
      annToken,
    );
    assert.equal(reaction.status, 200, JSON.stringify(reaction.body));
    await waitForEvents('message.reacted', (d) => d.message_id === messageId && d.action === 'added');
    const taken = await callApi(
      runtime,
      'DELETE',
      `${target}/reactions/${encodeURIComponent('🎉')}?room_id=${roomId}`,
      {
        token: annToken,
      },
    );
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    const [removed] = await waitForEvents(
      'message.reacted',
      (d) => d.message_id === messageId && d.action === 'removed',
    );
    assert.deepEqual(removed?.event.detail.counts, {});
  });

  test('disconnect: connection.closed and presence.changed offline', async () => {
    await disconnect(runtime, ann);
    const [closed] = await waitForEvents('connection.closed', (d) => d.connection_id === ann.connectionId);
    assert.equal(closed?.event.detail.user_id, 'ev-ann');
    await waitForEvents('presence.changed', (d) => d.user_id === 'ev-ann' && d.status === 'offline');
  });

  test("every event is in EventBridge's envelope and valid against docs/events.schema.json", () => {
    assert.ok(received.length >= 21, `events received: ${received.length}`);
    for (const { event } of received) {
      assert.deepEqual(problemsOf(schema, event, event['detail-type']), []);
      assert.equal(event.source, 'serverless-chat');
      assert.equal(event.version, '0');
      assert.match(event.id, /^[0-9a-f-]{36}$/);
      assert.match(event.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    assert.equal(new Set(received.map(({ event }) => event.id)).size, received.length, 'ids are unique');
  });

  test('no event carries a token, a secret or a presigned URL', () => {
    const token = annToken;
    const [, , signature] = token.split('.');
    for (const { raw } of received) {
      assert.ok(!raw.includes(token) && !raw.includes(signature ?? token), `a token in ${raw}`);
      assert.doesNotMatch(raw, /eyJ[\w-]+\.[\w-]+/, `something like a JWT in ${raw}`);
      assert.doesNotMatch(raw, /"(token|authorization|secret|password|url)"/i);
      assert.doesNotMatch(raw, /X-Amz-(Signature|Credential|Security-Token)/, `a presigned URL in ${raw}`);
    }
  });
});

describe('a failing receiver', () => {
  test('changes no reply and stops no delivery; the event is retried, then given up', async () => {
    const bob = await connectWelcomed(runtime, 'ev-bob');
    const eve = await connectWelcomed(runtime, 'ev-eve');
    const reply = await sendCommand(bob.client, 'send_message', {
      to_user_id: 'ev-eve',
      content: FAILING_CONTENT,
    });
    assert.equal(reply.code, 0, JSON.stringify(reply));
    assert.equal(reply.data?.delivered, 1);
    const messageId = reply.data?.message_id;
    const push = await nextPush(eve.client, 'new_message', (data) => data.message_id === messageId);
    assert.equal(push.content, FAILING_CONTENT);
    const attempts = await waitForEvents(
      'message.sent',
      (d) => d.message_id === messageId,
      DEFAULT_PUBLISH_ATTEMPTS,
    );
    assert.equal(new Set(attempts.map(({ event }) => event.id)).size, 1, 'a retry repeats the same event id');
    // The next command's events show the sender went on after giving up (one batch per invocation).
    const next = await sendCommand(bob.client, 'send_message', { to_user_id: 'ev-eve', content: 'after' });
    await waitForEvents('message.sent', (d) => d.message_id === next.data?.message_id);
    assert.equal(
      eventsOf('message.sent', (d) => d.message_id === messageId).length,
      DEFAULT_PUBLISH_ATTEMPTS,
    );
    await disconnect(runtime, bob, eve);
  });
});
