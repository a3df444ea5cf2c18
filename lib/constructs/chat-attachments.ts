import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ATTACHMENT_KEY_PREFIX, type AttachmentAction } from '../function-specs.ts';

export interface ChatAttachmentsProps {
  /** Origins a browser may PUT from and GET from (the page's); default any. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Days an object under `uploads/` is kept (a lifecycle expiration): attached or not, so a
   * never-attached upload is gone after this too. 0: for ever (no expiration rule).
   */
  readonly retentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The attachments bucket: private (all public access blocked, objects owned by the bucket
 * owner, no ACLs), SSE-S3 encrypted, TLS only, CORS for browsers' presigned PUTs and GETs,
 * and lifecycle rules. Objects are reached only through presigned URLs signed by the
 * functions granted in lib/function-specs.ts, on `uploads/*` only.
 */
export class ChatAttachments extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ChatAttachmentsProps) {
    super(scope, id);
    const origins = props.allowedOrigins?.length ? [...props.allowedOrigins] : ['*'];
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: props.removalPolicy,
      cors: [
        {
          allowedOrigins: origins,
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedHeaders: ['Content-Type'],
          exposedHeaders: ['ETag'],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [
        // A presigned PUT is one request, never multipart; anything else started is cleared.
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(props.retentionDays > 0
          ? [
              {
                id: 'ExpireUploads',
                prefix: ATTACHMENT_KEY_PREFIX,
                expiration: Duration.days(props.retentionDays),
              },
            ]
          : []),
      ],
    });
  }

  /** The S3 statements' resource as cdk-nag reports it. */
  objectsNagResource(): string {
    const logicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    return `<${logicalId}.Arn>/${ATTACHMENT_KEY_PREFIX}*`;
  }

  /** `s3:{action}` on `uploads/*` of the bucket, for each action; nothing else. */
  grant(grantee: iam.IGrantable, actions: readonly AttachmentAction[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: actions.map((action) => `s3:${action}`),
        resources: [this.bucket.arnForObjects(`${ATTACHMENT_KEY_PREFIX}*`)],
      }),
    );
  }
}
