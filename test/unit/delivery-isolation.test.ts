/**
 * Issue 11 item 4, the deliverers' part, with fake ports: an outbox entry a deliverer cannot
 * write for what it is (JSON that does not parse, a region that cannot name an archive folder, an
 * eventTime that is no time, a log over Log Service's size limit) is set aside as a rejected
 * object in the staging bucket and acknowledged, and the rest of the batch is delivered; a store
 * failure fails the trail and acknowledges nothing.
 */
import { gunzipSync } from 'node:zlib';
import type { PostLogStoreLogsData } from '@alicloud/log';
import { describe, expect, it } from 'vitest';
import { SLS_MAX_PUT_BYTES, SlsLogstore, buildPutLogsRequests } from '../../adapters/sls/logstore.ts';
import { deliverToArchives, MAX_ARCHIVE_REGIONS_PER_TRAIL, runArchivePass, type ArchivePassPorts, type OutboxItem, type PendingFile } from '../../shared/delivery/oss-delivery.ts';
import { deliverToLogstores, runLogstorePass, type LogstoreDeliveryPorts } from '../../shared/delivery/logstore-delivery.ts';
import type { DeliveryStatus } from '../../shared/delivery/delivery-status.ts';
import { RetryableError, ValidationError } from '../../shared/errors.ts';
import { LogEntriesRefusedError, type LogEntryInput, type LogstoreWriter } from '../../shared/logstore/logstore.ts';
import { REJECTED_PREFIX } from '../../shared/pipeline/staging.ts';
import type { RejectedObjectPorts, SetAsideRecord } from '../../shared/pipeline/set-aside.ts';
import type { Trail } from '../../shared/trails/model.ts';

const ACCOUNT = '1234567890123456';
const TRAIL_NAME = 'default-trail';
const TRAIL_ID = `${ACCOUNT}/${TRAIL_NAME}`;
const STAGING = 'trailkeeper-staging';
const ARCHIVE = 'trailkeeper-archive';
const NOW = Date.parse('2026-11-22T10:00:00Z');
const ARRIVED = NOW - 60_000;
const BAD_JSON = '{"eventId":"bad-json","eventTime":';
const REJECTED_KEY = new RegExp(`^${REJECTED_PREFIX}${ACCOUNT}/2026/11/22/[0-9a-f]{32}\\.json$`);

