/**
 * `npm run test:dynamodb-local`: the e2e suite against Amazon's DynamoDB Local instead of
 * the embedded dynalite. Each test file gets its own DynamoDB Local (in memory), as it gets
 * its own dynalite in `npm test`, and the runtime reaches it through DYNAMODB_ENDPOINT.
 * Whatever happens (a failing test, Ctrl-C), every JVM started here is killed before exit;
 * the runtimes live in the test processes, which end with their files.
 *
 * Arguments: test files (default: test/e2e/*.test.ts). DYNAMODB_LOCAL_CONCURRENCY (default 2).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';

/**
 * Files left out of the default run, and why (none now). Naming a file runs it anyway:
 * `npm run test:dynamodb-local -- test/e2e/groups.test.ts`. (bench-script was left out
 * for an ERR_IPC_CHANNEL_CLOSED: the test's own time limit had killed the bench at load
 * average 23, and the bench host, starting, crashed on the closed channel; see
 * docs/local-fidelity.md.)
 */
const NOT_YET_PASSING: Readonly<Record<string, string>> = {};

const named = process.argv.slice(2);
const files =
  named.length > 0
    ? named
    : readdirSync('test/e2e')
        .filter((name) => name.endsWith('.test.ts'))
        .sort()
        .map((name) => `test/e2e/${name}`)
        .filter((file) => {
          const why = NOT_YET_PASSING[file];
          if (why) console.log(`left out: ${file} (${why})`);
          return why === undefined;
        });
const concurrency = Math.max(1, Number(process.env.DYNAMODB_LOCAL_CONCURRENCY ?? 2));
const running = new Set<DynamoDbLocal>();
let interrupted = false;

async function stopAll() {
  await Promise.all([...running].map((local) => local.stop()));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    void stopAll().then(() => process.exit(130));
  });
}

function runTestFile(file: string, endpoint: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
      env: { ...process.env, DYNAMODB_ENDPOINT: endpoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function runOne(file: string): Promise<boolean> {
  let local: DynamoDbLocal | undefined;
  try {
    local = await startDynamoDbLocal();
    running.add(local);
    const { code, output } = await runTestFile(file, local.endpoint);
    process.stdout.write(`\n--- ${file} (DynamoDB Local) ${code === 0 ? 'ok' : 'FAILED'}\n`);
    if (code !== 0 || process.env.DYNAMODB_LOCAL_VERBOSE === '1') process.stdout.write(output);
    else for (const line of output.split('\n')) if (line.includes('[dynamodb-local]')) console.log(line);
    return code === 0;
  } catch (error) {
    process.stdout.write(`\n--- ${file} (DynamoDB Local) FAILED to start: ${String(error)}\n`);
    return false;
  } finally {
    if (local) {
      await local.stop();
      running.delete(local);
    }
  }
}

const queue = [...files];
const failed: string[] = [];
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let file = queue.shift(); file !== undefined && !interrupted; file = queue.shift()) {
      if (!(await runOne(file))) failed.push(file);
    }
  }),
);
await stopAll();
console.log(`\nDynamoDB Local e2e: ${files.length - failed.length} of ${files.length} files passed.`);
if (failed.length > 0) {
  console.log(`Failed:\n  ${failed.sort().join('\n  ')}`);
  process.exit(1);
}
