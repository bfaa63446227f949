/**
 * Advanced query through lookup-http's signed RPC on the emulated stack (real Redis, real S3
 * server): RunAdvancedQuery over ingested events, InvalidQuery with its Position, the template
 * and history actions (built-ins read-only, per-account isolation, write actions recorded as
 * events), and `npm run query` exporting a result to NDJSON and CSV page by page.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRpc, postEvents, type Credentials } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisHistoryStore } from '../../adapters/redis/history-store.ts';
import { productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { syntheticEvent } from '../helpers/synthetic-event.ts';

const A = '2234567890123451';
const B = '2234567890123452';
let stack: TestStack;
let redis: Redis;
let keyA: Credentials;
let keyB: Credentials;
let url: string;
const marker = `Aq${randomUUID().slice(0, 8)}`;
const ids: string[] = [];
const run = promisify(execFile);

type Body = Record<string, unknown> & { Code?: string; Message?: string; Position?: number };

async function rpc(credentials: Credentials, params: Record<string, string>): Promise<{ status: number; body: Body }> {
  const res = await callRpc(url, credentials, params);
  return { status: res.status, body: (await res.json()) as Body };
}

beforeAll(async () => {
  stack = await startTestStack({ project: productProject, buckets: ['trailkeeper-staging', 'trailkeeper-archive'] });
  url = stack.emulator.httpUrls['lookup-http'] as string;
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  keyA = await accounts.createKey(A);
  keyB = await accounts.createKey(B);
  const base = Date.now() - 20 * 60_000;
  const events = Array.from({ length: 130 }, (_v, n) =>
    syntheticEvent(
      A,
      {
        eventName: marker,
        errorCode: n % 3 === 0 ? 'Forbidden.RAM' : undefined,
        sourceIpAddress: n % 2 === 0 ? '10.0.0.9' : '203.0.113.9',
        userIdentity: { type: 'ram-user', principalId: '2001', accountId: A, accessKeyId: `LTAI5tKey${n % 4}`, userName: 'alice' },
      },
      base + n * 1000,
    ),
  );
  for (const e of events) ids.push(String(e.eventId));
  const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, keyA, JSON.stringify(events));
  expect(res.status).toBe(200);
  const history = new RedisHistoryStore(redis);
  await waitUntil(async () => (await history.has(A, ids)).every(Boolean), 30_000, 'events in history');
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

describe('RunAdvancedQuery over the signed API', () => {
  it('answers the worked query of the issue with Columns and Rows', async () => {
    const { status, body } = await rpc(keyA, {
      Action: 'RunAdvancedQuery',
      QuerySql: `event.eventName: ${marker} and event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc, 1`,
    });
    expect(status).toBe(200);
    // n % 3 === 0 and n odd: n = 3, 9, 15, … (22 of 130); keys by n % 4: 1 → 11, 3 → 11
    expect(body.Columns).toEqual(['event.userIdentity.accessKeyId', 'n']);
    expect(body.Rows).toEqual([
      ['LTAI5tKey1', 11],
      ['LTAI5tKey3', 11],
    ]);
    expect(body.Source).toBe('history');
  });

  it('pages a search with NextToken, newest first, and hides it from another account', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const { body } = await rpc(keyA, { Action: 'RunAdvancedQuery', QuerySql: `event.eventName: ${marker}`, MaxResults: '50', ...(token ? { NextToken: token } : {}) });
      seen.push(...(body.Events as { eventId: string }[]).map((e) => e.eventId));
      token = body.NextToken as string | undefined;
      if (token) {
        const stolen = await rpc(keyB, { Action: 'RunAdvancedQuery', QuerySql: `event.eventName: ${marker}`, MaxResults: '50', NextToken: token });
        expect(stolen.body.Code).toBe('InvalidNextToken');
      }
    } while (token);
    expect(seen).toEqual([...ids].reverse());
    const other = await rpc(keyB, { Action: 'RunAdvancedQuery', QuerySql: `event.eventName: ${marker} | select count(*)` });
    expect(other.body.Rows).toEqual([[0]]);
  });

  it('points an invalid query at its position and names missing parameters', async () => {
    const bad = await rpc(keyA, { Action: 'RunAdvancedQuery', QuerySql: 'event.eventName: X and (event.errorCode: *' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ Code: 'InvalidQuery', Position: 23 });
    const missing = await rpc(keyA, { Action: 'RunAdvancedQuery' });
    expect(missing.body).toMatchObject({ Code: 'MissingParameter' });
    const archive = await rpc(keyA, { Action: 'RunAdvancedQuery', QuerySql: '*', Source: 'archive' });
    expect(archive.body).toMatchObject({ Code: 'MissingParameter', Field: 'TrailName' });
  });
});

describe('advanced query templates and history', () => {
  it('creates, reads, updates, lists and deletes a template, only in its own account', async () => {
    const created = await rpc(keyA, { Action: 'CreateAdvancedQueryTemplate', TemplateName: 'forbidden by key', TemplateSql: 'event.errorCode: Forbidden*', SimpleQuery: 'false' });
    expect(created.status).toBe(200);
    const id = created.body.TemplateId as string;
    expect(id).toMatch(/^utpl-/);
    expect((await rpc(keyA, { Action: 'GetAdvancedQueryTemplate', TemplateId: id })).body).toMatchObject({ TemplateName: 'forbidden by key', TemplateSql: 'event.errorCode: Forbidden*', TemplateType: 'Custom' });
    // B can neither read, change nor delete it
    expect((await rpc(keyB, { Action: 'GetAdvancedQueryTemplate', TemplateId: id })).status).toBe(404);
    expect((await rpc(keyB, { Action: 'UpdateAdvancedQueryTemplate', TemplateId: id, TemplateName: 'x' })).status).toBe(404);
    expect((await rpc(keyB, { Action: 'DeleteAdvancedQueryTemplate', TemplateId: id })).status).toBe(404);
    const listedB = (await rpc(keyB, { Action: 'DescribeAdvancedQueryTemplate' })).body.QueryTemplates as { TemplateId: string; TemplateType: string }[];
    expect(listedB.some((t) => t.TemplateId === id)).toBe(false);
    expect(listedB.filter((t) => t.TemplateType === 'BuiltIn').length).toBeGreaterThanOrEqual(10);

    expect((await rpc(keyA, { Action: 'UpdateAdvancedQueryTemplate', TemplateId: id, TemplateSql: 'event.errorCode: NoPermission*' })).status).toBe(200);
    const listedA = (await rpc(keyA, { Action: 'DescribeAdvancedQueryTemplate' })).body.QueryTemplates as { TemplateId: string; TemplateSql: string }[];
    expect(listedA.find((t) => t.TemplateId === id)?.TemplateSql).toBe('event.errorCode: NoPermission*');
    expect((await rpc(keyA, { Action: 'DeleteAdvancedQueryTemplate', TemplateId: id })).status).toBe(200);
    expect((await rpc(keyA, { Action: 'GetAdvancedQueryTemplate', TemplateId: id })).status).toBe(404);
  });

  it('refuses a template that does not parse, a name over 64 characters and changes to built-ins', async () => {
    expect((await rpc(keyA, { Action: 'CreateAdvancedQueryTemplate', TemplateSql: 'event.a: (' })).body).toMatchObject({ Code: 'InvalidQuery' });
    expect((await rpc(keyA, { Action: 'CreateAdvancedQueryTemplate', TemplateSql: '*', TemplateName: 'n'.repeat(65) })).body).toMatchObject({ Code: 'InvalidParameter', Field: 'TemplateName' });
    expect((await rpc(keyA, { Action: 'DeleteAdvancedQueryTemplate', TemplateId: 'builtin-root-usage' })).body).toMatchObject({ Code: 'TemplateReadOnly' });
    expect((await rpc(keyA, { Action: 'GetAdvancedQueryTemplate', TemplateId: 'builtin-root-usage' })).body).toMatchObject({ TemplateType: 'BuiltIn' });
  });

  it('keeps a query history per account, newest first; DryRun checks without saving', async () => {
    const dry = await rpc(keyA, { Action: 'CreateAdvancedQueryHistory', QuerySql: 'event.eventRW: Write', DryRun: 'true' });
    expect(dry.body).toMatchObject({ DryRun: true });
    const first = (await rpc(keyA, { Action: 'CreateAdvancedQueryHistory', QuerySql: 'event.eventRW: Write' })).body.QueryId as string;
    const second = (await rpc(keyA, { Action: 'CreateAdvancedQueryHistory', QuerySql: 'event.eventRW: Read', SimpleQuery: 'true' })).body.QueryId as string;
    const list = (await rpc(keyA, { Action: 'DescribeAdvancedQueryHistory' })).body.QueryHistoryList as { QueryId: string; QuerySql: string; SimpleQuery: boolean }[];
    expect(list.map((e) => e.QueryId)).toEqual([second, first]);
    expect(list[0]).toMatchObject({ QuerySql: 'event.eventRW: Read', SimpleQuery: true });
    expect((await rpc(keyB, { Action: 'DescribeAdvancedQueryHistory' })).body.QueryHistoryList).toEqual([]);
    expect((await rpc(keyB, { Action: 'DeleteAdvancedQueryHistory', QueryId: first })).status).toBe(404);
    expect((await rpc(keyA, { Action: 'DeleteAdvancedQueryHistory', QueryId: first })).status).toBe(200);
    const after = (await rpc(keyA, { Action: 'DescribeAdvancedQueryHistory' })).body.QueryHistoryList as { QueryId: string }[];
    expect(after.map((e) => e.QueryId)).toEqual([second]);
  });

  it('records the write actions as events of the caller', async () => {
    const recorded = await waitUntil(
      async () => {
        const { body } = await rpc(keyA, { Action: 'RunAdvancedQuery', QuerySql: 'event.serviceName: Actiontrail and event.eventName: CreateAdvancedQueryTemplate' });
        const events = body.Events as unknown[] | undefined;
        return events && events.length > 0 ? events : undefined;
      },
      30_000,
      'CreateAdvancedQueryTemplate recorded',
    );
    expect(recorded.length).toBeGreaterThan(0);
  });
});

describe('npm run query', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-query-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[]) =>
    run(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), path.join(repoRoot, 'scripts/query.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, TK_LOOKUP_URL: url, TK_ACCESS_KEY_ID: keyA.accessKeyId, TK_ACCESS_KEY_SECRET: keyA.accessKeySecret },
    });

  it('exports every page of a search to NDJSON and CSV', async () => {
    const ndjson = path.join(dir, 'out.ndjson');
    await cli([`event.eventName: ${marker}`, '--from', '1d', '--export', ndjson]);
    const lines = readFileSync(ndjson, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { eventId: string }).eventId)).toEqual([...ids].reverse());
    const csv = path.join(dir, 'out.csv');
    await cli([`event.eventName: ${marker}`, '--export', csv]);
    const rows = readFileSync(csv, 'utf8').trimEnd().split('\r\n');
    expect(rows[0]).toBe('eventTime,eventName,serviceName,eventRW,userType,userName,accessKeyId,sourceIpAddress,errorCode,acsRegion,eventId');
    expect(rows.length).toBe(ids.length + 1);
  }, 60_000);

  it('prints a select as a table and as CSV, and shows where a query is wrong', async () => {
    const table = await cli([`event.eventName: ${marker} | select event.sourceIpAddress, count(*) as n group by 1 order by 1`]);
    expect(table.stdout).toContain('event.sourceIpAddress');
    expect(table.stdout).toMatch(/10\.0\.0\.9\s+65/);
    const csv = await cli([`event.eventName: ${marker} | select count(*) as n`, '--format', 'csv']);
    expect(csv.stdout).toBe('n\r\n130\r\n');
    await expect(cli(['event.eventName: (', '--format', 'json'])).rejects.toMatchObject({ stderr: expect.stringContaining('InvalidQuery') });
  }, 60_000);
});
