import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FunctionId,
  ROUTE_SELECTION_EXPRESSION,
  webSocketAuthorizer,
  webSocketRoutes,
} from '../../lib/function-specs.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import { onlyResource, render, resourcesOfType } from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const apiId = logicalId(stack.webSocket.api);
const functionLogicalId = (id: FunctionId) => logicalId(stack.functions[id].function);
const ONE_WAY = new Set(['$connect', '$disconnect']);

const routes = Object.entries(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).filter(
  ([, route]) => render(route.Properties?.ApiId) === `\${${apiId}}`,
);

describe('WebSocket API', () => {
  it('selects routes by the frame command', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 2);
    const [, api] = onlyResource(
      template,
      'AWS::ApiGatewayV2::Api',
      (api) => api.Properties?.ProtocolType === 'WEBSOCKET',
      'the WebSocket API',
    );
    assert.equal(api.Properties?.RouteSelectionExpression, ROUTE_SELECTION_EXPRESSION);
    assert.equal(api.Properties?.RouteSelectionExpression, '$request.body.cmd');
  });

  it('has exactly the routes of webSocketRoutes', () => {
    const keys = routes.map(([, route]) => route.Properties?.RouteKey).sort();
    assert.deepEqual(keys, Object.keys(webSocketRoutes).sort());
    assert.ok(keys.includes('$connect') && keys.includes('$disconnect') && keys.includes('$default'));
  });

  for (const [routeKey, functionId] of Object.entries(webSocketRoutes)) {
    describe(`route ${routeKey}`, () => {
      const [routeId, route] = routes.find(([, route]) => route.Properties?.RouteKey === routeKey) ?? [];

      it(`is a Lambda proxy integration of ${functionId}`, () => {
        assert.ok(route, `no route ${routeKey}`);
        const target = render(route.Properties?.Target);
        const match = /^integrations\/\$\{(\w+)\}$/.exec(target);
        assert.ok(match, `unexpected target ${target}`);
        const integration = template.toJSON().Resources[match[1] as string];
        assert.equal(integration.Type, 'AWS::ApiGatewayV2::Integration');
        assert.equal(render(integration.Properties.ApiId), `\${${apiId}}`);
        assert.equal(integration.Properties.IntegrationType, 'AWS_PROXY');
        assert.equal(
          render(integration.Properties.IntegrationUri),
          `arn:\${AWS::Partition}:apigateway:${TEST_ENV.region}:lambda:path/2015-03-31/functions/` +
            `\${${functionLogicalId(functionId)}.Arn}/invocations`,
        );
      });

      it(`lets this API invoke ${functionId} on this route only`, () => {
        const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
          (permission) =>
            render(permission.Properties?.FunctionName) === `\${${functionLogicalId(functionId)}.Arn}` &&
            permission.Properties?.Principal === 'apigateway.amazonaws.com',
        );
        assert.deepEqual(
          permissions.map((permission) => render(permission.Properties?.SourceArn)),
          [
            `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${apiId}}/*${routeKey}`,
          ],
        );
      });

      const twoWay = !ONE_WAY.has(routeKey);
      it(twoWay ? 'returns the integration response to the client' : 'sends no response', () => {
        assert.ok(route && routeId);
        const responses = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::RouteResponse')).filter(
          (response) => render(response.Properties?.RouteId) === `\${${routeId}}`,
        );
        if (twoWay) {
          assert.equal(route.Properties?.RouteResponseSelectionExpression, '$default');
          assert.equal(responses.length, 1);
          assert.equal(responses[0]?.Properties?.RouteResponseKey, '$default');
        } else {
          assert.equal(route.Properties?.RouteResponseSelectionExpression, undefined);
          assert.equal(responses.length, 0);
        }
      });
    });
  }

  it('deploys one throttled stage automatically', () => {
    const [, stage] = onlyResource(
      template,
      'AWS::ApiGatewayV2::Stage',
      (stage) => render(stage.Properties?.ApiId) === `\${${apiId}}`,
      'the WebSocket stage',
    );
    assert.equal(stage.Properties?.StageName, 'prod');
    assert.equal(stage.Properties?.AutoDeploy, true);
    assert.deepEqual(stage.Properties?.DefaultRouteSettings, {
      ThrottlingRateLimit: 500,
      ThrottlingBurstLimit: 1000,
    });
  });

  it('throttles the read routes on their own, after they exist', () => {
    const [stageId, stage] = onlyResource(
      template,
      'AWS::ApiGatewayV2::Stage',
      (stage) => render(stage.Properties?.ApiId) === `\${${apiId}}`,
      'the WebSocket stage',
    );
    const expected = { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 };
    assert.deepEqual(stage.Properties?.RouteSettings, {
      history: expected,
      sync: expected,
      list_conversations: expected,
    });
    const dependsOn = new Set((template.toJSON().Resources[stageId].DependsOn ?? []) as string[]);
    for (const routeKey of ['history', 'sync', 'list_conversations']) {
      const [routeId] = routes.find(([, route]) => route.Properties?.RouteKey === routeKey) ?? [];
      assert.ok(routeId && dependsOn.has(routeId), `the stage depends on the ${routeKey} route`);
    }
  });

  it('outputs the wss:// URL with the stage and the callback URL', () => {
    const outputs = template.toJSON().Outputs;
    const host = `\${${apiId}}.execute-api.${TEST_ENV.region}.\${AWS::URLSuffix}`;
    assert.equal(render(outputs.WebSocketUrl.Value), `wss://${host}/prod`);
    assert.equal(render(outputs.CallbackUrl.Value), `https://${host}/prod`);
  });
});

