/**
 * The embedded S3-compatible server of the local stack (s3rver), run in its own process.
 * Its object events are forwarded to the emulator as S3 webhook notifications — the same
 * path MinIO's webhook target takes — and retried until the emulator takes them.
 *
 * Needs Node's `--openssl-legacy-provider` (else truncated ListObjectsV2 answers are 500).
 */
import S3rver from 's3rver';

/** Local credentials s3rver accepts (its built-in account). */
export const EMBEDDED_S3_ACCESS_KEY_ID = 'S3RVER';
export const EMBEDDED_S3_SECRET_ACCESS_KEY = 'S3RVER';
const WEBHOOK_RETRY_LIMIT_MS = 10 * 60 * 1000;

export interface EmbeddedS3Options {
  host: string;
  port: number;
  directory: string;
  buckets: string[];
  webhookUrl?: string;
  webhookToken?: string;
  log?: (line: string) => void;
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
  });
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
