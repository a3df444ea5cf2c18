/**
 * Sending application events: batches of at most 10 entries and 256 KB, retries of failed
 * entries with backoff, the EventsNotPublished metric for what is given up, and that a
 * failing sink never changes what the handler returns. EventBridge itself is replaced only
 * here, to cause what a local run cannot: throttling and partial failures of PutEvents.
 * Run: npx tsx --test test/unit/app-events.test.ts
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  type AppEvent,
  connectionOpened,
  messageSent,
  messageUndelivered,
  UNDELIVERED_USERS_PER_EVENT,
} from '../../functions/core/events/app-events.ts';
import {
  type EntryFailure,
  type EventSink,
  MAX_REQUEST_BYTES,
  publishEvents,
  requestsOf,
} from '../../functions/core/events/event-batches.ts';
import type { StoredMessage } from '../../functions/core/shared/ports.ts';
import {
  invocationEvents,
  provideEventSink,
  sendEvents,
  setPublishSettings,
  withAppEvents,
} from '../../functions/runtime/app-events.ts';
import type { ChatConfig } from '../../functions/runtime/config.ts';
import { type Services, setServices } from '../../functions/runtime/container.ts';
import { EventBridgeSink, type PutEventsClient } from '../../functions/runtime/event-bridge-sink.ts';
import { setLogWriter } from '../../functions/runtime/logger.ts';

const message = (n: number, content = `hello ${n}`): StoredMessage => ({
  roomId: 'private_a_b',
  messageId: `01J0000000000000000000${String(n).padStart(4, '0')}`,
  kind: 'private',
  fromUserId: 'a',
  toUserId: 'b',
  content,
  messageType: 1,
  createdAt: '2026-12-03T12:00:00.000Z',
});

const events = (count: number): AppEvent[] =>
  Array.from({ length: count }, (_, n) => messageSent(message(n)));

/** A sink that records each request and answers from `answer` (none: all sent). */
function recordingSink(
  answer: (batch: readonly AppEvent[], call: number) => readonly EntryFailure[] = () => [],
) {
  const calls: AppEvent[][] = [];
  const sink: EventSink = {
    send: async (batch) => {
      calls.push([...batch]);
      return answer(batch, calls.length);
    },
  };
  return { sink, calls };
}

const noWait = { sleep: async () => undefined, random: () => 1 };

describe('batches', () => {
  test('at most 10 entries a request: 25 events are 3 requests, in order', () => {
    const requests = requestsOf(events(25));
    assert.deepEqual(
      requests.map((r) => r.length),
      [10, 10, 5],
    );
    assert.deepEqual(requests.flat(), events(25));
  });

  test('at most 256 KB a request: large entries go in requests of their own', () => {
    const big = (n: number) => messageSent(message(n, 'x'.repeat(100 * 1024)));
    const requests = requestsOf([big(1), big(2), big(3), messageSent(message(4))]);
    assert.deepEqual(
      requests.map((r) => r.length),
      [2, 2],
    );
  });

  test('11 events: 2 requests, sent together, all published', async () => {
    const { sink, calls } = recordingSink();
    const outcome = await publishEvents(sink, events(11), noWait);
    assert.deepEqual(
      calls.map((c) => c.length),
      [10, 1],
    );
    assert.deepEqual(outcome, { published: 11, requests: 2, givenUp: [] });
  });

  test('an entry over 256 KB is given up without a request', async () => {
    const { sink, calls } = recordingSink();
    const huge = messageSent(message(1, 'x'.repeat(MAX_REQUEST_BYTES)));
    const outcome = await publishEvents(sink, [huge, messageSent(message(2))], noWait);
    assert.equal(calls.length, 1);
    assert.deepEqual(outcome.givenUp, [{ event: huge, code: 'EntryTooLarge' }]);
  });

  test('one event per 500 offline recipients', () => {
    const users = Array.from({ length: UNDELIVERED_USERS_PER_EVENT + 1 }, (_, n) => `user-${n}`);
    const split = messageUndelivered(message(1), users);
    assert.deepEqual(
      split.map((event) => (event.detail as unknown as { user_ids: string[] }).user_ids.length),
      [UNDELIVERED_USERS_PER_EVENT, 1],
    );
    assert.deepEqual(messageUndelivered(message(1), []), []);
  });
});

