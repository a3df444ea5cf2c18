/**
 * The attachments bucket: private, encrypted, TLS only, CORS for browsers, lifecycle (uploads
 * soon, attached files with the messages); and who may do what on it (lib/function-specs.ts
 * `attachments`): PutObject on `uploads/*` for createUpload alone, HeadObject and CopyObject
 * of uploads plus PutObject on `attachments/*` for the send functions, GetObject (presigned
 * GETs) on `attachments/*` for the send and read functions; nothing else.
 * Run: npx tsx --test test/cdk/attachments.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FunctionId, functionSpecs } from '../../lib/function-specs.ts';
import { synthChatStack } from '../support/cdk-stack.ts';
import { lambdaEnvironment, render, resourcesOfType } from '../support/cdk-template.ts';

const { template, stack, logicalId } = synthChatStack({
  allowedOrigins: ['https://chat.example.com'],
  messageRetentionDays: 30,
  attachments: { maxBytes: 1_000_000, contentTypes: ['image/png', 'image/jpeg'] },
});
const bucketId = logicalId(stack.attachments.bucket);
const bucket = resourcesOfType(template, 'AWS::S3::Bucket')[bucketId];
const uploads = `\${${bucketId}.Arn}/uploads/*`;
const attached = `\${${bucketId}.Arn}/attachments/*`;

/** The S3 statements of a function's role policy: actions and resources. */
function s3GrantsOf(functionId: FunctionId): { actions: string[]; resources: string[] }[] {
  const fn = resourcesOfType(template, 'AWS::Lambda::Function')[
    logicalId(stack.functions[functionId].function)
  ];
  const roleArn = render(fn?.Properties?.Role);
  const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((policy) =>
    [policy.Properties?.Roles as unknown[]]
      .flat()
      .some((role) => `${render(role).slice(0, -1)}.Arn}` === roleArn),
  );
  return policies
    .flatMap(
      (policy) =>
        (policy.Properties?.PolicyDocument as { Statement: Record<string, unknown>[] } | undefined)
          ?.Statement ?? [],
    )
    .map((statement) => ({
      actions: [statement.Action as string | string[]].flat().filter((action) => action.startsWith('s3:')),
      resources: [statement.Resource as unknown].flat().map((resource) => render(resource)),
    }))
    .filter((statement) => statement.actions.length > 0);
}

