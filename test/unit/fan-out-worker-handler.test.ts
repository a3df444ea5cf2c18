/**
 * The fan-out worker's handler with events that are not fan-out jobs (empty, malformed,
 * hand-made in the console): it does nothing, logs what it got (its shape, never values),
 * and answers instead of throwing. Run: npx tsx --test test/unit/fan-out-worker-handler.test.ts
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { handler } from '../../functions/handlers/fan-out-worker.ts';
import { setLogWriter } from '../../functions/runtime/logger.ts';

const lines: string[] = [];
setLogWriter((line) => lines.push(line));
after(() => setLogWriter(undefined));

describe('fan-out worker handler: events that are not jobs', () => {
  const secretFrame = '{"type":"message","content":"private words"}';
  const cases: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a string', 'hello'],
    ['an array', []],
    [
      'a job without its kind, carrying content',
      {
        id: 'j1',
        part: 0,
        callbackUrl: 'https://x.example/prod',
        frame: secretFrame,
        ratePerSecond: 10,
        startAt: 0,
      },
    ],
    ['a chunk job with bad recipients', { kind: 'chunk', recipients: 'nope' }],
  ];
  for (const [name, event] of cases) {
    it(`${name}: answers rejected, posts nothing, logs the shape only`, async () => {
      lines.length = 0;
      const report = await handler(event);
      assert.equal(report.outcome, 'rejected');
      assert.equal(lines.length, 1);
      const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      assert.equal(line.level, 'error');
      assert.match(String(line.message ?? line.msg), /not a fan-out job/);
      assert.doesNotMatch(lines[0] ?? '', /private words|x\.example/);
    });
  }
});
