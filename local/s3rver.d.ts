/** Types for the parts of `s3rver` (no published types) the local runtime uses. */
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface S3rverOptions {
    /** Where buckets and objects are kept (files). */
    directory: string;
    silent?: boolean;
    /** Buckets created at start, each with its configuration documents (CORS XML). */
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** A Koa application speaking (most of) the S3 REST API. */
  class S3rver {
    constructor(options: S3rverOptions);
    configureBuckets(): Promise<void>;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    logger: { exceptions: { unhandle(): void }; close(): void };
  }
  export default S3rver;
}

declare module 's3rver/lib/models/account.js' {
  /** The account every key pair of s3rver belongs to. */
  export const DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}
