/**
 * What a request to the local control plane asks for (IAM action and resource ARN), and
 * whether the calling function's grants allow it. The grants are `lib/function-specs.ts`,
 * the data the stack turns into each function's IAM statements (ChatBackend.grantFromSpec):
 * DynamoDB actions on the table and the listed indexes, `execute-api:ManageConnections`
 * for the listed methods, `lambda:InvokeFunction` on the listed functions. The admin
 * credential (the runtime itself, tests) may do anything.
 */
import type { FunctionId, FunctionSpec } from '../../lib/function-specs.ts';
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_API_ID } from '../events.ts';
import { functionIdFromName } from '../functions.ts';
import type { Principal } from './credentials.ts';

export type Grants = Readonly<Record<FunctionId, FunctionSpec>>;

/** One action on one resource; a request may need several (BatchWriteItem on two tables). */
export interface Permission {
  readonly action: string;
  readonly resource: string;
  readonly allowedFor: (spec: FunctionSpec) => boolean;
}

const tableIdByLocalName = new Map(
  (Object.entries(tableDefinitions) as [TableId, (typeof tableDefinitions)[TableId]][]).map(
    ([id, definition]) => [definition.localName, id],
  ),
);

function tableArn(region: string, table: string, index?: string): string {
  const base = `arn:aws:dynamodb:${region}:${LOCAL_ACCOUNT_ID}:table/${table}`;
  return index === undefined ? base : `${base}/index/${index}`;
}

function dynamoDbPermission(region: string, action: string, table: string, index?: string): Permission {
  return {
    action: `dynamodb:${action}`,
    resource: tableArn(region, table, index),
    allowedFor: (spec) => {
      const tableId = tableIdByLocalName.get(table);
      const access = tableId ? spec.tables[tableId] : undefined;
      if (!access || !(access.actions as readonly string[]).includes(action)) return false;
      return index === undefined || (access.indexes ?? []).includes(index);
    },
  };
}

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** The item action IAM checks for each part of a transaction. */
const TRANSACT_PARTS: Readonly<Record<string, string>> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/** The permissions a DynamoDB operation (`x-amz-target` after the prefix) with this body needs. */
export function dynamoDbPermissions(region: string, operation: string, body: Buffer): Permission[] {
  let input: Json = {};
  try {
    input = objectOf(JSON.parse(body.toString('utf8') || '{}'));
  } catch {
    // An unreadable body names no table: only the admin may send it (DynamoDB then says why it is wrong).
  }
  const tableName = typeof input.TableName === 'string' ? input.TableName : undefined;
  const indexName = typeof input.IndexName === 'string' ? input.IndexName : undefined;
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const tables = Object.keys(objectOf(input.RequestItems));
    return (tables.length ? tables : ['*']).map((table) => dynamoDbPermission(region, operation, table));
  }
  if (operation === 'TransactGetItems' || operation === 'TransactWriteItems') {
    const items = Array.isArray(input.TransactItems) ? input.TransactItems : [];
    const permissions = items.flatMap((item) =>
      Object.entries(objectOf(item)).map(([part, request]) => {
        const table = objectOf(request).TableName;
        return dynamoDbPermission(
          region,
          TRANSACT_PARTS[part] ?? part,
          typeof table === 'string' ? table : '*',
        );
      }),
    );
    return permissions.length ? permissions : [dynamoDbPermission(region, operation, '*')];
  }
  // Query and Scan may name an index; account-level operations (ListTables) name no table.
  return [dynamoDbPermission(region, operation, tableName ?? '*', indexName)];
}

/** `execute-api:ManageConnections` for `method` on a connection of `stage`. */
export function manageConnectionsPermission(
  region: string,
  stage: string,
  method: string,
  connectionId: string,
): Permission {
  return {
    action: 'execute-api:ManageConnections',
    resource: `arn:aws:execute-api:${region}:${LOCAL_ACCOUNT_ID}:${LOCAL_API_ID}/${stage}/${method}/@connections/${connectionId}`,
    allowedFor: (spec) =>
      (spec.manageConnections as readonly string[] | undefined)?.includes(method) ?? false,
  };
}

/** `lambda:InvokeFunction` on the function named (name, `name:qualifier` or ARN) in the path. */
export function invokePermission(region: string, functionName: string): Permission {
  const target = functionIdFromName(functionName);
  const name = functionName.startsWith('arn:') ? (functionName.split(':')[6] ?? functionName) : functionName;
  return {
    action: 'lambda:InvokeFunction',
    resource: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${name.split(':')[0]}`,
    allowedFor: (spec) => target !== undefined && (spec.invokes ?? []).includes(target),
  };
}

/** The first permission the principal lacks, or undefined when it has them all. */
export function firstDenied(
  principal: Principal,
  permissions: readonly Permission[],
  grants: Grants,
): Permission | undefined {
  if (principal.kind === 'admin') return undefined;
  const spec = grants[principal.functionId];
  return permissions.find((permission) => !spec || !permission.allowedFor(spec));
}
