/**
 * `npm run lookup -- [Action=LookupEvents] [Key=Value …]` calls the signed API of the running
 * stack's lookup-http with the demo AccessKey pair (or TK_ACCESS_KEY_ID / TK_ACCESS_KEY_SECRET),
 * e.g. `npm run lookup -- LookupAttribute.1.Key=EventName LookupAttribute.1.Value=StopInstance`
 * or `npm run lookup -- Action=DescribeTrails`.
 */
import { callRpc } from '../adapters/client/signed-fetch.ts';
import { readDemo, readLiveLock, stackSettings } from './lib/local-stack.ts';

const settings = stackSettings();
const demo = readDemo(settings.stateDir);
const credentials =
  process.env['TK_ACCESS_KEY_ID'] && process.env['TK_ACCESS_KEY_SECRET']
    ? { accessKeyId: process.env['TK_ACCESS_KEY_ID'], accessKeySecret: process.env['TK_ACCESS_KEY_SECRET'] }
    : demo;
if (!credentials) {
  process.stderr.write('No AccessKey pair: run npm start once (it creates the demo account), or set TK_ACCESS_KEY_ID and TK_ACCESS_KEY_SECRET.\n');
  process.exit(2);
}
const params: Record<string, string> = { Action: 'LookupEvents' };
for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  if (eq <= 0) {
    process.stderr.write(`arguments are Key=Value pairs; got "${arg}"\n`);
    process.exit(2);
  }
  params[arg.slice(0, eq)] = arg.slice(eq + 1);
}
const fromLock = readLiveLock(settings.stateDir)?.endpoints['lookup-http'];
const base = process.env['TK_LOOKUP_URL'] ?? fromLock ?? `http://${settings.host}:${settings.ports.lookup}/`;
const res = await callRpc(base, { accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret }, params);
process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
process.exit(res.ok ? 0 : 1);
