import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { httpRouteFunction, httpRoutes } from '../../lib/function-specs.ts';
import { synthChatStack, TEST_ENV } from '../support/cdk-stack.ts';
import { onlyResource, render, resourcesOfType } from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack();
const apiId = logicalId(stack.httpApi.api);
const handlerArn = `\${${logicalId(stack.functions.httpApi.function)}.Arn}`;
const ofThisApi = (resource: { Properties?: Record<string, unknown> }) =>
  render(resource.Properties?.ApiId) === `\${${apiId}}`;

describe('HTTP API', () => {
  const [, api] = onlyResource(
    template,
    'AWS::ApiGatewayV2::Api',
    (api) => api.Properties?.ProtocolType === 'HTTP',
    'the HTTP API',
  );

  it('answers CORS preflights for GET, POST, PATCH and DELETE with Authorization and Content-Type', () => {
    const cors = api.Properties?.CorsConfiguration as Record<string, unknown>;
    assert.deepEqual(cors.AllowMethods, ['GET', 'POST', 'PATCH', 'DELETE']);
    assert.deepEqual(cors.AllowHeaders, ['Authorization', 'Content-Type']);
    assert.deepEqual(cors.AllowOrigins, ['*']);
  });

  it('has exactly one route per httpRoutes entry, none with an authorizer', () => {
    const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).filter(ofThisApi);
    assert.deepEqual(
      routes.map((route) => route.Properties?.RouteKey).sort(),
      httpRoutes.map((route) => `${route.method} ${route.path}`).sort(),
    );
    for (const route of routes) {
      // The handler verifies the JWT itself.
      assert.equal(route.Properties?.AuthorizationType, 'NONE', String(route.Properties?.RouteKey));
    }
  });

  it('sends every route to its function (httpApi unless the route names one) with payload format 2.0', () => {
    const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).filter(ofThisApi);
    const integrations = Object.entries(resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')).filter(
      ([, integration]) => ofThisApi(integration),
    );
    const functionOfTarget = new Map(
      integrations.map(([id, integration]) => [
        `integrations/\${${id}}`,
        render(integration.Properties?.IntegrationUri),
      ]),
    );
    for (const [, integration] of integrations) {
      assert.equal(integration.Properties?.IntegrationType, 'AWS_PROXY');
      assert.equal(integration.Properties?.PayloadFormatVersion, '2.0');
    }
    assert.equal(
      integrations.length,
      new Set(httpRoutes.map(httpRouteFunction)).size,
      'one integration per function',
    );
    for (const route of routes) {
      const key = String(route.Properties?.RouteKey);
      const spec = httpRoutes.find((r) => `${r.method} ${r.path}` === key);
      assert.ok(spec, key);
      const expected = `\${${logicalId(stack.functions[httpRouteFunction(spec)].function)}.Arn}`;
      assert.equal(functionOfTarget.get(render(route.Properties?.Target)), expected, key);
    }
  });

  it('lets the API invoke the function on the defined routes only', () => {
    const sourceArns = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission'))
      .filter((permission) => render(permission.Properties?.FunctionName) === handlerArn)
      .map((permission) => render(permission.Properties?.SourceArn))
      .sort();
    assert.deepEqual(
      sourceArns,
      httpRoutes
        .filter((route) => httpRouteFunction(route) === 'httpApi')
        .map(
          (route) =>
            `arn:\${AWS::Partition}:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:\${${apiId}}/*/*${route.path}`,
        )
        .sort(),
    );
  });

  it('auto-deploys a throttled $default stage and outputs its URL', () => {
    const [, stage] = onlyResource(template, 'AWS::ApiGatewayV2::Stage', ofThisApi, 'the HTTP API');
    assert.equal(stage.Properties?.StageName, '$default');
    assert.equal(stage.Properties?.AutoDeploy, true);
    assert.deepEqual(stage.Properties?.DefaultRouteSettings, {
      ThrottlingRateLimit: 500,
      ThrottlingBurstLimit: 1000,
    });
    assert.equal(
      render(template.toJSON().Outputs.HttpApiUrl.Value),
      `https://\${${apiId}}.execute-api.${TEST_ENV.region}.\${AWS::URLSuffix}/`,
    );
  });
});
