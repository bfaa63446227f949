/**
 * `npm run lookup -- [Action=LookupEvents] [Key=Value …]` calls the signed API of the running
 * stack's lookup-http with the demo AccessKey pair (or TK_ACCESS_KEY_ID / TK_ACCESS_KEY_SECRET),
 * e.g. `npm run lookup -- LookupAttribute.1.Key=EventName LookupAttribute.1.Value=StopInstance`
 * or `npm run lookup -- Action=DescribeTrails`.
 */
import { callRpc } from '../adapters/client/signed-fetch.ts';
import { NO_CREDENTIALS_MESSAGE, readLiveLock, stackSettings, toolCredentials } from './lib/local-stack.ts';

const settings = stackSettings();
const credentials = toolCredentials();
if (!credentials) {
  process.stderr.write(NO_CREDENTIALS_MESSAGE);
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
// an alert channel's webhook URL and secret travel in a signed POST body, never in a request URL
const post = Object.hasOwn(params, 'WebhookUrl') || Object.hasOwn(params, 'Secret');
const res = await callRpc(base, { accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret }, params, post ? { method: 'POST' } : {});
process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
process.exit(res.ok ? 0 : 1);