describe('retries', () => {
  test('only the failed entries are sent again, after a backoff', async () => {
    const delays: number[] = [];
    const { sink, calls } = recordingSink((_batch, call) =>
      call === 1 ? [{ index: 3, code: 'ThrottlingException', retryable: true }] : [],
    );
    const sent = events(5);
    const outcome = await publishEvents(sink, sent, {
      baseDelayMs: 40,
      random: () => 1,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    assert.deepEqual(calls[1], [sent[3]]);
    assert.deepEqual(outcome, { published: 5, requests: 2, givenUp: [] });
    assert.deepEqual(delays, [40]);
  });

  test('gives up after the attempts, and never retries a failure that cannot pass', async () => {
    const delays: number[] = [];
    const { sink, calls } = recordingSink((batch) =>
      batch.map((event, index) =>
        (event.detail as { content: string }).content === 'hello 0'
          ? { index, code: 'MalformedDetail', retryable: false }
          : { index, code: 'InternalFailure', retryable: true },
      ),
    );
    const outcome = await publishEvents(sink, events(2), {
      attempts: 3,
      baseDelayMs: 50,
      random: () => 1,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    assert.deepEqual(
      calls.map((c) => c.length),
      [2, 1, 1],
    );
    assert.deepEqual(delays, [50, 100]);
    assert.equal(outcome.published, 0);
    assert.deepEqual(
      outcome.givenUp.map((g) => g.code),
      ['MalformedDetail', 'InternalFailure'],
    );
  });

  test('a sink that throws fails its request retryably', async () => {
    let calls = 0;
    const sink: EventSink = {
      send: async () => {
        calls++;
        if (calls === 1) throw new Error('socket hang up');
        return [];
      },
    };
    const outcome = await publishEvents(sink, events(3), noWait);
    assert.equal(calls, 2);
    assert.deepEqual(outcome.givenUp, []);
    assert.equal(outcome.published, 3);
  });
});

describe('EventBridgeSink (PutEvents replaced: throttling and partial failure)', () => {
  /** A PutEvents stand-in answering from `answers`, one per call. */
  function putEvents(...answers: ((command: PutEventsCommand) => unknown)[]) {
    const commands: PutEventsCommand[] = [];
    const client: PutEventsClient = {
      send: async (command) => {
        commands.push(command);
        const answer = answers[commands.length - 1] ?? (() => ({ FailedEntryCount: 0, Entries: [] }));
        return answer(command) as Awaited<ReturnType<PutEventsClient['send']>>;
      },
    };
    return { client, commands };
  }

  test('entries name the bus, source, detail-type, JSON detail and time', async () => {
    const { client, commands } = putEvents();
    await new EventBridgeSink(client, 'chat-bus').send([messageSent(message(1))]);
    assert.deepEqual(commands[0]?.input.Entries, [
      {
        EventBusName: 'chat-bus',
        Source: 'serverless-chat',
        DetailType: 'message.sent',
        Detail: JSON.stringify(messageSent(message(1)).detail),
        Time: new Date('2026-12-03T12:00:00.000Z'),
      },
    ]);
  });

  test('a partial failure (FailedEntryCount) is retried for the failed entries only', async () => {
    const throttled = { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' };
    const { client, commands } = putEvents(
      () => ({ FailedEntryCount: 1, Entries: [{ EventId: '1' }, throttled, { EventId: '3' }] }),
      () => ({ FailedEntryCount: 0, Entries: [{ EventId: '2' }] }),
    );
    const sent = events(3);
    const outcome = await publishEvents(new EventBridgeSink(client, 'bus'), sent, noWait);
    assert.equal(commands.length, 2);
    assert.equal(commands[1]?.input.Entries?.length, 1);
    assert.equal(commands[1]?.input.Entries?.[0]?.Detail, JSON.stringify(sent[1]?.detail));
    assert.deepEqual(outcome.givenUp, []);
  });

  test('a throttled request (ThrottlingException) is retried whole; AccessDenied is not', async () => {
    const throttling = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const denied = Object.assign(new Error('not authorized'), {
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    const first = putEvents(() => {
      throw throttling;
    });
    const ok = await publishEvents(new EventBridgeSink(first.client, 'bus'), events(2), noWait);
    assert.equal(first.commands.length, 2);
    assert.deepEqual(ok.givenUp, []);

    const second = putEvents(() => {
      throw denied;
    });
    const refused = await publishEvents(new EventBridgeSink(second.client, 'bus'), events(2), noWait);
    assert.equal(second.commands.length, 1);
    assert.deepEqual(
      refused.givenUp.map((g) => g.code),
      ['AccessDeniedException', 'AccessDeniedException'],
    );
  });
});

describe('one batch per invocation', () => {
  const lines: string[] = [];
  const savedFormat = process.env.METRICS_FORMAT;
  let answer: (batch: readonly AppEvent[]) => readonly EntryFailure[] | Promise<never> = () => [];
  const requests: AppEvent[][] = [];

  before(() => {
    process.env.METRICS_FORMAT = 'text';
    setLogWriter((line) => lines.push(line));
    setServices({ config: { events: { region: 'local' } } as unknown as ChatConfig } as Services);
    provideEventSink(() => ({
      send: async (batch) => {
        requests.push([...batch]);
        return answer(batch);
      },
    }));
    setPublishSettings(noWait);
  });
  afterEach(() => {
    lines.length = 0;
    requests.length = 0;
    answer = () => [];
  });
  after(() => {
    setLogWriter(undefined);
    setServices(undefined);
    setPublishSettings({});
    if (savedFormat === undefined) delete process.env.METRICS_FORMAT;
    else process.env.METRICS_FORMAT = savedFormat;
  });

  test('events published while the handler runs go out in one request, after it', async () => {
    const result = await withAppEvents(async () => {
      invocationEvents.publish(messageSent(message(1)));
      await Promise.resolve();
      invocationEvents.publish(connectionOpened('c1', 'a', '2026-12-03T12:00:00.000Z'));
      assert.equal(requests.length, 0, 'nothing is sent while the handler runs');
      return 'reply';
    });
    assert.equal(result, 'reply');
    assert.deepEqual(
      requests.map((r) => r.map((e) => e.type)),
      [['message.sent', 'connection.opened']],
    );
  });

  test('the publisher collects inside an invocation, not outside one', async () => {
    assert.equal(invocationEvents.collecting?.(), false);
    await withAppEvents(async () => assert.equal(invocationEvents.collecting?.(), true));
  });

  test('concurrent invocations keep their own batches; nothing is collected outside one', async () => {
    invocationEvents.publish(messageSent(message(9)));
    await Promise.all([
      withAppEvents(async () => invocationEvents.publish(messageSent(message(1)))),
      withAppEvents(async () => invocationEvents.publish(messageSent(message(2)))),
    ]);
    assert.deepEqual(requests.map((r) => r.length).sort(), [1, 1]);
    assert.equal(requests.flat().length, 2);
  });

  test('a handler that throws still sends what it stored, and its error is unchanged', async () => {
    await assert.rejects(
      withAppEvents(async () => {
        invocationEvents.publish(messageSent(message(1)));
        throw new Error('after the store');
      }),
      /after the store/,
    );
    assert.equal(requests.length, 1);
  });

  test('what is given up is counted (EventsNotPublished) and logged without content; the reply stands', async () => {
    answer = (batch) => batch.map((_, index) => ({ index, code: 'InternalFailure', retryable: true }));
    const result = await withAppEvents(async () => {
      invocationEvents.publish(messageSent(message(1, 'secret-ish content')));
      invocationEvents.publish(connectionOpened('c1', 'a', '2026-12-03T12:00:00.000Z'));
      return 'reply';
    });
    assert.equal(result, 'reply');
    assert.equal(requests.length, 3, 'three attempts');
    assert.ok(lines.includes('METRIC EventsNotPublished=2'), lines.join('\n'));
    assert.ok(lines.some((line) => line.includes('application events not published')));
    assert.ok(!lines.some((line) => line.includes('secret-ish content')));
  });

  test('a sink that rejects outright changes nothing either', async () => {
    const sink: EventSink = {
      send: () => Promise.reject(new Error('boom')),
    };
    await sendEvents(sink, events(2));
    assert.ok(lines.includes('METRIC EventsNotPublished=2'), lines.join('\n'));
  });
});

describe('no sink configured', () => {
  before(() => {
    setServices({ config: { events: { region: 'local' } } as unknown as ChatConfig } as Services);
    provideEventSink(() => undefined);
  });
  after(() => setServices(undefined));

  test('the publisher does not collect, so core code skips building the events', async () => {
    const result = await withAppEvents(async () => {
      assert.equal(invocationEvents.collecting?.(), false);
      return 'reply';
    });
    assert.equal(result, 'reply');
  });
});
