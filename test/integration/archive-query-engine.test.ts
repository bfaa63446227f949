/**
 * The archive's SQL (shared/archive-query/compile.ts) against the reference evaluator
 * (shared/query/evaluate.ts) over the same seeded events, on DuckDB (adapters/duckdb/engine.ts):
 * every operator, read from raw gzip JSON archive files and from the compacted Parquet file of
 * the same files — both must give the evaluator's answer. Also: duplicates counted once, the
 * account filter, the engine's lock-down (no file outside its folder, no limit changed), the
 * timeout, and that user text is bound, never pasted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../adapters/duckdb/engine.ts';
import { compactionSelectSql } from '../../shared/archive-query/compaction.ts';
import { compilePlan, decodeValue, sourceSql, type RelationSource } from '../../shared/archive-query/compile.ts';
import { eventColumnsFromJsonSql } from '../../shared/archive-query/event-columns.ts';
import { QueryTimeoutError } from '../../shared/archive-query/ports.ts';
import { parseQuery } from '../../shared/query/parser.ts';
import { oracle, roundNumbers, seededEvents, type OracleAnswer, type OracleRange, type SeededEvent } from '../helpers/archive-query-oracle.ts';

const ACCOUNT = '1234567890123456';
const OTHER = '2234567890123456';
const START = Date.parse('2026-11-29T18:00:00Z');
/** 600 events, one every 7 minutes: across a week boundary (Mon 30 Nov) and a month boundary. */
const events = seededEvents({ accountId: ACCOUNT, count: 600, startMs: START, stepMs: 7 * 60_000, seed: 7 });
/** Another account's events in the same files: never in an answer about ACCOUNT. */
const foreign = seededEvents({ accountId: OTHER, count: 50, startMs: START, stepMs: 60 * 60_000, seed: 8, idPrefix: 'other' });
/** Most of the span, cutting the first and last events off. */
const RANGE: OracleRange = { fromMs: START + 3 * 3_600_000, toMs: START + 66 * 3_600_000 };

let dir: string;
let engine: DuckDbEngine;
let raw: RelationSource[];
let compacted: RelationSource[];

