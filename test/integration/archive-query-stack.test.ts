/**
 * Queries over the archive through the emulator (the bundles of s.yaml's functions in worker
 * threads, as `npm start` runs them): events ingested over HTTP are archived by deliver-oss, and
 * a signed RunAdvancedQuery with Source=archive to lookup-http answers them — DuckDB's native
 * module loads in the function's worker, external to its bundle; compact-cron's timer compacts a
 * closed day into a Parquet file and a manifest; another account's key does not reach the trail.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import type { Credentials } from '../../adapters/client/signed-fetch.ts';
import { postEvents } from '../../adapters/client/signed-fetch.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisOutbox } from '../../adapters/redis/outbox.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { compactionManifestSchema, manifestKey } from '../../shared/archive-query/compacted-layout.ts';
import { createDigestDocument, describeArchiveFile, publicKeyFingerprint, serialiseSignedDigest, signDigest } from '../../shared/archive/digest.ts';
import { archiveFileKey, DAY_MS, digestKey, HOUR_MS } from '../../shared/archive/layout.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { callAction, openApiClient } from '../helpers/openapi-client.ts';
import { internalAuth, productProject, repoRoot, startTestStack, waitUntil, type TestStack } from '../helpers/stack.ts';
import { seededEvents } from '../helpers/archive-query-oracle.ts';

const ACCOUNT = '1234567890123456';
const OTHER = '2234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'tk-lake-archive';
const TRAIL = 'lake-trail';
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS;

let stack: TestStack;
let redis: Redis;
let key: Credentials;
let otherKey: Credentials;
let cacheDir: string;

async function waitForAsync(requestId: string | undefined, what: string): Promise<string> {
  return waitUntil(async () => {
    const res = await fetch(`${stack.emulator.invokeUrl}/-/async/${requestId ?? ''}`, { headers: internalAuth(stack) });
    const status = (await res.json()) as { state?: string };
    return status.state === 'Succeeded' || status.state === 'Failed' ? status.state : undefined;
  }, 120_000, what);
}

const whole = () => ({ StartTime: '1970-01-01T00:00:00Z', EndTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });

beforeAll(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'tk-lake-stack-'));
  stack = await startTestStack({ project: productProject, buckets: [STAGING, ARCHIVE], env: { TK_ARCHIVE_CACHE_DIR: cacheDir } });
  redis = new Redis(stack.redisUrl);
  const accounts = new RedisAccountStore(redis, stack.secrets);
  key = await accounts.createKey(ACCOUNT);
  otherKey = await accounts.createKey(OTHER);
  const created = TODAY - 10 * DAY_MS;
  await new RedisTrailStore(redis).create(trailSchema.parse({ name: TRAIL, accountId: ACCOUNT, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: ARCHIVE, status: 'Enable', createdAtMs: created, updatedAtMs: created, startLoggingTimeMs: created }));
}, 180_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('archive queries through the emulator', () => {
  it('lookup-http answers RunAdvancedQuery Source=archive over what deliver-oss archived, as history does', async () => {
    const base = JSON.parse(readFileSync(path.join(FIXTURES, 'ecs-stopinstance-both-resources.json'), 'utf8')) as Record<string, unknown>;
    const events = Array.from({ length: 12 }, (_, i) => ({ ...base, eventId: `lake-${randomUUID()}`, eventTime: new Date(Date.now() - 60_000 + i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), ...(i % 3 === 0 ? { errorCode: 'Forbidden.RAM' } : {}) }));
    const res = await postEvents(stack.emulator.httpUrls['ingest'] as string, key, JSON.stringify(events));
    expect(res.status).toBe(200);
    await waitUntil(async () => (await new RedisOutbox(redis).size(ACCOUNT, TRAIL, 'oss')) >= 12, 30_000, 'outbox');
    expect(await waitForAsync(await stack.emulator.fireTimer('deliver-oss', 'flush'), 'deliver-oss flush')).toBe('Succeeded');

    const client = openApiClient(stack.emulator.httpUrls['lookup-http'] as string, key);
    const query = 'event.errorCode: Forbidden* | select event.eventName, count(*) as n group by 1';
    const archive = await callAction(client, 'RunAdvancedQuery', { QuerySql: query, Source: 'archive', TrailName: TRAIL, ...whole() });
    expect(archive.statusCode).toBe(200);
    expect(archive.body).toMatchObject({ Source: 'archive', Columns: ['event.eventName', 'n'], Rows: [[base['eventName'], 4]] });
    const history = await callAction(client, 'RunAdvancedQuery', { QuerySql: query, StartTime: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), EndTime: whole().EndTime });
    expect(history.body['Rows']).toEqual(archive.body['Rows']);

    const search = await callAction(client, 'RunAdvancedQuery', { QuerySql: 'event.errorCode: Forbidden*', Source: 'archive', TrailName: TRAIL, MaxResults: '3', ...whole() });
    expect((search.body['Events'] as unknown[]).length).toBe(3);
    expect(typeof search.body['NextToken']).toBe('string');
  }, 180_000);

  it("another account's key does not reach the trail", async () => {
    const client = openApiClient(stack.emulator.httpUrls['lookup-http'] as string, otherKey);
    await expect(callAction(client, 'RunAdvancedQuery', { QuerySql: '*', Source: 'archive', TrailName: TRAIL, ...whole() })).rejects.toThrow(/TrailNotFoundException: code: 404/);
  }, 60_000);

  it('compact-cron compacts a closed, digest-signed day into Parquet and a manifest', async () => {
    const day = TODAY - 2 * DAY_MS;
    const keys = await ensureSigningKey(redis, stack.secrets);
    const events = seededEvents({ accountId: ACCOUNT, count: 25, startMs: day + HOUR_MS, stepMs: 60_000, seed: 5, idPrefix: 'closed' }).map((e) => ({ ...e, acsRegion: 'cn-hangzhou' }));
    const body = gzipSync(Buffer.from(JSON.stringify(events)));
    const deliveredAt = new Date(day + 3 * HOUR_MS);
    const fileKey = archiveFileKey({ region: 'cn-hangzhou', deliveredAt, eventCount: events.length, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
    const { PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const { s3ClientFor } = await import('../helpers/stack.ts');
    const s3 = s3ClientFor(stack);
    await s3.send(new PutObjectCommand({ Bucket: ARCHIVE, Key: fileKey, Body: body }));
    const doc = createDigestDocument({ trailName: TRAIL, accountId: ACCOUNT, region: 'cn-hangzhou', hour: deliveredAt, files: [describeArchiveFile({ key: fileKey, body, events })], previous: null, publicKeyFingerprint: publicKeyFingerprint(keys.publicKeyPem) });
    await s3.send(new PutObjectCommand({ Bucket: ARCHIVE, Key: digestKey({ region: 'cn-hangzhou', accountId: ACCOUNT, trailName: TRAIL, hourStart: deliveredAt }), Body: serialiseSignedDigest(signDigest(doc, keys.privateKeyPem)) }));

    expect(await waitForAsync(await stack.emulator.fireTimer('compact-cron', 'every-30-minutes'), 'compact-cron')).toBe('Succeeded');
    const res = await s3.send(new GetObjectCommand({ Bucket: ARCHIVE, Key: manifestKey({ accountId: ACCOUNT, name: TRAIL }, { region: 'cn-hangzhou' }, new Date(day)) }));
    const manifest = compactionManifestSchema.parse(JSON.parse(Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).toString('utf8')));
    expect(manifest).toMatchObject({ parquet: { rows: 25 }, excluded: [], sources: [expect.objectContaining({ key: fileKey, digestKey: expect.any(String) })] });
    s3.destroy();

    const client = openApiClient(stack.emulator.httpUrls['lookup-http'] as string, key);
    const count = await callAction(client, 'RunAdvancedQuery', { QuerySql: 'event.eventId: closed* | select count(*) as n', Source: 'archive', TrailName: TRAIL, ...whole() });
    expect(count.body['Rows']).toEqual([[25]]);
  }, 240_000);
});
