declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { AddressInfo } from 'node:net';
  import type { Readable } from 'node:stream';

  export interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The part of Koa's context the embedded server's own middleware uses. */
  export interface S3rverContext {
    /** The request body stream s3rver's controllers read (replaceable). */
    req: IncomingMessage | Readable;
    readonly request: { readonly req: IncomingMessage };
    readonly res: ServerResponse;
    readonly method: string;
    readonly url: string;
    status: number;
    type: string;
    body: unknown;
    set(field: string, value: string): void;
  }

  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

  class S3rver extends EventEmitter {
    constructor(options: S3rverOptions);
    /** Koa's middleware stack (composed when the server starts listening). */
    middleware: S3rverMiddleware[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
  export default S3rver;
}

declare module 's3rver/lib/models/account.js' {
  interface AWSAccount {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
  }
  const AWSAccountClass: { DUMMY_ACCOUNT: AWSAccount };
  export default AWSAccountClass;
}
