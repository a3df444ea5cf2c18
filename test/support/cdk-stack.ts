/**
 * Synthesizes ChatStack for the assertion tests. Bundling ten functions takes seconds, so
 * only the test that inspects the bundles asks for it; the others skip it through the
 * `aws:cdk:bundling-stacks` context, which changes nothing but the asset hashes.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { ChatStack, type ChatStackProps } from '../../lib/chat-stack.ts';

export const TEST_ENV = { account: '123456789012', region: 'us-east-1' } as const;

export interface SynthOptions {
  /** Run esbuild for every function. @default false */
  readonly bundle?: boolean;
  /** Where the cloud assembly (and the bundles) go. @default - a temporary directory */
  readonly outdir?: string;
}

export interface Synthesized {
  readonly app: App;
  readonly stack: ChatStack;
  readonly template: Template;
  /** The CloudFormation logical id of a construct's default child (or of the element itself). */
  logicalId(construct: IConstruct): string;
}

export function synthChatStack(props: ChatStackProps = {}, options: SynthOptions = {}): Synthesized {
  const app = new App({
    outdir: options.outdir,
    context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new ChatStack(app, 'TestChatStack', { env: TEST_ENV, ...props });
  const template = Template.fromStack(stack);
  return {
    app,
    stack,
    template,
    logicalId(construct) {
      const element = (construct.node.defaultChild ?? construct) as CfnElement;
      return stack.getLogicalId(element);
    },
  };
}
