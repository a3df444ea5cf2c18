/**
 * What the local runtime's control plane allows (local/iam/policy.ts) is what the
 * synthesized template's IAM policies allow, request by request: for every function,
 * every DynamoDB action on every table (and every index, for Query and Scan), every
 * `@connections` method and every function to invoke, the local decision equals the
 * deployed one. So a grant that works locally works after `cdk deploy`, and the reverse.
 * Run: npx tsx --test test/cdk/local-iam-parity.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { type TableId, tableDefinitions } from '../../lib/table-definitions.ts';
import { localFunctionName } from '../../local/functions.ts';
import {
  dynamoDbPermissions,
  firstDenied,
  invokePermission,
  manageConnectionsPermission,
} from '../../local/iam/policy.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import {
  asArray,
  normalizeStatement,
  type PolicyStatement,
  render,
  resourcesOfType,
} from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const functionIds = Object.keys(functionSpecs) as FunctionId[];
const tableIds = Object.keys(tableDefinitions) as TableId[];
const DYNAMODB_ACTIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
] as const;
const METHODS = ['POST', 'GET', 'DELETE'] as const;

/** The template's resource strings, in local terms: `table/{name}[/index/{i}]`, `@connections/{METHOD}`, `function/{id}`. */
function localResource(rendered: string): string | undefined {
  for (const tableId of tableIds) {
    const arn = `\${${logicalId(stack.tables.tables[tableId])}.Arn}`;
    const name = tableDefinitions[tableId].localName;
    if (rendered === arn) return `table/${name}`;
    if (rendered.startsWith(`${arn}/index/`)) return `table/${name}/index/${rendered.slice(arn.length + 7)}`;
  }
  const method = /\/(POST|GET|DELETE)\/@connections\/\*$/.exec(rendered)?.[1];
  if (method) return `@connections/${method}`;
  for (const functionId of functionIds) {
    const arn = `\${${logicalId(stack.functions[functionId].function)}.Arn}`;
    const fixedName = `:function:TestChatStack-${functionId.charAt(0).toUpperCase()}${functionId.slice(1)}`;
    if (rendered === arn || rendered.endsWith(fixedName)) return `function/${functionId}`;
  }
  return undefined;
}

/** `action resource` pairs the function's deployed policy allows. */
function deployedGrants(functionId: FunctionId): Set<string> {
  const fn = resourcesOfType(template, 'AWS::Lambda::Function')[
    logicalId(stack.functions[functionId].function)
  ];
  const roleId = /^\$\{(\w+)\.Arn\}$/.exec(render(fn?.Properties?.Role))?.[1] ?? '';
  const grants = new Set<string>();
  for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
    if (!asArray(policy.Properties?.Roles).some((role) => render(role) === `\${${roleId}}`)) continue;
    const document = policy.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
    for (const statement of document.Statement.map(normalizeStatement)) {
      assert.equal(statement.effect, 'Allow');
      for (const action of statement.actions) {
        for (const resource of statement.resources) {
          const local = localResource(resource);
          if (local) grants.add(`${action} ${local}`);
        }
      }
    }
  }
  return grants;
}

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Every request the local control plane could get from a function, with the deployed name of what it asks. */
function requests() {
  const all: { key: string; permissions: ReturnType<typeof dynamoDbPermissions> }[] = [];
  for (const tableId of tableIds) {
    const { localName: table, indexes } = tableDefinitions[tableId];
    for (const action of DYNAMODB_ACTIONS) {
      const input = action.startsWith('Batch') ? { RequestItems: { [table]: [] } } : { TableName: table };
      all.push({
        key: `dynamodb:${action} table/${table}`,
        permissions: dynamoDbPermissions('local', action, body(input)),
      });
      if (action !== 'Query' && action !== 'Scan') continue;
      for (const { indexName } of indexes) {
        all.push({
          key: `dynamodb:${action} table/${table}/index/${indexName}`,
          permissions: dynamoDbPermissions('local', action, body({ TableName: table, IndexName: indexName })),
        });
      }
    }
  }
  for (const method of METHODS) {
    all.push({
      key: `execute-api:ManageConnections @connections/${method}`,
      permissions: [manageConnectionsPermission('local', 'local', method, 'abc=')],
    });
  }
  for (const target of functionIds) {
    all.push({
      key: `lambda:InvokeFunction function/${target}`,
      permissions: [invokePermission('local', localFunctionName(target))],
    });
  }
  return all;
}

describe('local IAM decides as the deployed policies do', () => {
  for (const functionId of functionIds) {
    it(functionId, () => {
      const deployed = deployedGrants(functionId);
      const principal = { kind: 'function', functionId } as const;
      const mismatches = requests()
        .filter(
          ({ key, permissions }) => deployed.has(key) !== !firstDenied(principal, permissions, functionSpecs),
        )
        .map(
          ({ key }) =>
            `${deployed.has(key) ? 'deployed allows, local denies' : 'local allows, deployed denies'}: ${key}`,
        );
      assert.deepEqual(mismatches, []);
    });
  }
});
