/**
 * The message path of AWS's "simple-websockets-chat-app" sample (aws-samples), rewritten
 * here from its description for the side-by-side section (scripts/bench/sample.ts); none
 * of its code is copied. Its connect handler stores each connection id in a table of its
 * own; on a message it:
 *
 * 1. Scans that whole table for the connection ids (every row, whoever they are);
 * 2. posts the message's `data` to every one of them at once (`Promise.all` of
 *    PostToConnection);
 * 3. deletes the row of a connection that answers 410 (gone), and fails on any other error.
 *
 * Its connect handler is not rewritten: the section writes the same rows (`{ connectionId }`)
 * for real connections directly.
 *
 * What differs from the sample, for the measurement only: the Scan pages (the sample reads
 * one page, up to 1 MB; 10,000 of these rows are ~300 KB, so it is the same request there),
 * and the clients come from the caller (aws-sample-mounted.ts builds them with `{}`, so the
 * standard AWS_ENDPOINT_URL_* variables name the local runtime instead of
 * `https://{domainName}/{stage}`, which plain HTTP cannot serve).
 */
import {
  type ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';

/** The route the bench host mounts the sample's message handler on (its own route was `sendmessage`). */
export const SAMPLE_ROUTE = 'sample_sendmessage';

/** The sample's table: one item per connection, key `connectionId`, nothing else. */
export const SAMPLE_CONNECTIONS_TABLE = 'sample-connections';

export interface SampleDependencies {
  readonly dynamo: DynamoDBClient;
  readonly management: ApiGatewayManagementApiClient;
  readonly tableName: string;
}

interface SampleEvent {
  readonly requestContext: { readonly connectionId: string };
  readonly body?: string | null;
}

type SampleResult = { statusCode: number; body: string };

/** Every connection id in the table (Scan, all pages). */
async function allConnectionIds(deps: SampleDependencies): Promise<string[]> {
  const ids: string[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await deps.dynamo.send(
      new ScanCommand({
        TableName: deps.tableName,
        ProjectionExpression: 'connectionId',
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) if (item.connectionId?.S) ids.push(item.connectionId.S);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return ids;
}

/** The sample's `sendmessage` route: the body's `data` to every stored connection. */
export function sampleSendMessage(deps: SampleDependencies) {
  return async (event: SampleEvent): Promise<SampleResult> => {
    let data: unknown;
    try {
      data = (JSON.parse(event.body ?? '{}') as { data?: unknown }).data;
    } catch {
      return { statusCode: 400, body: 'Malformed message.' };
    }
    const payload = typeof data === 'string' ? data : JSON.stringify(data ?? null);
    try {
      const ids = await allConnectionIds(deps);
      await Promise.all(
        ids.map(async (connectionId) => {
          try {
            await deps.management.send(
              new PostToConnectionCommand({ ConnectionId: connectionId, Data: payload }),
            );
          } catch (error) {
            if (
              !(error instanceof GoneException) &&
              (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 410
            )
              throw error;
            await deps.dynamo.send(
              new DeleteItemCommand({
                TableName: deps.tableName,
                Key: { connectionId: { S: connectionId } },
              }),
            );
          }
        }),
      );
    } catch (error) {
      return { statusCode: 500, body: error instanceof Error ? error.message : String(error) };
    }
    return { statusCode: 200, body: 'Data sent.' };
  };
}
