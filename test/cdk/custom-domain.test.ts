/**
 * Custom domains (lib/constructs/chat-custom-domain.ts): regional domain names with the
 * certificate, API mappings to the WebSocket stage and the HTTP API's `$default` stage,
 * alias records when a hosted zone is given, outputs, the execute-api callback URL the
 * functions keep, nothing by default, errors for incomplete settings, the context keys
 * of bin/chat-app.ts and cdk-nag.
 * Run: npx tsx --test test/cdk/custom-domain.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ChatStack } from '../../lib/chat-stack.ts';
import type { ChatCustomDomainOptions } from '../../lib/constructs/chat-custom-domain.ts';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { cdkAppRunner } from '../support/cdk-app.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import { type CfnResource, lambdaEnvironment, render, resourcesOfType } from '../support/cdk-template.ts';

const CERTIFICATE_ARN = `arn:aws:acm:${TEST_ENV.region}:${TEST_ENV.account}:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
const FULL: ChatCustomDomainOptions = {
  domainName: 'ws.chat.example.com',
  httpDomainName: 'api.chat.example.com',
  certificateArn: CERTIFICATE_ARN,
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  hostedZoneName: 'example.com',
};

type Synth = ReturnType<typeof synthChatStack>;

const DOMAIN_TYPES = [
  'AWS::ApiGatewayV2::DomainName',
  'AWS::ApiGatewayV2::ApiMapping',
  'AWS::Route53::RecordSet',
] as const;

function only(synth: Synth, type: string, predicate: (resource: CfnResource) => boolean = () => true) {
  const matches = Object.entries(resourcesOfType(synth.template, type)).filter(([, r]) => predicate(r));
  assert.equal(matches.length, 1, `one ${type}, found ${matches.length}`);
  return matches[0] as [string, CfnResource];
}

function domainNamed(synth: Synth, name: string): [string, CfnResource] {
  return only(synth, 'AWS::ApiGatewayV2::DomainName', (r) => r.Properties?.DomainName === name);
}

function outputs(synth: Synth): Record<string, string> {
  const all = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
  return Object.fromEntries(Object.entries(all).map(([name, output]) => [name, render(output.Value)]));
}

describe('custom domains with a hosted zone', () => {
  const synth = synthChatStack({ stageName: 'live', customDomain: FULL });
  const webSocketApi = synth.logicalId(synth.stack.webSocket.api);
  const httpApi = synth.logicalId(synth.stack.httpApi.api);

  it('creates a regional TLS 1.2 domain name per API with the certificate', () => {
    for (const name of [FULL.domainName, FULL.httpDomainName] as string[]) {
      const [, domain] = domainNamed(synth, name);
      assert.deepEqual(domain.Properties?.DomainNameConfigurations, [
        { CertificateArn: CERTIFICATE_ARN, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' },
      ]);
    }
  });

  it('maps the WebSocket domain to the WebSocket stage and the HTTP domain to $default, at the root', () => {
    const mappings = resourcesOfType(synth.template, 'AWS::ApiGatewayV2::ApiMapping');
    const [wsDomain] = domainNamed(synth, FULL.domainName as string);
    const [httpDomain] = domainNamed(synth, FULL.httpDomainName as string);
    const wsStage = synth.logicalId(synth.stack.webSocket.stage);
    const httpStage = synth.logicalId(synth.stack.httpApi.stage);
    const described = Object.values(mappings).map((mapping) => ({
      api: render(mapping.Properties?.ApiId),
      domain: render(mapping.Properties?.DomainName),
      stage: mapping.Properties?.Stage,
      key: mapping.Properties?.ApiMappingKey,
      dependsOn: mapping.DependsOn ?? [],
    }));
    assert.deepEqual(
      described.map(({ dependsOn: _, ...rest }) => rest),
      [
        { api: `\${${webSocketApi}}`, domain: `\${${wsDomain}}`, stage: 'live', key: undefined },
        { api: `\${${httpApi}}`, domain: `\${${httpDomain}}`, stage: '$default', key: undefined },
      ],
    );
    // Created after the stages they name.
    assert.ok(described[0]?.dependsOn.includes(wsStage), JSON.stringify(described[0]));
    assert.ok(described[1]?.dependsOn.includes(httpStage), JSON.stringify(described[1]));
  });

  it('creates an alias A record per domain in the zone, to the domain’s regional name', () => {
    const records = Object.values(resourcesOfType(synth.template, 'AWS::Route53::RecordSet'));
    assert.equal(records.length, 2);
    for (const name of [FULL.domainName, FULL.httpDomainName] as string[]) {
      const [domainId] = domainNamed(synth, name);
      const record = records.find((r) => r.Properties?.Name === `${name}.`);
      assert.ok(record, `a record for ${name}`);
      assert.equal(record.Properties?.Type, 'A');
      assert.equal(record.Properties?.HostedZoneId, FULL.hostedZoneId);
      assert.deepEqual(record.Properties?.AliasTarget, {
        DNSName: { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] },
        HostedZoneId: { 'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'] },
      });
    }
  });

  it('outputs the custom URLs and the targets; the execute-api outputs stay', () => {
    const [wsDomain] = domainNamed(synth, FULL.domainName as string);
    const [httpDomain] = domainNamed(synth, FULL.httpDomainName as string);
    const values = outputs(synth);
    assert.equal(values.WebSocketCustomUrl, 'wss://ws.chat.example.com');
    assert.equal(values.HttpApiCustomUrl, 'https://api.chat.example.com/');
    assert.equal(values.WebSocketDomainTarget, `\${${wsDomain}.RegionalDomainName}`);
    assert.equal(values.HttpApiDomainTarget, `\${${httpDomain}.RegionalDomainName}`);
    assert.match(values.WebSocketUrl ?? '', /^wss:\/\/\$\{WebSocketApi\w+\}\.execute-api\./);
    assert.match(values.CallbackUrl ?? '', /\.execute-api\..*\/live$/);
  });

  it('keeps giving every function that manages connections the execute-api callback URL with the stage', () => {
    const functions = resourcesOfType(synth.template, 'AWS::Lambda::Function');
    const expected = `https://\${${webSocketApi}}.execute-api.${TEST_ENV.region}.\${AWS::URLSuffix}/live`;
    const managing = (Object.keys(functionSpecs) as FunctionId[]).filter(
      (id) => functionSpecs[id].manageConnections?.length,
    );
    assert.ok(managing.length > 0);
    for (const id of managing) {
      const environment = lambdaEnvironment(functions[synth.logicalId(synth.stack.functions[id].function)]);
      assert.equal(environment.WS_CALLBACK_URL, expected, id);
    }
    // No function is ever pointed at a custom domain.
    for (const [logicalId, fn] of Object.entries(functions)) {
      const text = JSON.stringify(fn.Properties?.Environment ?? {});
      assert.ok(!text.includes('example.com'), `${logicalId}: ${text}`);
    }
  });

  it('has no unacknowledged cdk-nag finding', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'chat-nag-domain-'));
    after(() => rmSync(outdir, { recursive: true, force: true }));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    new ChatStack(app, 'NagDomainStack', { env: TEST_ENV, customDomain: FULL });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let findings = '';
    try {
      app.synth();
    } catch (error) {
      const report = path.join(outdir, 'validation-report.json');
      findings = existsSync(report) ? readFileSync(report, 'utf8') : String(error);
    }
    assert.equal(findings, '', findings.slice(0, 4000));
  });
});

describe('custom domain variants', () => {
  it('creates no domain resources and no custom outputs by default', () => {
    const synth = synthChatStack();
    for (const type of DOMAIN_TYPES) synth.template.resourceCountIs(type, 0);
    assert.equal(synth.stack.customDomain, undefined);
    const names = Object.keys(outputs(synth));
    assert.ok(!names.some((name) => /Custom|DomainTarget/.test(name)), names.join(', '));
  });

  it('without a zone: domain and mapping, no record; the target output says where to point the name', () => {
    const synth = synthChatStack({
      customDomain: { domainName: 'chat.example.org', certificateArn: CERTIFICATE_ARN },
    });
    synth.template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 1);
    synth.template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    synth.template.resourceCountIs('AWS::Route53::RecordSet', 0);
    const [, mapping] = only(synth, 'AWS::ApiGatewayV2::ApiMapping');
    assert.equal(mapping.Properties?.Stage, 'prod');
    const values = outputs(synth);
    assert.equal(values.WebSocketCustomUrl, 'wss://chat.example.org');
    assert.ok(values.WebSocketDomainTarget);
    assert.equal(values.HttpApiCustomUrl, undefined);
  });

  it('HTTP API only: one domain mapped to $default', () => {
    const synth = synthChatStack({
      customDomain: { httpDomainName: 'api.example.org', certificateArn: CERTIFICATE_ARN },
    });
    const [, mapping] = only(synth, 'AWS::ApiGatewayV2::ApiMapping');
    assert.equal(render(mapping.Properties?.ApiId), `\${${synth.logicalId(synth.stack.httpApi.api)}}`);
    assert.equal(mapping.Properties?.Stage, '$default');
    assert.equal(outputs(synth).WebSocketCustomUrl, undefined);
  });
});

describe('custom domain errors', () => {
  const fails = (customDomain: ChatCustomDomainOptions, pattern: RegExp) =>
    assert.throws(
      () =>
        new ChatStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bad', {
          env: TEST_ENV,
          customDomain,
        }),
      pattern,
    );

  it('a domain without a certificate: names the domain and says what to pass', () => {
    fails(
      { domainName: 'ws.example.com' },
      /needs certificateArn.*received domainName=ws\.example\.com without one.*-c certificateArn=/,
    );
  });

  it('a certificate or zone without any domain', () => {
    fails(
      { certificateArn: CERTIFICATE_ARN },
      /needs domainName .*and\/or httpDomainName.*received only certificateArn/,
    );
  });

  it('bad names, the same name twice, a certificate elsewhere, half a zone, a domain outside the zone', () => {
    fails(
      { domainName: 'Chat.Example.com', certificateArn: CERTIFICATE_ARN },
      /received "Chat\.Example\.com".*lower case/,
    );
    fails({ domainName: 'https://chat.example.com', certificateArn: CERTIFICATE_ARN }, /no scheme/);
    fails(
      { domainName: 'x.example.com', httpDomainName: 'x.example.com', certificateArn: CERTIFICATE_ARN },
      /must differ/,
    );
    fails({ domainName: 'x.example.com', certificateArn: 'not-an-arn' }, /received "not-an-arn"/);
    fails(
      {
        domainName: 'x.example.com',
        certificateArn: `arn:aws:acm:eu-west-1:${TEST_ENV.account}:certificate/abc`,
      },
      /stack's region \(us-east-1\).*received a certificate in eu-west-1/,
    );
    fails(
      { domainName: 'x.example.com', certificateArn: CERTIFICATE_ARN, hostedZoneId: 'Z1' },
      /go together.*received only hostedZoneId=Z1/,
    );
    fails(
      {
        domainName: 'x.example.net',
        certificateArn: CERTIFICATE_ARN,
        hostedZoneId: 'Z1',
        hostedZoneName: 'example.com',
      },
      /must lie in the hosted zone example\.com.*received "x\.example\.net"/,
    );
  });
});

describe('bin/chat-app.ts custom domain context keys', () => {
  const runApp = cdkAppRunner('chat-domain-app-');

  it('builds the domains from -c domainName/httpDomainName/certificateArn/hostedZoneId/hostedZoneName', async () => {
    const run = await runApp({
      ...FULL,
      certificateArn: CERTIFICATE_ARN.replace(TEST_ENV.region, 'eu-west-1'),
    });
    // The app is region-agnostic without CDK_DEFAULT_REGION, so any region's certificate passes.
    assert.equal(run.code, 0, run.stderr);
    const template = run.template('ChatStack');
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 2);
    template.resourceCountIs('AWS::Route53::RecordSet', 2);
  });

  it('reports a domain without a certificate', async () => {
    const run = await runApp({ domainName: 'ws.example.com' });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /needs certificateArn/);
  });
});
