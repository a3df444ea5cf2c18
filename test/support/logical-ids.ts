/**
 * The logical ids and types of a synthesized stack's resources and outputs: what must not
 * change between releases, since CloudFormation replaces a resource whose logical id
 * changes (a table replaced is a table emptied).
 */
import type { Template } from 'aws-cdk-lib/assertions';

export interface LogicalIds {
  /** Resource logical id → resource type, sorted by id. */
  readonly resources: Record<string, string>;
  /** Output logical ids, sorted. */
  readonly outputs: string[];
}

export function logicalIdsOf(template: Template): LogicalIds {
  const json = template.toJSON() as {
    Resources: Record<string, { Type: string }>;
    Outputs?: Record<string, unknown>;
  };
  const resources = Object.fromEntries(
    Object.entries(json.Resources)
      .map(([id, resource]) => [id, resource.Type] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return { resources, outputs: Object.keys(json.Outputs ?? {}).sort() };
}

/**
 * Stack settings whose resources are pinned in test/fixtures/chat-stack-logical-ids.json:
 * the defaults, and every optional resource on (custom domains with records, alarm
 * e-mails, a JWKS key source instead of the generated secret).
 */
export const LOGICAL_ID_VARIANTS = {
  defaults: {},
  everyOption: {
    customDomain: {
      domainName: 'ws.chat.example.com',
      httpDomainName: 'api.chat.example.com',
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
    },
    alarmEmail: 'ops@example.com',
    jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
    jwtIssuer: 'https://idp.example.com/',
    jwtAudience: 'chat',
  },
} as const;
