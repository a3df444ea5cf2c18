/**
 * AWS list prices (us-east-1, on-demand, first pricing tier) and the cost of an operation
 * from its measured counts. Update PRICES (and `checked`) when AWS changes them; the
 * report prints this table with its date and sources.
 */
import type { OperationCost } from './types.ts';

export const PRICES = {
  region: 'us-east-1 (US East, N. Virginia)',
  checked: '2026-11-21',
  lambda: {
    /** Arm (Graviton), first 7.5 billion GB-seconds a month. */
    perGbSecondArm: 0.0000133334,
    perMillionRequests: 0.2,
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  apiGatewayWebSocket: {
    /** First billion messages a month; messages are metered in 32 KB increments. */
    perMillionMessages: 1.0,
    perMillionConnectionMinutes: 0.25,
    messageIncrementKb: 32,
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  dynamoDbOnDemand: {
    /** Standard table class, since the on-demand price cut of 1 November 2024. */
    perMillionWriteRequestUnits: 0.625,
    perMillionReadRequestUnits: 0.125,
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  note:
    'Checked with the search tool in stored copies of the AWS pricing pages and of third-party summaries ' +
    "that quote them (the AWS pages render their rate tables from price tokens, so the stored copies' " +
    'numbers come from their worked examples and from those summaries); free tiers, Savings Plans and ' +
    'volume tiers are ignored.',
} as const;

export interface CostAssumptions {
  /** Lambda memory of every function: ChatFunction's default (lib/constructs/chat-function.ts), which lib/chat-backend.ts does not override. */
  readonly lambdaMemoryMb: number;
  /** Duration assumed per invocation for the second Lambda estimate, ms. */
  readonly assumedInvocationMs: number;
}

export const ASSUMPTIONS: CostAssumptions = { lambdaMemoryMb: 256, assumedInvocationMs: 50 };

export interface OperationPrice {
  readonly operation: string;
  /** The bench section that measured it (its load says whether the measured duration was loaded). */
  readonly section?: string;
  readonly label: string;
  readonly background: number;
  readonly recipients: number;
  /** Dollars per million operations, by component. */
  readonly perMillion: {
    readonly lambdaRequests: number;
    /** Billed duration from the handler time measured locally. */
    readonly lambdaDurationMeasured: number;
    /** Billed duration at `assumedInvocationMs` per invocation. */
    readonly lambdaDurationAssumed: number;
    readonly apiGatewayMessages: number;
    readonly dynamoDbReads: number;
    readonly dynamoDbWrites: number;
    /** Lambda requests + measured duration + messages + DynamoDB. */
    readonly total: number;
    /** The same with the assumed duration. */
    readonly totalAssumedDuration: number;
  };
  /** API Gateway messages per operation: the frame received, the reply, and every push. */
  readonly messages: number;
  /** Write request units per operation: reported + estimated index writes + failed conditional writes. */
  readonly writeRequestUnits: number;
  readonly readRequestUnits: number;
  /** Dollars per million recipients reached (total / recipients). */
  readonly perMillionDeliveries: number | null;
}

const perMillion = (count: number, pricePerMillion: number) => count * pricePerMillion;

export function priceOperation(
  cost: OperationCost,
  assumptions: CostAssumptions = ASSUMPTIONS,
): OperationPrice {
  const gb = assumptions.lambdaMemoryMb / 1024;
  // Lambda duration: $ per GB-s × GB × seconds, for a million operations.
  const durationCost = (ms: number) => (ms / 1000) * gb * PRICES.lambda.perGbSecondArm * 1_000_000;
  // Frames are small (a chat message is far below 32 KB), so each is one metered message.
  const messages = (cost.clientMessages ?? 2) + cost.managementPosts;
  const writeRequestUnits = cost.writeUnits + cost.indexWriteUnits + cost.failedConditionalWrites;
  const readRequestUnits = cost.readUnits;
  const lambdaRequests = perMillion(cost.lambdaInvocations, PRICES.lambda.perMillionRequests);
  const lambdaDurationMeasured = durationCost(cost.billedMs);
  const lambdaDurationAssumed = durationCost(cost.lambdaInvocations * assumptions.assumedInvocationMs);
  const apiGatewayMessages = perMillion(messages, PRICES.apiGatewayWebSocket.perMillionMessages);
  const dynamoDbReads = perMillion(readRequestUnits, PRICES.dynamoDbOnDemand.perMillionReadRequestUnits);
  const dynamoDbWrites = perMillion(writeRequestUnits, PRICES.dynamoDbOnDemand.perMillionWriteRequestUnits);
  const shared = lambdaRequests + apiGatewayMessages + dynamoDbReads + dynamoDbWrites;
  const total = shared + lambdaDurationMeasured;
  return {
    operation: cost.operation,
    label: cost.label,
    background: cost.background,
    recipients: cost.recipients,
    perMillion: {
      lambdaRequests,
      lambdaDurationMeasured,
      lambdaDurationAssumed,
      apiGatewayMessages,
      dynamoDbReads,
      dynamoDbWrites,
      total,
      totalAssumedDuration: shared + lambdaDurationAssumed,
    },
    messages,
    writeRequestUnits,
    readRequestUnits,
    perMillionDeliveries: cost.recipients > 0 ? total / cost.recipients : null,
  };
}

/** Connection minutes: dollars a month for `devices` connected around the clock (30 days). */
export function connectionMinutesPerMonth(devices: number): number {
  return ((devices * 30 * 24 * 60) / 1_000_000) * PRICES.apiGatewayWebSocket.perMillionConnectionMinutes;
}
