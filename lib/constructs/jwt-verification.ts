import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type CognitoSignInOptions, cognitoEnvironment } from './cognito-sign-in.ts';

/**
 * Where the functions that verify tokens get their key from. Give `jwtSecretName`, or
 * `jwksUrl` with `jwtIssuer` and `jwtAudience`, or `cognito`, or nothing for a generated
 * secret. The `jwt*` field names are the context keys `bin/chat-app.ts` reads them from
 * (`cognito` comes from `cognitoUserPoolId`, `cognitoClientIds`, `cognitoTokenUse`, `cognitoAdminGroup`).
 */
export interface JwtOptions {
  /**
   * Name of an existing Secrets Manager secret whose value is the HS256 signing key.
   *
   * @default - a secret with a generated key is created, unless `jwksUrl` or `cognito` is given
   */
  readonly jwtSecretName?: string;

  /**
   * HTTPS URL of the identity provider's JSON Web Key Set (RS256/ES256 tokens).
   * Requires `jwtIssuer` and `jwtAudience`.
   *
   * @default - tokens are verified with a Secrets Manager secret
   */
  readonly jwksUrl?: string;

  /**
   * Required `iss` claim.
   *
   * @default - not checked (only allowed with a secret)
   */
  readonly jwtIssuer?: string;

  /**
   * Required `aud` claim.
   *
   * @default - not checked (only allowed with a secret)
   */
  readonly jwtAudience?: string;

  /**
   * Sign-in with an Amazon Cognito user pool (ID and/or access tokens of its app clients,
   * `cognito:groups` as roles). Excludes the other options.
   *
   * @default - no Cognito sign-in
   */
  readonly cognito?: CognitoSignInOptions;
}

export interface JwtVerificationProps extends JwtOptions {
  /**
   * Removal policy of the generated secret.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Secrets Manager secret names: 1 to 512 of these characters. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * The token verification settings of the handlers (`JWT_*` and `JWKS_URL`, read by
 * functions/runtime/config.ts) and the secret they read, if any.
 */
export class JwtVerification extends Construct {
  /** The secret holding the signing key; undefined when keys come from a JWKS URL. */
  readonly secret?: secretsmanager.ISecret;

  /** Set only when this construct created the secret (its full ARN is then known). */
  readonly generatedSecret?: secretsmanager.Secret;

  /** Environment variables for every function that verifies tokens. */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: JwtVerificationProps = {}) {
    super(scope, id);
    JwtVerification.validate(props);

    const claims: Record<string, string> = {};
    if (props.jwtIssuer !== undefined) claims.JWT_ISSUER = props.jwtIssuer;
    if (props.jwtAudience !== undefined) claims.JWT_AUDIENCE = props.jwtAudience;

    if (props.cognito !== undefined) {
      // Keys come from the pool's public JWKS: no secret, nothing to grant.
      this.environment = cognitoEnvironment(props.cognito);
    } else if (props.jwksUrl !== undefined) {
      this.environment = { JWKS_URL: props.jwksUrl, ...claims };
    } else if (props.jwtSecretName !== undefined) {
      this.secret = secretsmanager.Secret.fromSecretNameV2(this, 'Secret', props.jwtSecretName);
      // By name, not by ARN: the full ARN of a secret imported by name is not known.
      this.environment = { JWT_SECRET_ID: props.jwtSecretName, ...claims };
    } else {
      this.generatedSecret = new secretsmanager.Secret(this, 'Secret', {
        description: 'HS256 key that signs and verifies the chat JWTs',
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      this.secret = this.generatedSecret;
      this.environment = { JWT_SECRET_ID: this.generatedSecret.secretArn, ...claims };
    }
  }

  /**
   * `secretsmanager:GetSecretValue` on this secret only, nothing when keys come from a JWKS URL.
   * The secret uses the account's `aws/secretsmanager` key, which needs no kms:Decrypt grant.
   */
  grantRead(grantee: { addToRolePolicy(statement: iam.PolicyStatement): void }): void {
    if (!this.secret) return;
    grantee.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        // A secret imported by name has no full ARN: its real ARN ends in `-` and six
        // random characters, which `??????` matches (and nothing longer).
        resources: [this.secret.secretFullArn ?? `${this.secret.secretArn}-??????`],
      }),
    );
  }

  /** Throws an error naming what was received and what to change. */
  static validate(props: JwtOptions): void {
    for (const name of ['jwtSecretName', 'jwksUrl', 'jwtIssuer', 'jwtAudience'] as const) {
      if (props[name]?.trim() === '') {
        throw new Error(`${name} is empty; omit it or pass a value (context: -c ${name}=...).`);
      }
    }
    const { jwtSecretName, jwksUrl, jwtIssuer, jwtAudience } = props;
    if (props.cognito !== undefined) {
      const others = (['jwtSecretName', 'jwksUrl', 'jwtIssuer', 'jwtAudience'] as const).filter(
        (name) => props[name] !== undefined,
      );
      if (others.length > 0) {
        throw new Error(
          `Received cognito together with ${others.join(', ')}, but tokens are verified with one key source. ` +
            'With cognito the issuer, keys and app clients follow from the user pool: drop the jwt* settings.',
        );
      }
    }
    // Tokens (e.g. from SSM parameters) are only known at deploy time: check literals only.
    const literal = (value: string | undefined): value is string =>
      value !== undefined && !Token.isUnresolved(value);

    if (jwtSecretName !== undefined && jwksUrl !== undefined) {
      throw new Error(
        `Received both jwtSecretName ("${jwtSecretName}") and jwksUrl ("${jwksUrl}"), but tokens ` +
          'are verified with one key source. Pass jwtSecretName for an HS256 secret or jwksUrl ' +
          'with jwtIssuer and jwtAudience, not both.',
      );
    }
    if (literal(jwtSecretName) && !SECRET_NAME.test(jwtSecretName)) {
      throw new Error(
        `jwtSecretName "${jwtSecretName}" is not a Secrets Manager secret name ` +
          '(1-512 letters, digits and /_+=.@-). Pass the name, not the ARN.',
      );
    }
    if (jwksUrl === undefined) return;
    if (literal(jwksUrl) && !isHttpsUrl(jwksUrl)) {
      throw new Error(
        `jwksUrl must be an https:// URL of a JSON Web Key Set; received "${jwksUrl}". ` +
          'Lambda fetches it over the internet, e.g. https://example.auth0.com/.well-known/jwks.json.',
      );
    }
    const missing = [
      jwtIssuer === undefined ? 'jwtIssuer' : undefined,
      jwtAudience === undefined ? 'jwtAudience' : undefined,
    ].filter((name) => name !== undefined);
    if (missing.length > 0) {
      throw new Error(
        `jwksUrl ("${jwksUrl}") was given without ${missing.join(' and ')} ` +
          `(received jwtIssuer: ${quote(jwtIssuer)}, jwtAudience: ${quote(jwtAudience)}). ` +
          "Keys from an identity provider sign tokens for many apps, so the token's issuer " +
          `and audience must be checked too: pass ${missing.map((name) => `-c ${name}=...`).join(' ')}.`,
      );
    }
  }
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

function quote(value: string | undefined): string {
  return value === undefined ? 'nothing' : `"${value}"`;
}
