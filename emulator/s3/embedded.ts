/**
 * The embedded S3-compatible server of the local stack (s3rver), run in its own process.
 * Its object events are forwarded to the emulator as S3 webhook notifications — the same
 * path MinIO's webhook target takes — and retried until the emulator takes them.
 *
 * Only requests signed (SigV4) with the stack's S3 key get through (docs/design.md §Security):
 * s3rver itself lets anonymous requests in and does not compute V4 signatures, so a middleware
 * in front of its own checks every request (`verifySigV4`), and s3rver's built-in `S3RVER` key
 * is revoked.
 *
 * Needs Node's `--openssl-legacy-provider` (else truncated ListObjectsV2 answers are 500).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import S3rver, { type S3rverContext } from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';
import { payloadMatches, S3AuthError, verifySigV4, type S3Credentials } from './sigv4.ts';

const WEBHOOK_RETRY_LIMIT_MS = 10 * 60 * 1000;
/** The largest signed-payload body the embedded server buffers to check its hash. */
export const S3_SIGNED_BODY_LIMIT_BYTES = 256 * 1024 * 1024;
/** s3rver's own built-in key pair, revoked at start. */
const S3RVER_BUILTIN_KEY_ID = 'S3RVER';

/** A fresh key pair for a stack's embedded S3 server. */
export function generateS3Credentials(): S3Credentials {
  return { accessKeyId: `TKS3${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

export interface EmbeddedS3Options {
  host: string;
  port: number;
  directory: string;
  buckets: string[];
  webhookUrl?: string;
  webhookToken?: string;
  /** The only key pair the server accepts. */
  credentials: S3Credentials;
  log?: (line: string) => void;
}

const xmlEscape = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function refuse(ctx: S3rverContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.set('connection', 'close');
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>`;
}

async function readAll(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  return tooLarge ? null : Buffer.concat(chunks);
}

/** Koa middleware: a request gets to s3rver only when signed with `credentials` (and its body has the signed hash). */
export function requireSignedRequests(credentials: S3Credentials) {
  return async (ctx: S3rverContext, next: () => Promise<void>): Promise<void> => {
    const req = ctx.request.req;
    req.on('error', () => undefined);
    let verified;
    try {
      verified = verifySigV4({ method: req.method ?? 'GET', url: req.url ?? '/', rawHeaders: req.rawHeaders }, credentials);
    } catch (error) {
      req.resume();
      if (error instanceof S3AuthError) {
        refuse(ctx, error.status, error.code, error.message);
        return;
      }
      throw error;
    }
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
    if (verified.payloadSha256 !== undefined && hasBody) {
      const body = await readAll(req, S3_SIGNED_BODY_LIMIT_BYTES);
      if (!body) {
        refuse(ctx, 400, 'EntityTooLarge', `a signed body larger than ${S3_SIGNED_BODY_LIMIT_BYTES} bytes is not accepted`);
        return;
      }
      if (!payloadMatches(body, verified.payloadSha256)) {
        refuse(ctx, 400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
        return;
      }
      ctx.req = Readable.from([body]);
    }
    await next();
  };
}

async function postWithRetry(url: string, body: string, token: string | undefined, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-tk-key-encoding': 'raw',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body,
      });
      if (res.ok) return;
      log(`webhook ${url} answered ${res.status}`);
    } catch (error) {
      if (attempt === 0) log(`webhook ${url} unreachable (${String(error)}); retrying`);
    }
    if (Date.now() - started > WEBHOOK_RETRY_LIMIT_MS) {
      log(`webhook ${url}: gave up on a notification after ${attempt + 1} attempts`);
      return;
    }
    await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
  }
}

export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<{ url: string; close(): Promise<void> }> {
  const log = options.log ?? (() => undefined);
  const server = new S3rver({
    address: options.host,
    port: options.port,
    silent: true,
    directory: options.directory,
    configureBuckets: options.buckets.map((name) => ({ name })),
    allowMismatchedSignatures: false,
  });
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey(S3RVER_BUILTIN_KEY_ID);
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(options.credentials.accessKeyId, options.credentials.secretAccessKey);
  server.middleware.unshift(requireSignedRequests(options.credentials));
  // Notifications go out one at a time, in the order the objects were written.
  let chain: Promise<void> = Promise.resolve();
  server.on('event', (event: unknown) => {
    if (!options.webhookUrl) return;
    const url = options.webhookUrl;
    const body = JSON.stringify(event);
    chain = chain.then(() => postWithRetry(url, body, options.webhookToken, log));
  });
  const address = await server.run();
  return {
    url: `http://${options.host}:${address.port}`,
    close: async () => {
      await server.close();
      await chain;
    },
  };
}
