/**
 * Child-process entry of the embedded S3 server:
 *   node --openssl-legacy-provider --import tsx emulator/s3/main.ts \
 *     --port 8701 --dir .local/s3 --bucket a --bucket b [--webhook URL] [--host 127.0.0.1]
 * Prints one JSON line `{"ready":true,"url":…}` on stdout once it listens.
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
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
mkdirSync(values.dir, { recursive: true });
const server = await startEmbeddedS3({
  host: values.host,
  port: Number(values.port),
  directory: values.dir,
  buckets: values.bucket,
  ...(values.webhook ? { webhookUrl: values.webhook } : {}),
  ...(process.env['TK_WEBHOOK_TOKEN'] ? { webhookToken: process.env['TK_WEBHOOK_TOKEN'] } : {}),
  log: (line) => process.stderr.write(`[s3] ${line}\n`),
});
process.stdout.write(`${JSON.stringify({ ready: true, url: server.url })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