function writeGz(name: string, items: readonly SeededEvent[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, gzipSync(JSON.stringify(items)));
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tk-archive-engine-'));
  engine = new DuckDbEngine({ directory: dir });
  // Files of 100 events with the foreign ones mixed in; events 100–149 delivered a second time (a re-delivery).
  const files: string[] = [];
  for (let i = 0; i < events.length; i += 100) files.push(writeGz(`f${i}.gz`, [...events.slice(i, i + 100), ...foreign.slice(i / 100 * 8, i / 100 * 8 + 8)]));
  files.push(writeGz('redelivered.gz', events.slice(100, 150)));
  raw = [{ fromSql: sourceSql('raw', files, eventColumnsFromJsonSql('json')), accountId: ACCOUNT }];
  const parquet = await engine.toParquet(compactionSelectSql(files), { timeoutMs: 60_000 });
  const parquetFile = path.join(dir, 'day.parquet');
  writeFileSync(parquetFile, parquet);
  compacted = [{ fromSql: sourceSql('parquet', [parquetFile], ''), accountId: ACCOUNT }];
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function archiveAnswer(query: string, sources: RelationSource[], range: OracleRange = RANGE): Promise<OracleAnswer> {
  const plan = parseQuery(query);
  const compiled = compilePlan({ plan, sources, fromMs: range.fromMs, toMs: range.toMs, maxRows: 10_000 });
  const rows = await engine.query(compiled.sql, compiled.params, { timeoutMs: 60_000 });
  const decoded = rows.map((r) => r.map((v, i) => decodeValue(v, compiled.columns[i]?.kind ?? 'string')));
  if (compiled.shape === 'events') return { kind: 'events', eventIds: decoded.map((r) => String(r[2])) };
  return { kind: 'rows', columns: compiled.columns.map((c) => c.name), rows: decoded };
}

/** Every operator of the language, and selects over each kind of key and aggregate. */
const QUERIES = [
  '*',
  'event.eventName: StopInstance',
  'event.eventName: stopinstance',
  'event.errorCode: Forbidden*',
  'event.errorCode: *Forb%dden*',
  'event.errorCode: Forbidden_*',
  'event.errorCode: *',
  'not event.errorCode: *',
  'not event.userIdentity.accessKeyId: *',
  'event.userIdentity.accessKeyId: LTAI_*',
  'event.sourceIpAddress: 10.* or event.serviceName: Ram',
  '(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser',
  'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.*',
  'event.additionalEventData.bytes > 100',
  'event.additionalEventData.bytes <= 42',
  'event.additionalEventData.bytes = 1.5',
  'not event.additionalEventData.bytes > 100',
  'event.requestParameters.When >= 2026-12-01T00:00:00Z',
  'event.requestParameters.When < 2026-12-01',
  'event.eventTime >= 2026-11-30T06:00:00Z and event.eventTime < 2026-11-30T09:00:00+01:00',
  'event.eventVersion: 1',
  'event.eventVersion > 1',
  'event.isGlobal: true',
  'event.isGlobal: *',
  'event.referencedResources.tags: prod',
  'event.referencedResources.tags: *',
  'event.referencedResources: *',
  'event.requestParameters.When: 20261201',
  'bob',
  '"deploy prod"',
  '100%_',
  'event.userIdentity.userName: dave_ops or Carol',
  '* | select count(*)',
  'event.eventName: NoSuchEvent | select count(*) as n, sum(event.additionalEventData.bytes) as s, min(event.eventName) as m',
  'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc',
  '* | select event.userIdentity.accessKeyId as ak, event.serviceName, count(*) as n group by ak, event.serviceName order by n desc, ak limit 7',
  "* | select date_trunc('hour', event.eventTime) as h, count(*) as n group by h order by h desc limit 20",
  "* | select date_trunc('day', event.eventTime) as d, count(*) group by d",
  "* | select date_trunc('week', event.eventTime) as w, count(*) group by w",
  "* | select date_trunc('month', event.eventTime) as m, count(*) group by m",
  "* | select date_trunc('minute', event.requestParameters.When) as m, count(*) group by m",
  '* | select event.eventVersion, count(*) as n group by event.eventVersion',
  '* | select event.isGlobal, count(*) group by 1',
  '* | select event.additionalEventData.bytes as b, count(*) as n group by b order by b',
  '* | select event.referencedResources.tags as t, count(*) group by t',
  '* | select event.errorCode, count(*) as n group by 1 order by 1 desc',
  '* | select count(event.errorCode), count(distinct event.userIdentity.userName), count(distinct event.eventVersion), count(event.additionalEventData.bytes)',
  '* | select event.serviceName, min(event.additionalEventData.bytes), max(event.additionalEventData.bytes), sum(event.additionalEventData.bytes), avg(event.additionalEventData.bytes) group by 1',
  '* | select min(event.eventName), max(event.eventName), min(event.eventVersion), max(event.isGlobal), max(event.requestParameters.When)',
  '* | select event.eventName, event.userIdentity.userName, event.eventTime where event.serviceName = \'Ecs\' and event.eventName like \'%Instance%\' order by event.eventTime limit 9',
  '* | select event.eventName, event.sourceIpAddress limit 7',
  '* | select event.eventId, event.additionalEventData.bytes order by 2 desc limit 25',
  "* | select event.serviceName, count(*) as n where event.errorCode is null group by 1 order by n",
  "* | select event.serviceName, count(*) as n where event.serviceName in ('Ram', 'Ims') or event.errorCode <> 'NoPermission' group by 1",
];

describe('archive SQL agrees with the reference evaluator', () => {
  for (const query of QUERIES) {
    it(query, async () => {
      const expected = roundNumbers(oracle(parseQuery(query), events, RANGE));
      expect(roundNumbers(await archiveAnswer(query, raw)), 'raw archive files').toEqual(expected);
      expect(roundNumbers(await archiveAnswer(query, compacted)), 'compacted Parquet').toEqual(expected);
    });
  }
});

describe('archive SQL bounds and isolation', () => {
  it('an event archived twice counts once, and another account in the same files is never counted', async () => {
    const answer = await archiveAnswer('* | select count(*) as n', raw, { fromMs: 0, toMs: Date.parse('2030-01-01T00:00:00Z') });
    expect(answer).toEqual({ kind: 'rows', columns: ['n'], rows: [[events.length]] });
    const otherSources = raw.map((s) => ({ ...s, accountId: OTHER }));
    const theirs = await archiveAnswer('* | select count(*) as n', otherSources, { fromMs: 0, toMs: Date.parse('2030-01-01T00:00:00Z') });
    expect(theirs).toEqual({ kind: 'rows', columns: ['n'], rows: [[6 * 8]] });
  });

  it('a trail with no archive files in the range answers an empty result (one row of count 0 for an overall aggregate)', async () => {
    expect(await archiveAnswer('event.errorCode: Forbidden* | select count(*) as n, max(event.eventName) as m', [])).toEqual({ kind: 'rows', columns: ['n', 'm'], rows: [[0, null]] });
    expect(await archiveAnswer('event.requestParameters.Note: x', [])).toEqual({ kind: 'events', eventIds: [] });
  });

  it('user text is bound as parameters: quotes, comments and statements in values are only values', async () => {
    const hostile = [
      `event.eventName: "x'); DROP TABLE t; --"`,
      `event.eventName: "' OR 1=1 --"`,
      `* | select count(*) where event.eventName = 'a'' OR ''1''=''1'`,
      `"read_text('/etc/passwd')"`,
    ];
    for (const query of hostile) {
      const plan = parseQuery(query);
      const compiled = compilePlan({ plan, sources: raw, fromMs: RANGE.fromMs, toMs: RANGE.toMs, maxRows: 10 });
      expect(compiled.sql).not.toContain('DROP');
      expect(compiled.sql).not.toContain('1=1');
      expect(compiled.sql).not.toContain('passwd');
      expect(roundNumbers(await archiveAnswer(query, raw))).toEqual(roundNumbers(oracle(plan, events, RANGE)));
    }
  });

  it('the engine reads and writes only its own folder and its limits cannot be changed', async () => {
    await expect(engine.query(`SELECT * FROM read_text('/etc/passwd')`, [], { timeoutMs: 5_000 })).rejects.toThrow(/Permission|disabled/);
    await expect(engine.query(`COPY (SELECT 1) TO '/tmp/tk-escape.csv'`, [], { timeoutMs: 5_000 })).rejects.toThrow(/Permission|disabled/);
    await expect(engine.query(`SET memory_limit = '64GB'`, [], { timeoutMs: 5_000 })).rejects.toThrow(/locked/);
    await expect(engine.query(`INSTALL httpfs`, [], { timeoutMs: 5_000 })).rejects.toThrow();
  });

  it('a statement past its time is interrupted with QueryTimeoutError, and the engine answers the next one', async () => {
    await expect(engine.query('SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3', [], { timeoutMs: 200 })).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(await engine.query('SELECT 41 + 1', [], { timeoutMs: 5_000 })).toEqual([[42]]);
  });
});
