import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { httpRoutes } from '../../lib/function-specs.ts';
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

  it('sends every route to the httpApi function with payload format 2.0', () => {
    const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).filter(ofThisApi);
    const targets = new Set(routes.map((route) => render(route.Properties?.Target)));
    const [integrationId, integration] = onlyResource(
      template,
      'AWS::ApiGatewayV2::Integration',
      ofThisApi,
      'the HTTP API',
    );
    assert.deepEqual([...targets], [`integrations/\${${integrationId}}`]);
    assert.equal(integration.Properties?.IntegrationType, 'AWS_PROXY');
    assert.equal(integration.Properties?.PayloadFormatVersion, '2.0');
    assert.equal(render(integration.Properties?.IntegrationUri), handlerArn);
  });

  it('lets the API invoke the function on the defined routes only', () => {
    const sourceArns = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission'))
      .filter((permission) => render(permission.Properties?.FunctionName) === handlerArn)
      .map((permission) => render(permission.Properties?.SourceArn))
      .sort();
    assert.deepEqual(
      sourceArns,
      httpRoutes
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
