/**
 * Costs, and docs/performance.md from the results (the targets it checks: targets.ts).
 */
import { workerVersusInline } from './fanout.ts';
import { IDLE_LOAD_PER_CORE, idleLoadLimit, isLoaded } from './load.ts';
import { median } from './machine.ts';
import { renderPresenceAccuracy } from './presence-accuracy.ts';
import {
  ASSUMPTIONS,
  connectionMinutesPerMonth,
  type OperationPrice,
  PRICES,
  priceOperation,
} from './prices.ts';
import { breakdown, breakdownOf, kb, machineCell, ms, n, pct, sectionWindow, usd } from './report-format.ts';
import { commitsLine, loadRange, orderedRuns, sectionRunsOf } from './section-runs.ts';
import { comparisons, ratioText } from './side-by-side.ts';
import type { Target } from './targets.ts';
import { type LatencyPoint, type OperationCost, type Results, SECTIONS, type SectionName } from './types.ts';

export { computeTargets, type Target } from './targets.ts';

/** Where an operation's in-page order puts it: 1:1 first, then connect/disconnect, groups by size, broadcasts. */
function operationOrder(op: OperationCost): number {
  const fixed: Record<string, number> = { direct: 0, 'direct-id': 0.1, 'direct-id-4000': 0.2 };
  if (fixed[op.operation] !== undefined) return fixed[op.operation] as number;
  const withGroups = op.operation.includes('group') ? 0.01 : 0;
  if (op.operation.startsWith('connect-')) return 0.3 + withGroups;
  if (op.operation.startsWith('disconnect-')) return 0.4 + withGroups;
  if (op.operation.startsWith('group-')) return Number(op.operation.slice(6));
  return 1e9;
}

/** Every measured operation in page order, with the section that measured it. */
function allOperations(results: Results): (OperationCost & { readonly section: SectionName })[] {
  const fromFanOut = (results.fanout?.points ?? []).map((p) => ({
    ...p.cost,
    label: `${p.cost.label} (fan-out section)`,
    section: 'fanout' as const,
  }));
  const fromDynamo = (results.dynamo?.operations ?? []).map((op) => ({ ...op, section: 'dynamo' as const }));
  return [...fromDynamo, ...fromFanOut].sort(
    (a, b) => operationOrder(a) - operationOrder(b) || a.background - b.background,
  );
}

export function computeCosts(results: Results): OperationPrice[] {
  return allOperations(results).map(({ section, ...cost }) => ({ ...priceOperation(cost), section }));
}

/** The recommendation on bundling the SDK, from the `bundles` figures. */
export function bundlingRecommendation(results: Results): string | undefined {
  const bundles = results.bundles?.functions ?? [];
  if (bundles.length === 0) return undefined;
  const bundled = median(bundles.map((b) => b.bundled.initMsMedian));
  const external = median(bundles.map((b) => b.external.initMsMedian));
  const sizeBundled = median(bundles.map((b) => b.bundled.bytes));
  const sizeExternal = median(bundles.map((b) => b.external.bytes));
  const faster = bundled <= external;
  const ratio = faster ? external / bundled : bundled / external;
  return faster
    ? `Keep bundling the SDK (the construct's current \`externalModules: []\`): module init median ${n(bundled, 1)} ms ` +
        `with the SDK in the bundle against ${n(external, 1)} ms loading \`@aws-sdk/*\` from node_modules ` +
        `(${n(ratio, 1)}× slower), for bundles of ${kb(sizeBundled)} instead of ${kb(sizeExternal)} (medians over functions). ` +
        'One pre-linked file beats resolving and evaluating the hundreds of SDK modules a runtime-provided SDK is made of, ' +
        'and the SDK version stays the one pinned in package-lock.json.'
    : `Use the runtime's SDK (\`externalModules: ['@aws-sdk/*']\` in lib/constructs/chat-function.ts): module init median ` +
        `${n(external, 1)} ms against ${n(bundled, 1)} ms with the SDK bundled (${n(ratio, 1)}× slower), bundles of ` +
        `${kb(sizeExternal)} instead of ${kb(sizeBundled)} (medians over functions). The SDK version is then whatever ` +
        'the runtime ships.';
}

