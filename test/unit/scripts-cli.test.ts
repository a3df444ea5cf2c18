/**
 * The command line of the scripts in scripts/ (scripts/cli.ts): `--help` prints the usage
 * and exits 0 without doing anything; an unknown flag or a stray argument is refused with
 * the usage and exit code 2. Each script is run as a user runs it (a child process).
 * Run: npx tsx --test test/unit/scripts-cli.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCommandLine } from '../../scripts/cli.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = [
  'token',
  'soak',
  'bench',
  'smoke',
  'specs',
  'fan-out-timing',
  'backfill-online-groups',
  'cpu-per-message',
];

describe('readCommandLine', () => {
  const spec = {
    options: { ttl: { type: 'string' }, check: { type: 'boolean' } },
    maxPositionals: 1,
  } as const;

  test('values and positionals', () => {
    const outcome = readCommandLine(['alice', '--ttl', '60', '--check'], spec);
    assert.equal(outcome.kind, 'run');
    if (outcome.kind !== 'run') return;
    assert.equal(outcome.values.ttl, '60');
    assert.equal(outcome.values.check, true);
    assert.deepEqual(outcome.positionals, ['alice']);
  });

  test('--help and -h win over everything else', () => {
    assert.deepEqual(readCommandLine(['--help'], spec), { kind: 'help' });
    assert.deepEqual(readCommandLine(['alice', '-h'], spec), { kind: 'help' });
  });

  test('an unknown flag, a missing value and a stray argument are errors that name the problem', () => {
    assert.deepEqual(readCommandLine(['--bogus'], spec), {
      kind: 'error',
      message: 'Unknown option --bogus.',
    });
    const missing = readCommandLine(['--ttl'], spec);
    assert.equal(missing.kind, 'error');
    assert.match(missing.kind === 'error' ? missing.message : '', /--ttl/);
    assert.deepEqual(readCommandLine(['alice', 'bob'], spec), {
      kind: 'error',
      message: 'Unexpected arguments: bob',
    });
    assert.deepEqual(readCommandLine(['x'], { options: {} }), {
      kind: 'error',
      message: 'Unexpected arguments: x',
    });
  });
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(name: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('every script', { timeout: 120_000 }, () => {
  for (const name of SCRIPTS) {
    test(`${name} --help prints its usage and exits 0`, async () => {
      const run = await runScript(name, ['--help']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^Usage: /);
      assert.equal(run.stderr, '');
    });

    test(`${name} --no-such-flag is refused with its usage and exit code 2`, async () => {
      const run = await runScript(name, ['--no-such-flag']);
      assert.equal(run.code, 2, run.stdout);
      assert.match(run.stderr, /^Unknown option --no-such-flag\.\n\nUsage: /);
      assert.equal(run.stdout, '');
    });
  }
});
