/**
 * The attachments bucket: private, encrypted, TLS only, CORS for browsers, lifecycle; and
 * who may do what on it (lib/function-specs.ts `attachments`): PutObject for createUpload
 * alone, GetObject (HeadObject, presigned GETs) for the send and read functions, all on
 * `uploads/*` only.
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
const objects = `\${${bucketId}.Arn}/uploads/*`;

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

  it('expires uploads a day after the messages that may show them, and clears incomplete multipart uploads', () => {
    assert.deepEqual(bucket?.Properties?.LifecycleConfiguration, {
      Rules: [
        {
          Id: 'AbortIncompleteUploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
        { Id: 'ExpireUploads', Prefix: 'uploads/', ExpirationInDays: 31, Status: 'Enabled' },
      ],
    });
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
  it('only createUpload may PutObject (presign uploads), only under uploads/', () => {
    assert.deepEqual(s3GrantsOf('createUpload'), [{ actions: ['s3:PutObject'], resources: [objects] }]);
    const putters = (Object.keys(functionSpecs) as FunctionId[]).filter((id) =>
      s3GrantsOf(id).some((statement) => statement.actions.includes('s3:PutObject')),
    );
    assert.deepEqual(putters, ['createUpload']);
  });

  it('the send and read functions may GetObject (HeadObject, presigned GETs) under uploads/, nothing more', () => {
    const readers = [
      'sendMessage',
      'sendGroupMessage',
      'sendRoomMessage',
      'history',
      'sync',
      'httpApi',
    ] as const;
    for (const functionId of readers) {
      assert.deepEqual(
        s3GrantsOf(functionId),
        [{ actions: ['s3:GetObject'], resources: [objects] }],
        functionId,
      );
    }
    const others = (Object.keys(functionSpecs) as FunctionId[]).filter(
      (id) => id !== 'createUpload' && !(readers as readonly string[]).includes(id),
    );
    for (const functionId of others) assert.deepEqual(s3GrantsOf(functionId), [], functionId);
  });
});
