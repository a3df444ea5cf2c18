import { Stack, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

/** What the stack takes (context keys of the same names in bin/chat-app.ts). */
export interface ChatCustomDomainOptions {
  /**
   * Custom domain of the WebSocket API (`wss://{domainName}`), mapped at its root to the
   * WebSocket stage.
   *
   * @default - no custom domain for the WebSocket API
   */
  readonly domainName?: string;

  /**
   * Custom domain of the HTTP API (`https://{httpDomainName}/api/ws/…`), mapped at its root
   * to the `$default` stage. It must differ from `domainName`: API Gateway cannot map
   * WebSocket and HTTP APIs on one domain.
   *
   * @default - no custom domain for the HTTP API
   */
  readonly httpDomainName?: string;

  /**
   * ACM certificate covering every custom domain given (one name each, a SAN list or a
   * wildcard). Regional endpoints need it in the stack's own region.
   *
   * @default - none; required as soon as a domain is given
   */
  readonly certificateArn?: string;

  /**
   * Route 53 hosted zone in which to create an alias A record per custom domain. Needs
   * `hostedZoneName` too (synth stays offline: no zone lookup).
   *
   * @default - no records; point the names at the `…DomainTarget` outputs yourself
   */
  readonly hostedZoneId?: string;

  /**
   * Name of the zone `hostedZoneId` names (`example.com`); every custom domain must lie in it.
   *
   * @default - no records
   */
  readonly hostedZoneName?: string;
}

export interface ChatCustomDomainProps extends ChatCustomDomainOptions {
  /** The WebSocket API and the stage to map `domainName` to. */
  readonly webSocket: { readonly api: apigwv2.IWebSocketApi; readonly stage: apigwv2.IWebSocketStage };
  /** The HTTP API and the stage to map `httpDomainName` to. */
  readonly http: { readonly api: apigwv2.IHttpApi; readonly stage: apigwv2.IHttpStage };
}

/** One custom domain: the API Gateway domain, its API mapping and, with a zone, its record. */
export interface ChatDomain {
  readonly name: string;
  readonly domain: apigwv2.DomainName;
  readonly mapping: apigwv2.ApiMapping;
  readonly record?: route53.ARecord;
  /** The public URL through this domain (`wss://…` or `https://…/`). */
  readonly url: string;
}

/**
 * Custom domains for the WebSocket API and/or the HTTP API: regional API Gateway domain
 * names with a TLS 1.2 policy, API mappings at the root to the existing stages, and alias
 * records when a hosted zone is given.
 *
 * Only client-facing URLs change. The handlers keep posting to the Management API at the
 * execute-api endpoint with the stage (`WS_CALLBACK_URL`, set by the stack on every
 * function that manages connections): behind a custom domain, `requestContext.domainName`
 * is the custom name and has no stage in its path, so a callback URL derived from the
 * event would be wrong.
 */
export class ChatCustomDomain extends Construct {
  readonly webSocket?: ChatDomain;
  readonly http?: ChatDomain;
  readonly zone?: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: ChatCustomDomainProps) {
    super(scope, id);
    const { certificateArn, zoneName } = validateCustomDomainOptions(props, Stack.of(this).region);
    const certificate = acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn);
    if (props.hostedZoneId && zoneName) {
      this.zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: props.hostedZoneId,
        zoneName,
      });
    }
    const add = (
      prefix: 'WebSocket' | 'Http',
      name: string,
      api: apigwv2.IApi,
      stage: apigwv2.IStage,
      url: string,
    ): ChatDomain => {
      const domain = new apigwv2.DomainName(this, `${prefix}Domain`, {
        domainName: name,
        certificate,
        endpointType: apigwv2.EndpointType.REGIONAL,
        securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
      });
      const mapping = new apigwv2.ApiMapping(this, `${prefix}Mapping`, { api, domainName: domain, stage });
      const record = this.zone
        ? new route53.ARecord(this, `${prefix}Record`, {
            zone: this.zone,
            recordName: name,
            target: route53.RecordTarget.fromAlias(
              new targets.ApiGatewayv2DomainProperties(
                domain.regionalDomainName,
                domain.regionalHostedZoneId,
              ),
            ),
          })
        : undefined;
      return { name, domain, mapping, record, url };
    };
    if (props.domainName) {
      this.webSocket = add(
        'WebSocket',
        props.domainName,
        props.webSocket.api,
        props.webSocket.stage,
        `wss://${props.domainName}`,
      );
    }
    if (props.httpDomainName) {
      this.http = add(
        'Http',
        props.httpDomainName,
        props.http.api,
        props.http.stage,
        `https://${props.httpDomainName}/`,
      );
    }
  }
}

