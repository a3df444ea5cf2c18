/**
 * The construct package (construct/, `serverless-chat-backend-cdk`) as a user gets it:
 * `npm pack` (which builds it), the tarball unpacked into the node_modules of a CDK app
 * outside the repository (as `npm install <tarball>` would, without a registry; the peer
 * dependencies aws-cdk-lib and constructs linked from this repository), a plain
 * JavaScript app that adds ChatBackend and a function of its own with the grants (and a
 * second stack with tracing on), run with plain Node. No esbuild, TypeScript or repository source is involved in its synth.
 * Run: npx tsx --test test/cdk/construct-package.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { ESM_REQUIRE_SHIM, PROJECT_ROOT } from '../../lib/constructs/chat-function.ts';
import { functionSpecs } from '../../lib/function-specs.ts';
import { tableDefinitions } from '../../lib/table-definitions.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import {
  type CfnResource,
  normalizeStatement,
  policyStatements,
  property,
  render,
  resourcesOfType,
} from '../support/cdk-template.ts';

const PACKAGE_NAME = 'serverless-chat-backend-cdk';

/** What a user's app looks like: the README's example plus a function of their own. */
const APP_SOURCE = `
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ChatBackend } from '${PACKAGE_NAME}';

const app = new App();
const stack = new Stack(app, 'ShopStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
const chat = new ChatBackend(stack, 'Chat', { stageName: 'live', retainData: false });

// The team's own function: reads history and pushes to the users' sockets.
const notifier = new lambda.Function(stack, 'OrderNotifier', {
  runtime: lambda.Runtime.NODEJS_22_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('export const handler = async () => {};'),
  environment: {
    MESSAGES_TABLE: chat.tables.messages.tableName,
    PRESENCE_TABLE: chat.tables.presence.tableName,
    CALLBACK_URL: chat.callbackUrl,
  },
});
chat.grantReadMessages(notifier);
chat.grantReadPresence(notifier);
chat.grantManageConnections(notifier);

// Another team's stack, with X-Ray tracing on.
const traced = new Stack(app, 'TracedStack', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
new ChatBackend(traced, 'Chat', { tracing: true, retainData: false, apiGatewayCloudWatchRole: false });
app.synth();
`;

interface AssetManifest {
  files: Record<string, { source: { path: string; packaging?: string } }>;
}

