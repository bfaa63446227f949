/**
 * `npm run compliance -- [--account ID] [--format text|json]` prints the compliance report
 * (docs/design.md §3.11) of the running stack's demo account — or of TK_ACCESS_KEY_ID's account,
 * or, with --account, of a member of the organization that account manages — by calling
 * lookup-http's signed GetComplianceReport, as `npm run lookup` does.
 *
 * Exit status: 0 no control FAILs (UNKNOWN and NOT_APPLICABLE do not fail), 1 at least one
 * control FAILs — for CI pipelines —, 2 usage error, no credentials, or the call failed.
 * Environment: TK_LOOKUP_URL (default the running stack's lookup-http), TK_ACCESS_KEY_ID /
 * TK_ACCESS_KEY_SECRET (default the demo pair of .local/demo-credentials.json).
 */
import { parseArgs } from 'node:util';
import { callRpc } from '../adapters/client/signed-fetch.ts';
import { ComplianceReportSchema, formatReportText } from '../shared/compliance/report.ts';
import { NO_CREDENTIALS_MESSAGE, readLiveLock, stackSettings, toolCredentials } from './lib/local-stack.ts';

const USAGE = 'usage: npm run compliance -- [--account ID] [--format text|json]';
/** Longest answer read (a report is a few tens of KiB). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

function fail(message: string): never {
  process.stderr.write(`compliance: ${message}\n`);
  process.exit(2);
}

let values: { account?: string | undefined; format?: string | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({ options: { account: { type: 'string' }, format: { type: 'string', default: 'text' }, help: { type: 'boolean', default: false } } }));
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.format !== 'text' && values.format !== 'json') fail(`--format must be text or json\n${USAGE}`);
if (values.account !== undefined && !/^\d{16}$/.test(values.account)) fail(`--account ${values.account}: an account id is 16 digits`);

const credentials = toolCredentials();
if (!credentials) {
  process.stderr.write(NO_CREDENTIALS_MESSAGE);
  process.exit(2);
}
const settings = stackSettings();
const base = process.env['TK_LOOKUP_URL'] ?? readLiveLock(settings.stateDir)?.endpoints['lookup-http'] ?? `http://${settings.host}:${settings.ports.lookup}/`;

let res: Response;
try {
  res = await callRpc(base, { accessKeyId: credentials.accessKeyId, accessKeySecret: credentials.accessKeySecret }, { Action: 'GetComplianceReport', ...(values.account ? { AccountId: values.account } : {}) }, { method: 'POST' });
} catch (error) {
  fail(`cannot reach lookup-http at ${base}: ${(error as Error).message} (start the stack with npm start, or set TK_LOOKUP_URL)`);
}
const text = await res.text();
if (text.length > MAX_ANSWER_BYTES) fail(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
let body: unknown;
try {
  body = JSON.parse(text);
} catch {
  fail(`lookup-http answered HTTP ${res.status} with a body that is not JSON`);
}
if (!res.ok) {
  const err = body as { Code?: unknown; Message?: unknown };
  fail(`HTTP ${res.status} ${String(err.Code ?? '')}: ${String(err.Message ?? '')}`);
}
const parsed = ComplianceReportSchema.safeParse(body);
if (!parsed.success) fail(`the answer is not a compliance report: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
process.stdout.write(values.format === 'json' ? `${JSON.stringify(parsed.data, null, 2)}\n` : formatReportText(parsed.data));
process.exit(parsed.data.Compliant ? 0 : 1);
