/**
 * `npm run smoke` (scripts/smoke.ts) as a user runs it: a child process against a test
 * runtime, once with good tokens (every check passes, exit 0) and once with a refused
 * token (exit 1, a message saying why).
 * Run: npx tsx --test test/e2e/smoke-script.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const CHECKS = [
  'connect A',
  'welcome A',
  'connect B',
  'ping',
  '1:1 message A → B',
  'group message',
  'online count (HTTP)',
  'online check B (HTTP)',
  'history (HTTP)',
  'history (WebSocket)',
  'unknown command → 1000',
  'non-JSON frame → 1001',
  'clean close',
];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runSmoke(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const { JWT_SECRET: _ignored, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/smoke.ts', ...args], {
      cwd: repoRoot,
      env,
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
    const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run smoke', { timeout: 15_000 }, () => {
  let runtime: LocalRuntime;
  let target: string[];

  before(async () => {
    runtime = await startTestRuntime();
    target = ['--url', runtime.wsUrl, '--http', runtime.httpUrl, '--timeout', '5'];
  });
  after(() => runtime?.stop());

  test('passes every check against the local runtime', async () => {
    const [tokenA, tokenB] = await Promise.all([tokenFor(runtime, 'smoke-1'), tokenFor(runtime, 'smoke-2')]);
    const run = await runSmoke([...target, '--token', tokenA, '--token2', tokenB]);
    assert.equal(run.code, 0, `exit code ${run.code}\n${run.stdout}\n${run.stderr}`);
    for (const name of CHECKS) {
      assert.match(
        run.stdout,
        new RegExp(`^✔ ${escapeRegExp(name)} \\(\\d+ ms\\)`, 'm'),
        `${name} passed\n${run.stdout}`,
      );
    }
    assert.doesNotMatch(run.stdout, /^✖/m);
    assert.match(run.stdout, new RegExp(`^${CHECKS.length} passed, 0 failed$`, 'm'));
  });

  test('without tokens against a local runtime (the first example of --help): tokens from POST /dev/token, every check passes', async () => {
    const run = await runSmoke(target);
    assert.equal(run.code, 0, `exit code ${run.code}\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /tokens {4}from POST \/dev\/token for A and B/);
    assert.match(run.stdout, new RegExp(`^${CHECKS.length} passed, 0 failed$`, 'm'));
  });

  test('without tokens or a secret against a non-local deployment: exit 2 and how to get tokens', async () => {
    const run = await runSmoke(['--url', 'wss://example.invalid/prod', '--http', 'https://example.invalid/']);
    assert.equal(run.code, 2, `exit code ${run.code}\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /^Missing --token and --token2\./m);
  });

  test('fails with exit code 1 and says why when the token is refused', async () => {
    const tokenB = await tokenFor(runtime, 'smoke-2');
    const run = await runSmoke([...target, '--token', 'not-a-jwt', '--token2', tokenB]);
    assert.equal(run.code, 1, `exit code ${run.code}\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^✖ connect A: handshake refused with HTTP 401 — the token was refused/m);
    assert.match(run.stdout, /^0 passed, 1 failed, \d+ skipped$/m);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
