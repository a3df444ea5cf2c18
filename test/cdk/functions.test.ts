/**
 * The functions, synthesized with real esbuild bundling: this file also checks that every
 * handler bundles into one self-contained ESM file that Node can load.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ESM_REQUIRE_SHIM } from '../../lib/constructs/chat-function.ts';
import { pascalCase } from '../../lib/constructs/naming.ts';
import {
  type FunctionId,
  functionSpecs,
  webSocketAuthorizer,
  webSocketRoutes,
} from '../../lib/function-specs.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import { type CfnResource, lambdaEnvironment, property, resourcesOfType } from '../support/cdk-template.ts';

// Outside the repository, so a bundle that still imports a package from node_modules fails to load.
const outdir = mkdtempSync(path.join(tmpdir(), 'chat-cdk-test-'));
after(() => rmSync(outdir, { recursive: true, force: true }));
const { template, stack, logicalId } = synthChatStack({}, { bundle: true, outdir });

const functionIds = Object.keys(functionSpecs) as FunctionId[];
const resourceOf = (id: FunctionId): CfnResource => {
  const resource = resourcesOfType(template, 'AWS::Lambda::Function')[
    logicalId(stack.functions[id].function)
  ];
  assert.ok(resource, `no AWS::Lambda::Function for ${id}`);
  return resource;
};
const environmentOf = (id: FunctionId) => lambdaEnvironment(resourceOf(id));
const bundleDirOf = (id: FunctionId) => {
  const code = property<{ S3Key: string }>(resourceOf(id), 'Code');
  return path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
};
// The $connect authorizer is invoked synchronously on every handshake, like a route.
const routed = new Set<string>([
  ...Object.values(webSocketRoutes),
  webSocketAuthorizer.functionId,
  'httpApi',
  // POST /api/ws/uploads has a function of its own.
  'createUpload',
]);

describe('Lambda functions', () => {
  it('creates one function per spec', () => {
    template.resourceCountIs('AWS::Lambda::Function', functionIds.length);
  });

  for (const functionId of functionIds) {
    const spec = functionSpecs[functionId];

    describe(functionId, () => {
      it(`runs the ESM bundle on Node.js 22, arm64, ${spec.memorySize ?? 256} MB`, () => {
        const properties = resourceOf(functionId).Properties ?? {};
        assert.equal(properties.Runtime, 'nodejs22.x');
        assert.deepEqual(properties.Architectures, ['arm64']);
        assert.equal(properties.Handler, 'index.handler');
        assert.equal(properties.MemorySize, spec.memorySize ?? 256);
        assert.equal(properties.Description, spec.description);
      });

      it(
        routed.has(functionId)
          ? 'times out before API Gateway does (29 s)'
          : 'has the timeout of its spec, else a short one',
        () => {
          const timeout = resourceOf(functionId).Properties?.Timeout as number;
          assert.equal(timeout, spec.timeoutSeconds ?? (routed.has(functionId) ? 28 : 15));
          if (routed.has(functionId)) assert.ok(timeout < 29);
        },
      );

      it('logs to its own log group kept for a month', () => {
        const logGroupId = logicalId(stack.functions[functionId].logGroup);
        const logGroup = resourcesOfType(template, 'AWS::Logs::LogGroup')[logGroupId];
        assert.equal(logGroup?.Properties?.RetentionInDays, 30);
        assert.equal(logGroup?.DeletionPolicy, 'Retain');
        assert.deepEqual(resourceOf(functionId).Properties?.LoggingConfig, { LogGroup: { Ref: logGroupId } });
      });

      it('gets the environment its handler reads', () => {
        const env = environmentOf(functionId);
        const expected: Record<string, string> = {
          BROADCAST_ALLOW_ALL: 'false',
          CONNECTION_TTL_SECONDS: '7800',
          MAX_GROUP_MEMBERS: '500',
        };
        for (const [tableId, definition] of Object.entries(tableDefinitions)) {
          expected[definition.envVar] =
            `\${${logicalId(stack.tables.tables[tableId as keyof typeof tableDefinitions])}}`;
        }
        if (spec.manageConnections) {
          expected.WS_CALLBACK_URL = `https://\${${logicalId(stack.webSocket.api)}}.execute-api.${TEST_ENV.region}.\${AWS::URLSuffix}/prod`;
        }
        if (spec.attachments?.length) {
          expected.ATTACHMENTS_BUCKET = `\${${logicalId(stack.attachments.bucket)}}`;
        }
        if (spec.verifiesTokens) {
          assert.ok(stack.jwt.generatedSecret);
          expected.JWT_SECRET_ID = `\${${logicalId(stack.jwt.generatedSecret)}}`;
        }
        for (const target of spec.invokes ?? []) {
          const nameEnvVar = functionSpecs[target].nameEnvVar;
          assert.ok(nameEnvVar, `${target} has no nameEnvVar`);
          // A function that invokes itself gets its own fixed name (a reference would be a cycle).
          expected[nameEnvVar] =
            target === functionId
              ? `${stack.stackName}-${pascalCase(functionId)}`
              : `\${${logicalId(stack.functions[target].function)}}`;
        }
        assert.deepEqual(env, expected);
      });

      it('is bundled as minified ESM with the require shim and a source map without sources', () => {
        const dir = bundleDirOf(functionId);
        const code = readFileSync(path.join(dir, 'index.mjs'), 'utf8');
        assert.ok(code.startsWith(ESM_REQUIRE_SHIM), 'bundle does not start with the createRequire shim');
        assert.match(code, /\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
        const map = JSON.parse(readFileSync(path.join(dir, 'index.mjs.map'), 'utf8')) as {
          sources: string[];
          sourcesContent?: unknown;
        };
        assert.ok(
          map.sources.some((source) => source.endsWith(spec.entry)),
          `map has no ${spec.entry}`,
        );
        assert.equal(map.sourcesContent, undefined);
        assert.ok(!existsSync(path.join(dir, 'node_modules')), 'bundle ships node_modules');
      });
    });
  }

  it('bundles every handler into a file Node loads on its own, SDK included', async () => {
    const results = await Promise.all(
      functionIds.map(async (functionId) => {
        const file = path.join(bundleDirOf(functionId), 'index.mjs');
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(file)}); console.log(typeof m.handler);`,
          ],
          { cwd: outdir, env: fakeLambdaEnvironment(functionId) },
        );
        return [functionId, stdout.trim()];
      }),
    );
    assert.deepEqual(
      Object.fromEntries(results),
      Object.fromEntries(functionIds.map((id) => [id, 'function'])),
    );
  });

  it('runs the bundled ping handler: the CommonJS parts of the SDK work in ESM', async () => {
    const file = path.join(bundleDirOf('ping'), 'index.mjs');
    const event = {
      body: JSON.stringify({ cmd: 'ping', request_id: 'r1' }),
      isBase64Encoded: false,
      requestContext: {
        connectionId: 'c1',
        routeKey: 'ping',
        requestId: 'a1',
        domainName: 'x',
        stage: 'prod',
        // ping checks the token's exp, as every command does (here: the year 2100).
        authorizer: { userId: 'u1', roles: '[]', tokenExpiresAt: '4102444800' },
      },
    };
    const script = `const { handler } = await import(${JSON.stringify(file)});
      console.log(JSON.stringify(await handler(${JSON.stringify(event)})));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: outdir,
      env: fakeLambdaEnvironment('ping'),
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200);
    assert.match(result.body, /pong/);
  });
});

/** The function's template environment with references replaced by plausible strings. */
function fakeLambdaEnvironment(functionId: FunctionId): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    AWS_REGION: TEST_ENV.region,
    AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE',
    AWS_SECRET_ACCESS_KEY: 'fake',
    LOG_LEVEL: 'error',
  };
  for (const [name, value] of Object.entries(environmentOf(functionId))) {
    env[name] = value.replace(/\$\{([\w:.]+)\}/g, (_, id: string) => id.replace(/\W/g, '').toLowerCase());
  }
  return env;
}
