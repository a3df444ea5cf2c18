/**
 * cdk-nag's AwsSolutions pack against the synthesized stack (bundling skipped), added the
 * way the app (bin/chat-app.ts) adds it: synth fails with a validation report on any
 * finding not acknowledged in lib/nag-suppressions.ts, and every acknowledgement there
 * states a reason.
 * Run: npx tsx --test test/cdk/nag.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ChatStack, type ChatStackProps } from '../../lib/chat-stack.ts';
import { checkWithCdkNag } from '../../lib/nag-check.ts';
import { NAG_ACKNOWLEDGEMENTS } from '../../lib/nag-suppressions.ts';
import { TEST_ENV } from '../support/cdk-stack.ts';

const outdirs: string[] = [];
after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Synthesizes with the pack; resolves with the unacknowledged findings' text ('' when none). */
function nagFindings(props: ChatStackProps): string {
  const outdir = mkdtempSync(path.join(tmpdir(), 'chat-nag-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  new ChatStack(app, 'NagChatStack', { env: TEST_ENV, ...props });
  checkWithCdkNag(app);
  try {
    app.synth();
    return '';
  } catch (error) {
    const report = path.join(outdir, 'validation-report.json');
    return existsSync(report) ? readFileSync(report, 'utf8') : String(error);
  }
}

describe('cdk-nag AwsSolutions', () => {
  // One synth (they are slow with the pack): the generated HS256 secret, the account-level
  // role, the optional SNS topic and event bus, i.e. every resource kind the stack can create.
  it('has no unacknowledged finding (default stack plus alarm e-mail, origins and events)', () => {
    const findings = nagFindings({
      alarmEmail: 'ops@example.com',
      allowedOrigins: ['https://chat.example.com'],
      events: {},
    });
    assert.equal(findings, '', `unacknowledged cdk-nag findings:\n${findings.slice(0, 4000)}`);
  });

  it('gives every acknowledgement a rule id and a reason of substance', () => {
    for (const list of Object.values(NAG_ACKNOWLEDGEMENTS)) {
      for (const { id, reason } of list) {
        assert.match(id, /^AwsSolutions-[A-Z]+\d+/);
        assert.ok(reason.length >= 80, `${id}: the reason is too short to explain anything`);
      }
    }
  });
});