describe('$connect authorizer', () => {
  const authorizerFunction = functionLogicalId(webSocketAuthorizer.functionId);
  const [authorizerId, authorizer] = onlyResource(
    template,
    'AWS::ApiGatewayV2::Authorizer',
    () => true,
    'the $connect authorizer (the only authorizer in the stack)',
  );

  it('is a Lambda REQUEST authorizer of this API running the authorizer function', () => {
    assert.equal(webSocketAuthorizer.functionId, 'authorizer');
    assert.equal(render(authorizer.Properties?.ApiId), `\${${apiId}}`);
    assert.equal(authorizer.Properties?.AuthorizerType, 'REQUEST');
    assert.equal(
      render(authorizer.Properties?.AuthorizerUri),
      `arn:\${AWS::Partition}:apigateway:${TEST_ENV.region}:lambda:path/2015-03-31/functions/` +
        `\${${authorizerFunction}.Arn}/invocations`,
    );
    // WebSocket authorizers are not cached; the property is for HTTP APIs only.
    assert.equal(authorizer.Properties?.AuthorizerResultTtlInSeconds, undefined);
  });

  it('has no identity source, so API Gateway invokes it for every handshake', () => {
    // With a source listed, a handshake without it would be refused with 401 before the
    // authorizer runs, but the token may come from any of four places (query, two headers,
    // subprotocol). For a REQUEST authorizer the property is optional.
    assert.deepEqual(webSocketAuthorizer.identitySource, []);
    assert.equal(authorizer.Properties?.IdentitySource, undefined);
    assert.ok(!('IdentitySource' in (authorizer.Properties ?? {})));
  });

  it('guards $connect and no other route', () => {
    for (const [, route] of routes) {
      const key = route.Properties?.RouteKey;
      if (key === webSocketAuthorizer.routeKey) {
        assert.equal(route.Properties?.AuthorizationType, 'CUSTOM');
        assert.equal(render(route.Properties?.AuthorizerId), `\${${authorizerId}}`);
      } else {
        assert.ok([undefined, 'NONE'].includes(route.Properties?.AuthorizationType as string), String(key));
        assert.equal(route.Properties?.AuthorizerId, undefined, String(key));
      }
    }
  });

  it('lets API Gateway invoke the authorizer function for this authorizer only', () => {
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
      (permission) => render(permission.Properties?.FunctionName) === `\${${authorizerFunction}.Arn}`,
    );
    assert.deepEqual(
      permissions.map((permission) => [
        permission.Properties?.Action,
        permission.Properties?.Principal,
        render(permission.Properties?.SourceArn),
      ]),
      [
        [
          'lambda:InvokeFunction',
          'apigateway.amazonaws.com',
          `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${apiId}}/authorizers/\${${authorizerId}}`,
        ],
      ],
    );
  });
});
