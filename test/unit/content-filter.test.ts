import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SHIPPED_BLOCKED_WORDS } from '../../functions/core/filter/blocked-words.ts';
import {
  AhoCorasick,
  buildContentFilter,
  ChainedContentFilter,
  HttpModerationService,
  ModeratedContentFilter,
  type ModerationService,
  ModerationTimeoutError,
  normalizeText,
  parseWordList,
  WordListFilter,
} from '../../functions/core/filter/content-filter.ts';
import { ConfigError, loadConfig } from '../../functions/runtime/config.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';

const codePoints = (text: string) => Array.from(text, (c) => c.codePointAt(0) as number);

describe('normalization', () => {
  it('folds case, full-width forms, ligatures and accents', () => {
    assert.equal(normalizeText('BaD'), 'bad');
    assert.equal(normalizeText('ｂａｄ ＷＯＲＤ'), 'bad word');
    assert.equal(normalizeText('ﬁne'), 'fine');
    assert.equal(normalizeText('bÄd café'), 'bad cafe');
  });

  it('drops zero-width characters, ZWJ, ZWNJ, soft hyphens, word joiners, BOM and invisible letters', () => {
    for (const invisible of [
      '\u200b',
      '\u200c',
      '\u200d',
      '\u00ad',
      '\u2060',
      '\ufeff',
      '\u3164',
      '\u034f',
    ]) {
      assert.equal(
        normalizeText(`b${invisible}a${invisible}${invisible}d`),
        'bad',
        JSON.stringify(invisible),
      );
    }
  });

  it('joins single letters split by up to three separator characters', () => {
    for (const split of ['b.a.d', 'b a d', 'b-a-d', 'b_a_d', 'b - a - d', 'b*a*d', 'b...a...d', 'b\na\td']) {
      assert.equal(normalizeText(split), 'bad', split);
    }
    assert.equal(normalizeText('my b.a.d day'), 'my bad day');
    assert.equal(normalizeText('b    a    d'), 'b a d', 'four separators are a real gap');
  });

  it('leaves ordinary text as words separated by single spaces', () => {
    assert.equal(normalizeText('  Hello,   world! How are you?  '), 'hello world how are you');
    assert.equal(normalizeText("don't"), 'don t');
    assert.equal(normalizeText('你好，世界'), '你好 世界');
    assert.equal(normalizeText(''), '');
  });

  it('survives lone surrogates and other odd code points', () => {
    assert.equal(normalizeText('b\ud800a\udfffd'), 'bad');
    assert.equal(normalizeText('\ud800\udc00'), '𐀀');
  });
});

describe('Aho–Corasick', () => {
  it('finds every pattern, overlapping ones included, in one pass', () => {
    const patterns = ['he', 'she', 'his', 'hers'];
    const automaton = new AhoCorasick(patterns.map(codePoints));
    const found = automaton
      .findAll(codePoints('ushers'))
      .map((m) => [patterns[m.pattern], m.start, m.end] as const);
    assert.deepEqual(found, [
      ['she', 1, 4],
      ['he', 2, 4],
      ['hers', 2, 6],
    ]);
  });

  it('finds nested and repeated patterns', () => {
    const patterns = ['a', 'aa', 'aaa', 'b'];
    const automaton = new AhoCorasick(patterns.map(codePoints));
    const found = automaton.findAll(codePoints('aaab'));
    const byPattern = (p: string) => found.filter((m) => patterns[m.pattern] === p).length;
    assert.equal(byPattern('a'), 3);
    assert.equal(byPattern('aa'), 2);
    assert.equal(byPattern('aaa'), 1);
    assert.equal(byPattern('b'), 1);
  });

  it('matches astral code points and ignores empty patterns', () => {
    const automaton = new AhoCorasick([codePoints('😀x'), []]);
    assert.deepEqual(automaton.findAll(codePoints('a😀x')), [{ pattern: 0, start: 1, end: 3 }]);
  });

  it('agrees with a naive search on random texts', () => {
    const alphabet = 'abc';
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const word = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(random() * 3)]).join('');
    for (let round = 0; round < 200; round++) {
      const patterns = Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        word(1 + Math.floor(random() * 4)),
      );
      const text = word(Math.floor(random() * 30));
      const automaton = new AhoCorasick(patterns.map(codePoints));
      const got = automaton
        .findAll(codePoints(text))
        .map((m) => `${m.pattern}@${m.start}`)
        .sort();
      const expected: string[] = [];
      patterns.forEach((p, index) => {
        for (let i = 0; i + p.length <= text.length; i++) {
          if (text.startsWith(p, i)) expected.push(`${index}@${i}`);
        }
      });
      assert.deepEqual(got, expected.sort(), `${JSON.stringify(patterns)} in ${text}`);
    }
  });
});

