/**
 * Every cdk-nag (AwsSolutions pack) finding this stack acknowledges, in one place, each
 * with the reason it is accepted. The app (bin/chat-app.ts, so every `cdk synth` and
 * `cdk deploy`) and test/cdk/nag.test.ts run the pack through `checkWithCdkNag`
 * (lib/nag-check.ts): any finding not acknowledged here fails the synth with a validation
 * report. ChatBackend applies them itself, so an app that runs cdk-nag on the construct
 * gets them too; this module does not import cdk-nag, which the construct's users may not have.
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export interface NagAcknowledgement {
  readonly id: string;
  readonly reason: string;
}

export interface NagScopes {
  /** The WebSocket API (routes) and the HTTP API (routes). */
  readonly apis: readonly IConstruct[];
  /** Every function (runtime finding) and its role (`@connections/*` finding). */
  readonly functions: readonly IConstruct[];
  /** The functions with X-Ray active tracing (the `tracing` option; none by default). */
  readonly tracedFunctions?: readonly IConstruct[];
  /** The JWT secret, when the stack creates or imports one. */
  readonly jwtSecret?: IConstruct;
  /** API Gateway's account-level CloudWatch role, when the stack creates it. */
  readonly apiGatewayCloudWatchRole?: IConstruct;
  /** The on-failure destination queue of the fan-out worker's asynchronous invocations. */
  readonly onFailureQueue?: IConstruct;
  /**
   * The `@connections/*` ARNs as cdk-nag renders them (`arn:<AWS::Partition>:…`): IAM5 is
   * acknowledged for exactly these resources, so any other wildcard is still reported.
   */
  readonly manageConnectionsResources: readonly string[];
  /** The attachments bucket. */
  readonly attachmentsBucket?: IConstruct;
  /** The resources of the functions' S3 statements as cdk-nag names them (`<Bucket.Arn>/uploads/*`, `…/attachments/*`). */
  readonly attachmentObjectsResources?: readonly string[];
}

export const API_GATEWAY_LOGS_POLICY = 'service-role/AmazonAPIGatewayPushToCloudWatchLogs';