/** A cost table of labelled operations, then each one's request breakdown, and a blank line. */
function operationCostTable(
  operations: readonly (OperationCost & { readonly label: string })[],
  machine: string,
): string[] {
  return [
    table(
      ['operation', 'DynamoDB requests', 'RRU', 'WRU', 'index WRU (est.)', 'handler time', 'machine'],
      operations.map((op) => [
        op.label,
        `**${n(op.dynamoRequests, 1)}**`,
        n(op.readUnits, 1),
        n(op.writeUnits, 1),
        n(op.indexWriteUnits, 1),
        ms(op.handlerMs),
        machine,
      ]),
    ),
    '',
    ...operations.map((op) => `- ${op.label}: ${breakdown(op)}`),
  ];
}

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Send → last push: the median, and each run. */
const wallCell = (medianMs: number, runs: readonly number[]) =>
  `${ms(medianMs, 0)} (${runs.map((run) => n(run, 0)).join(', ')})`;

/** Each run of the repeated rates (their rows show the median): percentiles, loss, load. */
function latencyRunLines(results: Results, points: readonly LatencyPoint[]): string[] {
  const repeated = points.filter((p) => (p.runs?.length ?? 0) > 1);
  if (repeated.length === 0) return [];
  return [
    "A target's rate is run several times; its row is the median of the runs' percentiles, with the worst run's",
    'losses and errors, and it is sustained only when the median p99 is within the limit and every run was clean. Each run:',
    '',
    ...repeated.flatMap((p) =>
      (p.runs ?? []).map(
        (run, i) =>
          `- ${n(p.rate)} msg/s, run ${i + 1}: p50 ${ms(run.p50)} / p95 ${ms(run.p95)} / p99 ${ms(run.p99)}, max ${ms(run.max)}, ` +
          `sent ${n(run.achievedRate, 1)}/s, ${n(run.lost)} lost${Object.keys(run.errors).length ? `, errors ${JSON.stringify(run.errors)}` : ''}` +
          `, ${run.sustained ? 'sustained' : 'not sustained'}; ${machineCell(results, run.load)}`,
      ),
    ),
    '',
  ];
}

/** The `sample` section: the AWS sample's message against our 1:1 and our broadcast. */
function sideBySide(results: Results, side: NonNullable<Results['sample']>): string[] {
  const rows = side.points.flatMap((p) => {
    const machine = machineCell(results, p.load);
    const row = (path: string, cost: OperationCost, runs: readonly number[], delivered: number) => [
      n(p.connections),
      path,
      `**${n(cost.dynamoRequests, 1)}**`,
      n(cost.readUnits, 1),
      n(cost.writeUnits + cost.indexWriteUnits, 1),
      n(cost.managementPosts),
      n(delivered),
      wallCell(cost.deliveredMs, runs),
      ms(cost.handlerMs),
      machine,
    ];
    return [
      row('our 1:1', p.direct, p.wallMsRuns.direct, 1),
      row("the sample's message", p.sample, p.wallMsRuns.sample, p.delivered.sample),
      row('our broadcast', p.broadcast, p.wallMsRuns.broadcast, p.delivered.broadcast),
    ];
  });
  const ratioRows = side.points.flatMap((p) =>
    comparisons(p).map((c) => [
      n(p.connections),
      `the sample ÷ our ${c.ours}`,
      ratioText(c.ratios.requests),
      ratioText(c.ratios.readUnits),
      ratioText(c.ratios.writeUnits),
      ratioText(c.ratios.posts),
      ratioText(c.ratios.wallMs),
      ratioText(c.ratios.handlerMs),
      machineCell(results, p.load),
    ]),
  );
  const scan = side.points.at(-1)?.sample.byOperation;
  return [
    "## Side by side with AWS's simple-websockets-chat-app",
    '',
    "The sample's message path (aws-samples/simple-websockets-chat-app, `sendmessage`) Scans its whole connections",
    'table and posts to every connection at once (`Promise.all` of PostToConnection), deleting a row whose connection',
    'answers 410. scripts/bench/aws-sample.ts rewrites it from that description (no code copied) and the bench host',
    'mounts it on a route of the same local runtime, with the same dynalite, counters and real sockets as our handlers',
    '(scripts/bench/sample.ts). At each scale every connection is a real socket, registered by our `$connect` in our',
    "tables and, with the same connection id, in the sample's own table `sample-connections` (key `connectionId`, the",
    "row its `$connect` writes, seeded directly: its connect handler is not run). So every one of the sample's posts",
    'reaches a real socket: none answers 410 and it deletes nothing. Per repetition, interleaved: our `send_message`',
    "to a user with one device, the sample's message, our `broadcast` to everyone; median of " +
      `${side.repetitions} repetition(s).`,
    '*WRU* includes the estimated index writes. *Wall time*: frame sent → last expected push received (median; each run).',
    '',
    table(
      [
        'connections',
        'path',
        'DynamoDB requests',
        'RRU',
        'WRU',
        'Mgmt API POSTs',
        'delivered',
        'wall time (runs)',
        'handler time',
        'machine',
      ],
      rows,
    ),
    '',
    'Ratios, the sample ÷ ours (above 1× the sample costs more or takes longer; n/a: ours is 0):',
    '',
    table(
      ['connections', 'compared', 'requests', 'RRU', 'WRU', 'POSTs', 'wall time', 'handler time', 'machine'],
      ratioRows,
    ),
    '',
    ...(scan ? [`The sample's requests at the largest scale: ${breakdownOf(scan)}.`] : []),
  ];
}

