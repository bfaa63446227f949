/**
 * `npm run ingest -- <file>…` posts ActionTrail events (a JSON array, {"events":[…]}, one event,
 * or NDJSON) to the running stack's ingest, signed with the demo AccessKey pair (or
 * TK_ACCESS_KEY_ID / TK_ACCESS_KEY_SECRET). `npm run ingest -- --sample [N]` posts N fresh
 * sample events of the demo account.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { postEvents } from '../adapters/client/signed-fetch.ts';
import { readDemo, stackIngestUrl, stackSettings } from './lib/local-stack.ts';
import { sampleEvents } from './lib/sample-events.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { sample: { type: 'boolean', default: false } } });
const demo = readDemo(stackSettings().stateDir);
const credentials =
  process.env['TK_ACCESS_KEY_ID'] && process.env['TK_ACCESS_KEY_SECRET']
    ? { accessKeyId: process.env['TK_ACCESS_KEY_ID'], accessKeySecret: process.env['TK_ACCESS_KEY_SECRET'] }
    : demo;
if (!credentials) {
  process.stderr.write('No AccessKey pair: run npm start once (it creates the demo account), or set TK_ACCESS_KEY_ID and TK_ACCESS_KEY_SECRET.\n');
  process.exit(2);
}
const bodies: { name: string; body: string }[] = values.sample
  ? [{ name: 'sample', body: JSON.stringify(sampleEvents(demo?.accountId ?? '1234567890123456', Number(positionals[0] ?? 5))) }]
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