describe('WordListFilter', () => {
  const filter = new WordListFilter(['zorblax', 'bad word', 'grob*', '*flunk', '坏词']);

  it('blocks listed words through the usual evasions', () => {
    for (const text of [
      'zorblax',
      'you ZORBLAX!',
      'ｚｏｒｂｌａｘ',
      'zor\u200bblax',
      'zor\u00adblax',
      'z.o.r.b.l.a.x',
      'z o r b l a x',
      'z-o-r-b-l-a-x',
      'zörblax',
      'such a Bad  Word',
      'badword',
      'bad\nword',
      'b.a.d w.o.r.d',
      'grobbing',
      'megaflunk',
      '这是坏词啊',
      '坏 词',
    ]) {
      assert.equal(filter.isBlocked(text), true, JSON.stringify(text));
    }
  });

  it('does not block words that merely contain a listed word (whole-word matching)', () => {
    for (const text of [
      'zorblaxes',
      'xzorblax',
      'a bad wording',
      'agrob',
      'flunky',
      'hello world',
      '',
      'Plan B. It was fine',
    ]) {
      assert.equal(filter.isBlocked(text), false, JSON.stringify(text));
    }
  });

  it('reports every entry found, overlapping ones included', () => {
    const words = new WordListFilter(['bad word', 'word salad', 'salad']);
    assert.deepEqual(words.matches('bad word salad'), ['bad word', 'word salad', 'salad']);
  });

  it('normalizes and deduplicates its entries, skipping blank ones', () => {
    const words = new WordListFilter(['Zorblax', 'ＺＯＲＢＬＡＸ', ' ', '*', 'zorblax']);
    assert.equal(words.size, 1);
  });

  it('the shipped list blocks its own entries and leaves ordinary text alone', () => {
    const shipped = new WordListFilter(SHIPPED_BLOCKED_WORDS);
    for (const entry of SHIPPED_BLOCKED_WORDS) {
      const word = entry.replace(/\*/g, '');
      assert.equal(shipped.isBlocked(`well ${word.toUpperCase()} then`), true, entry);
    }
    for (const text of [
      'Scunthorpe',
      'class assessment',
      'the cockpit',
      'skyscraper',
      'Hello, how are you?',
    ]) {
      assert.equal(shipped.isBlocked(text), false, text);
    }
  });

  it('parses BLOCKED_WORDS', () => {
    assert.deepEqual(parseWordList(' a, b c ,,  '), ['a', 'b c']);
    assert.deepEqual(parseWordList(undefined), []);
  });
});

describe('configuration', () => {
  const tables = Object.fromEntries(Object.values(tableDefinitions).map((table) => [table.envVar, 't']));

  it('reads the content settings with their defaults', () => {
    const config = loadConfig(tables);
    assert.equal(config.maxContentLength, 4000);
    assert.deepEqual(config.contentFilter, { blockedWords: [], replaceShipped: false });
    const custom = loadConfig({
      ...tables,
      MAX_CONTENT_LENGTH: '10',
      BLOCKED_WORDS: 'x, y z',
      BLOCKED_WORDS_REPLACE: 'true',
      MODERATION_URL: 'http://127.0.0.1:1/m',
      MODERATION_TIMEOUT_MS: '250',
      MODERATION_FAIL_MODE: 'closed',
    });
    assert.equal(custom.maxContentLength, 10);
    assert.deepEqual(custom.contentFilter, {
      blockedWords: ['x', 'y z'],
      replaceShipped: true,
      moderation: { url: 'http://127.0.0.1:1/m', timeoutMs: 250, failMode: 'closed' },
    });
    assert.throws(() => loadConfig({ ...tables, MODERATION_FAIL_MODE: 'maybe' }), ConfigError);
    assert.throws(() => loadConfig({ ...tables, MAX_CONTENT_LENGTH: '0' }), ConfigError);
  });

  it('extends or replaces the shipped list', async () => {
    const extended = buildContentFilter({ blockedWords: ['zorblax'], replaceShipped: false }, ['shipped']);
    assert.equal((await extended.check('shipped')).blocked, true);
    assert.equal((await extended.check('zorblax')).blocked, true);
    const replaced = buildContentFilter({ blockedWords: ['zorblax'], replaceShipped: true }, ['shipped']);
    assert.equal((await replaced.check('shipped')).blocked, false);
    assert.equal((await replaced.check('zorblax')).blocked, true);
  });
});

