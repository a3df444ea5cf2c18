/**
 * The local runtime's data-directory lock (local/dynamodb.ts): a second runtime on a live
 * owner's directory is refused; an owner that died — also one killed with `kill -9` whose
 * parent has not reaped it yet (a zombie, as under a container init that never reaps) — is
 * taken over, so a restart right after a crash works.
 * Run: npx tsx --test test/unit/data-dir-lock.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startEmbeddedDynamoDb } from '../../local/dynamodb.ts';
import { pollUntil } from '../support/http.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-lock-'));
  dirs.push(dir);
  return dir;
}

const pidFile = (dir: string) => join(dir, 'local-runtime.pid');

test('a directory owned by a live process is refused', async () => {
  const dir = dataDir();
  const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    writeFileSync(pidFile(dir), String(owner.pid));
    await assert.rejects(startEmbeddedDynamoDb(dir), /in use by another local runtime/);
  } finally {
    owner.kill('SIGKILL');
  }
});

test('a directory whose owner died unreaped (zombie) is taken over', {
  skip: process.platform !== 'linux',
}, async () => {
  const dir = dataDir();
  // `sh` starts a child that waits for the end of our pipe, prints its pid and becomes
  // `sleep 30`, which never reaps it. Only once the exec happened do we let the child exit,
  // so it cannot be reaped by `sh` first, however slow the machine is. The pipe goes in on
  // fd 3: POSIX gives a background job /dev/null as stdin, so `cat 0<&0 &` read /dev/null,
  // exited at once and was sometimes reaped by dash before the exec (the old flake).
  const parent = spawn('sh', ['-c', 'exec 3<&0; cat <&3 >/dev/null & echo $!; exec sleep 30'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  try {
    const zombie = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    await pollUntil(
      async () => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim(),
      (command) => command === 'sleep',
      'the shell to become `sleep`',
    );
    parent.stdin.end();
    await pollUntil(
      async () => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]?.[0],
      (state) => state === 'Z',
      'the child to become a zombie',
    );
    writeFileSync(pidFile(dir), String(zombie));
    const dynamo = await startEmbeddedDynamoDb(dir);
    assert.equal(readFileSync(pidFile(dir), 'utf8'), String(process.pid));
    await dynamo.close();
  } finally {
    parent.kill('SIGKILL');
  }
});
