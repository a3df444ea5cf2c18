/**
 * How the performance page keeps its figures honest (issue 14): the side-by-side ratios
 * with AWS's sample, a target's latency as the median of several soak runs with the worst
 * run's losses, and timing rows that say "loaded" whenever the load average was above the
 * documented idle limit — and never "idle" then.
 * Run: npx tsx --test test/unit/bench-honest-figures.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { latencyPoint } from '../../scripts/bench/latency-runs.ts';
import { IDLE_LOAD_PER_CORE, idleLoadLimit, isLoaded, loadLabel } from '../../scripts/bench/load.ts';
import { type MachineFacts, workTreeDirty } from '../../scripts/bench/machine.ts';
import { computeTargets, renderMarkdown } from '../../scripts/bench/report.ts';
import { loadNote } from '../../scripts/bench/report-format.ts';
import { comparisons, ratio, ratioText } from '../../scripts/bench/side-by-side.ts';
import type {
  BundleVariantFigures,
  LatencyRun,
  OperationCost,
  Results,
  SamplePoint,
} from '../../scripts/bench/types.ts';

const cost = (figures: Partial<OperationCost>): OperationCost => ({
  operation: 'op',
  label: 'op',
  background: 100,
  registeredConnections: 100,
  recipients: 1,
  repetitions: 3,
  dynamoRequests: 0,
  endpointRequests: 0,
  readUnits: 0,
  writeUnits: 0,
  indexWriteUnits: 0,
  failedConditionalWrites: 0,
  byOperation: {},
  managementPosts: 0,
  management: {},
  lambdaInvocations: 1,
  lambdaByFunction: {},
  handlerMs: 1,
  billedMs: 1,
  replyMs: 1,
  deliveredMs: 1,
  ...figures,
});

const machine: MachineFacts = {
  cpuModel: 'Test CPU',
  cores: 2,
  memoryGb: 24,
  os: 'Linux 6',
  node: 'v20.20.2',
  loadAverageAtStart: 0.4,
  gitCommit: 'aaaaaaa',
  gitDirty: false,
};

const samplePoint = (load: { atStart: number; max: number }): SamplePoint => ({
  connections: 10_000,
  rampSeconds: 100,
  direct: cost({
    dynamoRequests: 3,
    readUnits: 1,
    writeUnits: 4,
    indexWriteUnits: 4,
    managementPosts: 1,
    deliveredMs: 10,
  }),
  sample: cost({
    operation: 'aws-sample',
    dynamoRequests: 1,
    readUnits: 34.5,
    managementPosts: 10_000,
    deliveredMs: 9_000,
  }),
  broadcast: cost({
    dynamoRequests: 124,
    readUnits: 116.5,
    writeUnits: 16,
    managementPosts: 10_000,
    deliveredMs: 9_500,
  }),
  wallMsRuns: { direct: [10, 12, 9], sample: [9_000, 8_000, 9_500], broadcast: [9_500, 9_400, 9_900] },
  delivered: { sample: 10_000, broadcast: 10_000 },
  load,
});

describe('side by side with the AWS sample', () => {
  test('ratios are the sample ÷ ours, and none when ours is 0', () => {
    assert.equal(ratio(34.5, 1), 34.5);
    assert.equal(ratio(0, 8), 0);
    assert.equal(ratio(10, 0), null, 'ours 0: no ratio, not infinity');
    assert.equal(ratio(Number.NaN, 3), null);
    assert.equal(ratioText(880.4), '880×');
    assert.equal(ratioText(1.34), '1.3×');
    assert.equal(ratioText(0.523), '0.52×');
    assert.equal(ratioText(null), 'n/a');
  });

  test('each scale compares the sample with our 1:1 and with our broadcast', () => {
    const [direct, broadcast] = comparisons(samplePoint({ atStart: 0.5, max: 0.9 }));
    assert.equal(direct.ours, '1:1');
    assert.equal(direct.ratios.readUnits, 34.5);
    assert.equal(direct.ratios.posts, 10_000);
    assert.equal(direct.ratios.wallMs, 900);
    assert.equal(direct.our.writeUnits, 8, 'write units include the estimated index writes');
    assert.equal(broadcast.ours, 'broadcast');
    assert.equal(broadcast.ratios.posts, 1);
    assert.equal(broadcast.ratios.writeUnits, 0);
  });
});

const run = (figures: Partial<LatencyRun>): LatencyRun => ({
  p50: 10,
  p95: 20,
  p99: 30,
  max: 40,
  sent: 4000,
  delivered: 4000,
  lost: 0,
  duplicates: 0,
  errors: {},
  achievedRate: 200,
  runtimePeakRssMb: 600,
  rampUpSeconds: 5,
  welcomed: 1000,
  sustained: true,
  soakExitCode: 0,
  ...figures,
});
const criteria = { connections: 1000, p99LimitMs: 50 };
const at = { rate: 200, seconds: 20, phase: 'fixed' as const };

describe('a latency target from three soak runs', () => {
  test('is the median of each percentile, with every run kept', () => {
    const point = latencyPoint(
      at,
      [run({ p50: 12, p99: 31 }), run({ p50: 9, p99: 627, max: 700 }), run({ p50: 11, p99: 45 })],
      criteria,
    );
    assert.equal(point.p50, 11);
    assert.equal(point.p99, 45, 'one bad run does not decide');
    assert.equal(point.sustained, true);
    assert.deepEqual(
      point.runs?.map((r) => r.p99),
      [31, 627, 45],
    );
  });

  test('one lucky run does not make a rate sustained', () => {
    const point = latencyPoint(at, [run({ p99: 31 }), run({ p99: 80 }), run({ p99: 95 })], criteria);
    assert.equal(point.p99, 80);
    assert.equal(point.sustained, false);
  });

  test('a loss or an error in any run is reported and fails the rate', () => {
    const point = latencyPoint(
      at,
      [run({}), run({ lost: 3, errors: { '1029': 2 } }), run({ errors: { '1029': 1 } })],
      criteria,
    );
    assert.equal(point.lost, 3);
    assert.deepEqual(point.errors, { '1029': 3 });
    assert.equal(point.sustained, false);
  });

  test('CPU per message is the median of the runs that measured it', () => {
    const point = latencyPoint(
      at,
      [
        run({ runtimeCpuMsPerMessage: 9, clientCpuMsPerMessage: 0.4 }),
        run({ runtimeCpuMsPerMessage: 12, clientCpuMsPerMessage: 0.5 }),
        run({ runtimeCpuMsPerMessage: null, clientCpuMsPerMessage: 0.3 }),
      ],
      criteria,
    );
    assert.equal(point.runtimeCpuMsPerMessage, 10.5);
    assert.equal(point.clientCpuMsPerMessage, 0.4);
  });

  test("a missed target's why states the CPU per message and what the rates ask of the cores", () => {
    const point = latencyPoint(
      at,
      [1, 2, 3].map(() =>
        run({
          p50: 400,
          p99: 1900,
          sustained: false,
          runtimeCpuMsPerMessage: 11.5,
          clientCpuMsPerMessage: 0.5,
        }),
      ),
      criteria,
    );
    const [target] = computeTargets({
      schemaVersion: 1,
      generatedAt: '2026-12-03T09:00:00.000Z',
      command: 'npm run bench -- --only latency',
      smoke: false,
      machine,
      measuredAt: { latency: '2026-12-03T09:00:00.000Z' },
      totalSeconds: 60,
      latency: {
        connections: 1000,
        p99LimitMs: 50,
        points: [point],
        maxSustainedRate: 50,
        firstFailingRate: 75,
        peakRssMb: 900,
        seconds: 100,
      },
    });
    assert.equal(target?.met, false);
    const row = target?.why ?? '';
    assert.match(row, /11\.5 ms in the runtime \(all threads\) \+ 0\.5 ms in the soak's clients/);
    assert.match(row, /200 msg\/s × 12 ms = 2,400 ms of CPU per second, 120% of 2,000 ms on 2 cores/);
    assert.match(row, /300 msg\/s × 12 ms = 3,600 ms of CPU per second, 180% of 2,000 ms/);
    assert.match(row, /about 4\.7 ms of CPU in all/);
  });

  test('a single run is that run', () => {
    const point = latencyPoint({ ...at, phase: 'search' }, [run({ p99: 42 })], criteria);
    assert.equal(point.p99, 42);
    assert.equal(point.runs, undefined);
  });
});

describe('idle or loaded', () => {
  test('the limit is per core, and the start of a measurement counts as much as its samples', () => {
    assert.equal(IDLE_LOAD_PER_CORE, 0.75);
    assert.equal(idleLoadLimit(2), 1.5);
    assert.equal(isLoaded({ atStart: 1.2, max: 1.5 }, 2), false);
    assert.equal(isLoaded({ atStart: 1.6, max: 0.9 }, 2), true);
    assert.equal(isLoaded({ atStart: 0.4, max: 1.51 }, 2), true);
    assert.equal(loadLabel({ atStart: 0.4, max: 3.85 }, 2), '**loaded** (up to 3.85)');
    assert.equal(loadLabel({ atStart: 0.4, max: 0.9 }, 2), 'idle (up to 0.9)');
  });

  const page = (facts: Partial<Results>) =>
    renderMarkdown(
      {
        schemaVersion: 1,
        generatedAt: '2026-12-03T09:00:00.000Z',
        command: 'npm run bench',
        smoke: false,
        machine,
        measuredAt: { sample: '2026-12-03T09:00:00.000Z' },
        totalSeconds: 60,
        ...facts,
      },
      {},
    );
  const sectionRun = (loadAverageAtStart: number, loadAverageMax: number) => ({
    at: '2026-12-03T09:00:00.000Z',
    gitCommit: 'aaaaaaa',
    gitDirty: false,
    loadAverageAtStart,
    loadAverageMax,
  });

  test('a loaded section is called loaded in the header and in every timing row, never idle', () => {
    const loaded = page({
      sample: {
        scales: [10_000],
        repetitions: 3,
        seconds: 200,
        points: [samplePoint({ atStart: 1.9, max: 3.2 })],
      },
      sectionRuns: { sample: sectionRun(1.9, 3.2) },
    });
    assert.match(
      loaded,
      /\| sample \| 2026-12-03 09:00 \| aaaaaaa \| 1\.9, 3\.2 \| \*\*loaded\*\* \(up to 3\.2\) \|/,
    );
    assert.match(loaded, /at most 1\.5 \(0\.75 per core\)/, 'the page states the limit');
    const rows = loaded.split('\n').filter((line) => line.startsWith('| 10,000 |'));
    assert.equal(rows.length, 5, '3 paths and 2 comparisons');
    for (const row of rows) assert.match(row, /\*\*loaded\*\* \(up to 3\.2\) \|$/);
    assert.doesNotMatch(loaded, /\bidle \(/);
  });

  test('an idle section says idle', () => {
    const idle = page({
      sample: {
        scales: [10_000],
        repetitions: 3,
        seconds: 200,
        points: [samplePoint({ atStart: 0.3, max: 1.1 })],
      },
      sectionRuns: { sample: sectionRun(0.3, 1.1) },
    });
    assert.match(idle, /\| idle \(up to 1\.1\) \|/);
    assert.doesNotMatch(idle, /\*\*loaded\*\*/);
    assert.doesNotMatch(idle, /Loaded machine/);
  });

  test('a section idle at its start and loaded by its own processes says both, and still loaded', () => {
    const results = { machine } as Results;
    const selfLoaded = loadNote(results, { atStart: 0.16, max: 2.3 });
    assert.match(selfLoaded, /idle when the section started \(1-minute load average 0\.16\)/);
    assert.match(selfLoaded, /own processes raised it to 2\.3 on 2 cores, above the idle limit of 1\.5/);
    assert.match(selfLoaded, /calls it loaded/);
    const busy = loadNote(results, { atStart: 1.9, max: 3.2 });
    assert.match(busy, /The machine was loaded \(1-minute load average up to 3\.2 on 2 cores/);
    assert.doesNotMatch(busy, /idle when/);
    assert.equal(loadNote(results, { atStart: 0.3, max: 1.1 }), '');
  });

  test('without a sample section in the file, the page renders without it', () => {
    const without = page({ measuredAt: {}, sectionRuns: {} });
    assert.doesNotMatch(without, /Side by side/);
  });
});

