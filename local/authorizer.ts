/**
 * What API Gateway does with a WebSocket Lambda REQUEST authorizer on `$connect`, as far
 * as a client or a handler can tell:
 * - identity sources (if any are configured) must all be present and non-empty, or the
 *   handshake is refused with 401 without invoking the authorizer;
 * - the authorizer throwing `Error('Unauthorized')`: 401; any other failure or timeout,
 *   or an answer that is not a valid authorizer result: 500;
 * - the policy must allow `execute-api:Invoke` on the `$connect` method ARN: an explicit
 *   Deny, or no matching Allow, is 403;
 * - allowed: `context` (string, number and boolean values only) becomes
 *   `requestContext.authorizer` of `$connect`, of every message route and of
 *   `$disconnect` of the connection, with `principalId` (events.ts `authorizerRequestContext`).
 * Authorizer results are not cached for WebSocket APIs, so every handshake invokes it.
 */
import type { InvocationOutcome } from './functions.ts';
import { asProxyResult } from './handler-results.ts';

export type AuthorizerDecision =
  | {
      readonly status: 200;
      readonly principalId: string;
      readonly context: Readonly<Record<string, string | number | boolean>>;
    }
  | { readonly status: 401 | 403 | 500; readonly reason: string };

interface PolicyStatement {
  readonly Effect?: unknown;
  readonly Action?: unknown;
  readonly Resource?: unknown;
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** IAM-style match: `*` any run of characters, `?` one character, case-sensitive. */
export function arnMatches(pattern: string, arn: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(arn);
}

function statementMatches(statement: PolicyStatement, methodArn: string): boolean {
  const actions = asList(statement.Action);
  const invokes = actions.some(
    (action) => typeof action === 'string' && /^(\*|execute-api:(\*|Invoke))$/i.test(action),
  );
  const resources = asList(statement.Resource);
  return (
    invokes && resources.some((resource) => typeof resource === 'string' && arnMatches(resource, methodArn))
  );
}

function validContext(value: unknown): value is Record<string, string | number | boolean> {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((entry) => ['string', 'number', 'boolean'].includes(typeof entry));
}

/** The decision API Gateway takes on an authorizer invocation's outcome for `methodArn`. */
export function authorizerDecision(outcome: InvocationOutcome, methodArn: string): AuthorizerDecision {
  if (!outcome.ok) {
    // Lambda reports the error's message (`errorMessage`); an error may arrive deserialized.
    const reported = (outcome.error as { message?: unknown } | null | undefined)?.message;
    const message = typeof reported === 'string' ? reported : String(outcome.error);
    return message === 'Unauthorized' && !outcome.timedOut
      ? { status: 401, reason: 'the authorizer answered Unauthorized' }
      : { status: 500, reason: `the authorizer failed: ${message}` };
  }
  const result = asProxyResult(outcome.result) as
    | { principalId?: unknown; policyDocument?: { Statement?: unknown }; context?: unknown }
    | undefined;
  if (!result || typeof result.principalId !== 'string' || result.principalId === '') {
    return { status: 500, reason: 'the authorizer result has no principalId' };
  }
  const statements = result.policyDocument?.Statement;
  if (!statements || asList(statements).some((s) => typeof s !== 'object' || s === null)) {
    return { status: 500, reason: 'the authorizer result has no policyDocument.Statement' };
  }
  if (!validContext(result.context)) {
    return { status: 500, reason: 'the authorizer context may only hold string, number and boolean values' };
  }
  const matching = (asList(statements) as PolicyStatement[]).filter((s) => statementMatches(s, methodArn));
  if (matching.some((s) => s.Effect === 'Deny')) return { status: 403, reason: 'explicit Deny' };
  if (!matching.some((s) => s.Effect === 'Allow'))
    return { status: 403, reason: `no Allow for ${methodArn}` };
  return { status: 200, principalId: result.principalId, context: result.context ?? {} };
}

type HeaderMap = Readonly<Record<string, string | undefined>> | undefined;

/**
 * Whether every identity source (`route.request.header.X`, `route.request.querystring.Y`)
 * is present and non-empty. Other expressions (stage variables, context) are not emulated
 * and count as present.
 */
export function identitySourcesPresent(
  sources: readonly string[],
  request: { readonly headers?: HeaderMap; readonly queryStringParameters?: HeaderMap },
): boolean {
  return sources.every((source) => {
    const header = /^route\.request\.header\.(.+)$/.exec(source)?.[1];
    if (header) {
      const wanted = header.toLowerCase();
      return Object.entries(request.headers ?? {}).some(
        ([name, value]) => name.toLowerCase() === wanted && Boolean(value),
      );
    }
    const query = /^route\.request\.querystring\.(.+)$/.exec(source)?.[1];
    if (query) return Boolean(request.queryStringParameters?.[query]);
    return true;
  });
}
