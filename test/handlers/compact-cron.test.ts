/**
 * functions/compact-cron/index.ts called directly with events/timer-compact.json (cloned per case;
 * no emulator): a trail's archive day written as the deliverer writes it (a gzip JSON file in
 * ActionTrail's layout and the signed digest of its hour, with the stack's signing key) is
 * compacted into a Parquet file and a manifest in the trail's bucket; a second run changes
 * nothing; a payload range reaches older days; bad payloads and other triggers are refused.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { BadTriggerEventError } from '../../adapters/fc/http.ts';
import type { Services } from '../../adapters/wiring.ts';
import { compactionManifestSchema, manifestKey } from '../../shared/archive-query/compacted-layout.ts';
import { createDigestDocument, describeArchiveFile, publicKeyFingerprint, serialiseSignedDigest, signDigest } from '../../shared/archive/digest.ts';
import { archiveFileKey, DAY_MS, digestKey, HOUR_MS } from '../../shared/archive/layout.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { eventBuffer, fcContext, sampleEvent, SAMPLE_ACCOUNT, STAGING_BUCKET, startHandlerServers, type HandlerServers } from '../helpers/handler-harness.ts';
import { seededEvents } from '../helpers/archive-query-oracle.ts';

const BUCKET = 'tk-handler-compact';
const TRAIL = 'compact-trail';
const TODAY = Math.floor(Date.now() / DAY_MS) * DAY_MS;

let servers: HandlerServers;
let services: Services;
let cacheDir: string;
let handler: (typeof import('../../functions/compact-cron/index.ts'))['handler'];

const timer = (override: Record<string, unknown> = {}) => sampleEvent('timer-compact', override);
const invoke = (event: unknown) => handler(eventBuffer(event), fcContext('compact-cron'));

/** One archive file of `count` events delivered at 10:00 of `day`, and the signed digest of that hour. */
async function archiveDay(day: number, count: number, seed: number): Promise<void> {
  const keys = await ensureSigningKey(services.redis, services.secrets);
  const events = seededEvents({ accountId: SAMPLE_ACCOUNT, count, startMs: day + HOUR_MS, stepMs: 60_000, seed, idPrefix: `d${seed}` }).map((e) => ({ ...e, acsRegion: 'cn-hangzhou' }));
  const body = gzipSync(Buffer.from(JSON.stringify(events)));
  const deliveredAt = new Date(day + 10 * HOUR_MS);
  const key = archiveFileKey({ region: 'cn-hangzhou', deliveredAt, eventCount: count, fileSize: body.byteLength, md5: createHash('md5').update(body).digest('hex') });
  await servers.put(BUCKET, key, body);
  const doc = createDigestDocument({ trailName: TRAIL, accountId: SAMPLE_ACCOUNT, region: 'cn-hangzhou', hour: deliveredAt, files: [describeArchiveFile({ key, body, events })], previous: null, publicKeyFingerprint: publicKeyFingerprint(keys.publicKeyPem) });
  await servers.put(BUCKET, digestKey({ region: 'cn-hangzhou', accountId: SAMPLE_ACCOUNT, trailName: TRAIL, hourStart: deliveredAt }), serialiseSignedDigest(signDigest(doc, keys.privateKeyPem)));
}

async function manifestOf(day: number) {
  const bytes = await servers.get(BUCKET, manifestKey({ accountId: SAMPLE_ACCOUNT, name: TRAIL }, { region: 'cn-hangzhou' }, new Date(day)));
  return bytes ? compactionManifestSchema.parse(JSON.parse(bytes.toString('utf8'))) : undefined;
}

beforeAll(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'tk-compact-handler-'));
  servers = await startHandlerServers({ buckets: [STAGING_BUCKET, BUCKET], env: { TK_ARCHIVE_CACHE_DIR: cacheDir } });
  services = (await import('../../adapters/wiring.ts')).getServices();
  await services.accounts.createKey(SAMPLE_ACCOUNT);
  await services.trails.create(trailSchema.parse({ name: TRAIL, accountId: SAMPLE_ACCOUNT, homeRegion: 'cn-hangzhou', eventRW: 'All', ossBucketName: BUCKET, status: 'Enable', createdAtMs: TODAY - 60 * DAY_MS, updatedAtMs: TODAY - 60 * DAY_MS }));
  await archiveDay(TODAY - 2 * DAY_MS, 30, 1);
  await archiveDay(TODAY - 30 * DAY_MS, 12, 2);
  ({ handler } = await import('../../functions/compact-cron/index.ts'));
}, 120_000);

afterAll(async () => {
  await services?.redis.quit();
  await servers?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('compact-cron handler', () => {
  it('compacts the recent closed days into a Parquet file and a manifest of digest-verified files', async () => {
    const report = await invoke(timer());
    expect(report).toMatchObject({ triggerTime: '2026-11-22T02:30:00Z', compacted: 1, more: false });
    const manifest = await manifestOf(TODAY - 2 * DAY_MS);
    expect(manifest).toMatchObject({ trail: { accountId: SAMPLE_ACCOUNT, name: TRAIL }, parquet: { rows: 30 }, excluded: [] });
    expect(manifest?.sources).toHaveLength(1);
    expect(manifest?.sources[0]?.digestKey).toBeDefined();
    expect((await servers.get(BUCKET, manifest?.parquet.key ?? ''))?.subarray(0, 4).toString('latin1')).toBe('PAR1');
    expect(await manifestOf(TODAY - 30 * DAY_MS)).toBeUndefined();
  }, 120_000);

  it('a second run changes nothing', async () => {
    const before = await manifestOf(TODAY - 2 * DAY_MS);
    expect(await invoke(timer())).toMatchObject({ compacted: 0, unchanged: 1 });
    expect(await manifestOf(TODAY - 2 * DAY_MS)).toEqual(before);
  }, 60_000);

  it('a payload range compacts older days', async () => {
    const day = new Date(TODAY - 30 * DAY_MS).toISOString().slice(0, 10);
    expect(await invoke(timer({ payload: JSON.stringify({ fromDay: day, toDay: day }) }))).toMatchObject({ compacted: 1 });
    expect(await manifestOf(TODAY - 30 * DAY_MS)).toMatchObject({ parquet: { rows: 12 } });
  }, 60_000);

  it('refuses a payload that is not a range, naming the field, and other triggers', async () => {
    await expect(invoke(timer({ payload: '{"fromDay":"2026-13-01","toDay":"2026-12-01"}' }))).rejects.toMatchObject({ code: 'InvalidParameter', field: 'fromDay' });
    await expect(invoke(timer({ payload: '{"fromDay":"2026-12-01"}' }))).rejects.toMatchObject({ code: 'InvalidParameter', field: 'toDay' });
    await expect(invoke(timer({ payload: 'not json' }))).rejects.toMatchObject({ code: 'InvalidParameter', field: 'payload' });
    await expect(invoke(sampleEvent('wake-classified'))).rejects.toBeInstanceOf(BadTriggerEventError);
  }, 60_000);
});
