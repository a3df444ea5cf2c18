/**
 * The local runtime's credentials: one key pair per function (what Lambda gives each
 * function from its execution role) and an admin pair for the runtime itself, its table
 * setup and tests. The control plane (DynamoDB, the Management API, the Lambda Invoke
 * API) accepts requests signed with these and nothing else.
 *
 * Issued once per process: handler modules stay loaded for the life of the process, and
 * their SDK clients keep the credentials they resolved first, so a runtime restarted in
 * the same process must accept the same keys. The secrets are random, never logged; only
 * the admin secret may instead come from `LOCAL_ADMIN_SECRET` (at least 20 characters),
 * for a tool in another process (scripts/soak.ts, the AWS CLI), and is then removed from
 * the environment the handlers see.
 */
import { randomBytes } from 'node:crypto';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';

export type Principal =
  | { readonly kind: 'admin' }
  | { readonly kind: 'function'; readonly functionId: FunctionId };

export interface KeyPair {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface LocalCredential extends KeyPair {
  readonly principal: Principal;
}

/** Letters and digits only (DynamoDB Local refuses other access key ids). */
function accessKeyIdFor(name: string): string {
  return `LOCAL${name.toUpperCase()}`;
}

/** Where another process may hand the runtime its admin secret. */
export const ADMIN_SECRET_ENV = 'LOCAL_ADMIN_SECRET';
export const ADMIN_ACCESS_KEY_ID = accessKeyIdFor('ADMIN');

function secret(): string {
  return randomBytes(30).toString('base64url');
}

function adminSecret(): string {
  const given = process.env[ADMIN_SECRET_ENV];
  delete process.env[ADMIN_SECRET_ENV];
  if (given === undefined || given === '') return secret();
  if (given.length < 20) throw new Error(`${ADMIN_SECRET_ENV} must be at least 20 characters long.`);
  return given;
}

export class LocalCredentials {
  private readonly byAccessKeyId = new Map<string, LocalCredential>();
  readonly admin: LocalCredential;

  constructor() {
    this.admin = this.issue('ADMIN', { kind: 'admin' }, adminSecret());
    for (const functionId of Object.keys(functionSpecs) as FunctionId[]) {
      this.issue(functionId, { kind: 'function', functionId });
    }
  }

  private issue(name: string, principal: Principal, secretAccessKey = secret()): LocalCredential {
    const credential = { accessKeyId: accessKeyIdFor(name), secretAccessKey, principal };
    this.byAccessKeyId.set(credential.accessKeyId, credential);
    return credential;
  }

  find(accessKeyId: string): LocalCredential | undefined {
    return this.byAccessKeyId.get(accessKeyId);
  }

  forFunction(functionId: FunctionId): LocalCredential {
    const credential = this.byAccessKeyId.get(accessKeyIdFor(functionId));
    if (!credential) throw new Error(`No credentials for function ${functionId}.`);
    return credential;
  }

  /** Every function's key pair, for handler threads (which install them in their own environment). */
  functionKeyPairs(): Record<string, KeyPair> {
    const pairs: Record<string, KeyPair> = {};
    for (const functionId of Object.keys(functionSpecs) as FunctionId[]) {
      const { accessKeyId, secretAccessKey } = this.forFunction(functionId);
      pairs[functionId] = { accessKeyId, secretAccessKey };
    }
    return pairs;
  }
}

let issued: LocalCredentials | undefined;

/** This process's credentials, issued on first use. */
export function localCredentials(): LocalCredentials {
  issued ??= new LocalCredentials();
  return issued;
}
