import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  ATTACHED_KEY_PREFIX,
  ATTACHMENT_KEY_PREFIXES,
  type AttachmentGrant,
  UPLOAD_KEY_PREFIX,
} from '../function-specs.ts';

export interface ChatAttachmentsProps {
  /** Origins a browser may PUT from and GET from (the page's); default any. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Days an object under `uploads/` is kept (a lifecycle expiration): long enough for a
   * message to attach it (the send copies it to `attachments/`), so a never-attached
   * upload is soon gone. At least 1.
   */
  readonly uploadRetentionDays: number;
  /**
   * Days an attached file (under `attachments/`) is kept (a lifecycle expiration), as long
   * as the messages that show it. 0: for ever (no expiration rule).
   */
  readonly retentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The attachments bucket: private (all public access blocked, objects owned by the bucket
 * owner, no ACLs), SSE-S3 encrypted, TLS only, CORS for browsers' presigned PUTs and GETs,
 * and lifecycle rules. Objects are reached only through presigned URLs signed by the
 * functions granted in lib/function-specs.ts, on `uploads/*` and `attachments/*` only.
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
        // Uploads no message attached (an attached one was copied to attachments/).
        {
          id: 'ExpireUploads',
          prefix: UPLOAD_KEY_PREFIX,
          expiration: Duration.days(props.uploadRetentionDays),
        },
        ...(props.retentionDays > 0
          ? [
              {
                id: 'ExpireAttachments',
                prefix: ATTACHED_KEY_PREFIX,
                expiration: Duration.days(props.retentionDays),
              },
            ]
          : []),
      ],
    });
  }

  /** The S3 statements' resources as cdk-nag reports them (one per key prefix). */
  objectsNagResources(): string[] {
    const logicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    return ATTACHMENT_KEY_PREFIXES.map((prefix) => `<${logicalId}.Arn>/${prefix}*`);
  }

  /** One statement per grant: `s3:{action}` on `{prefix}*` of the bucket; nothing else. */
  grant(grantee: iam.IGrantable, grants: readonly AttachmentGrant[]): void {
    for (const { prefix, actions } of grants) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: actions.map((action) => `s3:${action}`),
          resources: [this.bucket.arnForObjects(`${prefix}*`)],
        }),
      );
    }
  }
}
