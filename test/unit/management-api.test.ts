import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiGatewayManagementApiServiceException,
  GoneException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { classifyDeliveryError } from '../../functions/runtime/management-api.ts';

function serviceError(status: number, name = 'Error'): ApiGatewayManagementApiServiceException {
  return new ApiGatewayManagementApiServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

describe('classifyDeliveryError', () => {
  it('treats GoneException and any 410 as gone (SDK v3 errors have no statusCode)', () => {
    assert.equal(
      classifyDeliveryError(new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } })),
      'gone',
    );
    assert.equal(classifyDeliveryError(serviceError(410)), 'gone');
  });

  it('retries throttling, server faults and network errors', () => {
    assert.equal(classifyDeliveryError(serviceError(429, 'LimitExceededException')), 'retryable');
    assert.equal(classifyDeliveryError(serviceError(500)), 'retryable');
    assert.equal(classifyDeliveryError(serviceError(503)), 'retryable');
    assert.equal(classifyDeliveryError(new Error('socket hang up')), 'retryable');
  });

  it('does not retry client errors such as 403 or 413', () => {
    assert.equal(classifyDeliveryError(serviceError(403, 'ForbiddenException')), 'permanent');
    assert.equal(classifyDeliveryError(serviceError(413, 'PayloadTooLargeException')), 'permanent');
  });
});
