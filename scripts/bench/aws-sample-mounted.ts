/**
 * The AWS sample's message route as the bench host mounts it on the local runtime
 * (`mountedRoutes`, route `sample_sendmessage`): clients built with `{}` like any
 * AWS-style handler (the runtime's AWS_ENDPOINT_URL_* variables point them at it), the
 * same capacity-reporting middleware the chat's DynamoDB client gets with
 * DYNAMODB_CAPACITY=report (it only adds `ReturnConsumedCapacity`), and the host's
 * invocation counter.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { withCapacityReporting } from '../../functions/runtime/capacity.ts';
import { SAMPLE_CONNECTIONS_TABLE, sampleSendMessage } from './aws-sample.ts';
import { timed } from './host-instruments.ts';

/** The name the sample's invocations are counted under. */
export const SAMPLE_FUNCTION_ID = 'awsSampleSendMessage';

const sendMessage = sampleSendMessage({
  dynamo: withCapacityReporting(new DynamoDBClient({})),
  management: new ApiGatewayManagementApiClient({}),
  tableName: SAMPLE_CONNECTIONS_TABLE,
});

export const handler = timed(SAMPLE_FUNCTION_ID, () => sendMessage);