describe('the construct package in a CDK app outside the repository', () => {
  const workDir = mkdtempSync(path.join(tmpdir(), 'chat-construct-'));
  const appDir = path.join(workDir, 'app');
  const outdir = path.join(appDir, 'cdk.out');
  const installed = path.join(appDir, 'node_modules', PACKAGE_NAME);
  let synthOutput = '';
  let template: Template;
  let resources: Record<string, CfnResource>;
  after(() => rmSync(workDir, { recursive: true, force: true }));

  before(() => {
    execFileSync('npm', ['pack', '--pack-destination', workDir], {
      cwd: path.join(PROJECT_ROOT, 'construct'),
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const tarballs = readdirSync(workDir).filter((name) => name.endsWith('.tgz'));
    assert.deepEqual(tarballs, [`${PACKAGE_NAME}-0.1.0.tgz`]);

    mkdirSync(installed, { recursive: true });
    execFileSync('tar', [
      '-xzf',
      path.join(workDir, tarballs[0] as string),
      '--strip-components=1',
      '-C',
      installed,
    ]);
    for (const peer of ['aws-cdk-lib', 'constructs']) {
      symlinkSync(
        path.join(PROJECT_ROOT, 'node_modules', peer),
        path.join(appDir, 'node_modules', peer),
        'dir',
      );
    }
    writeFileSync(
      path.join(appDir, 'package.json'),
      JSON.stringify({ name: 'shop', private: true, type: 'module' }),
    );
    writeFileSync(path.join(appDir, 'app.mjs'), APP_SOURCE);

    const result = execFileSync(process.execPath, ['app.mjs'], {
      cwd: appDir,
      env: {
        PATH: process.env.PATH,
        CDK_OUTDIR: outdir,
        CDK_DEFAULT_ACCOUNT: TEST_ENV.account,
        CDK_DEFAULT_REGION: TEST_ENV.region,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    synthOutput = result;
    template = Template.fromJSON(
      JSON.parse(readFileSync(path.join(outdir, 'ShopStack.template.json'), 'utf8')),
    );
    resources = template.toJSON().Resources as Record<string, CfnResource>;
  });

  it('ships compiled JavaScript, declarations with .js specifiers, pre-built bundles, and no sources', () => {
    const files = readdirSync(installed, { recursive: true }).map(String);
    assert.ok(files.includes(path.join('dist', 'index.js')));
    assert.ok(files.includes(path.join('dist', 'index.d.ts')));
    assert.ok(files.includes('LICENSE'));
    assert.ok(files.includes('README.md'));
    assert.deepEqual(
      files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')),
      [],
      'TypeScript sources in the package',
    );
    for (const file of files.filter((name) => name.endsWith('.d.ts'))) {
      const text = readFileSync(path.join(installed, file), 'utf8');
      assert.doesNotMatch(text, /from ['"]\.{1,2}\/[^'"]*\.ts['"]/, `${file} imports a .ts path`);
    }
    assert.match(readFileSync(path.join(installed, 'dist', 'index.d.ts'), 'utf8'), /ChatBackend/);
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.license, 'MIT');
    assert.deepEqual(Object.keys(manifest.peerDependencies).sort(), ['aws-cdk-lib', 'constructs']);
    assert.equal(manifest.dependencies, undefined, 'the bundles carry every runtime dependency');
  });

  it('synthesizes without bundling anything', () => {
    assert.doesNotMatch(synthOutput, /Bundling asset/);
  });

  it('has the WebSocket API, the HTTP API and every table', () => {
    const apis = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Api'));
    assert.deepEqual(apis.map((api) => api.Properties?.ProtocolType).sort(), ['HTTP', 'WEBSOCKET']);
    const stage = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Stage')).find(
      (resource) => resource.Properties?.StageName === 'live',
    );
    assert.ok(stage, 'the WebSocket stage is named as the props say');
    assert.equal(
      Object.keys(resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')).length,
      Object.keys(tableDefinitions).length,
    );
  });

  it('deploys every function from its pre-built bundle, which is in the cloud assembly', () => {
    const assets = JSON.parse(
      readFileSync(path.join(outdir, 'ShopStack.assets.json'), 'utf8'),
    ) as AssetManifest;
    const chatFunctions = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).filter(
      ([id]) => !id.startsWith('OrderNotifier'),
    );
    assert.equal(chatFunctions.length, Object.keys(functionSpecs).length);
    for (const [id, fn] of chatFunctions) {
      const code = property<{ S3Key: string }>(fn, 'Code');
      const asset = assets.files[code.S3Key.replace(/\.zip$/, '')];
      assert.ok(asset, `${id}: no asset for ${code.S3Key}`);
      const bundle = readFileSync(path.join(outdir, asset.source.path, 'index.mjs'), 'utf8');
      assert.ok(bundle.startsWith(ESM_REQUIRE_SHIM), `${id}: not one of the package's bundles`);
      assert.ok(existsSync(path.join(outdir, asset.source.path, 'index.mjs.map')), `${id}: no source map`);
    }
  });

  it('deploys the traced bundles, with active tracing, when tracing is on', () => {
    const bundleOf = (stackName: string, fn: CfnResource) => {
      const assets = JSON.parse(
        readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8'),
      ) as AssetManifest;
      const asset = assets.files[property<{ S3Key: string }>(fn, 'Code').S3Key.replace(/\.zip$/, '')];
      assert.ok(asset);
      // index.mjs and its chunks (HANDLER_BUNDLING.splitting): the tracer may sit in a shared one.
      const dir = path.join(outdir, asset.source.path);
      return readdirSync(dir)
        .filter((file) => file.endsWith('.mjs'))
        .map((file) => readFileSync(path.join(dir, file), 'utf8'))
        .join('\n');
    };
    const tracedTemplate = Template.fromJSON(
      JSON.parse(readFileSync(path.join(outdir, 'TracedStack.template.json'), 'utf8')),
    );
    const tracedFunctions = Object.values(resourcesOfType(tracedTemplate, 'AWS::Lambda::Function'));
    assert.equal(tracedFunctions.length, Object.keys(functionSpecs).length);
    for (const fn of tracedFunctions) {
      assert.deepEqual(fn.Properties?.TracingConfig, { Mode: 'Active' });
      assert.match(bundleOf('TracedStack', fn), /AWS_XRAY_DAEMON_ADDRESS/);
    }
    const [, plain] = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).find(
      ([id]) => !id.startsWith('OrderNotifier'),
    ) as [string, CfnResource];
    assert.doesNotMatch(bundleOf('ShopStack', plain), /AWS_XRAY_DAEMON_ADDRESS/);
  });

  it("configures the functions as the repository's own stack does", () => {
    const shape = (fn: CfnResource) => {
      const variables = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      return JSON.stringify({
        description: fn.Properties?.Description,
        handler: fn.Properties?.Handler,
        runtime: fn.Properties?.Runtime,
        architectures: fn.Properties?.Architectures,
        memory: fn.Properties?.MemorySize,
        timeout: fn.Properties?.Timeout,
        tracing: fn.Properties?.TracingConfig,
        dlq: Boolean(fn.Properties?.DeadLetterConfig),
        environment: Object.keys(variables ?? {}).sort(),
      });
    };
    const ours = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function'))
      .filter(([id]) => !id.startsWith('OrderNotifier'))
      .map(([, fn]) => shape(fn))
      .sort();
    const repository = Object.values(resourcesOfType(synthChatStack().template, 'AWS::Lambda::Function'))
      .map(shape)
      .sort();
    assert.deepEqual(ours, repository);
  });

  it("grants the user's function exactly what the grants say", () => {
    const [roleId] = Object.keys(resources).filter((id) => id.startsWith('OrderNotifierServiceRole'));
    const statements = policyStatements(
      Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((policy) =>
        JSON.stringify(policy.Properties?.Roles).includes(`"${roleId}"`),
      ),
    ).map(({ statement }) => normalizeStatement(statement));
    const tableId = (prefix: string) => {
      const [id] = Object.keys(resourcesOfType(template, 'AWS::DynamoDB::GlobalTable')).filter((logicalId) =>
        logicalId.startsWith(prefix),
      );
      assert.ok(id, `no table ${prefix}`);
      return id;
    };
    const messagesTable = tableId('ChatTablesMessages');
    const messages = `\${${messagesTable}.Arn}`;
    const presence = `\${${tableId('ChatTablesPresence')}.Arn}`;
    const [webSocketApi] = Object.entries(resourcesOfType(template, 'AWS::ApiGatewayV2::Api'))
      .filter(([, api]) => api.Properties?.ProtocolType === 'WEBSOCKET')
      .map(([id]) => id);
    const read = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'];
    const expected = [
      {
        effect: 'Allow',
        actions: read,
        resources: [messages, `${messages}/index/byInbox`, `${messages}/index/byOutbox`].sort(),
      },
      { effect: 'Allow', actions: read, resources: [presence, `${presence}/index/byShard`].sort() },
      {
        effect: 'Allow',
        actions: ['execute-api:ManageConnections'],
        resources: [
          `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${webSocketApi}}/live/POST/@connections/*`,
        ],
      },
    ];
    const sortKey = (statement: unknown) => JSON.stringify(statement);
    assert.deepEqual(
      statements.sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
      expected.sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
    );
    const notifier = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('OrderNotifier'),
    )?.[1];
    const variables = property<{ Variables: Record<string, unknown> }>(notifier, 'Environment').Variables;
    assert.equal(render(variables.MESSAGES_TABLE), `\${${messagesTable}}`);
  });
});
