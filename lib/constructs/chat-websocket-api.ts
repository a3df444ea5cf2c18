import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { pascalCase } from './naming.ts';

export interface ChatWebSocketApiProps {
  /** How API Gateway picks a route from a frame. */
  readonly routeSelectionExpression: string;

  /**
   * Stage name; the last path segment of the WebSocket and callback URLs.
   *
   * @default 'prod'
   */
  readonly stageName?: string;

  /**
   * Default throttling of every route of the stage.
   *
   * @default - the account-level limits
   */
  readonly throttle?: apigwv2.ThrottleSettings;
}

export type ManageConnectionsMethod = 'POST' | 'GET' | 'DELETE';

/** Routes whose integration response is not sent back to the client. */
const ONE_WAY_ROUTES: ReadonlySet<string> = new Set(['$connect', '$disconnect']);

/** A WebSocket API with one auto-deployed, throttled stage and Lambda proxy routes. */
export class ChatWebSocketApi extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  readonly stageName: string;

  /**
   * The Management API endpoint (`https://{apiId}.execute-api.{region}.{suffix}/{stage}`).
   * Built from the API id and the stage name string, never from the stage resource, so the
   * functions that receive it depend on the API alone and cannot form a cycle with the
   * routes, which depend on the functions.
   */
  readonly callbackUrl: string;

  constructor(scope: Construct, id: string, props: ChatWebSocketApiProps) {
    super(scope, id);
    this.stageName = props.stageName ?? 'prod';
    validateStageName(this.stageName);
    if (props.throttle) validateThrottle(props.throttle);

    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-websocket`,
      routeSelectionExpression: props.routeSelectionExpression,
      description: 'Chat WebSocket API',
    });
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: this.stageName,
      autoDeploy: true,
      throttle: props.throttle,
    });
    const stack = Stack.of(this);
    this.callbackUrl = `https://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.stageName}`;
  }

  /** `arn:…:execute-api:{region}:{account}:{apiId}/{stage}/{method}/@connections/*` */
  manageConnectionsArn(method: ManageConnectionsMethod): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      resourceName: `${this.stageName}/${method}/@connections/*`,
    });
  }

  /**
   * Routes `routeKey` to `handler` through a Lambda proxy integration. Except on $connect
   * and $disconnect, the handler's response body is the reply frame, so the route returns
   * the integration response to the client.
   */
  addLambdaRoute(routeKey: string, handler: lambda.IFunction, integrationId: string): apigwv2.WebSocketRoute {
    return this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${pascalCase(integrationId)}Integration`, handler),
      returnResponse: !ONE_WAY_ROUTES.has(routeKey),
    });
  }
}

function validateStageName(stageName: string): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stageName)) {
    throw new Error(
      `stageName must be 1-128 letters, digits, hyphens or underscores; received "${stageName}". ` +
        'Pass e.g. -c stageName=prod.',
    );
  }
}

function validateThrottle(throttle: apigwv2.ThrottleSettings): void {
  for (const [name, value] of Object.entries(throttle)) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new Error(`throttle.${name} must be a positive number; received ${String(value)}.`);
    }
  }
  if (throttle.burstLimit !== undefined && !Number.isInteger(throttle.burstLimit)) {
    throw new Error(
      `throttle.burstLimit must be a whole number of requests; received ${throttle.burstLimit}.`,
    );
  }
}
