/**
 * `npm run query -- '<query>' [options]`: advanced query (docs/design.md §3.13) through the running
 * stack's signed RunAdvancedQuery, with the demo AccessKey pair (or TK_ACCESS_KEY_ID /
 * TK_ACCESS_KEY_SECRET), as `npm run lookup` does.
 *
 *   --from T, --to T       UTC yyyy-MM-ddTHH:mm:ssZ, or a span back from now: 90d, 12h, 30m
 *                          (default: the last 7 days — with --source archive, the archive's whole
 *                          span, which the archive executor starts at the trail's creation; --from
 *                          alone ends now)
 *   --format table|json|csv   how the answer is printed (default table)
 *   --limit N              events of a search to print, following NextToken (default 20)
 *   --export FILE          writes the whole result to FILE.ndjson or FILE.csv, page by page
 *                          (streamed: nothing but one page is held), then prints a summary
 *   --source history|archive, --trail NAME   where to query (archive needs the trail)
 *
 *   npm run query -- 'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc' --from 90d
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { callRpc } from '../adapters/client/signed-fetch.ts';
import { csvLine, EVENT_COLUMNS, eventRow, rowObject } from '../shared/query/export-format.ts';
import { NO_CREDENTIALS_MESSAGE, readLiveLock, stackSettings, toolCredentials } from './lib/local-stack.ts';

/** Events asked for per page while exporting (RunAdvancedQuery's MaxResults bound). */
const EXPORT_PAGE = 100;
const SPAN = /^(\d{1,5})([dhm])$/;
const SPAN_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;

interface Options {
  query: string;
  from?: string;
  to?: string;
  format: 'table' | 'json' | 'csv';
  limit: number;
  export?: string;
  source?: string;
  trail?: string;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function utc(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A time option: UTC text as it is, or a span back from now. */
function timeOf(text: string, now: number): string {
  const span = SPAN.exec(text);
  if (span) return utc(now - Number(span[1]) * SPAN_MS[span[2] as keyof typeof SPAN_MS]);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(text)) fail(`a time is yyyy-MM-ddTHH:mm:ssZ or a span such as 90d, 12h, 30m; got ${JSON.stringify(text)}`);
  return text;
}

function parseArgs(argv: string[]): Options {
  const options: Partial<Options> & { format: Options['format']; limit: number } = { format: 'table', limit: 20 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const v = argv[i + 1];
      if (v === undefined) fail(`${arg} needs a value`);
      i += 1;
      return v;
    };
    if (arg === '--from') options.from = value();
    else if (arg === '--to') options.to = value();
    else if (arg === '--format') {
      const f = value();
      if (f !== 'table' && f !== 'json' && f !== 'csv') fail('--format is table, json or csv');
      options.format = f;
    } else if (arg === '--limit') {
      options.limit = Number(value());
      if (!Number.isInteger(options.limit) || options.limit < 1) fail('--limit is a whole number ≥ 1');
    } else if (arg === '--export') options.export = value();
    else if (arg === '--source') options.source = value();
    else if (arg === '--trail') options.trail = value();
    else if (arg.startsWith('--')) fail(`unknown option ${arg}`);
    else if (options.query === undefined) options.query = arg;
    else fail('give the query as one argument (quote it)');
  }
  if (options.query === undefined) fail("usage: npm run query -- '<query>' [--from 7d] [--to T] [--format table|json|csv] [--export file.ndjson|file.csv]");
  return { ...options, query: options.query };
}

type Answer = { Code?: string; Message?: string; Position?: number; Columns?: string[]; Rows?: unknown[][]; Events?: Record<string, unknown>[]; NextToken?: string; ScannedEvents?: number };

