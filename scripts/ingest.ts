/**
 * `npm run ingest -- <file>…` posts ActionTrail events (a JSON array, {"events":[…]}, one event,
 * or NDJSON) to the running stack's ingest, signed with the demo AccessKey pair (or
 * TK_ACCESS_KEY_ID / TK_ACCESS_KEY_SECRET). `npm run ingest -- --sample [N]` posts N fresh
 * sample events of the demo account.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { postEvents } from '../adapters/client/signed-fetch.ts';
import { NO_CREDENTIALS_MESSAGE, stackIngestUrl, toolCredentials } from './lib/local-stack.ts';
import { sampleEvents } from './lib/sample-events.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { sample: { type: 'boolean', default: false } } });
const credentials = toolCredentials();
if (!credentials) {
  process.stderr.write(NO_CREDENTIALS_MESSAGE);
  process.exit(2);
}
const bodies: { name: string; body: string }[] = values.sample
  ? [{ name: 'sample', body: JSON.stringify(sampleEvents(credentials.accountId ?? process.env['TK_ACCOUNT_ID'] ?? '1234567890123456', Number(positionals[0] ?? 5))) }]
  : positionals.map((file) => ({ name: file, body: readFileSync(file, 'utf8') }));
if (bodies.length === 0) {
  process.stderr.write('usage: npm run ingest -- <file.json>… | --sample [N]\n');
  process.exit(2);
}
let failed = false;
for (const { name, body } of bodies) {
  const res = await postEvents(stackIngestUrl(), { accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret }, body);
  const answer = await res.text();
  process.stdout.write(`${name}: HTTP ${res.status} ${answer}\n`);
  failed ||= !res.ok;
}
process.exit(failed ? 1 : 0);
