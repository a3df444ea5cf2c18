/**
 * The client SDK's building blocks: full-jitter backoff, the bounded de-duplication set,
 * ULID floors for time-based sync positions, handshake status parsing and random ids.
 * Run: npx tsx --test test/unit/client-utils.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { Backoff } from '../../client/src/backoff.ts';
import { normalizeId, randomId, ulidFloor } from '../../client/src/ids.ts';
import { LruSet } from '../../client/src/lru.ts';
import { handshakeStatus } from '../../client/src/websocket.ts';

describe('Backoff', () => {
  test('every delay lies in [0, min(max, initial × factor^n)) and the ceiling is capped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        (initial, max, factor, draws) => {
          const queue = [...draws];
          const backoff = new Backoff(
            { initialDelayMs: initial, maxDelayMs: max, factor },
            () => queue.shift() ?? 0,
          );
          const cap = Math.max(initial, max);
          draws.forEach((_draw, n) => {
            const ceiling = Math.min(cap, initial * factor ** n);
            const delay = backoff.next();
            assert.ok(
              Number.isInteger(delay) && delay >= 0 && delay <= ceiling,
              `${delay} within [0, ${ceiling}]`,
            );
          });
        },
      ),
    );
  });

  test('defaults: 500 ms first ceiling, doubling, capped at 30 s; reset starts over', () => {
    const backoff = new Backoff({}, () => 0.999_999_999);
    const delays = Array.from({ length: 10 }, () => backoff.next());
    assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999, 29_999]);
    assert.equal(backoff.attempts, 10);
    backoff.reset();
    assert.equal(backoff.next(), 499);
  });

  test('full jitter spreads clients out: the draw scales the whole range', () => {
    const low = new Backoff({ initialDelayMs: 1000 }, () => 0);
    const mid = new Backoff({ initialDelayMs: 1000 }, () => 0.5);
    assert.equal(low.next(), 0);
    assert.equal(mid.next(), 500);
  });
});

describe('LruSet', () => {
  test('remembers at most capacity keys, forgetting the least recently added or touched', () => {
    const set = new LruSet(3);
    assert.equal(set.add('a'), true);
    set.add('b');
    set.add('c');
    assert.equal(set.add('a'), false, 'already there; touched');
    set.add('d'); // evicts b, the least recently used
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((k) => set.has(k)),
      [true, false, true, true],
    );
    assert.equal(set.size, 3);
  });

  test('never exceeds its capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.string({ maxLength: 3 })),
        (capacity, keys) => {
          const set = new LruSet(capacity);
          for (const key of keys) set.add(key);
          assert.ok(set.size <= capacity);
          const last = keys.at(-1);
          if (last !== undefined) assert.ok(set.has(last));
        },
      ),
    );
  });

  test('refuses a capacity below 1', () => {
    assert.throws(() => new LruSet(0), RangeError);
  });
});

describe('ulidFloor', () => {
  test('is ≤ every ULID of that millisecond and > every ULID of the one before', () => {
    fc.assert(
      // From 2: ulid(0) would mean "now".
      fc.property(fc.integer({ min: 2, max: 2 ** 47 }), (ms) => {
        const floor = ulidFloor(ms);
        assert.equal(floor.length, 26);
        assert.ok(floor <= ulid(ms));
        assert.ok(floor > ulid(ms - 1));
      }),
    );
  });

  test('normalizeId upper-cases (ids are issued upper case, accepted in lower case)', () => {
    assert.equal(normalizeId('01m7ywpccsrybxwzr3xxpq1dx'), '01M7YWPCCSRYBXWZR3XXPQ1DX');
  });
});

describe('handshakeStatus', () => {
  test('reads the status `ws` reports, in the event or its error; undefined otherwise (browsers)', () => {
    assert.equal(handshakeStatus({ message: 'Unexpected server response: 401' }), 401);
    assert.equal(handshakeStatus({ error: new Error('Unexpected server response: 429') }), 429);
    assert.equal(handshakeStatus({ type: 'error' }), undefined);
    assert.equal(handshakeStatus(undefined), undefined);
    assert.equal(handshakeStatus({ message: 'connect ECONNREFUSED' }), undefined);
  });
});

describe('randomId', () => {
  test('is a v4-shaped UUID and unique', () => {
    const ids = new Set(Array.from({ length: 1000 }, randomId));
    assert.equal(ids.size, 1000);
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('falls back to getRandomValues where randomUUID is missing (insecure browser contexts)', () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    const real = globalThis.crypto;
    Object.defineProperty(globalThis, 'crypto', {
      configurable: true,
      value: { getRandomValues: (array: Uint8Array) => real.getRandomValues(array) },
    });
    try {
      assert.match(randomId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      if (original) Object.defineProperty(globalThis, 'crypto', original);
    }
  });
});
