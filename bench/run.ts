/**
 * `npm run bench [-- <name> [options]]`: pipeline (ingest, visibility, floor, archive latency),
 * hot-path (every function's handler in one process: CPU an event by function and by process),
 * lookup (LookupEvents through lookup-http with 1 M events held),
 * history (memory per event, lookup latency), insights (TK_ANALYSIS on/off, drain, onset → Start,
 * counter memory), query (advanced query over 1 M events of history), archive-query (an aggregation
 * over 30 days of archive, raw and compacted), history-jobs (a history delivery job's rate and
 * claims memory), alerts (ingest → notification latency, the matcher's cost per row), compliance
 * (the compliance report over a busy account) and scale-out (one Redis server and one account
 * against the local three-master cluster with three; one account's ceiling on one shard). Each
 * prints a Markdown table for the README.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BENCHES: Record<string, string> = { pipeline: 'pipeline.ts', 'hot-path': 'hot-path.ts', history: 'history-memory.ts', lookup: 'lookup-http.ts', insights: 'insights.ts', query: 'query.ts', 'archive-query': 'archive-query.ts', 'history-jobs': 'history-jobs.ts', alerts: 'alerts.ts', compliance: 'compliance.ts', 'scale-out': 'scale-out.ts' };
const [name, ...rest] = process.argv.slice(2);
const selected = name && !name.startsWith('-') ? [name] : Object.keys(BENCHES);
const args = name && !name.startsWith('-') ? rest : process.argv.slice(2);
for (const bench of selected) {
  const file = BENCHES[bench];
  if (!file) {
    process.stderr.write(`unknown benchmark ${bench}; choose from ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`\n## ${bench} (${new Date().toISOString()}, ${process.version})\n\n`);
  const result = spawnSync(process.execPath, ['--openssl-legacy-provider', '--import', 'tsx', path.join(here, file), ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