describe("issue 14's targets each have a row", () => {
  const base = (facts: Partial<Results>): Results => ({
    schemaVersion: 1,
    generatedAt: '2026-12-03T09:00:00.000Z',
    command: 'npm run bench',
    smoke: false,
    machine,
    measuredAt: {},
    totalSeconds: 60,
    ...facts,
  });
  const presenceOp = (operation: string, background: number, figures: Partial<OperationCost>) =>
    cost({ operation, background, ...figures });
  const dynamo = (groupReadUnits: number) => ({
    scales: [100, 10_000],
    groupSizes: [1000],
    onlineShare: 0.1,
    hostEnv: {},
    functions: [],
    seconds: 10,
    operations: [100, 10_000].flatMap((background) => [
      presenceOp('connect-alone', background, { dynamoRequests: 8, recipients: 0, managementPosts: 1 }),
      presenceOp('connect-group-1000', background, {
        dynamoRequests: 13,
        recipients: 99,
        readUnits: groupReadUnits,
        managementPosts: 100,
      }),
      presenceOp('disconnect-alone', background, { dynamoRequests: 6, recipients: 0 }),
      presenceOp('disconnect-group-1000', background, {
        dynamoRequests: 11,
        recipients: 99,
        readUnits: groupReadUnits,
        managementPosts: 99,
      }),
    ]),
  });
  const presence = (afterSweep: number) => ({
    clients: 1000,
    closed: 200,
    dropped: 200,
    trueOnline: { users: 600, connections: 600 },
    beforeSweep: { users: 800, connections: 800 },
    afterSweep: { users: afterSweep, connections: afterSweep },
    sweep: {
      checked: 800,
      removed: 800 - afterSweep,
      expired: 0,
      failed: 0,
      getConnectionCalls: 800,
      ms: 2000,
    },
    seconds: 20,
  });
  const row = (results: Results, id: string) => computeTargets(results).find((t) => t.id === id);

  test('connect/disconnect: met when reads follow the 100 online peers and online-count is exact after the sweep', () => {
    const met = row(base({ dynamo: dynamo(52.5), presence: presence(600) }), 'connect-disconnect');
    assert.equal(met?.met, true);
    assert.match(
      met?.measured ?? '',
      /in a group of 1,000 \(100 online\): 13 requests, 52\.5 RRU, 100 POSTs/,
    );
    assert.match(met?.measured ?? '', /800 against 600 open, 600 after one sweep/);
    assert.match(met?.why ?? '', /16 items/);
    const membersRead = row(base({ dynamo: dynamo(513.5), presence: presence(600) }), 'connect-disconnect');
    assert.equal(membersRead?.met, false, 'reading every member’s presence misses it');
    assert.match(membersRead?.margin ?? '', /453\.5 read units over/);
    assert.equal(
      row(base({ dynamo: dynamo(52.5) }), 'connect-disconnect')?.met,
      null,
      'accuracy not measured',
    );
  });

  test('self-heal: exact after one sweep, or by how much it is off', () => {
    assert.equal(row(base({ presence: presence(600) }), 'self-heal')?.margin, 'exact after one sweep');
    const off = row(base({ presence: presence(650) }), 'self-heal');
    assert.equal(off?.met, false);
    assert.equal(off?.margin, 'off by 50 connections, 50 users after one sweep');
  });

  test("broadcast against the sample's Promise.all at the largest scale, same run", () => {
    const sample = (point: SamplePoint) => ({
      scales: [10_000],
      repetitions: 3,
      seconds: 100,
      points: [point],
    });
    const slower = row(
      base({ sample: sample(samplePoint({ atStart: 0.3, max: 1.1 })) }),
      'broadcast-versus-sample',
    );
    assert.equal(slower?.met, false);
    assert.equal(slower?.margin, '500 ms slower (6%)');
    const point = samplePoint({ atStart: 0.3, max: 1.1 });
    const faster = { ...point, broadcast: { ...point.broadcast, deliveredMs: 6_000 } };
    assert.equal(row(base({ sample: sample(faster) }), 'broadcast-versus-sample')?.met, true);
  });

  test('the 300 msg/s latency target has its own row, "not measured" when the run had no such rate', () => {
    const latency = (rates: number[]) => ({
      connections: 1000,
      p99LimitMs: 50,
      points: rates.map((rate) => latencyPoint({ ...at, rate }, [run({ p99: 45 })], criteria)),
      maxSustainedRate: 200,
      firstFailingRate: null,
      peakRssMb: 900,
      seconds: 100,
    });
    const missing = row(base({ latency: latency([100, 200]) }), 'latency-300');
    assert.equal(missing?.met, null);
    assert.match(missing?.measured ?? '', /not measured \(fixed rates run: 100, 200 msg\/s\)/);
    const measured = row(base({ latency: latency([200, 300]) }), 'latency-300');
    assert.equal(measured?.met, true);
    assert.match(measured?.target ?? '', /1,000 connections at 300 messages\/s: 1:1 p99 ≤ 50 ms/);
  });
});

