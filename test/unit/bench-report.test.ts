/**
 * The performance page's header after partial runs (`npm run bench -- --only X`): each
 * section keeps the commit and load average it was measured with, and the header shows
 * their range instead of relabelling every section with the latest run's.
 * Run: npx tsx --test test/unit/bench-report.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MachineFacts } from '../../scripts/bench/machine.ts';
import { renderMarkdown } from '../../scripts/bench/report.ts';
import { type SectionRun, sectionRunsOf } from '../../scripts/bench/section-runs.ts';
import type { Results } from '../../scripts/bench/types.ts';

const machine = (facts: Partial<MachineFacts>): MachineFacts => ({
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGb: 24,
  os: 'Linux 6',
  node: 'v20.20.2',
  loadAverageAtStart: 0.4,
  loadAverageAtEnd: 0.6,
  loadAverageMax: 0.8,
  gitCommit: 'aaaaaaa',
  gitDirty: false,
  ...facts,
});

const run = (facts: Partial<SectionRun>): SectionRun => ({
  at: '2026-12-01T08:00:00.000Z',
  gitCommit: 'aaaaaaa',
  gitDirty: false,
  loadAverageAtStart: 0.4,
  loadAverageMax: 0.8,
  ...facts,
});

function results(facts: Partial<Results>): Results {
  return {
    schemaVersion: 1,
    generatedAt: '2026-12-03T09:00:00.000Z',
    command: 'npm run bench -- --only latency',
    smoke: false,
    machine: machine({}),
    measuredAt: {},
    totalSeconds: 60,
    ...facts,
  };
}

/** The page's lines from the start up to the first section heading. */
const header = (page: string) => page.slice(0, page.indexOf('## Targets'));

describe('the performance page header', () => {
  test('after a partial run: the load range and every commit, and a row per section', () => {
    // dynamo measured earlier on an idle machine at aaaaaaa; latency now, loaded, at bbbbbbb.
    const page = renderMarkdown(
      results({
        machine: machine({ gitCommit: 'bbbbbbb', loadAverageAtStart: 9.1, loadAverageMax: 9.9 }),
        measuredAt: { dynamo: '2026-12-01T08:00:00.000Z', latency: '2026-12-03T09:00:00.000Z' },
        sectionRuns: {
          dynamo: run({}),
          latency: run({
            at: '2026-12-03T09:00:00.000Z',
            gitCommit: 'bbbbbbb',
            gitDirty: true,
            loadAverageAtStart: 9.1,
            loadAverageMax: 9.9,
          }),
        },
      }),
      {},
    );
    const top = header(page);
    assert.match(top, /\| load average \(1 min\) \| 0\.4 to 9\.9 over the sections/);
    assert.match(
      top,
      /\| code \| commits aaaaaaa \(dynamo\); bbbbbbb plus uncommitted changes in the work tree \(latency\) \|/,
    );
    assert.match(top, /\| dynamo \| 2026-12-01 08:00 \| aaaaaaa \| 0\.4, 0\.8 \|/);
    assert.match(top, /\| latency \| 2026-12-03 09:00 \| bbbbbbb \(uncommitted changes\) \| 9\.1, 9\.9 \|/);
    // Only the loaded section is called out.
    assert.match(top, /while measuring latency \(up to 9\.9\):/);
    assert.doesNotMatch(top, /measuring dynamo/);
  });

  test('one commit for every section: a single commit', () => {
    const page = renderMarkdown(
      results({ measuredAt: { dynamo: run({}).at }, sectionRuns: { dynamo: run({}), fanout: run({}) } }),
      {},
    );
    assert.match(header(page), /\| code \| commit aaaaaaa \|/);
    assert.doesNotMatch(header(page), /Loaded machine/);
  });
});

describe('sections kept from an older performance.json', () => {
  test('keep their own runs; a file without them lends its run’s commit and load, marked as such', () => {
    const kept = sectionRunsOf({
      measuredAt: { dynamo: '2026-11-30T10:00:00.000Z', fanout: '2026-11-30T10:05:00.000Z' },
      machine: machine({ gitCommit: 'ccccccc', loadAverageAtStart: 1.5, loadAverageMax: 3.2 }),
      sectionRuns: { fanout: run({ gitCommit: 'ddddddd' }) },
    });
    assert.equal(kept.fanout?.gitCommit, 'ddddddd', 'its own run is kept as it was');
    assert.deepEqual(kept.dynamo, {
      at: '2026-11-30T10:00:00.000Z',
      gitCommit: 'ccccccc',
      gitDirty: false,
      loadAverageAtStart: 1.5,
      loadAverageMax: 3.2,
      fromRun: true,
    });
    const page = renderMarkdown(results({ measuredAt: { dynamo: kept.dynamo?.at }, sectionRuns: kept }), {});
    assert.match(header(page), /\| dynamo \| 2026-11-30 10:00 \| ccccccc \| 1\.5, 3\.2 \(its whole run\) \|/);
  });
});
