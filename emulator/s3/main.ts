/**
 * Child-process entry of the embedded S3 server:
 *   TK_S3_ACCESS_KEY_ID=… TK_S3_SECRET_ACCESS_KEY=… TK_WEBHOOK_TOKEN=… \
 *   node --openssl-legacy-provider --import tsx emulator/s3/main.ts \
 *     --port 8701 --dir .local/s3 --bucket a --bucket b [--webhook URL] [--host 127.0.0.1]
 * Secrets come in the environment (never argv, which other users see in `ps`).
 * Prints one JSON line `{"ready":true,"url":…}` on stdout once it listens.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { installLastResort } from '../http-guard.ts';
import { startEmbeddedS3 } from './embedded.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8701' },
    dir: { type: 'string' },
    bucket: { type: 'string', multiple: true, default: [] },
    webhook: { type: 'string' },
  },
});
if (!values.dir) {
  process.stderr.write('--dir is required\n');
  process.exit(2);
}
const accessKeyId = process.env['TK_S3_ACCESS_KEY_ID'];
const secretAccessKey = process.env['TK_S3_SECRET_ACCESS_KEY'];
if (!accessKeyId || !secretAccessKey) {
  process.stderr.write('TK_S3_ACCESS_KEY_ID and TK_S3_SECRET_ACCESS_KEY are required (the only key the server accepts)\n');
  process.exit(2);
}
const log = (line: string) => process.stderr.write(`[s3] ${line}\n`);
installLastResort({ error: log });
mkdirSync(values.dir, { recursive: true });
const server = await startEmbeddedS3({
  host: values.host,
  port: Number(values.port),
  directory: values.dir,
  buckets: values.bucket,
  ...(values.webhook ? { webhookUrl: values.webhook } : {}),
  ...(process.env['TK_WEBHOOK_TOKEN'] ? { webhookToken: process.env['TK_WEBHOOK_TOKEN'] } : {}),
  credentials: { accessKeyId, secretAccessKey },
  log,
});
process.stdout.write(`${JSON.stringify({ ready: true, url: server.url })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