describe('init: what the first call computed and what it waited for', () => {
  const variant = (figures: Partial<BundleVariantFigures>): BundleVariantFigures => ({
    bytes: 300_000,
    gzipBytes: 90_000,
    mapBytes: 900_000,
    sdkBytes: 280_000,
    topPackages: [{ name: '@aws-sdk/*', bytes: 160_000 }],
    initMsMedian: 200,
    initMsP90: 240,
    initMsRuns: [190, 200, 210],
    importMsMedian: 60,
    firstCallMsMedian: 140,
    ...figures,
  });
  const results = (bundled: Partial<BundleVariantFigures>): Results => ({
    schemaVersion: 1,
    generatedAt: '2026-12-04T11:00:00.000Z',
    command: 'npm run bench',
    smoke: false,
    machine,
    measuredAt: { bundles: '2026-12-04T11:00:00.000Z' },
    totalSeconds: 60,
    bundles: {
      runs: 3,
      functions: [
        {
          functionId: 'httpApi',
          entry: 'functions/handlers/http-api.ts',
          bundled: variant(bundled),
          external: variant({}),
        },
      ],
      esbuildVersion: '0.28.2',
      processesPerRun: 3,
      options: {},
      nodeFlags: [],
      seconds: 60,
    },
  });

  test("the init row gives the first call's CPU beside its wall time, and the why says the rest was waiting", () => {
    const row = computeTargets(results({ firstCallCpuMsMedian: 38.5 })).find((t) => t.id === 'bundle-init');
    assert.ok(row);
    assert.match(row.target, /median of three runs/);
    assert.match(row.measured, /first call 140, 38\.5 of it on a CPU\)/);
    assert.match(
      row.why,
      /Of httpApi's first call \(140 ms\), its process was on a CPU for 38\.5 ms; it waited the rest/,
    );
    const page = renderMarkdown(results({ firstCallCpuMsMedian: 38.5 }), {});
    assert.match(page, /\| httpApi \|[^\n]*\| 200 ms: 60 \+ 140 \(240\) \| 38\.5 ms \|/);
  });

  test("a first call on a CPU for most of its wall time is called the function's own work, not waiting", () => {
    const row = computeTargets(results({ firstCallCpuMsMedian: 150 })).find((t) => t.id === 'bundle-init');
    assert.ok(row);
    assert.match(row.measured, /first call 140, 150 of it on a CPU\)/);
    assert.match(row.why, /httpApi's first call \(140 ms\) kept its process on a CPU for 150 ms/);
    assert.match(row.why, /not waiting for the local store/);
    assert.match(row.why, /In 1 of 1 functions the first call's CPU is at least 90% of its wall time/);
    assert.doesNotMatch(row.why, /it waited the rest/);
  });

  test('older figures without it: no CPU claimed, n/a in the table', () => {
    const row = computeTargets(results({})).find((t) => t.id === 'bundle-init');
    assert.ok(row);
    assert.doesNotMatch(row.measured, /on a CPU/);
    assert.doesNotMatch(row.why, /on a CPU for/);
    assert.match(renderMarkdown(results({}), {}), /\| 200 ms: 60 \+ 140 \(240\) \| n\/a \|/);
  });
});