const options = parseArgs(process.argv.slice(2));
const credentials = toolCredentials() ?? fail(NO_CREDENTIALS_MESSAGE.trimEnd());
const settings = stackSettings();
const base = process.env['TK_LOOKUP_URL'] ?? readLiveLock(settings.stateDir)?.endpoints['lookup-http'] ?? `http://${settings.host}:${settings.ports.lookup}/`;
const now = Date.now();
const params: Record<string, string> = { Action: 'RunAdvancedQuery', QuerySql: options.query };
if (options.from !== undefined || options.to !== undefined) {
  params.StartTime = timeOf(options.from ?? '7d', now);
  params.EndTime = options.to === undefined ? utc(now) : timeOf(options.to, now);
} else if (options.source === 'archive') {
  // The archive's whole span (docs/design.md §3.13 "Over the archive": day folders from the trail's creation on).
  params.StartTime = '1970-01-01T00:00:00Z';
  params.EndTime = utc(now);
}
if (options.source !== undefined) params.Source = options.source;
if (options.trail !== undefined) params.TrailName = options.trail;

async function call(extra: Record<string, string>): Promise<Answer> {
  const res = await callRpc(base, credentials, { ...params, ...extra });
  const body = (await res.json()) as Answer;
  if (!res.ok) {
    let message = `${body.Code ?? res.status}: ${body.Message ?? ''}`;
    if (body.Position !== undefined) message += `\n  ${options.query}\n  ${' '.repeat(body.Position)}^`;
    process.stderr.write(`${message}\n`);
    process.exit(1);
  }
  return body;
}

function printTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): void {
  const text = rows.map((row) => columns.map((_, i) => (row[i] === null || row[i] === undefined ? '' : String(row[i]))));
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...text.map((r) => (r[i] ?? '').length))));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of text) process.stdout.write(`${line(row)}\n`);
}

function print(columns: readonly string[], rows: readonly (readonly unknown[])[], raw: unknown): void {
  if (options.format === 'json') process.stdout.write(`${JSON.stringify(raw, null, 2)}\n`);
  else if (options.format === 'csv') {
    process.stdout.write(csvLine(columns));
    for (const row of rows) process.stdout.write(csvLine(row));
  } else printTable(columns, rows);
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function exportAll(file: string): Promise<void> {
  const csv = file.endsWith('.csv');
  if (!csv && !file.endsWith('.ndjson') && !file.endsWith('.jsonl')) fail('--export writes FILE.ndjson (or .jsonl) or FILE.csv');
  const out = createWriteStream(file);
  let count = 0;
  let token: string | undefined;
  let header = false;
  do {
    const page = await call({ MaxResults: String(EXPORT_PAGE), ...(token ? { NextToken: token } : {}) });
    if (page.Columns) {
      const columns = page.Columns;
      if (csv) await write(out, csvLine(columns));
      for (const row of page.Rows ?? []) await write(out, csv ? csvLine(row) : `${JSON.stringify(rowObject(columns, row))}\n`);
      count += page.Rows?.length ?? 0;
      break;
    }
    if (csv && !header) {
      await write(out, csvLine(EVENT_COLUMNS.map(([name]) => name)));
      header = true;
    }
    for (const event of page.Events ?? []) await write(out, csv ? csvLine(eventRow(event)) : `${JSON.stringify(event)}\n`);
    count += page.Events?.length ?? 0;
    token = page.NextToken;
  } while (token);
  out.end();
  await once(out, 'finish');
  process.stderr.write(`exported ${count} ${csv ? 'CSV rows' : 'lines'} to ${file}\n`);
}

if (options.export !== undefined) {
  await exportAll(options.export);
} else {
  const started = performance.now();
  const first = await call({ MaxResults: String(Math.min(100, options.limit)) });
  if (first.Columns) {
    print(first.Columns, first.Rows ?? [], first);
  } else {
    const events = [...(first.Events ?? [])];
    let token = first.NextToken;
    while (token && events.length < options.limit) {
      const page = await call({ MaxResults: String(Math.min(100, options.limit - events.length)), NextToken: token });
      events.push(...(page.Events ?? []));
      token = page.NextToken;
    }
    print(
      EVENT_COLUMNS.map(([name]) => name),
      events.map(eventRow),
      { Events: events, ...(token ? { NextToken: token } : {}) },
    );
    if (token && options.format === 'table') process.stderr.write(`(more events: --limit N to print more, --export FILE to write them all)\n`);
  }
  if (options.format === 'table') process.stderr.write(`${Math.round(performance.now() - started)} ms\n`);
}
process.exit(0);