const trail = {
  accountId: ACCOUNT,
  name: TRAIL_NAME,
  homeRegion: 'cn-hangzhou',
  ossBucketName: ARCHIVE,
  slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper`,
  isOrganizationTrail: false,
} as Trail;

function eventJson(eventId: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    eventId,
    eventVersion: 1,
    eventTime: '2026-11-22T09:58:00Z',
    eventName: 'StopInstance',
    acsRegion: 'cn-hangzhou',
    userIdentity: { type: 'ram-user', accountId: ACCOUNT, userName: 'alice' },
    ...overrides,
  });
}

interface RejectedDocument {
  source: Record<string, unknown>;
  accountId: string;
  receivedAt: string;
  records: SetAsideRecord[];
}

/** An in-memory outbox of one trail, a staging bucket and a warn log. */
function world(entries: { eventId: string; json: string }[]) {
  const outbox = new Map<string, OutboxItem>(entries.map((e) => [e.eventId, { ...e, arrivedAtMs: ARRIVED }]));
  const staging = new Map<string, RejectedDocument>();
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const acked: string[] = [];
  const status: (DeliveryStatus & { failures: string[] }) = { failures: [] };
  const state = { stagingDown: false };
  const rejected: RejectedObjectPorts = {
    bucket: STAGING,
    writeJson: async (bucket, key, document) => {
      if (state.stagingDown) throw new RetryableError('staging bucket: 503 ServiceUnavailable');
      expect(bucket).toBe(STAGING);
      staging.set(key, JSON.parse(JSON.stringify(document)) as RejectedDocument);
    },
    log: { warn: (message, fields) => void warnings.push({ message, ...(fields ? { fields } : {}) }) },
  };
  const peek = async (_a: string, _t: string, limit: number) => [...outbox.values()].slice(0, limit);
  const ack = async (_a: string, _t: string, ids: readonly string[]) => {
    for (const id of ids) outbox.delete(id);
    acked.push(...ids);
  };
  const statusStore = {
    get: async () => status,
    record: async (_a: string, _t: string, _d: 'oss' | 'logstore', outcome: { ok: true; atMs: number } | { ok: false; error: string }) => {
      if (outcome.ok) status.latestDeliveryTimeMs = outcome.atMs;
      else status.failures.push(outcome.error);
    },
  };
  const records = () => [...staging.values()].flatMap((d) => d.records);
  return { outbox, staging, warnings, acked, status, state, rejected, peek, ack, statusStore, records };
}

type World = ReturnType<typeof world>;

function archivePorts(w: World, options: { archiveDown?: boolean } = {}) {
  const puts = new Map<string, Buffer>();
  let pending: PendingFile | undefined;
  const ports: ArchivePassPorts = {
    trails: async () => [{ accountId: ACCOUNT, trailName: TRAIL_NAME }],
    getTrail: async () => trail,
    peek: w.peek,
    ack: w.ack,
    withLock: async (_a, _t, work) => (await work(), true),
    pending: {
      get: async () => pending,
      set: async (_a, _t, file) => void (pending = file),
      clear: async () => void (pending = undefined),
    },
    fileLog: { add: async () => undefined, scopes: async () => [], files: async () => [], firstHour: async () => undefined, drop: async () => undefined },
    chain: { head: async () => null, save: async () => undefined },
    objects: {
      put: async (bucket, key, body) => {
        if (options.archiveDown) throw new RetryableError('archive bucket: 503 ServiceUnavailable');
        expect(bucket).toBe(ARCHIVE);
        puts.set(key, body);
      },
      exists: async (_bucket, key) => puts.has(key),
    },
    signingKey: async () => ({ privateKeyPem: '', fingerprint: '' }),
    status: w.statusStore,
    rejected: w.rejected,
    now: () => NOW,
    scheduleDeferredPass: async () => undefined,
  };
  const archivedIds = () => [...puts.values()].flatMap((body) => (JSON.parse(gunzipSync(body).toString('utf8')) as { eventId: string }[]).map((e) => e.eventId));
  return { ports, puts, archivedIds };
}

describe('deliver-oss sets aside an entry it cannot archive; the rest of the batch is archived', () => {
  const entries = () => [
    { eventId: 'good-1', json: eventJson('good-1') },
    { eventId: 'bad-json', json: BAD_JSON },
    { eventId: 'bad-region', json: eventJson('bad-region', { acsRegion: '../../etc' }) },
    { eventId: 'good-2', json: eventJson('good-2', { acsRegion: 'cn-shanghai' }) },
  ];

  it('the good entries are archived, the unparseable and invalid-region ones written as rejected objects, and the outbox is empty', async () => {
    const w = world(entries());
    const { ports, archivedIds } = archivePorts(w);
    const result = await runArchivePass(ports, { force: true });

    expect(result).toMatchObject({ delivered: 2, setAside: 2, failed: [] });
    expect(archivedIds().sort()).toEqual(['good-1', 'good-2']);
    expect(w.outbox.size).toBe(0);
    expect(w.status.failures).toEqual([]);

    expect([...w.staging.keys()]).toHaveLength(2);
    for (const key of w.staging.keys()) expect(key).toMatch(REJECTED_KEY);
    const byId = new Map(w.records().map((r) => [r.eventId, r]));
    expect(byId.get('bad-json')).toMatchObject({
      stage: 'deliver-oss',
      accountId: ACCOUNT,
      trail: { accountId: ACCOUNT, name: TRAIL_NAME },
      code: 'InvalidJSON',
      reason: expect.stringContaining('not JSON'),
      record: BAD_JSON,
    });
    expect(byId.get('bad-region')).toMatchObject({
      stage: 'deliver-oss',
      trail: { accountId: ACCOUNT, name: TRAIL_NAME },
      code: 'InvalidRegion',
      field: 'acsRegion',
      reason: expect.stringContaining('../../etc'),
      record: expect.objectContaining({ eventId: 'bad-region', acsRegion: '../../etc' }),
    });
    const document = [...w.staging.values()].find((d) => d.records[0]?.eventId === 'bad-json');
    expect(document).toMatchObject({ accountId: ACCOUNT, source: { stage: 'deliver-oss', outbox: 'oss', trail: { accountId: ACCOUNT, name: TRAIL_NAME }, eventId: 'bad-json' } });
    expect(w.warnings.filter((l) => l.message === 'record set aside').map((l) => l.fields?.['eventId']).sort()).toEqual(['bad-json', 'bad-region']);
  });

  it('an entry that is no event object, or whose eventTime is no time, is set aside too', async () => {
    const w = world([
      { eventId: 'array', json: '[1,2]' },
      { eventId: 'no-time', json: eventJson('no-time', { eventTime: 'yesterday' }) },
      { eventId: 'good-1', json: eventJson('good-1') },
    ]);
    const { ports, archivedIds } = archivePorts(w);
    expect(await deliverToArchives(ports, { force: true })).toMatchObject({ delivered: 1, setAside: 2, failed: [] });
    expect(archivedIds()).toEqual(['good-1']);
    expect(w.records().map((r) => [r.eventId, r.code]).sort()).toEqual([['array', 'InvalidEvent'], ['no-time', 'InvalidEventTime']]);
  });

  it('made-up acsRegion values open at most MAX_ARCHIVE_REGIONS_PER_TRAIL region folders (each a digest chain written every hour); the rest are set aside', async () => {
    const extra = 5;
    const w = world(
      Array.from({ length: MAX_ARCHIVE_REGIONS_PER_TRAIL + extra }, (_, i) => ({ eventId: `r-${i}`, json: eventJson(`r-${i}`, { acsRegion: `zz-made-up${i}` }) })),
    );
    const { ports, puts } = archivePorts(w);
    expect(await runArchivePass(ports, { force: true })).toMatchObject({ delivered: MAX_ARCHIVE_REGIONS_PER_TRAIL, setAside: extra, failed: [] });
    expect(new Set([...puts.keys()].map((k) => k.split('/')[2])).size).toBe(MAX_ARCHIVE_REGIONS_PER_TRAIL);
    expect(w.records().map((r) => [r.code, r.field])).toEqual(Array.from({ length: extra }, () => ['TooManyRegions', 'acsRegion']));
    expect(w.outbox.size).toBe(0);

    // a later pass: the trail's known regions keep receiving events, a new one is still refused
    const known = Array.from({ length: MAX_ARCHIVE_REGIONS_PER_TRAIL }, (_, i) => ({ region: `zz-made-up${i}` }));
    const w2 = world([
      { eventId: 'old-region', json: eventJson('old-region', { acsRegion: 'zz-made-up3' }) },
      { eventId: 'new-region', json: eventJson('new-region', { acsRegion: 'cn-hangzhou' }) },
    ]);
    const later = archivePorts(w2);
    later.ports.fileLog.scopes = async () => known;
    expect(await runArchivePass(later.ports, { force: true })).toMatchObject({ delivered: 1, setAside: 1 });
    expect(later.archivedIds()).toEqual(['old-region']);
    expect(w2.records().map((r) => [r.eventId, r.code])).toEqual([['new-region', 'TooManyRegions']]);
  });

  it('an archive store failure fails the trail: nothing is acknowledged, and the retry overwrites the same rejected objects', async () => {
    const w = world(entries());
    const down = archivePorts(w, { archiveDown: true });
    await expect(runArchivePass(down.ports, { force: true })).rejects.toBeInstanceOf(RetryableError);
    expect(w.acked).toEqual([]);
    expect(w.outbox.size).toBe(4);
    expect(w.status.failures).toEqual([expect.stringContaining('503')]);
    const keysAfterFailure = [...w.staging.keys()].sort();
    expect(keysAfterFailure).toHaveLength(2);

    const up = archivePorts(w);
    expect(await runArchivePass(up.ports, { force: true })).toMatchObject({ delivered: 2, setAside: 2 });
    expect([...w.staging.keys()].sort()).toEqual(keysAfterFailure);
    expect(w.outbox.size).toBe(0);
  });

  it('a staging bucket failure (the rejected object cannot be written) fails the trail and keeps every entry', async () => {
    const w = world(entries());
    w.state.stagingDown = true;
    const { ports, puts } = archivePorts(w);
    const result = await deliverToArchives(ports, { force: true });
    expect(result.failed).toEqual([TRAIL_ID]);
    expect(w.acked).toEqual([]);
    expect(w.outbox.size).toBe(4);
    expect(puts.size).toBe(0);
  });
});

// ---- deliver-logstore --------------------------------------------------------------------

function logstorePorts(w: World, logstore: LogstoreWriter): LogstoreDeliveryPorts {
  return {
    outbox: { trails: async () => [{ accountId: ACCOUNT, trailName: TRAIL_NAME }], peek: w.peek, ack: w.ack },
    withLock: async (_a, _t, work) => (await work(), true),
    logstore,
    rejected: w.rejected,
    status: w.statusStore,
    now: () => NOW,
  };
}

/** The production writer (Log Service) on a fake SDK client that records what it is sent, or fails with `failCode`. */
function slsWriter(failCode?: string) {
  const sent: PostLogStoreLogsData[] = [];
  const writer = new SlsLogstore({
    trails: { get: async () => trail },
    credentials: { accessKeyId: 'STS.k', accessKeySecret: 's', securityToken: 't' },
    clientFactory: () => ({
      async postLogStoreLogs(_project, _logstore, data) {
        if (failCode) throw Object.assign(new Error(`PutLogs: ${failCode}`), { code: failCode });
        sent.push(data);
        return '';
      },
    }),
  });
  const sentIds = () => sent.flatMap((d) => d.logs.map((l) => l.content['eventId']));
  return { writer, sentIds };
}

describe('deliver-logstore sets aside an entry the logstore cannot take; the rest of the batch is written', () => {
  const oversized = eventJson('too-large', { errorMessage: 'x'.repeat(SLS_MAX_PUT_BYTES) });
  const entries = () => [
    { eventId: 'good-1', json: eventJson('good-1') },
    { eventId: 'bad-json', json: BAD_JSON },
    { eventId: 'bad-time', json: eventJson('bad-time', { eventTime: '2026-13-45T99:00:00Z' }) },
    { eventId: 'too-large', json: oversized },
    { eventId: 'good-2', json: eventJson('good-2') },
  ];

  it("JSON that does not parse, an eventTime that is no time and a log over Log Service's limit are set aside; the good ones reach Log Service; the outbox is empty", async () => {
    const w = world(entries());
    const sls = slsWriter();
    const result = await runLogstorePass(logstorePorts(w, sls.writer));
    expect(result).toEqual({ delivered: 2, setAside: 3, busy: [] });
    expect(sls.sentIds()).toEqual(['good-1', 'good-2']);
    expect(w.outbox.size).toBe(0);
    expect(w.status.failures).toEqual([]);
    expect(w.status.latestDeliveryTimeMs).toBe(NOW);

    for (const key of w.staging.keys()) expect(key).toMatch(REJECTED_KEY);
    const byId = new Map(w.records().map((r) => [r.eventId, r]));
    expect([...byId.keys()].sort()).toEqual(['bad-json', 'bad-time', 'too-large']);
    expect(byId.get('bad-json')).toMatchObject({ stage: 'deliver-logstore', trail: { accountId: ACCOUNT, name: TRAIL_NAME }, code: 'InvalidJSON', record: BAD_JSON });
    expect(byId.get('bad-time')).toMatchObject({ stage: 'deliver-logstore', code: 'InvalidEventTime', field: 'eventTime', reason: expect.stringContaining('2026-13-45') });
    expect(byId.get('too-large')).toMatchObject({
      stage: 'deliver-logstore',
      code: 'LogTooLarge',
      field: 'event',
      reason: expect.stringContaining('LogGroup holds at most'),
      record: expect.objectContaining({ eventId: 'too-large' }),
    });
    const document = [...w.staging.values()].find((d) => d.records[0]?.eventId === 'too-large');
    expect(document?.source).toMatchObject({ stage: 'deliver-logstore', outbox: 'logstore' });
  });

  it('a Log Service outage (ServerBusy) fails the trail: nothing is acknowledged, nothing set aside', async () => {
    const w = world(entries());
    const sls = slsWriter('ServerBusy');
    await expect(runLogstorePass(logstorePorts(w, sls.writer))).rejects.toBeInstanceOf(RetryableError);
    expect(w.acked).toEqual([]);
    expect(w.outbox.size).toBe(5);
    expect(w.staging.size).toBe(0);
    expect(w.status.failures).toEqual([expect.stringContaining('ServerBusy')]);
  });

  it('a staging bucket failure fails the trail and keeps every entry (the good ones are written again on the retry)', async () => {
    const w = world(entries());
    w.state.stagingDown = true;
    const result = await deliverToLogstores(logstorePorts(w, slsWriter().writer));
    expect(result).toMatchObject({ failed: [TRAIL_ID], setAside: 0 });
    expect(w.acked).toEqual([]);
    expect(w.outbox.size).toBe(5);
  });

  it('a writer that names refused entries by position has exactly those set aside, whatever the batch order', async () => {
    const written: string[] = [];
    const picky: LogstoreWriter = {
      write: async (_a, _t, batch: readonly LogEntryInput[]) => {
        const refused = batch.flatMap((e, index) => (e.eventId.startsWith('odd') ? [{ index, eventId: e.eventId, code: 'TooOdd', field: 'event', reason: 'odd one' }] : []));
        if (refused.length > 0) throw new LogEntriesRefusedError(refused, 'picky');
        written.push(...batch.map((e) => e.eventId));
        return { written: batch.length, duplicates: 0 };
      },
    };
    const w = world([
      { eventId: 'odd-1', json: eventJson('odd-1') },
      { eventId: 'good-1', json: eventJson('good-1') },
      { eventId: 'odd-2', json: eventJson('odd-2') },
    ]);
    expect(await deliverToLogstores(logstorePorts(w, picky))).toMatchObject({ delivered: 1, setAside: 2, failed: [] });
    expect(written).toEqual(['good-1']);
    expect(w.records().map((r) => [r.eventId, r.code])).toEqual([['odd-1', 'TooOdd'], ['odd-2', 'TooOdd']]);
    expect(w.outbox.size).toBe(0);
  });
});

describe('the logstore writers name every entry they refuse', () => {
  const entry = (eventId: string, fields: Partial<LogEntryInput> = {}): LogEntryInput => ({ eventId, eventTimeMs: NOW, json: eventJson(eventId), ...fields });

  it('buildPutLogsRequests: one LogEntriesRefusedError (still a ValidationError) with each refused position, code and reason', () => {
    const batch = [entry('ok-1'), entry('big', { json: 'x'.repeat(SLS_MAX_PUT_BYTES) }), entry('ok-2'), entry('no-time', { eventTimeMs: Number.NaN }), entry('')];
    let thrown: unknown;
    try {
      buildPutLogsRequests(trail, batch);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LogEntriesRefusedError);
    expect(thrown).toBeInstanceOf(ValidationError);
    expect((thrown as LogEntriesRefusedError).refused.map((r) => [r.index, r.code])).toEqual([
      [1, 'LogTooLarge'],
      [3, 'InvalidEventTime'],
      [4, 'InvalidEventId'],
    ]);
    expect(buildPutLogsRequests(trail, [batch[0] as LogEntryInput, batch[2] as LogEntryInput]).logs).toBe(2);
  });
});