describe('attachments bucket', () => {
  it('blocks all public access, owns its objects, encrypts with S3-managed keys', () => {
    assert.ok(bucket, 'one attachments bucket');
    assert.deepEqual(bucket.Properties?.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(bucket.Properties?.OwnershipControls, {
      Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
    });
    assert.deepEqual(bucket.Properties?.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    assert.equal(bucket.DeletionPolicy, 'Retain');
  });

  it('refuses every request without TLS', () => {
    const policy = Object.values(resourcesOfType(template, 'AWS::S3::BucketPolicy')).find(
      (candidate) => render(candidate.Properties?.Bucket) === `\${${bucketId}}`,
    );
    const document = policy?.Properties?.PolicyDocument as
      | { Statement: Record<string, unknown>[] }
      | undefined;
    const statements = document?.Statement ?? [];
    assert.ok(
      statements.some(
        (statement) =>
          statement.Effect === 'Deny' &&
          statement.Action === 's3:*' &&
          JSON.stringify(statement.Condition) ===
            JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
    );
  });

  it('lets the allowed origins PUT and GET from a browser', () => {
    assert.deepEqual(bucket?.Properties?.CorsConfiguration, {
      CorsRules: [
        {
          AllowedHeaders: ['Content-Type'],
          AllowedMethods: ['PUT', 'GET', 'HEAD'],
          AllowedOrigins: ['https://chat.example.com'],
          ExposedHeaders: ['ETag'],
          MaxAge: 3600,
        },
      ],
    });
  });

  it('expires uploads a day after they can no longer be attached, attached files a day after the messages that show them', () => {
    assert.deepEqual(bucket?.Properties?.LifecycleConfiguration, {
      Rules: [
        {
          Id: 'AbortIncompleteUploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        // ATTACHMENT_MAX_AGE_SECONDS defaults to one day: two days.
        { Id: 'ExpireUploads', Prefix: 'uploads/', ExpirationInDays: 2, Status: 'Enabled' },
        { Id: 'ExpireAttachments', Prefix: 'attachments/', ExpirationInDays: 31, Status: 'Enabled' },
      ],
    });
  });

  it('keeps attached files for ever when messages are kept for ever (the default); uploads still expire', () => {
    const defaults = synthChatStack({ attachments: { maxAgeSeconds: 3 * 86_400 + 1 } });
    const rules = resourcesOfType(defaults.template, 'AWS::S3::Bucket')[
      defaults.logicalId(defaults.stack.attachments.bucket)
    ]?.Properties?.LifecycleConfiguration as {
      Rules: { Id: string; Prefix?: string; ExpirationInDays?: number }[];
    };
    assert.deepEqual(
      rules.Rules.filter((rule) => rule.Prefix !== undefined).map(({ Id, Prefix, ExpirationInDays }) => ({
        Id,
        Prefix,
        ExpirationInDays,
      })),
      // Three days and a second cover four whole days; one more of slack.
      [{ Id: 'ExpireUploads', Prefix: 'uploads/', ExpirationInDays: 5 }],
    );
  });

  it('gives the limits and the bucket name to the functions that use the bucket, and to no other', () => {
    for (const [functionId, spec] of Object.entries(functionSpecs) as [
      FunctionId,
      (typeof functionSpecs)[FunctionId],
    ][]) {
      const env = lambdaEnvironment(
        resourcesOfType(template, 'AWS::Lambda::Function')[logicalId(stack.functions[functionId].function)],
      );
      if (spec.attachments?.length) {
        assert.equal(env.ATTACHMENTS_BUCKET, `\${${bucketId}}`, functionId);
        assert.equal(env.ATTACHMENT_MAX_BYTES, '1000000', functionId);
        assert.equal(env.ATTACHMENT_CONTENT_TYPES, 'image/png,image/jpeg', functionId);
      } else {
        assert.equal(env.ATTACHMENTS_BUCKET, undefined, functionId);
      }
    }
  });
});

describe('who may do what on the bucket', () => {
  const senders = ['sendMessage', 'sendGroupMessage', 'sendRoomMessage', 'httpApi'] as const;
  const readers = ['history', 'sync'] as const;

  it('only createUpload may PutObject under uploads/ (presign uploads); only the send functions under attachments/', () => {
    assert.deepEqual(s3GrantsOf('createUpload'), [{ actions: ['s3:PutObject'], resources: [uploads] }]);
    const putters = (Object.keys(functionSpecs) as FunctionId[]).filter((id) =>
      s3GrantsOf(id).some((statement) => statement.actions.includes('s3:PutObject')),
    );
    assert.deepEqual(putters.sort(), ['createUpload', ...senders].sort());
  });

  it('the send functions may read uploads (HeadObject, CopyObject source) and copy them to attachments/', () => {
    for (const functionId of senders) {
      assert.deepEqual(
        s3GrantsOf(functionId),
        [
          { actions: ['s3:GetObject'], resources: [uploads] },
          { actions: ['s3:GetObject', 's3:PutObject'], resources: [attached] },
        ],
        functionId,
      );
    }
  });

  it('the read functions may GetObject (presigned GETs) under attachments/ only; no other function anything', () => {
    for (const functionId of readers) {
      assert.deepEqual(
        s3GrantsOf(functionId),
        [{ actions: ['s3:GetObject'], resources: [attached] }],
        functionId,
      );
    }
    const granted: readonly string[] = ['createUpload', ...senders, ...readers];
    const others = (Object.keys(functionSpecs) as FunctionId[]).filter((id) => !granted.includes(id));
    for (const functionId of others) assert.deepEqual(s3GrantsOf(functionId), [], functionId);
  });
});