const metCell = (met: boolean | null) => (met === null ? 'not measured' : met ? '**met**' : '**missed**');

export function renderMarkdown(results: Results, charts: { fanout?: string; latency?: string }): string {
  const { machine } = results;
  const sectionRuns = sectionRunsOf(results);
  const runs = orderedRuns(sectionRuns);
  const range = loadRange(sectionRuns);
  const targets = (results.targets ?? []) as Target[];
  const costs = (results.cost ?? []) as OperationPrice[];
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines);

  push(
    '# Performance',
    '',
    `Generated by \`${results.command}\` (scripts/bench.ts) on ${results.generatedAt.slice(0, 10)}; do not edit by`,
    'hand. `npm run bench` regenerates this page, docs/performance.json and docs/charts/*.svg in one go',
    `(${n(results.totalSeconds / 60, 1)} min for this run); \`npm run bench -- --help\` shows the options,`,
    `\`--only ${SECTIONS.join(',')}\` re-measures some sections and keeps the others from docs/performance.json.`,
    '',
    '| machine | |',
    '| --- | --- |',
    `| CPU | ${machine.cpuModel}, ${machine.cores} cores |`,
    `| memory | ${machine.memoryGb} GB |`,
    `| OS, Node.js | ${machine.os}, Node ${machine.node} |`,
    `| load average (1 min) | ${
      range
        ? `${range.low} to ${range.high} over the sections (lowest at a section's start, highest sampled; per section below)`
        : `${machine.loadAverageAtStart} at start, ${machine.loadAverageAtEnd ?? 'n/a'} at end, ${machine.loadAverageMax ?? 'n/a'} at most`
    } |`,
    `| code | ${
      runs.length > 0
        ? commitsLine(sectionRuns)
        : `commit ${machine.gitCommit}${machine.gitDirty ? ' plus uncommitted changes in the work tree' : ''}`
    } |`,
    '',
  );
  const idleLimit = idleLoadLimit(machine.cores);
  if (runs.length > 0) {
    // A partial run (`--only`) re-measures some sections and keeps the others: each keeps
    // the commit and load it was measured with.
    push(
      table(
        ['section', 'measured (UTC)', 'commit', 'load average at start, at most', 'machine'],
        runs.map(([section, run]) => [
          section,
          run.at.slice(0, 16).replace('T', ' '),
          `${run.gitCommit}${run.gitDirty ? ' (uncommitted changes)' : ''}`,
          `${run.loadAverageAtStart}, ${run.loadAverageMax}${run.fromRun ? ' (its whole run)' : ''}`,
          machineCell(results, { atStart: run.loadAverageAtStart, max: run.loadAverageMax }),
        ]),
      ),
      '',
    );
  }
  push(
    `*Idle* means the 1-minute load average stayed at most ${idleLimit} (${IDLE_LOAD_PER_CORE} per core) at the start of`,
    'the measurement and at every sample during it (every 5 s); above that it is *loaded*, and every timing row',
    "says so. The bench's own single-threaded work adds about 1; the fan-out, sample and latency sections run the",
    'runtime and the clients at once, so they can exceed the limit by themselves. Counts (requests, capacity,',
    'calls) do not depend on load; times do.',
    '',
  );
  const loaded = runs.filter(([, run]) =>
    isLoaded({ atStart: run.loadAverageAtStart, max: run.loadAverageMax }, machine.cores),
  );
  const runLoaded =
    runs.length === 0 &&
    isLoaded({ atStart: machine.loadAverageAtStart, max: machine.loadAverageMax ?? 0 }, machine.cores);
  if (loaded.length > 0 || runLoaded) {
    const where =
      loaded.length > 0
        ? `while measuring ${loaded.map(([section, run]) => `${section} (up to ${Math.max(run.loadAverageAtStart, run.loadAverageMax)})`).join(', ')}`
        : `during this run (load average up to ${machine.loadAverageMax})`;
    push(
      `> **Loaded machine.** The load average exceeded ${idleLimit} on ${machine.cores} cores ${where}:`,
      '> the times of those sections are pessimistic. Counts (requests, capacity, calls) do not depend on load.',
      '',
    );
  }

  push('## Targets', '');
  push(
    table(
      ['target', 'measured', 'result', 'margin', 'why'],
      targets.map((t) => [t.target, t.measured, metCell(t.met), t.margin, t.why]),
    ),
    '',
  );

  const dynamo = results.dynamo;
  const allOps = allOperations(results);
  if (allOps.length > 0) {
    push(
      '## DynamoDB, Management API and Lambda per operation',
      '',
      'Each operation runs through the real handlers in the local runtime (scripts/bench/host.ts), with the real SDK v3',
      "clients against dynalite. `DYNAMODB_CAPACITY=report` makes the handlers' DynamoDB client",
      '(functions/runtime/capacity.ts) ask for `ReturnConsumedCapacity: TOTAL` on every request and report it; the',
      'local Management API counts its calls (local/management-api.ts); every function of lib/function-specs.ts is',
      'wrapped to count invocations (async ones included, e.g. a fan-out worker). Figures are the median of',
      `${dynamo?.operations[0]?.repetitions ?? 'n'} repetitions; an operation ends when its reply and every push arrived and the runtime was quiet.`,
      '',
      "- *registered*: connections in the tables besides the operation's own participants. The first scale is real",
      '  sockets; larger scales add rows (connection row + presence entry, as `$connect` writes them) seeded directly.',
      '  Broadcasts past the first scale come from the fan-out section (real sockets), so that no recipient answers 410.',
      '- *endpoint*: requests that reached the DynamoDB endpoint, all clients; it equals *requests* unless some client',
      '  bypassed the middleware or the SDK retried.',
      '- *RRU / WRU*: read / write request units as reported (dynalite: base table only). *index WRU (est.)*: writes',
      '  to global secondary indexes, which DynamoDB charges and dynalite does not report, estimated from the request',
      '  and lib/table-definitions.ts (scripts/bench/accounting.ts).',
      `- Group members online: ${n((dynamo?.onlineShare ?? 0.1) * 100)}% of the group, the sender among them; handler configuration beyond the defaults: ${Object.entries(
        dynamo?.hostEnv ?? {},
      )
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(', ')}.`,
      '',
      table(
        [
          'operation',
          'registered',
          'recipients',
          'DynamoDB requests',
          'endpoint',
          'RRU',
          'WRU',
          'index WRU (est.)',
          'Mgmt API POSTs',
          'Lambda invocations',
        ],
        allOps.map((op) => [
          op.label,
          n(op.background),
          n(op.recipients),
          `**${n(op.dynamoRequests, 1)}**`,
          n(op.endpointRequests, 1),
          n(op.readUnits, 1),
          n(op.writeUnits, 1),
          n(op.indexWriteUnits, 1),
          n(op.managementPosts),
          `${n(op.lambdaInvocations)} (${Object.entries(op.lambdaByFunction)
            .map(([id, count]) => `${id}${count > 1 ? ` ×${count}` : ''}`)
            .join(', ')})`,
        ]),
      ),
      '',
      'Requests by operation and table (the median repetition, at the largest scale measured):',
      '',
    );
    const seen = new Set<string>();
    for (const op of [...allOps].reverse()) {
      if (seen.has(op.operation)) continue;
      seen.add(op.operation);
      push(`- ${op.label} at ${n(op.background)}: ${breakdown(op)}`);
    }
    push('');
  }

  const listing = results.conversations;
  if (listing && listing.operations.length > 0) {
    push(
      '## Conversation list',
      '',
      `One user with ${n(listing.conversations)} conversations (${n(listing.groups)} of them groups), nothing read, so every`,
      'listed conversation gets an unread count Query (the most a page costs). A page reads the private rows one',
      "deeper than the page, the user's groups and their meta items, then the page's last messages and read positions",
      '(one BatchGetItem each) and the counts: it grows with the page and the groups, not with the history. The send',
      'rows show what the list added to sending (docs/architecture.md, "Conversation list").',
      '',
      ...operationCostTable(
        listing.operations,
        machineCell(results, sectionWindow(results, 'conversations')),
      ),
      '',
    );
  }

  const groups = results.groups;
  if (groups && groups.operations.length > 0) {
    push(
      '## Group life cycle',
      '',
      `Each step in a group of ${n(groups.members)} members, made with one \`create_group\` naming them all (not in`,
      'batches); the owner is online, the other members offline, so the figures are the table work and the presence',
      'lookup, not the pushes. The rows "… online" are measured with that many members connected (the owner among',
      'them): the pushes to the online members (a message, `group_updated`, `message_read`, `message_deleted`) read',
      'the online members (`byOnlineGroup`) and only their presence. Median of the repetitions; docs/architecture.md,',
      '"Groups" and "Online group members", explains each figure.',
      '',
      ...operationCostTable(groups.operations, machineCell(results, sectionWindow(results, 'groups'))),
      '',
    );
  }

  const rich = results.rich;
  if (rich && rich.operations.length > 0) {
    push(
      '## Edits, reactions and typing',
      '',
      'In a private chat whose recipient is online (one connection), with the rate limit on. A reaction is the',
      "user's reaction row (conditional) and the count on the message item; history reads no extra item for the",
      'counts. Typing writes nothing to DynamoDB: its throttle is in memory (per container), and a repeat it drops',
      'makes no request at all. Median of the repetitions; docs/architecture.md, "Edits, reactions and typing",',
      'explains each figure.',
      '',
      ...operationCostTable(rich.operations, machineCell(results, sectionWindow(results, 'rich'))),
      '',
    );
  }

  const attachments = results.attachments;
  if (attachments && attachments.steps.length > 0) {
    push(
      '## Attachments: S3 requests per image message',
      '',
      `One image sent to a group of ${attachments.members} (every member online), counted by the local`,
      "runtime's embedded S3 (what reached it), mean of " +
        `${attachments.repetitions} repetition(s). Presigned URLs are signed locally: the upload grant, each`,
      "recipient's URL and the URLs of history and sync pages cost no request. Each view of the file is one GET",
      'by the client (not counted here). docs/architecture.md, "Attachments (S3)", prices each.',
      '',
      table(
        ['step', 'S3 requests'],
        attachments.steps.map((step) => [step.step, String(step.s3Requests)]),
      ),
      '',
    );
  }

  push(...renderPresenceAccuracy(results.presence));
  const presenceWindow = results.presence ? sectionWindow(results, 'presence') : undefined;
  if (presenceWindow)
    push(`The sweep's time above was measured ${machineCell(results, presenceWindow)}.`, '');

  if (costs.length > 0) {
    // The measured duration is a time: say when its section was loaded.
    const durationLoad = (c: OperationPrice) => {
      const window = c.section ? sectionWindow(results, c.section as SectionName) : undefined;
      return window && isLoaded(window, machine.cores) ? ' (loaded)' : '';
    };
    push(
      '## Cost per million operations',
      '',
      `AWS list prices, ${PRICES.region}, checked ${PRICES.checked}:`,
      '',
      table(
        ['service', 'price', 'source'],
        [
          [
            'Lambda, Arm',
            `$${PRICES.lambda.perGbSecondArm} per GB-second (first 7.5 billion GB-s a month); $${PRICES.lambda.perMillionRequests} per million requests`,
            PRICES.lambda.source,
          ],
          [
            'API Gateway WebSocket',
            `$${PRICES.apiGatewayWebSocket.perMillionMessages.toFixed(2)} per million messages (first billion a month; metered in ${PRICES.apiGatewayWebSocket.messageIncrementKb} KB increments); $${PRICES.apiGatewayWebSocket.perMillionConnectionMinutes} per million connection minutes`,
            PRICES.apiGatewayWebSocket.source,
          ],
          [
            'DynamoDB on-demand, standard table class',
            `$${PRICES.dynamoDbOnDemand.perMillionWriteRequestUnits} per million write request units; $${PRICES.dynamoDbOnDemand.perMillionReadRequestUnits} per million read request units`,
            PRICES.dynamoDbOnDemand.source,
          ],
        ],
      ),
      '',
      `${PRICES.note}`,
      '',
      'Assumptions:',
      '',
      `- Every function has ${ASSUMPTIONS.lambdaMemoryMb} MB (ChatFunction's default; lib/chat-stack.ts sets no other).`,
      '- *Lambda duration (measured)* is the handler time measured in the local runtime, each invocation rounded up to',
      '  1 ms. That is not Lambda duration: locally DynamoDB and the Management API are in-process HTTP servers on this',
      '  (possibly loaded) machine, not network round trips, and 256 MB on Lambda is a fraction of a vCPU. The',
      `  *at ${ASSUMPTIONS.assumedInvocationMs} ms* column prices every invocation at ${ASSUMPTIONS.assumedInvocationMs} ms instead, for scale.`,
      "- API Gateway messages per operation: the frame received, the reply (the route's integration response is a",
      '  message to the client) and one per push; every frame here is far below 32 KB, so each counts once.',
      '  `$connect` and `$disconnect` count 1 (the handshake or the close) plus their pushes: an upper bound, as',
      '  whether API Gateway meters them as messages was not found documented.',
      '- DynamoDB write units: reported + estimated index writes + one per failed conditional write; reads as reported',
      '  (eventually consistent: 0.5 per 4 KB; BatchGetItem counts keys that are not found).',
      "- Not included: connection minutes (below), CloudWatch Logs ingestion of the handlers' logs and metrics, data",
      '  transfer out, DynamoDB storage, free tiers.',
      '',
      table(
        [
          'operation',
          'registered',
          'Lambda requests',
          'Lambda duration (measured)',
          'API Gateway messages',
          'DynamoDB reads',
          'DynamoDB writes',
          '**total**',
          `total with ${ASSUMPTIONS.assumedInvocationMs} ms invocations`,
          'per million deliveries',
        ],
        costs.map((c) => [
          c.label,
          n(c.background),
          usd(c.perMillion.lambdaRequests),
          `${usd(c.perMillion.lambdaDurationMeasured)}${durationLoad(c)}`,
          `${usd(c.perMillion.apiGatewayMessages)} (${n(c.messages)} msg)`,
          usd(c.perMillion.dynamoDbReads),
          `${usd(c.perMillion.dynamoDbWrites)} (${n(c.writeRequestUnits, 1)} WRU)`,
          `**${usd(c.perMillion.total)}**`,
          usd(c.perMillion.totalAssumedDuration),
          c.perMillionDeliveries === null ? 'n/a' : usd(c.perMillionDeliveries),
        ]),
      ),
      '',
      `Connection minutes are billed per connected device, whatever it sends: ${usd(connectionMinutesPerMonth(1000))} a month`,
      `for 1,000 devices connected around the clock (30 days × 1,440 min × $${PRICES.apiGatewayWebSocket.perMillionConnectionMinutes} per million).`,
      '',
    );
  }

  const fanout = results.fanout;
  if (fanout && fanout.points.length > 0) {
    push(
      '## Broadcast fan-out (local runtime, real sockets)',
      '',
      'The clients are WebSockets in the benchmark process; the runtime runs in its own process (scripts/bench/host.ts).',
      'Wall time: from sending `broadcast` to the last client receiving it. The reply (`broadcast_sent`) comes when the',
      'broadcast handler returns: after its last POST when it posts itself, or as soon as it has handed the recipients to',
      'asynchronous fan-out invocations (the Lambda invocations column above shows which happened).',
      '',
    );
    if (charts.fanout) push(`![Broadcast wall time against audience size](${charts.fanout})`, '');
    push(
      table(
        [
          'connections',
          'wall time (median)',
          'runs',
          'recipients/s',
          'reply after',
          'delivered',
          'opening them took',
          'machine',
        ],
        fanout.points.map((p) => [
          n(p.connections),
          `${n(p.wallMs / 1000, 2)} s`,
          p.wallMsRuns.map((ms) => n(ms / 1000, 2)).join(', '),
          n(p.recipientsPerSecond),
          `${n(p.replyMs / 1000, 2)} s`,
          n(p.delivered),
          `${n(fanout.rampSeconds[String(p.connections)] ?? Number.NaN, 1)} s`,
          machineCell(results, sectionWindow(results, 'fanout')),
        ]),
      ),
      '',
      `Runtime host peak RSS ${fanout.hostPeakRssMb ?? 'n/a'} MB; benchmark clients ${fanout.clientPeakRssMb ?? 'n/a'} MB.`,
      '',
    );
    const compared = workerVersusInline(fanout);
    if (compared.length > 0) {
      push(
        `Above ${n(fanout.workerThreshold ?? 1000)} connections the broadcast goes to fan-out workers. The same audiences,`,
        'measured again on a runtime that posts every fan-out inline: summed handler time is every invocation of the',
        'broadcast added up (handler and workers), as Lambda bills them; medians of the runs.',
        '',
        table(
          [
            'connections',
            'workers: wall',
            'workers: summed handler time',
            'inline: wall',
            'inline: handler time',
            'handler time, workers / inline',
            'machine',
          ],
          compared.map((c) => [
            n(c.connections),
            `${n(c.workers.wallMs / 1000, 2)} s`,
            `${n(c.workers.handlerMs / 1000, 2)} s (${n(c.workers.invocations)} invocations)`,
            `${n(c.inline.wallMs / 1000, 2)} s`,
            `${n(c.inline.handlerMs / 1000, 2)} s`,
            `${n(c.handlerRatio, 2)}×`,
            machineCell(results, sectionWindow(results, 'fanout')),
          ]),
        ),
        '',
      );
    }
  }

  const side = results.sample;
  if (side && side.points.length > 0) {
    push(...sideBySide(results, side), '');
  }

  const bundles = results.bundles;
  if (bundles && bundles.functions.length > 0) {
    const recommendation = bundlingRecommendation(results);
    push(
      '## Bundles and module init',
      '',
      `esbuild ${bundles.esbuildVersion} with the options lib/constructs/chat-function.ts bundles every handler with (handlerBuildOptions)`,
      `(\`${JSON.stringify(bundles.options)}\`), once as deployed (SDK bundled) and once with \`@aws-sdk/*\``,
      "external (CDK's default; here the SDK resolves from this repository's node_modules, as a runtime-provided SDK",
      'would from /var/runtime).',
      `Init: a fresh \`${['node', ...bundles.nodeFlags].join(' ')}\` process imports the bundle (${
        bundles.nodeFlags.length > 0
          ? `Lambda sets NODE_OPTIONS=${bundles.nodeFlags.join(' ')}`
          : 'the stack sets no NODE_OPTIONS: source maps ship beside the bundles but are not loaded'
      })`,
      'and calls its handler once (the SDK clients are built and send their first',
      'requests, to a local runtime: see scripts/bench/bundles.ts for each first call); median of',
      `${bundles.runs} runs after a warm-up, each the median of ${bundles.processesPerRun ?? 1} processes (p90 over every process), variants interleaved.`,
      "*first call: its process's CPU* is the CPU time of the function's process during the first call, all its threads",
      '(so it can exceed the wall time: V8 compiles and collects garbage beside the main thread). Close to the wall time,',
      "the first call is the function's own work; well below it, the process waited, mostly for the local runtime, which",
      "answers on the same cores (on AWS, DynamoDB's answers cost the function no CPU).",
      '',
    );
    if (recommendation) push(`**Recommendation:** ${recommendation}`, '');
    push(
      table(
        [
          'function',
          'bundled: size (gzip)',
          'SDK share',
          'init median: import + first call (p90)',
          "first call: its process's CPU",
          bundles.functions.every((b) => b.bundledWithSourceMaps)
            ? 'init with --enable-source-maps'
            : 'init without source maps',
          'SDK external: size (gzip)',
          'init median (p90)',
          'machine',
        ],
        bundles.functions.map((b) => [
          b.functionId,
          `${kb(b.bundled.bytes)} (${kb(b.bundled.gzipBytes)})`,
          pct(b.bundled.sdkBytes, b.bundled.bytes),
          `${ms(b.bundled.initMsMedian)}: ${n(b.bundled.importMsMedian ?? Number.NaN, 1)} + ${n(b.bundled.firstCallMsMedian ?? Number.NaN, 1)} (${n(b.bundled.initMsP90, 1)})`,
          b.bundled.firstCallCpuMsMedian === undefined ? 'n/a' : ms(b.bundled.firstCallCpuMsMedian),
          ms((b.bundledWithSourceMaps ?? b.bundledWithoutSourceMaps)?.initMsMedian ?? Number.NaN),
          `${kb(b.external.bytes)} (${kb(b.external.gzipBytes)})`,
          `${ms(b.external.initMsMedian)} (${n(b.external.initMsP90, 1)})`,
          machineCell(results, sectionWindow(results, 'bundles')),
        ]),
      ),
      '',
    );
    const sample = bundles.functions.find((b) => b.functionId === 'sendMessage') ?? bundles.functions[0];
    if (sample) {
      push(
        `What a bundle is made of (${sample.functionId}, bundled): ${sample.bundled.topPackages
          .map((p) => `${p.name} ${kb(p.bytes)}`)
          .join(', ')}; source map ${kb(sample.bundled.mapBytes)}.`,
        '',
      );
    }
  }

  const latency = results.latency;
  if (latency && latency.points.length > 0) {
    push(
      '## Local runtime: 1:1 latency under load',
      '',
      `Measured with \`npm run soak\` (scripts/soak.ts, see docs/soak.md): one run per rate (a target's rate: several, below), each with a fresh runtime and`,
      `${n(latency.connections)} connected clients (one user each) sending \`send_message\`s between random pairs; latency is`,
      'send → recipient receipt. A rate is *sustained* when p99 ≤ ' +
        `${latency.p99LimitMs} ms, nothing was lost or duplicated, no error came back, every client connected and the rate was sent.`,
      'Lost: stored and never received once the runtime had gone idle; a message still on its way when the soak stopped waiting (30 s after its drain) counts as lost too.',
      '',
    );
    if (charts.latency) push(`![1:1 latency percentiles against rate](${charts.latency})`, '');
    push(
      table(
        [
          'rate (msg/s)',
          'run',
          'p50',
          'p95',
          'p99',
          'max',
          'sent/s',
          'lost',
          'errors',
          'runtime peak RSS',
          'sustained',
          'machine',
        ],
        latency.points.map((p) => [
          n(p.rate),
          `${p.phase}, ${p.seconds} s${p.runs && p.runs.length > 1 ? `, median of ${p.runs.length} runs` : ''}`,
          ms(p.p50),
          ms(p.p95),
          ms(p.p99),
          ms(p.max),
          n(p.achievedRate, 1),
          n(p.lost),
          Object.keys(p.errors).length ? JSON.stringify(p.errors) : 'none',
          p.runtimePeakRssMb === null ? 'n/a' : `${n(p.runtimePeakRssMb)} MB`,
          p.sustained ? 'yes' : 'no',
          machineCell(results, p.load ?? sectionWindow(results, 'latency')),
        ]),
      ),
      '',
      ...latencyRunLines(results, latency.points),
      `Highest rate sustained: **${latency.maxSustainedRate === null ? 'none of the rates tried' : `${n(latency.maxSustainedRate)} msg/s`}**` +
        `${latency.firstFailingRate === null ? '' : ` (${n(latency.firstFailingRate)} msg/s was not)`}; peak memory of the runtime ${latency.peakRssMb ?? 'n/a'} MB (VmHWM).`,
      '',
    );
  }
  push(
    '## Caveats',
    '',
    '- Counts (requests, capacity units, calls, invocations) are properties of the code and do not depend on the',
    '  machine. Times do: they are local-runtime times on this machine, not AWS latencies.',
    '- dynalite is not DynamoDB: capacity is computed the same way for items and queries, but global secondary index',
    "  writes and failed conditional writes are estimated (see above), and its latency is not DynamoDB's.",
    '- Prices change: the table above carries the date they were checked.',
    '',
  );
  return out.join('\n');
}