export const NAG_ACKNOWLEDGEMENTS = {
  apis: [
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'WebSocket: `$connect` has a Lambda REQUEST authorizer (functions/handlers/authorizer.ts) that ' +
        'checks the Origin and verifies the JWT (pinned algorithm, exp/nbf/iss/aud) and refuses the ' +
        'handshake otherwise (401/403); API Gateway allows authorizers on `$connect` only, so the other ' +
        'routes report no authorizer although every one of them runs on an authorized connection: they ' +
        "take the sender from the authorizer's context that API Gateway attaches to each event, never " +
        'from the frame, refuse a missing context and expired tokens (1401, connection closed). HTTP API: ' +
        'the handler verifies the JWT with the same code, since its public routes (online-count) and ' +
        'its error envelope do not fit a gateway authorizer. Tested in test/unit/authorizer.test.ts, ' +
        'test/e2e/auth*.test.ts, test/e2e/token-expiry.test.ts and test/unit/auth-hardening.test.ts.',
    },
  ],
  functions: [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'execute-api:ManageConnections on `{api}/{stage}/{METHOD}/@connections/*`: connection ids are only ' +
        'known at run time, so the resource ends in a wildcard; it is limited to this API, this stage and ' +
        'the methods each function needs (lib/function-specs.ts; test/cdk/iam.test.ts checks every statement).',
    },
    {
      id: 'AwsSolutions-L1',
      reason:
        'The functions run on Node.js 22 (an LTS runtime Lambda supports) with bundles targeting node22; ' +
        'moving to a newer runtime is a deliberate change tested on its own, not one a synth should force.',
    },
  ],
  tracedFunctions: [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'xray:PutTraceSegments and xray:PutTelemetryRecords on `*`, which CDK adds for active tracing: ' +
        'X-Ray supports no resource-level permissions for them, so `*` is the only resource there is. ' +
        'Only with the `tracing` option; test/cdk/tracing.test.ts checks that these are the only statements ' +
        'on a wildcard resource and that without tracing no role may write to X-Ray.',
    },
  ],
  jwtSecret: [
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'The HS256 signing secret is shared with the token issuer; rotating it automatically would ' +
        'invalidate every issued token and the issuer would not know the new value. Rotation is an ' +
        'operator procedure (docs/security.md); production deployments use JWKS (asymmetric keys, ' +
        'rotated by the IdP) instead.',
    },
  ],
  apiGatewayCloudWatchRole: [
    {
      id: 'AwsSolutions-IAM4',
      reason:
        'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-managed policy AWS documents for the ' +
        'account-level role API Gateway uses to write access logs; it grants only CloudWatch Logs writes.',
    },
  ],
  /** The functions granted the attachments bucket (their `uploads/*` and `attachments/*` statements). */
  attachmentGrants: [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        's3:GetObject / s3:PutObject on `{attachments bucket}/uploads/*` or `/attachments/*`: object keys ' +
        '({prefix}{uploader}/{attachment_id}) are minted at run time, so the resource ends in a wildcard; it is ' +
        'this bucket, these prefixes, and per function only the actions lib/function-specs.ts lists (PutObject ' +
        'on uploads/ for createUpload alone, on attachments/ for the send functions; ' +
        'test/cdk/attachments.test.ts checks every statement).',
    },
  ],
  attachmentsBucket: [
    {
      id: 'AwsSolutions-S1',
      reason:
        'No server access logs: every object request is made with a presigned URL signed by one of the ' +
        "stack's functions (whose logs say who got which URL), and S3 server access logs would need a " +
        'second bucket whose cost grows with every image view. Accounts that must audit object reads turn ' +
        'on CloudTrail S3 data events for this bucket (docs/security.md).',
    },
  ],
  onFailureQueue: [
    {
      id: 'AwsSolutions-SQS3',
      reason:
        "The queue is the fan-out worker's Lambda on-failure destination: it is itself where failed " +
        'invocations end up (a dead-letter queue in all but name, which cdk-nag recognizes only for ' +
        'RedrivePolicy and DeadLetterConfig); it is alarmed on depth, and its records are re-driven by an operator.',
    },
  ],
} as const satisfies Record<
  Exclude<keyof NagScopes, 'manageConnectionsResources' | 'attachmentObjectsResources'> | 'attachmentGrants',
  readonly NagAcknowledgement[]
>;

/** Applies NAG_ACKNOWLEDGEMENTS to their scopes. */
export function acknowledgeNagFindings(scopes: NagScopes): void {
  const apply = (
    scope: IConstruct | undefined,
    list: readonly NagAcknowledgement[],
    wildcardResources: readonly string[] = scopes.manageConnectionsResources,
  ) => {
    if (!scope) return;
    for (const { id, reason } of list) {
      // Findings that name their resource are acknowledged for those resources only.
      const findings =
        id === 'AwsSolutions-IAM5'
          ? wildcardResources.map((resource) => `${id}[Resource::${resource}]`)
          : id === 'AwsSolutions-IAM4'
            ? [`${id}[Policy::arn:<AWS::Partition>:iam::aws:policy/${API_GATEWAY_LOGS_POLICY}]`]
            : [id];
      for (const finding of findings) Validations.of(scope).acknowledge({ id: finding, reason });
    }
  };
  for (const api of scopes.apis) apply(api, NAG_ACKNOWLEDGEMENTS.apis);
  for (const fn of scopes.functions) apply(fn, NAG_ACKNOWLEDGEMENTS.functions);
  for (const fn of scopes.tracedFunctions ?? []) apply(fn, NAG_ACKNOWLEDGEMENTS.tracedFunctions, ['*']);
  apply(scopes.jwtSecret, NAG_ACKNOWLEDGEMENTS.jwtSecret);
  apply(scopes.apiGatewayCloudWatchRole, NAG_ACKNOWLEDGEMENTS.apiGatewayCloudWatchRole);
  apply(scopes.onFailureQueue, NAG_ACKNOWLEDGEMENTS.onFailureQueue);
  apply(scopes.attachmentsBucket, NAG_ACKNOWLEDGEMENTS.attachmentsBucket);
  if (scopes.attachmentObjectsResources?.length) {
    for (const fn of scopes.functions) {
      apply(fn, NAG_ACKNOWLEDGEMENTS.attachmentGrants, [...scopes.attachmentObjectsResources]);
    }
  }
}
