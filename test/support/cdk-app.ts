/**
 * bin/chat-app.ts run the way the CDK CLI runs it: context in CDK_CONTEXT_JSON, the cloud
 * assembly written to CDK_OUTDIR, bundling skipped, and no account or region known (as
 * when synthesizing without credentials).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface AppRun {
  /** The app's exit code. */
  readonly code: number;
  readonly stderr: string;
  readonly outdir: string;
  /** The synthesized template of `stackName`. */
  template(stackName: string): Template;
}

/**
 * A function that runs the app with a context, each run in a new temporary directory
 * named after `prefix`; the directories are removed after the suite that asked for it.
 */
export function cdkAppRunner(prefix: string): (context: Record<string, unknown>) => Promise<AppRun> {
  const outdirs: string[] = [];
  after(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });
  return (context) => {
    const outdir = mkdtempSync(path.join(tmpdir(), prefix));
    outdirs.push(outdir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
    };
    delete env.CDK_DEFAULT_ACCOUNT;
    delete env.CDK_DEFAULT_REGION;
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/chat-app.ts'],
        { cwd: root, env },
        (error, _stdout, stderr) => {
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stderr,
            outdir,
            template: (stackName) =>
              Template.fromJSON(
                JSON.parse(readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8')),
              ),
          });
        },
      );
    });
  };
}
