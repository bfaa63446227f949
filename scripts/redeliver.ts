/**
 * `npm run redeliver -- --trail NAME --from ISO --to ISO [--account ID]`: drops a re-delivery
 * request under `redeliver/` in the staging bucket (the same path an operator's object drop
 * takes), waits for deliver-logstore's result object and prints it.
 */
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseRedeliveryRequest, REDELIVER_PREFIX, REDELIVER_RESULT_SUFFIX } from '../shared/delivery/redelivery.ts';
import { s3For } from '../adapters/s3.ts';
import { readDemo, readLiveLock, stackS3Credentials, stackSettings } from './lib/local-stack.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const RESULT_WAIT_MS = 60_000;

const { values } = parseArgs({ options: { trail: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, account: { type: 'string' } } });
const settings = stackSettings();
const request = parseRedeliveryRequest({
  accountId: values.account ?? readDemo(settings.stateDir)?.accountId,
  trailName: values.trail,
  from: values.from,
  to: values.to,
});
const endpoint = process.env['TK_S3_ENDPOINT'] ?? readLiveLock(settings.stateDir)?.endpoints['S3'] ?? `http://${settings.host}:${settings.ports.s3}`;
const s3Keys = stackS3Credentials();
if (!s3Keys) {
  process.stderr.write('No S3 key: run npm start once (it creates the embedded server\'s key), or set TK_S3_ACCESS_KEY_ID and TK_S3_SECRET_ACCESS_KEY.\n');
  process.exit(1);
}
const s3 = s3For({
  endpoint,
  region: process.env['TK_S3_REGION'] ?? 'cn-hangzhou',
  accessKeyId: s3Keys.accessKeyId,
  secretAccessKey: s3Keys.secretAccessKey,
  forcePathStyle: true,
});
const key = `${REDELIVER_PREFIX}${request.accountId}-${request.trailName}-${Date.now()}.json`;
await s3.send(new PutObjectCommand({ Bucket: settings.stagingBucket, Key: key, Body: JSON.stringify(request), ContentType: 'application/json' }));
process.stdout.write(`requested ${key}; waiting for the result…\n`);
const deadline = Date.now() + RESULT_WAIT_MS;
for (;;) {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: settings.stagingBucket, Key: `${key}${REDELIVER_RESULT_SUFFIX}` }));
    const text = (await res.Body?.transformToString()) ?? '';
    process.stdout.write(`${text}\n`);
    process.exit(text.includes('"error"') ? 1 : 0);
  } catch {
    if (Date.now() > deadline) {
      process.stderr.write(`no result after ${RESULT_WAIT_MS / 1000} s: is the stack running (npm start)?\n`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
