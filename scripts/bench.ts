/**
 * `npm run bench [-- --smoke] [--only <sections>] [--out <dir>]`: the
 * performance figures of docs/performance.md, measured and written in one go — DynamoDB
 * requests and capacity, Management API calls and Lambda invocations per operation; cost
 * per million operations; broadcast fan-out time over real sockets; side by side with AWS's
 * simple-websockets-chat-app (Scan + post to all) in the same runtime; bundle sizes and
 * module init; 1:1 latency of the local runtime under load (through `npm run soak`). It
 * writes docs/performance.json, docs/performance.md and docs/charts/*.svg. `--only` keeps
 * the other sections from docs/performance.json, each with the commit and load average it
 * was measured with (scripts/bench/section-runs.ts); the page's header shows their range.
 *
 * A benchmark, not a test: the figures depend on the machine. `--smoke` runs every section
 * at toy sizes into a temporary directory (CI runs it through test/e2e/bench-script.test.ts
 * only to keep this script working).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { type AttachmentsOptions, runAttachmentsSection } from './bench/attachments.ts';
import { type BundlesOptions, runBundlesSection } from './bench/bundles.ts';
import { fanOutChart, latencyChart } from './bench/charts.ts';
import { type ConversationsOptions, runConversationsSection } from './bench/conversations.ts';
import { type DynamoOptions, runDynamoSection } from './bench/dynamo.ts';
import { type FanOutOptions, runFanOutSection } from './bench/fanout.ts';
import { type GroupsOptions, runGroupsSection } from './bench/groups.ts';
import { type LatencyOptions, runLatencySection } from './bench/latency.ts';
import { machineFacts, round, sampleLoad } from './bench/machine.ts';
import { type PresenceAccuracyOptions, runPresenceAccuracySection } from './bench/presence-accuracy.ts';
import { computeCosts, computeTargets, renderMarkdown, type Target } from './bench/report.ts';
import { type RichOptions, runRichSection } from './bench/rich.ts';
import { runSampleSection, type SampleOptions } from './bench/sample.ts';
import { sectionRunsOf, startSectionRun } from './bench/section-runs.ts';
import { type Results, SECTIONS, type SectionName } from './bench/types.ts';
import { commandLine } from './cli.ts';

const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));

const USAGE = `Usage: npm run bench -- [options]

Measures what docs/performance.md reports and writes it, with docs/performance.json and
docs/charts/*.svg. About 30 minutes on 2 cores (28 for the last full run); nothing else should run meanwhile.

Options:
  --only <list>   sections to measure, comma-separated: ${SECTIONS.join(', ')}
                  (the others are kept from the existing performance.json)
  --smoke         toy sizes, into a temporary directory (keeps the script working; CI)
  --out <dir>     where to write (default docs/, or a temporary directory with --smoke)
  --render-only   measure nothing: rewrite the page and charts from the existing performance.json
  -h, --help      shows this help`;

interface Sizes {
  readonly dynamo: Omit<DynamoOptions, 'log'>;
  readonly fanout: Omit<FanOutOptions, 'log'>;
  readonly sample: Omit<SampleOptions, 'log'>;
  readonly bundles: Omit<BundlesOptions, 'log'>;
  readonly latency: Omit<LatencyOptions, 'log'>;
  readonly conversations: Omit<ConversationsOptions, 'log'>;
  readonly groups: Omit<GroupsOptions, 'log'>;
  readonly rich: Omit<RichOptions, 'log'>;
  readonly attachments: Omit<AttachmentsOptions, 'log'>;
  readonly presence: Omit<PresenceAccuracyOptions, 'log'>;
}

const FULL: Sizes = {
  dynamo: { scales: [100, 10_000], groupSizes: [100, 1000], onlineShare: 0.1, repetitions: 5 },
  fanout: { sizes: [100, 1000, 3000, 10_000], repetitions: 3, connectConcurrency: 100 },
  sample: { scales: [100, 1000, 10_000], repetitions: 3, connectConcurrency: 100 },
  bundles: { runs: 10 },
  latency: {
    connections: 1000,
    rates: [100, 200, 300, 500],
    repeatRates: [200, 300],
    runsPerRate: 3,
    seconds: 20,
    searchSteps: 3,
    searchSeconds: 15,
    p99LimitMs: 50,
    connectConcurrency: 100,
  },
  conversations: { conversations: 1000, groups: 10, pageSizes: [20, 50], repetitions: 3 },
  groups: { members: 1000, repetitions: 3 },
  rich: { repetitions: 5 },
  attachments: { members: 10, repetitions: 3 },
  presence: { clients: 1000, closed: 200, dropped: 200 },
};

const SMOKE: Sizes = {
  dynamo: { scales: [10, 60], groupSizes: [20, 40], onlineShare: 0.1, repetitions: 1 },
  fanout: { sizes: [10, 30], repetitions: 1, connectConcurrency: 20, workerThreshold: 15 },
  sample: { scales: [10, 30], repetitions: 1, connectConcurrency: 20 },
  bundles: { runs: 2, functions: ['ping', 'sendMessage'] },
  latency: {
    connections: 10,
    rates: [20],
    repeatRates: [20],
    runsPerRate: 2,
    seconds: 2,
    searchSteps: 0,
    searchSeconds: 2,
    p99LimitMs: 50,
    connectConcurrency: 10,
  },
  conversations: { conversations: 30, groups: 3, pageSizes: [5, 20], repetitions: 1 },
  groups: { members: 5, repetitions: 1 },
  rich: { repetitions: 1 },
  attachments: { members: 3, repetitions: 1 },
  presence: { clients: 20, closed: 4, dropped: 4 },
};

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseOptions() {
  const { values } = commandLine(USAGE, {
    options: {
      only: { type: 'string' },
      smoke: { type: 'boolean' },
      out: { type: 'string' },
      'render-only': { type: 'boolean' },
    },
  });
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of only ?? []) {
    if (!(SECTIONS as readonly string[]).includes(name)) fail(`Unknown section "${name}".`);
  }
  const smoke = values.smoke === true;
  const out = values.out
    ? resolve(values.out)
    : smoke
      ? mkdtempSync(join(tmpdir(), 'chat-bench-smoke-'))
      : join(REPOSITORY_ROOT, 'docs');
  const renderOnly = values['render-only'] === true;
  return {
    sections: renderOnly ? [] : ((only ?? [...SECTIONS]) as SectionName[]),
    smoke,
    out,
    partial: only !== undefined || renderOnly,
    renderOnly,
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const options = parseOptions();
  const sizes = options.smoke ? SMOKE : FULL;
  const startedAt = performance.now();
  const stopSampling = sampleLoad();
  const jsonPath = join(options.out, 'performance.json');
  const previous: Partial<Results> =
    options.partial && existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Results) : {};
  const args = process.argv.slice(2);
  if (options.renderOnly && !previous.schemaVersion) fail(`--render-only needs ${jsonPath}.`);
  const results: Results = options.renderOnly
    ? (previous as Results)
    : {
        schemaVersion: 1,
        generatedAt: new Date().toISOString(),
        command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
        smoke: options.smoke,
        machine: machineFacts(),
        ...(previous.dynamo ? { dynamo: previous.dynamo } : {}),
        ...(previous.fanout ? { fanout: previous.fanout } : {}),
        ...(previous.sample ? { sample: previous.sample } : {}),
        ...(previous.bundles ? { bundles: previous.bundles } : {}),
        ...(previous.latency ? { latency: previous.latency } : {}),
        ...(previous.conversations ? { conversations: previous.conversations } : {}),
        ...(previous.groups ? { groups: previous.groups } : {}),
        ...(previous.rich ? { rich: previous.rich } : {}),
        ...(previous.attachments ? { attachments: previous.attachments } : {}),
        ...(previous.presence ? { presence: previous.presence } : {}),
        measuredAt: { ...previous.measuredAt },
        sectionRuns: sectionRunsOf(previous),
        totalSeconds: 0,
      };
  log(
    `bench${options.smoke ? ' (smoke)' : ''}: ${options.sections.join(', ')} → ${options.out} (load average ${loadavg()[0]?.toFixed(2)})`,
  );
  for (const section of options.sections) {
    const sectionStarted = performance.now();
    const endSectionRun = startSectionRun(results.machine);
    log(`\n[${section}]`);
    switch (section) {
      case 'dynamo':
        results.dynamo = await runDynamoSection({ ...sizes.dynamo, log });
        break;
      case 'fanout':
        results.fanout = await runFanOutSection({ ...sizes.fanout, log });
        break;
      case 'sample':
        results.sample = await runSampleSection({ ...sizes.sample, log });
        break;
      case 'bundles':
        results.bundles = await runBundlesSection({ ...sizes.bundles, log });
        break;
      case 'latency':
        results.latency = await runLatencySection({ ...sizes.latency, log });
        break;
      case 'conversations':
        results.conversations = await runConversationsSection({ ...sizes.conversations, log });
        break;
      case 'groups':
        results.groups = await runGroupsSection({ ...sizes.groups, log });
        break;
      case 'rich':
        results.rich = await runRichSection({ ...sizes.rich, log });
        break;
      case 'attachments':
        results.attachments = await runAttachmentsSection({ ...sizes.attachments, log });
        break;
      case 'presence':
        results.presence = await runPresenceAccuracySection({ ...sizes.presence, log });
        break;
    }
    const run = endSectionRun();
    results.measuredAt[section] = run.at;
    results.sectionRuns = { ...results.sectionRuns, [section]: run };
    log(`[${section}] ${round((performance.now() - sectionStarted) / 1000, 0)} s`);
  }
  const loadMax = stopSampling();
  if (!options.renderOnly) {
    results.machine.loadAverageAtEnd = round(loadavg()[0] ?? 0, 2);
    results.machine.loadAverageMax = loadMax;
    results.totalSeconds = round((performance.now() - startedAt) / 1000, 0);
  }
  results.cost = computeCosts(results);
  const targets = computeTargets(results);
  results.targets = targets;

  mkdirSync(join(options.out, 'charts'), { recursive: true });
  const charts: { fanout?: string; latency?: string } = {};
  if (results.fanout && results.fanout.points.length > 0) {
    writeFileSync(join(options.out, 'charts/fanout.svg'), await fanOutChart(results.fanout, 10, 10_000));
    charts.fanout = 'charts/fanout.svg';
  }
  if (results.latency && results.latency.points.length > 0) {
    writeFileSync(join(options.out, 'charts/latency.svg'), await latencyChart(results.latency));
    charts.latency = 'charts/latency.svg';
  }
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(options.out, 'performance.md'), `${renderMarkdown(results, charts)}\n`);

  log('\ntargets');
  for (const target of targets as Target[]) {
    const result = target.met === null ? 'not measured' : target.met ? 'met' : 'MISSED';
    log(`  ${result.padEnd(7)} ${target.target}: ${target.measured} (${target.margin})`);
  }
  log(`\nwrote ${jsonPath}, performance.md and charts/ in ${options.out} (${results.totalSeconds} s)`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