describe('which commit a figure comes from', () => {
  test("the bench's own output does not make the work tree dirty; any other change does", (t) => {
    const repo = mkdtempSync(join(tmpdir(), 'chat-bench-dirty-'));
    t.after(() => rmSync(repo, { recursive: true, force: true }));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'ignore' });
    mkdirSync(join(repo, 'docs/charts'), { recursive: true });
    for (const file of [
      'docs/performance.json',
      'docs/performance.md',
      'docs/charts/latency.svg',
      'app.ts',
    ]) {
      writeFileSync(join(repo, file), 'before\n');
    }
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-qm', 'clean');
    assert.equal(workTreeDirty(repo), false);

    writeFileSync(join(repo, 'docs/performance.json'), '{"after":1}\n');
    writeFileSync(join(repo, 'docs/performance.md'), 'after\n');
    writeFileSync(join(repo, 'docs/charts/latency.svg'), 'after\n');
    writeFileSync(join(repo, 'docs/charts/new.svg'), 'new\n');
    assert.equal(workTreeDirty(repo), false, 'a section run before this one wrote these');
    assert.equal(workTreeDirty(join(repo, 'docs')), false, 'the same from a folder inside');

    writeFileSync(join(repo, 'app.ts'), 'after\n');
    assert.equal(workTreeDirty(repo), true);
    git('checkout', '-q', 'app.ts');
    writeFileSync(join(repo, 'docs/architecture.md'), 'new\n');
    assert.equal(workTreeDirty(repo), true, 'other docs are not bench output');
  });
});
