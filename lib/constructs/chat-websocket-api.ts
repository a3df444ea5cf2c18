import { ArnFormat, type CfnElement, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
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

  /**
   * Throttling of single routes (`RouteSettings` of the stage), by route key, in place of
   * `throttle` for those routes; applied as the routes are added with `addLambdaRoute`.
   *
   * @default - none: every route has the stage's `throttle`
   */
  readonly routeThrottle?: Readonly<Record<string, apigwv2.ThrottleSettings>>;

  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /** Of the access log group (and the account's CloudWatch role). @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Create the role API Gateway uses to write access logs (`AWS::ApiGateway::Account`,
   * one per account and region). WebSocket stages cannot log without it; HTTP APIs do not
   * need it. Turn it off when the account already has one (the last writer wins).
   *
   * @default true
   */
  readonly createCloudWatchRole?: boolean;
}

/**
 * Access log fields: ids, route, status and timing. No query string and no headers, so a
 * `?token=` or `Authorization` never reaches the log.
 */
export const WEBSOCKET_ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  eventType: '$context.eventType',
  status: '$context.status',
  connectionId: '$context.connectionId',
  integrationError: '$context.integration.error',
  integrationLatency: '$context.integrationLatency',
} as const;

export type ManageConnectionsMethod = 'POST' | 'GET' | 'DELETE';

/** Routes whose integration response is not sent back to the client. */
const ONE_WAY_ROUTES: ReadonlySet<string> = new Set(['$connect', '$disconnect']);

/** A WebSocket API with one auto-deployed, throttled stage and Lambda proxy routes. */
export class ChatWebSocketApi extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  readonly stageName: string;
  readonly accessLogGroup: logs.LogGroup;
  /** API Gateway's account-level CloudWatch role, when this construct creates it. */
  readonly cloudWatchRole?: iam.Role;

  /**
   * The Management API endpoint (`https://{apiId}.execute-api.{region}.{suffix}/{stage}`).
   * Built from the API id and the stage name string, never from the stage resource, so the
   * functions that receive it depend on the API alone and cannot form a cycle with the
   * routes, which depend on the functions.
   */
  readonly callbackUrl: string;
  private readonly routeThrottle: Readonly<Record<string, apigwv2.ThrottleSettings>>;

  constructor(scope: Construct, id: string, props: ChatWebSocketApiProps) {
    super(scope, id);
    this.stageName = props.stageName ?? 'prod';
    validateStageName(this.stageName);
    if (props.throttle) validateThrottle(props.throttle);
    for (const [routeKey, throttle] of Object.entries(props.routeThrottle ?? {})) {
      validateThrottle(throttle, `routeThrottle.${routeKey}`);
    }
    this.routeThrottle = props.routeThrottle ?? {};

    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-websocket`,
      routeSelectionExpression: props.routeSelectionExpression,
      description: 'Chat WebSocket API',
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: this.stageName,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(WEBSOCKET_ACCESS_LOG_FORMAT)),
      },
    });
    if (props.createCloudWatchRole ?? true) {
      const role = new iam.Role(this, 'CloudWatchRole', {
        assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        description: 'Lets API Gateway write access logs (account-level setting)',
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
        ],
      });
      role.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.cloudWatchRole = role;
      const account = new apigateway.CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
      // Retained: other APIs in the account may log through it after this stack is gone.
      account.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.stage.node.addDependency(account);
    }
    const stack = Stack.of(this);
    this.callbackUrl = `https://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}/${this.stageName}`;
  }

  /** A stage metric (`AWS/ApiGateway`, dimensions ApiId and Stage), summed over 5 minutes. */
  metric(
    metricName: 'IntegrationError' | 'ExecutionError' | 'ClientError' | 'ConnectCount',
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName,
      dimensionsMap: { ApiId: this.api.apiId, Stage: this.stageName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
  }

  /**
   * `manageConnectionsArn(method)` as cdk-nag prints it (pseudo parameters and the API as
   * `<Name>`), to acknowledge exactly these wildcards.
   */
  manageConnectionsNagResource(method: ManageConnectionsMethod): string {
    const stack = Stack.of(this);
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const apiId = stack.getLogicalId(this.api.node.defaultChild as CfnElement);
    return `arn:<AWS::Partition>:execute-api:${region}:${account}:<${apiId}>/${this.stageName}/${method}/@connections/*`;
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
   * the integration response to the client. `authorizer` (from `lambdaAuthorizer`) is only
   * allowed on `$connect`, as in API Gateway.
   */
  addLambdaRoute(
    routeKey: string,
    handler: lambda.IFunction,
    integrationId: string,
    authorizer?: ChatWebSocketAuthorizer,
  ): apigwv2.WebSocketRoute {
    const route = this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${pascalCase(integrationId)}Integration`, handler),
      returnResponse: !ONE_WAY_ROUTES.has(routeKey),
      authorizer: authorizer?.authorizer,
    });
    if (authorizer && authorizer.identitySource.length === 0) {
      // The L2 construct always renders an identity source (default: the Authorization
      // header). For a REQUEST authorizer the property is optional; left out, API Gateway
      // invokes the authorizer for every handshake instead of answering 401 itself when a
      // listed source is missing.
      const created = this.api.node.findChild(authorizer.id).node.defaultChild as apigwv2.CfnAuthorizer;
      created.identitySource = undefined;
    }
    const throttle = this.routeThrottle[routeKey];
    if (throttle) {
      const stage = this.stage.node.defaultChild as apigwv2.CfnStage;
      // `RouteSettings` is a JSON property: CloudFormation's own key names, not the L1's.
      stage.routeSettings = {
        ...((stage.routeSettings ?? {}) as Record<string, unknown>),
        [routeKey]: { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit },
      };
      // RouteSettings may only name routes that exist.
      this.stage.node.addDependency(route);
    }
    return route;
  }

  /**
   * A Lambda REQUEST authorizer for `$connect` (attach it with `addLambdaRoute`). API Gateway
   * gets permission to invoke `handler` for this authorizer only (`…/authorizers/{id}`).
   */
  lambdaAuthorizer(
    id: string,
    handler: lambda.IFunction,
    identitySource: readonly string[],
  ): ChatWebSocketAuthorizer {
    return {
      id,
      identitySource,
      authorizer: new WebSocketLambdaAuthorizer(id, handler, { identitySource: [...identitySource] }),
    };
  }
}

/** A `$connect` authorizer built by `ChatWebSocketApi.lambdaAuthorizer`. */
export interface ChatWebSocketAuthorizer {
  readonly id: string;
  readonly identitySource: readonly string[];
  readonly authorizer: apigwv2.IWebSocketRouteAuthorizer;
}

function validateStageName(stageName: string): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(stageName)) {
    throw new Error(
      `stageName must be 1-128 letters, digits, hyphens or underscores; received "${stageName}". ` +
        'Pass e.g. -c stageName=prod.',
    );
  }
}

function validateThrottle(throttle: apigwv2.ThrottleSettings, label = 'throttle'): void {
  for (const [name, value] of Object.entries(throttle)) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new Error(`${label}.${name} must be a positive number; received ${String(value)}.`);
    }
  }
  if (throttle.burstLimit !== undefined && !Number.isInteger(throttle.burstLimit)) {
    throw new Error(
      `${label}.burstLimit must be a whole number of requests; received ${throttle.burstLimit}.`,
    );
  }
}
