/**
 * `npm run bench -- --smoke` (scripts/bench.ts) as CI runs it: every section at toy sizes
 * into a temporary directory. Benchmarks are scripts, not tests: this only keeps the script
 * working — it checks that the run succeeds and that the JSON, the page and the charts
 * have every section. No figure is asserted.
 * Run: npx tsx --test test/e2e/bench-script.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * When to give up on the bench (it is then killed). Only a bound for a hung run: the
 * smoke run takes about 70 s on an idle 2-core machine, against DynamoDB Local at load
 * average 23 it had not finished after 170 s (the JVM shares the cores).
 */
const GIVE_UP_MS = 480_000;

function runBench(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const { JWT_SECRET: _ignored, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      child.kill('SIGKILL');
    }, GIVE_UP_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const note = gaveUp ? `\n(killed by this test: not finished after ${GIVE_UP_MS / 1000} s)` : '';
      resolve({ code, output: output + note });
    });
  });
}

describe('npm run bench -- --smoke', { timeout: GIVE_UP_MS + 20_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-script-test-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  test('measures every section and writes the JSON, the page and the charts', async () => {
    const run = await runBench(['--smoke', '--out', out]);
    assert.equal(run.code, 0, `exit code ${run.code}\n${run.output}`);

    const results = JSON.parse(readFileSync(join(out, 'performance.json'), 'utf8'));
    assert.equal(results.smoke, true);
    for (const key of [
      'machine',
      'dynamo',
      'fanout',
      'sample',
      'bundles',
      'latency',
      'conversations',
      'groups',
      'rich',
      'attachments',
      'presence',
      'cost',
      'targets',
      'measuredAt',
    ]) {
      assert.ok(results[key], `performance.json has "${key}"`);
    }
    assert.deepEqual(Object.keys(results.measuredAt).sort(), [
      'attachments',
      'bundles',
      'conversations',
      'dynamo',
      'fanout',
      'groups',
      'latency',
      'presence',
      'rich',
      'sample',
    ]);
    // Each section keeps the commit and load average it was measured with (for --only runs).
    assert.deepEqual(Object.keys(results.sectionRuns).sort(), Object.keys(results.measuredAt).sort());
    for (const run of Object.values(results.sectionRuns) as { gitCommit: string; loadAverageMax: number }[]) {
      assert.equal(run.gitCommit, results.machine.gitCommit);
      assert.equal(typeof run.loadAverageMax, 'number');
    }
    assert.match(
      readFileSync(join(out, 'performance.md'), 'utf8'),
      /\| section \| measured \(UTC\) \| commit \| load average at start, at most \|/,
    );
    const listing = results.conversations.operations.map((op: { operation: string }) => op.operation);
    for (const operation of ['list-5', 'list-20', 'list-send-direct', 'list-send-group']) {
      assert.ok(listing.includes(operation), operation);
    }

    const groupSteps = results.groups.operations.map((op: { operation: string }) => op.operation);
    for (const step of [
      'add',
      'remove',
      'leave',
      'role',
      'rename',
      'info',
      'list',
      // The pushes to the online members, measured with members connected.
      'send-online',
      'rename-online',
      'read-online',
      'recall-online',
      'delete',
      // create_group once an invitee blocked the owner: the block check alone.
      'create-refused',
    ]) {
      assert.ok(groupSteps.includes(`group-${step}`), step);
    }
    assert.ok(
      groupSteps.some((op: string) => op.startsWith('group-create-')),
      'create',
    );
    for (const op of results.groups.operations) assert.ok(op.dynamoRequests >= 1, op.label);

    const rich = Object.fromEntries(
      results.rich.operations.map((op: { operation: string; byOperation: Record<string, unknown> }) => [
        op.operation,
        Object.keys(op.byOperation),
      ]),
    );
    for (const step of ['edit', 'react', 'react-again', 'unreact', 'typing'])
      assert.ok(rich[`rich-${step}`], step);
    // Typing reads the recipient's connections and block row, and writes nothing.
    assert.deepEqual(
      rich['rich-typing'].filter(
        (key: string) => !key.startsWith('GetItem') && !key.startsWith('BatchGetItem'),
      ),
      [],
    );

    // Counted by the local S3: the PUT, then the send's HeadObject and CopyObject; presigned URLs cost nothing.
    assert.deepEqual(
      results.attachments.steps.map((step: { s3Requests: number }) => step.s3Requests),
      [0, 1, 2, 0, 0],
    );

    // Dropped without $disconnect, counted until the sweep ran; exact after it.
    assert.deepEqual(results.presence.afterSweep, results.presence.trueOnline);
    assert.equal(
      results.presence.beforeSweep.connections,
      results.presence.trueOnline.connections + results.presence.dropped,
    );

    const operations = results.dynamo.operations.map((op: { operation: string }) => op.operation);
    for (const operation of ['direct', 'broadcast', 'connect-alone', 'disconnect-alone'])
      assert.ok(operations.includes(operation), operation);
    assert.ok(
      operations.some((op: string) => op.startsWith('connect-group-')),
      '$connect of a group member',
    );

    // The AWS sample's message reached every real socket at each scale, by one Scan.
    for (const point of results.sample.points) {
      assert.equal(point.delivered.sample, point.connections);
      assert.equal(point.delivered.broadcast, point.connections);
      assert.deepEqual(Object.keys(point.sample.byOperation), ['Scan sample-connections']);
    }
    // A target's rate is the median of its runs, each kept.
    assert.ok(results.latency.points.some((p: { runs?: unknown[] }) => (p.runs?.length ?? 0) > 1));
    assert.ok(
      operations.some((op: string) => op.startsWith('group-')),
      'a group operation',
    );
    for (const op of results.dynamo.operations) {
      assert.equal(typeof op.dynamoRequests, 'number');
      assert.equal(typeof op.writeUnits, 'number');
      assert.equal(typeof op.managementPosts, 'number');
      assert.ok(op.lambdaInvocations >= 1, `${op.label} ran at least one function`);
    }
    assert.ok(results.fanout.points.length > 0);
    assert.ok(
      results.fanout.points.every(
        (p: { delivered: number; connections: number }) => p.delivered === p.connections,
      ),
    );
    assert.ok(results.bundles.functions.length > 0);
    for (const bundle of results.bundles.functions) {
      assert.ok(bundle.bundled.bytes > 0 && bundle.external.bytes > 0);
      assert.equal(typeof bundle.bundled.initMsMedian, 'number');
    }
    assert.ok(results.latency.points.length > 0);
    assert.ok(results.cost.length > 0);
    assert.ok(results.targets.length > 0);

    const page = readFileSync(join(out, 'performance.md'), 'utf8');
    for (const heading of [
      '## Targets',
      '## DynamoDB, Management API and Lambda per operation',
      '## Cost per million operations',
      '## Broadcast fan-out',
      "## Side by side with AWS's simple-websockets-chat-app",
      '## Bundles and module init',
      '## Local runtime: 1:1 latency under load',
    ]) {
      assert.ok(page.includes(heading), `performance.md has "${heading}"`);
    }
    for (const chart of ['fanout.svg', 'latency.svg']) {
      const file = join(out, 'charts', chart);
      assert.ok(existsSync(file), chart);
      assert.match(readFileSync(file, 'utf8'), /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(page.includes(`charts/${chart}`), `performance.md embeds ${chart}`);
    }
  });
});
