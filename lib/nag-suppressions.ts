/**
 * Every cdk-nag (AwsSolutions pack) finding this stack acknowledges, in one place, each
 * with the reason it is accepted. test/cdk/nag.test.ts runs the pack against the
 * synthesized stack and fails on any finding not acknowledged here.
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
  /** The JWT secret, when the stack creates or imports one. */
  readonly jwtSecret?: IConstruct;
  /** API Gateway's account-level CloudWatch role, when the stack creates it. */
  readonly apiGatewayCloudWatchRole?: IConstruct;
  /**
   * The `@connections/*` ARNs as cdk-nag renders them (`arn:<AWS::Partition>:…`): IAM5 is
   * acknowledged for exactly these resources, so any other wildcard is still reported.
   */
  readonly manageConnectionsResources: readonly string[];
}

export const API_GATEWAY_LOGS_POLICY = 'service-role/AmazonAPIGatewayPushToCloudWatchLogs';

export const NAG_ACKNOWLEDGEMENTS = {
  apis: [
    {
      id: 'AwsSolutions-APIG4',
      reason:
        'Authorization is done in code, not by an API Gateway authorizer: `$connect` verifies the JWT ' +
        '(pinned algorithm, exp/nbf/iss/aud) and refuses the handshake otherwise; every other WebSocket ' +
        'route takes the sender from the connection row written then, never from the frame, and refuses ' +
        'expired tokens (1401, connection closed). The HTTP API handler verifies the JWT with the same code. ' +
        'Tested in test/e2e/auth*.test.ts, test/e2e/token-expiry.test.ts and test/unit/auth-hardening.test.ts.',
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
} as const satisfies Record<
  Exclude<keyof NagScopes, 'manageConnectionsResources'>,
  readonly NagAcknowledgement[]
>;

/** Applies NAG_ACKNOWLEDGEMENTS to their scopes. */
export function acknowledgeNagFindings(scopes: NagScopes): void {
  const apply = (scope: IConstruct | undefined, list: readonly NagAcknowledgement[]) => {
    if (!scope) return;
    for (const { id, reason } of list) {
      // Findings that name their resource are acknowledged for those resources only.
      const findings =
        id === 'AwsSolutions-IAM5'
          ? scopes.manageConnectionsResources.map((resource) => `${id}[Resource::${resource}]`)
          : id === 'AwsSolutions-IAM4'
            ? [`${id}[Policy::arn:<AWS::Partition>:iam::aws:policy/${API_GATEWAY_LOGS_POLICY}]`]
            : [id];
      for (const finding of findings) Validations.of(scope).acknowledge({ id: finding, reason });
    }
  };
  for (const api of scopes.apis) apply(api, NAG_ACKNOWLEDGEMENTS.apis);
  for (const fn of scopes.functions) apply(fn, NAG_ACKNOWLEDGEMENTS.functions);
  apply(scopes.jwtSecret, NAG_ACKNOWLEDGEMENTS.jwtSecret);
  apply(scopes.apiGatewayCloudWatchRole, NAG_ACKNOWLEDGEMENTS.apiGatewayCloudWatchRole);
}
