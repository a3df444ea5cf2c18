import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface ChatAlarmsProps {
  /**
   * Subscribed by e-mail to an SNS topic every alarm notifies.
   *
   * @default - no topic: the alarms are visible in the console and can be wired later
   */
  readonly alarmEmail?: string;
}

/**
 * CloudWatch alarms. Thresholds: any Lambda error or throttle in 5 minutes, any message
 * in a dead-letter queue, and 5 or more integration/execution errors on an API stage in
 * 5 minutes. Missing data (no traffic) is not breaching.
 */
export class ChatAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;

  constructor(scope: Construct, id: string, props: ChatAlarmsProps = {}) {
    super(scope, id);
    if (props.alarmEmail) {
      this.topic = new sns.Topic(this, 'Topic', { displayName: 'Chat backend alarms', enforceSSL: true });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
  }

  /** Errors >= 1 and Throttles >= 1 in 5 minutes. */
  forFunction(name: string, fn: lambda.IFunction): void {
    this.add(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 1);
    this.add(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }), 1);
  }

  /** Any message waiting in the queue (a failed asynchronous invocation). */
  forDeadLetterQueue(name: string, queue: sqs.IQueue): void {
    this.add(
      `${name}Depth`,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      1,
    );
  }

  add(id: string, metric: cloudwatch.IMetric, threshold: number): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${id} >= ${threshold} (see docs/security.md)`,
    });
    if (this.topic) alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
