/** Helpers to read a synthesized template as plain data. */
import type { Template } from 'aws-cdk-lib/assertions';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
}

/** All resources of `type`, by logical id. */
export function resourcesOfType(template: Template, type: string): Record<string, CfnResource> {
  return template.findResources(type) as Record<string, CfnResource>;
}

/** The single resource of `type` that satisfies `predicate`; fails if there are none or several. */
export function onlyResource(
  template: Template,
  type: string,
  predicate: (resource: CfnResource) => boolean,
  what: string,
): [string, CfnResource] {
  const matches = Object.entries(resourcesOfType(template, type)).filter(([, resource]) =>
    predicate(resource),
  );
  if (matches.length !== 1) {
    throw new Error(`expected exactly one ${type} for ${what}, found ${matches.length}`);
  }
  return matches[0] as [string, CfnResource];
}

/**
 * Renders an intrinsic-function value as a readable string: `{Ref: X}` → `${X}`,
 * `{Fn::GetAtt: [X, Arn]}` → `${X.Arn}`, `Fn::Join` concatenated. Anything else is JSON,
 * so an unexpected shape shows up in the assertion message instead of matching by accident.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1) {
      const [key, argument] = entries[0] as [string, unknown];
      if (key === 'Ref' && typeof argument === 'string') return `\${${argument}}`;
      if (key === 'Fn::GetAtt' && Array.isArray(argument)) return `\${${argument.join('.')}}`;
      if (key === 'Fn::Join' && Array.isArray(argument) && Array.isArray(argument[1])) {
        return (argument[1] as unknown[]).map(render).join(String(argument[0]));
      }
    }
  }
  return JSON.stringify(value);
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every object under `root` (depth first) that has a `Statement` array: all policy documents. */
export function policyStatements(root: unknown): { path: string; statement: PolicyStatement }[] {
  const found: { path: string; statement: PolicyStatement }[] = [];
  const visit = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        visit(child, `${path}[${index}]`);
      });
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'Statement' && Array.isArray(child)) {
        child.forEach((statement, index) => {
          found.push({ path: `${path}.Statement[${index}]`, statement: statement as PolicyStatement });
        });
      }
      visit(child, `${path}.${key}`);
    }
  };
  visit(root, '$');
  return found;
}

/** A statement as sorted, rendered actions and resources, for order-insensitive comparison. */
export function normalizeStatement(statement: PolicyStatement): {
  effect: string;
  actions: string[];
  resources: string[];
} {
  return {
    effect: statement.Effect,
    actions: asArray(statement.Action).slice().sort(),
    resources: asArray(statement.Resource as unknown)
      .map(render)
      .sort(),
  };
}

/** Sorts normalized statements so two lists compare regardless of order. */
export function sortStatements<T>(statements: T[]): T[] {
  return statements.slice().sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** A property of a resource, failing loudly when the resource or the property is missing. */
export function property<T>(resource: CfnResource | undefined, name: string): T {
  const value = resource?.Properties?.[name];
  if (value === undefined) throw new Error(`resource has no ${name}: ${JSON.stringify(resource)}`);
  return value as T;
}

/** A Lambda function's environment variables, rendered as strings. */
export function lambdaEnvironment(resource: CfnResource | undefined): Record<string, string> {
  const { Variables } = property<{ Variables: Record<string, unknown> }>(resource, 'Environment');
  return Object.fromEntries(Object.entries(Variables).map(([name, value]) => [name, render(value)]));
}