/** Lower-case host names of 2+ labels; no wildcard (WebSocket APIs cannot use one). */
const DOMAIN_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[A-Za-z0-9-]+$/;

const OPTION_KEYS = [
  'domainName',
  'httpDomainName',
  'certificateArn',
  'hostedZoneId',
  'hostedZoneName',
] as const;

/**
 * Checks the options (the stack calls it first, to fail before bundling the functions);
 * returns the certificate ARN (required once a domain is given) and the zone's name.
 */
export function validateCustomDomainOptions(
  options: ChatCustomDomainOptions,
  stackRegion: string,
): { certificateArn: string; zoneName?: string } {
  const domains: [string, string][] = [];
  for (const key of ['domainName', 'httpDomainName'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (!DOMAIN_NAME.test(value)) {
      const hint = value.toLowerCase() !== value ? ' API Gateway accepts lower case only.' : '';
      throw new Error(
        `${key} must be a host name such as chat.example.com (lower case, no scheme, path or wildcard); ` +
          `received ${JSON.stringify(value)}.${hint}`,
      );
    }
    domains.push([key, value]);
  }
  const given = OPTION_KEYS.filter((key) => options[key] !== undefined);
  if (domains.length === 0) {
    throw new Error(
      `A custom domain needs domainName (WebSocket API) and/or httpDomainName (HTTP API); received only ` +
        `${given.join(', ') || 'empty options'}. Pass e.g. -c domainName=chat.example.com, or drop the other keys.`,
    );
  }
  if (options.domainName !== undefined && options.domainName === options.httpDomainName) {
    throw new Error(
      `domainName and httpDomainName must differ (API Gateway cannot map a WebSocket API and an HTTP API ` +
        `on one domain); both are ${JSON.stringify(options.domainName)}. Use e.g. ws.example.com and api.example.com.`,
    );
  }
  const { certificateArn } = options;
  const names = domains.map(([key, value]) => `${key}=${value}`).join(', ');
  if (certificateArn === undefined) {
    throw new Error(
      `A custom domain needs certificateArn, an ACM certificate for it in the stack's region; received ${names} ` +
        'without one. Request or import the certificate in ACM, then pass -c certificateArn=arn:aws:acm:…',
    );
  }
  if (!Token.isUnresolved(certificateArn)) {
    const match = CERTIFICATE_ARN.exec(certificateArn);
    if (!match) {
      throw new Error(
        `certificateArn must be an ACM certificate ARN (arn:aws:acm:{region}:{account}:certificate/{id}); ` +
          `received ${JSON.stringify(certificateArn)}.`,
      );
    }
    if (!Token.isUnresolved(stackRegion) && match[1] !== stackRegion) {
      throw new Error(
        `certificateArn must be in the stack's region (${stackRegion}), as regional API endpoints need; ` +
          `received a certificate in ${match[1]}. Request or import one in ${stackRegion}.`,
      );
    }
  }
  const { hostedZoneId, hostedZoneName } = options;
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    throw new Error(
      `hostedZoneId and hostedZoneName go together (the zone is not looked up, so synth stays offline); ` +
        `received ${hostedZoneId === undefined ? `only hostedZoneName=${hostedZoneName}` : `only hostedZoneId=${hostedZoneId}`}. ` +
        'Pass both, or neither and create the DNS records yourself.',
    );
  }
  if (hostedZoneName === undefined) return { certificateArn };
  const zoneName = hostedZoneName.replace(/\.$/, '').toLowerCase();
  for (const [key, value] of domains) {
    if (value !== zoneName && !value.endsWith(`.${zoneName}`)) {
      throw new Error(
        `${key} must lie in the hosted zone ${zoneName} to get a record there; received ${JSON.stringify(value)}. ` +
          'Pass the zone that holds it, or no zone.',
      );
    }
  }
  return { certificateArn, zoneName };
}
