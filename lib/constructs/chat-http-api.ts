import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { httpCors } from '../function-specs.ts';

export interface ChatHttpRoute {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  /** Serves this route instead of `handler` (a function of its own, e.g. uploads). */
  readonly handler?: lambda.IFunction;
}

export interface ChatHttpApiProps {
  /** Serves every route that names no handler of its own. */
  readonly handler: lambda.IFunction;

  readonly routes: readonly ChatHttpRoute[];

  /**
   * Origins allowed by CORS. Tokens travel in the Authorization header, not in cookies,
   * so allowing any origin does not let other sites act with a user's credentials.
   *
   * @default ['*']
   */
  readonly corsAllowOrigins?: string[];

  /**
   * Default throttling of the `$default` stage.
   *
   * @default - the account-level limits
   */
  readonly throttle?: apigwv2.ThrottleSettings;

  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /** Of the access log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Access log fields. `$context.routeKey` (`GET /api/ws/messages`) rather than the path or
 * the raw request line: no query string (`?token=`) and no headers ever reach the log.
 */
export const HTTP_ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationError: '$context.integrationErrorMessage',
  integrationLatency: '$context.integrationLatency',
} as const;

/**
 * An HTTP API whose routes go to one function (payload format 2.0), but those that name their own.
 * There is no authorizer: the handler verifies the JWT itself, with the same code as the
 * WebSocket handlers, so both APIs accept exactly the same tokens and the local runtime
 * needs no authorizer emulation.
 */
export class ChatHttpApi extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ChatHttpApiProps) {
    super(scope, id);
    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-http`,
      description: 'Chat HTTP API',
      // Our own `$default` stage below, to set its throttling.
      createDefaultStage: false,
      corsPreflight: {
        allowMethods: httpCors.allowMethods.map((method) => apigwv2.CorsHttpMethod[method]),
        allowHeaders: [...httpCors.allowHeaders],
        allowOrigins: props.corsAllowOrigins ?? [...httpCors.allowOrigins],
        maxAge: Duration.seconds(httpCors.maxAgeSeconds),
      },
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(HTTP_ACCESS_LOG_FORMAT)),
      },
    });

    // One integration per function (`Integration` for the shared one); each route still gets
    // an invoke permission scoped to its own method and path.
    const integrations = new Map<lambda.IFunction, HttpLambdaIntegration>();
    const integrationFor = (handler: lambda.IFunction) => {
      let integration = integrations.get(handler);
      if (!integration) {
        const id = handler === props.handler ? 'Integration' : `Integration${integrations.size}`;
        integration = new HttpLambdaIntegration(id, handler, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(handler, integration);
      }
      return integration;
    };
    integrationFor(props.handler);
    for (const route of props.routes) {
      this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: integrationFor(route.handler ?? props.handler),
      });
    }
  }

  /** `https://{apiId}.execute-api.{region}.{suffix}/` */
  get url(): string {
    return this.stage.url;
  }
}