describe('external moderation', () => {
  let server: Server;
  let baseUrl: string;
  const received: unknown[] = [];

  before(async () => {
    server = createServer((request: IncomingMessage, response: ServerResponse) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        received.push(JSON.parse(body));
        const answer = (status: number, json: string) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(json);
        };
        if (request.url === '/slow') {
          const timer = setTimeout(() => answer(200, '{"blocked":false}'), 2_000);
          response.on('close', () => clearTimeout(timer));
        } else if (request.url === '/error') answer(503, '{}');
        else if (request.url === '/garbage') answer(200, '{"blocked":"yes"}');
        else
          answer(
            200,
            JSON.stringify({ blocked: (JSON.parse(body) as { text: string }).text.includes('nope') }),
          );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const moderated = (path: string, failMode: 'open' | 'closed', failures: unknown[] = [], timeoutMs = 200) =>
    new ModeratedContentFilter(new HttpModerationService(`${baseUrl}${path}`), {
      timeoutMs,
      failMode,
      onFailure: (error) => failures.push(error),
    });

  it('POSTs {text} and follows the answer', async () => {
    // A generous timeout: this test is about following the answer, not about timing out
    // (a loaded machine can take longer than 200 ms for a first local request).
    const filter = moderated('/ok', 'closed', [], 5_000);
    assert.deepEqual(await filter.check('fine text'), { blocked: false });
    assert.deepEqual(await filter.check('nope'), { blocked: true, reason: 'moderation' });
    assert.deepEqual(received.slice(-2), [{ text: 'fine text' }, { text: 'nope' }]);
  });

  it('times out: fail-open lets the message through, fail-closed blocks it', async () => {
    const failures: unknown[] = [];
    assert.deepEqual(await moderated('/slow', 'open', failures).check('x'), { blocked: false });
    assert.deepEqual(await moderated('/slow', 'closed', failures).check('x'), {
      blocked: true,
      reason: 'moderation_unavailable',
    });
    // The filter's own decision, not a stopwatch: both gave up on their timeout (the 2 s
    // answer had not come), and said so.
    assert.equal(failures.length, 2);
    for (const failure of failures) assert.ok(failure instanceof ModerationTimeoutError, String(failure));
  });

  it('treats HTTP errors, malformed answers and refused connections by the fail mode', async () => {
    for (const path of ['/error', '/garbage']) {
      assert.equal((await moderated(path, 'open').check('x')).blocked, false, path);
      assert.equal((await moderated(path, 'closed').check('x')).blocked, true, path);
    }
    const unreachable = new ModeratedContentFilter(new HttpModerationService('http://127.0.0.1:1/'), {
      timeoutMs: 500,
      failMode: 'closed',
    });
    assert.equal((await unreachable.check('x')).blocked, true);
  });

  it('a service that ignores the abort signal is still cut off at the timeout', async () => {
    const never: ModerationService = { moderate: () => new Promise(() => {}) };
    const filter = new ModeratedContentFilter(never, { timeoutMs: 20, failMode: 'open' });
    assert.deepEqual(await filter.check('x'), { blocked: false });
  });

  it('the word list answers first; the service is asked only when the list lets the text through', async () => {
    const asked: string[] = [];
    const service: ModerationService = {
      moderate: async (text) => {
        asked.push(text);
        return { blocked: false };
      },
    };
    const filter = new ChainedContentFilter([
      new WordListFilter(['zorblax']),
      new ModeratedContentFilter(service, { timeoutMs: 100, failMode: 'open' }),
    ]);
    assert.deepEqual(await filter.check('zorblax'), { blocked: true, reason: 'word_list' });
    assert.deepEqual(await filter.check('hello'), { blocked: false });
    assert.deepEqual(asked, ['hello']);
  });
});
