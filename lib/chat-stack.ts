import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ChatBackend, type ChatBackendProps } from './chat-backend.ts';
import type { ChatAlarms } from './constructs/chat-alarms.ts';
import type { ChatAttachments } from './constructs/chat-attachments.ts';
import type { ChatCustomDomain } from './constructs/chat-custom-domain.ts';
import type { ChatFunction } from './constructs/chat-function.ts';
import type { ChatHttpApi } from './constructs/chat-http-api.ts';
import type { ChatTables } from './constructs/chat-tables.ts';
import type { ChatWebSocketApi } from './constructs/chat-websocket-api.ts';
import type { JwtVerification } from './constructs/jwt-verification.ts';
import type { FunctionId } from './function-specs.ts';

/** The settings of the backend (ChatBackendProps) and of the stack. */
export interface ChatStackProps extends StackProps, ChatBackendProps {}

/**
 * This repository's app: one ChatBackend and its URLs as outputs.
 *
 * The backend is the stack's `Default` child, whose id CDK leaves out of logical ids, so
 * every resource keeps the logical id it had when the stack built them itself (a renamed
 * table would be replaced, i.e. emptied); test/cdk/logical-ids.test.ts pins them.
 */
export class ChatStack extends Stack {
  readonly backend: ChatBackend;
  readonly tables: ChatTables;
  readonly jwt: JwtVerification;
  readonly webSocket: ChatWebSocketApi;
  readonly functions: Readonly<Record<FunctionId, ChatFunction>>;
  readonly httpApi: ChatHttpApi;
  readonly attachments: ChatAttachments;
  readonly alarms: ChatAlarms;
  /** Present when `customDomain` is given. */
  readonly customDomain?: ChatCustomDomain;
  /** Failed asynchronous invocations (the welcome push) after Lambda's retries. */
  readonly deadLetterQueue: sqs.Queue;
  /** On-failure destination of the fan-out worker (see ChatBackend.fanOutFailureQueue). */
  readonly fanOutFailureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ChatStackProps = {}) {
    super(scope, id, props);
    this.backend = new ChatBackend(this, 'Default', props);
    const { parts } = this.backend;
    this.tables = parts.tables;
    this.jwt = parts.jwt;
    this.webSocket = parts.webSocket;
    this.functions = parts.functions;
    this.httpApi = parts.http;
    this.attachments = parts.attachments;
    this.alarms = parts.alarms;
    this.customDomain = parts.customDomain;
    this.deadLetterQueue = this.backend.deadLetterQueue;
    this.fanOutFailureQueue = this.backend.fanOutFailureQueue;
    this.addOutputs();
  }

  private addOutputs(): void {
    new CfnOutput(this, 'WebSocketUrl', {
      description: 'Clients connect here (wss://…/{stage})',
      value: this.webSocket.stage.url,
    });
    new CfnOutput(this, 'CallbackUrl', {
      description: 'API Gateway Management API endpoint (https://…/{stage})',
      value: this.webSocket.callbackUrl,
    });
    new CfnOutput(this, 'HttpApiUrl', { description: 'HTTP API base URL', value: this.httpApi.url });
    for (const [prefix, domain] of [
      ['WebSocket', this.customDomain?.webSocket],
      ['HttpApi', this.customDomain?.http],
    ] as const) {
      if (!domain) continue;
      new CfnOutput(this, `${prefix}CustomUrl`, {
        description: 'Through the custom domain',
        value: domain.url,
      });
      new CfnOutput(this, `${prefix}DomainTarget`, {
        description: `Where ${domain.name} must point (alias or CNAME)${domain.record ? '; the stack created the record' : ''}`,
        value: domain.domain.regionalDomainName,
      });
    }
    // A generated secret is known by its ARN; an existing one by the name it was given,
    // since the full ARN of a secret imported by name is not known at synth time.
    if (this.jwt.generatedSecret) {
      new CfnOutput(this, 'JwtSecretArn', {
        description: 'Generated secret holding the JWT signing key (HS256)',
        value: this.jwt.generatedSecret.secretArn,
      });
    } else if (this.jwt.secret) {
      new CfnOutput(this, 'JwtSecretName', {
        description: 'Existing secret holding the JWT signing key (HS256)',
        value: this.jwt.secret.secretName,
      });
    }
  }
}
