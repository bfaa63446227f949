/**
 * `npm run logs:tail -- --trail NAME [--account ID] [--lines N] [--follow]`: prints a trail's
 * local logstore (Redis stream `actiontrail_<trail>`) in arrival order, one event per line:
 * time, eventName, user, source IP, eventId. `--follow` keeps printing what arrives.
 *
 * Redis: TK_REDIS_URL, else the running stack's (default redis://127.0.0.1:8702).
 * Account and trail default to the demo's (`.local/demo-credentials.json`) when present.
 */
import { parseArgs } from 'node:util';
import { createRedisClient } from '../adapters/redis.ts';
import { RedisLogstore } from '../adapters/redis/logstore.ts';
import { DomainError } from '../shared/errors.ts';
import type { LogEntry } from '../shared/logstore/logstore.ts';
import { readDemo, stackRedisUrl, stackSettings } from './lib/local-stack.ts';

const USAGE = 'usage: npm run logs:tail -- --trail NAME [--account ID] [--lines N] [--follow]';
const FOLLOW_BLOCK_MS = 5_000;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    trail: { type: 'string' },
    account: { type: 'string' },
    lines: { type: 'string', default: '20' },
    follow: { type: 'boolean', short: 'f', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

let demo: ReturnType<typeof readDemo>;
try {
  demo = readDemo(stackSettings().stateDir);
} catch {
  demo = undefined;
}
const accountId = values.account ?? demo?.accountId ?? fail('--account is required (no .local/demo-credentials.json)');
const trailName = values.trail ?? demo?.trailName ?? fail('--trail is required');
const lines = Number(values.lines);
if (!Number.isInteger(lines) || lines < 0) fail(`--lines must be a non-negative integer, got ${values.lines}`);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** One line per event: eventTime, eventName, user, source IP, eventId (tab-separated). */
function formatEntry(entry: LogEntry): string {
  let event: Json = {};
  try {
    const parsed: unknown = JSON.parse(entry.event);
    if (isObject(parsed)) event = parsed;
  } catch {
    // Shown with what the entry itself carries.
  }
  const identity = isObject(event['userIdentity']) ? event['userIdentity'] : {};
  const user = text(identity['userName']) ?? text(identity['principalId']) ?? text(identity['type']) ?? '-';
  return [
    text(event['eventTime']) ?? new Date(entry.time * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    text(event['eventName']) ?? '-',
    user,
    text(event['sourceIpAddress']) ?? '-',
    entry.eventId || text(event['eventId']) || '-',
  ].join('\t');
}

const url = stackRedisUrl();
const redis = createRedisClient(url, { lazyConnect: true, maxRetriesPerRequest: 1 }, { clusterRetryStrategy: (times) => (times > 3 ? null : 200) });
try {
  await redis.connect();
} catch {
  fail(`cannot reach Redis at ${url}: start the stack with npm start, or set TK_REDIS_URL`);
}

process.once('SIGINT', () => {
  redis.disconnect();
  process.exit(0);
});

const store = new RedisLogstore(redis);
const print = (entries: readonly LogEntry[]) => {
  for (const entry of entries) process.stdout.write(`${formatEntry(entry)}\n`);
};

try {
  const recent = lines > 0 ? await store.latest(accountId, trailName, lines) : [];
  print(recent);
  if (values.follow) {
    let cursor = recent.at(-1)?.id ?? (await store.tail(accountId, trailName, '$', { count: 1 })).lastId;
    for (;;) {
      const { entries, lastId } = await store.tail(accountId, trailName, cursor, { blockMs: FOLLOW_BLOCK_MS });
      print(entries);
      cursor = lastId;
    }
  }
} catch (error) {
  if (error instanceof DomainError) fail(error.message);
  throw error;
} finally {
  redis.disconnect();
}
