/**
 * Issue 11 item 4, the deliverers' part, on a real Redis server and the real S3 server (no
 * emulator): bad entries are put straight into a trail's outboxes with the outbox store, and the
 * deliverers' pass use cases run on the ports adapters/wiring.ts builds (archivePassPorts,
 * logstorePassPorts). The bad entries become rejected objects in the staging bucket, the good
 * ones reach the archive and the logstore, and both outboxes end empty.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticEvent, type Json } from '../helpers/synthetic-event.ts';
import type { FcContext } from '../../adapters/fc/context.ts';
import type { Log } from '../../adapters/fc/handler.ts';
import type { Services } from '../../adapters/wiring.ts';
import { generateS3Credentials } from '../../emulator/s3/embedded.ts';
import { freePort, generateRedisPassword, startRedis, startS3, type StartedProcess } from '../../emulator/stack/processes.ts';
import { HISTORY_SERVER_CONFIG } from '../../adapters/redis/history-store.ts';
import { runArchivePass } from '../../shared/delivery/oss-delivery.ts';
import { runLogstorePass } from '../../shared/delivery/logstore-delivery.ts';
import { REJECTED_PREFIX } from '../../shared/pipeline/staging.ts';
import type { SetAsideRecord } from '../../shared/pipeline/set-aside.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { testSecretsEnv } from '../helpers/secrets.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const ACCOUNT = '1234567890123456';
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const BAD_JSON = '{"eventId":"bad-json","eventTime":';
const REJECTED_KEY = new RegExp(`^${REJECTED_PREFIX}${ACCOUNT}/\\d{4}/\\d\\d/\\d\\d/[0-9a-f]{32}\\.json$`);

interface RejectedDocument {
  source: Json;
  accountId: string;
  records: SetAsideRecord[];
}

let dataDir: string;
let redisServer: StartedProcess;
let s3Server: StartedProcess;
let s3: S3Client;
let services: Services;
let wiring: typeof import('../../adapters/wiring.ts');
const warnings: { message: string; fields?: Json }[] = [];

const log: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => void warnings.push({ message, ...(fields ? { fields } : {}) }),
  error: () => undefined,
};

function context(functionName: string): FcContext {
  return {
    requestId: randomUUID(),
    credentials: { accessKeyId: 'STS.test', accessKeySecret: 'test-secret', securityToken: 'test-token' },
    function: { name: functionName, handler: 'index.handler', memory: 512, timeout: 60 },
    region: 'cn-hangzhou',
    accountId: ACCOUNT,
  };
}

const event = (eventId: string, overrides: Json = {}): Json => syntheticEvent(ACCOUNT, { eventId, referencedResources: undefined, ...overrides });

async function bytesOf(bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key as string);
}

async function rejectedDocuments(): Promise<Map<string, RejectedDocument>> {
  const docs = new Map<string, RejectedDocument>();
  for (const key of await keysUnder(STAGING, REJECTED_PREFIX)) docs.set(key, JSON.parse((await bytesOf(STAGING, key)).toString('utf8')) as RejectedDocument);
  return docs;
}

async function createTrail(name: string): Promise<Trail> {
  const now = Date.now();
  const trail = trailSchema.parse({
    name,
    accountId: ACCOUNT,
    homeRegion: 'cn-hangzhou',
    eventRW: 'All',
    ossBucketName: ARCHIVE,
    slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper`,
    status: 'Enable',
    createdAtMs: now,
    updatedAtMs: now,
    startLoggingTimeMs: now - 3_600_000,
  });
  await services.trails.create(trail);
  return trail;
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'tk-isolation-'));
  const credentials = generateS3Credentials();
  const password = generateRedisPassword();
  redisServer = await startRedis({ port: await freePort(), dir: path.join(dataDir, 'redis'), config: HISTORY_SERVER_CONFIG, password });
  const s3Port = await freePort();
  s3Server = await startS3({ port: s3Port, dir: path.join(dataDir, 's3'), buckets: [STAGING, ARCHIVE], credentials });
  // The function environment wiring reads (this file runs in its own process: pool forks).
  Object.assign(process.env, {
    TK_REDIS_URL: redisServer.url,
    TK_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    TK_S3_ACCESS_KEY_ID: credentials.accessKeyId,
    TK_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    TK_S3_FORCE_PATH_STYLE: 'true',
    TK_STAGING_BUCKET: STAGING,
    TK_LOGSTORE: 'redis',
    TK_ARCHIVE_LOCK_DAYS: '0',
    ...testSecretsEnv(),
  });
  wiring = await import('../../adapters/wiring.ts');
  services = wiring.getServices();
  s3 = services.s3;
});

afterAll(async () => {
  await services?.redis.quit();
  await s3Server?.stop();
  await redisServer?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the deliverers set aside what they cannot write and deliver the rest', () => {
  it('an unparseable entry and one with an invalid region become rejected objects; the good ones are archived and logged; the outboxes end empty', async () => {
    const trail = await createTrail('isolation-trail');
    const good = [event(`good-${randomUUID()}`), event(`good-${randomUUID()}`, { acsRegion: 'cn-shanghai' })];
    const badRegion = event(`bad-region-${randomUUID()}`, { acsRegion: '../../etc' });
    const entry = (e: Json) => ({ eventId: e['eventId'] as string, eventTimeMs: Date.now(), json: JSON.stringify(e) });
    await services.outbox.append(trail, [entry(good[0] as Json), { eventId: 'bad-json', eventTimeMs: Date.now(), json: BAD_JSON }, entry(badRegion), entry(good[1] as Json)]);
    expect(await services.outbox.size(ACCOUNT, trail.name, 'oss')).toBe(4);
    expect(await services.outbox.size(ACCOUNT, trail.name, 'logstore')).toBe(4);

    const archived = await runArchivePass(wiring.archivePassPorts(context('trailkeeper-deliver-oss'), log, services), { force: true });
    expect(archived).toMatchObject({ delivered: 2, setAside: 2, failed: [] });
    const logged = await runLogstorePass(wiring.logstorePassPorts(context('trailkeeper-deliver-logstore'), log, services));
    // The logstore takes the entry whose region cannot name an archive folder.
    expect(logged).toMatchObject({ delivered: 3, setAside: 1 });

    expect(await services.outbox.size(ACCOUNT, trail.name, 'oss')).toBe(0);
    expect(await services.outbox.size(ACCOUNT, trail.name, 'logstore')).toBe(0);

    // The archive holds exactly the good events.
    const files = (await keysUnder(ARCHIVE, 'AliyunLogs/Actiontrail/')).filter((k) => k.endsWith('.gz'));
    const archivedIds = (await Promise.all(files.map(async (k) => (JSON.parse(gunzipSync(await bytesOf(ARCHIVE, k)).toString('utf8')) as Json[]).map((e) => e['eventId'])))).flat();
    expect(archivedIds.sort()).toEqual(good.map((e) => e['eventId']).sort());

    // The logstore holds the good events and the one with the odd region.
    const nowS = Math.floor(Date.now() / 1000);
    const logs = await services.redisLogstore.getLogs({ accountId: ACCOUNT, trailName: trail.name, from: nowS - 3600, to: nowS + 60 });
    expect(logs.logs.map((l) => l.eventId).sort()).toEqual([...good, badRegion].map((e) => e['eventId']).sort());

    // One rejected object per set-aside entry, where classify puts its own.
    const docs = await rejectedDocuments();
    expect(docs.size).toBe(3);
    for (const key of docs.keys()) expect(key).toMatch(REJECTED_KEY);
    const records = [...docs.values()].flatMap((d) => d.records.map((r) => ({ ...r, source: d.source })));
    expect(records.map((r) => [r.stage, r.eventId, r.code]).sort()).toEqual(
      [
        ['deliver-logstore', 'bad-json', 'InvalidJSON'],
        ['deliver-oss', 'bad-json', 'InvalidJSON'],
        ['deliver-oss', badRegion['eventId'], 'InvalidRegion'],
      ].sort(),
    );
    for (const r of records) {
      expect(r).toMatchObject({ accountId: ACCOUNT, trail: { accountId: ACCOUNT, name: trail.name }, reason: expect.any(String) });
      expect(r.source).toMatchObject({ stage: r.stage, trail: { accountId: ACCOUNT, name: trail.name }, eventId: r.eventId });
    }
    expect(records.find((r) => r.code === 'InvalidRegion')?.record).toMatchObject({ acsRegion: '../../etc' });
    expect(records.find((r) => r.stage === 'deliver-oss' && r.code === 'InvalidJSON')?.record).toBe(BAD_JSON);
    expect(warnings.filter((w) => w.message === 'record set aside')).toHaveLength(3);

    // Idempotent: the same bad entry set aside again (a retry) overwrites its rejected object.
    await services.outbox.append(trail, [{ eventId: 'bad-json', eventTimeMs: Date.now(), json: BAD_JSON }]);
    await runArchivePass(wiring.archivePassPorts(context('trailkeeper-deliver-oss'), log, services), { force: true });
    await runLogstorePass(wiring.logstorePassPorts(context('trailkeeper-deliver-logstore'), log, services));
    expect([...(await rejectedDocuments()).keys()].sort()).toEqual([...docs.keys()].sort());
  });
});
