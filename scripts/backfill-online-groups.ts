/**
 * `npm run backfill:online-groups`: the one-off migration of the online marks on group
 * member rows (functions/core/groups/online-backfill.ts; docs/architecture.md, "Online
 * group members"). Run it once after deploying the version that adds the `byOnlineGroup`
 * index, when the index is ACTIVE; until then, users who stayed connected across the
 * deploy get no group pushes until they reconnect.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backfillOnlineGroups } from '../functions/core/groups/online-backfill.ts';
import { DynamoOnlineGroupMarks } from '../functions/stores/online-groups.ts';
import { DynamoPresenceStore } from '../functions/stores/presence.ts';
import { tableDefinitions } from '../lib/table-definitions.ts';
import { commandLine } from './cli.ts';

const USAGE = `Usage: npm run backfill:online-groups -- [--presence-table <name>] [--groups-table <name>] [--endpoint <url>]

Marks the group member rows of every user online now (pages of the presence table's
byShard index: Queries, no Scan), so group messages reach users who stayed connected
across the deploy that added the groups table's byOnlineGroup index. Safe to run again.
AWS credentials and region come from the usual environment (AWS_REGION, AWS_PROFILE, ...).

Options:
  --presence-table <name>  default: $${tableDefinitions.presence.envVar}, else ${tableDefinitions.presence.localName}
  --groups-table <name>    default: $${tableDefinitions.groups.envVar}, else ${tableDefinitions.groups.localName}
  --endpoint <url>         a DynamoDB endpoint (the local runtime's), default: $DYNAMODB_ENDPOINT or AWS
  -h, --help               shows this help`;

async function main(): Promise<void> {
  const { values } = commandLine(USAGE, {
    options: {
      'presence-table': { type: 'string' },
      'groups-table': { type: 'string' },
      endpoint: { type: 'string' },
    },
  });
  const presenceTable =
    values['presence-table'] ??
    process.env[tableDefinitions.presence.envVar] ??
    tableDefinitions.presence.localName;
  const groupsTable =
    values['groups-table'] ??
    process.env[tableDefinitions.groups.envVar] ??
    tableDefinitions.groups.localName;
  const endpoint = values.endpoint ?? process.env.DYNAMODB_ENDPOINT;
  const client = DynamoDBDocumentClient.from(new DynamoDBClient(endpoint ? { endpoint } : {}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const result = await backfillOnlineGroups({
    presence: new DynamoPresenceStore(client, presenceTable),
    marks: new DynamoOnlineGroupMarks(client, groupsTable),
    onPage: ({ shard, users, marked }) =>
      process.stderr.write(`shard ${shard}: ${users} online users seen, ${marked} marked\n`),
  });
  process.stdout.write(`${result.users} online users, ${result.marked} marked\n`);
  client.destroy();
}

await main();
