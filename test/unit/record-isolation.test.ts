/**
 * Issue 11 items 4, 5 and 9 at the unit level: what ingest refuses per record, how classify
 * sets aside a record a store refuses, and how existence checks tell "not found" from "failed".
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { syntheticEvent, utcSeconds, type Json } from '../helpers/synthetic-event.ts';
import { EVENT_ID_MAX_BYTES, EVENT_TIME_MAX_AHEAD_MS, parseEvent } from '../../shared/events/schema.ts';
import { validateRecords, type IdentifiedEvent } from '../../shared/pipeline/records.ts';
import { classifyObject, type ClassifyPorts, type SetAsideRecord } from '../../shared/pipeline/classify-batch.ts';
import { RecordRefusedError, RetryableError } from '../../shared/errors.ts';
import type { HistoryRecord } from '../../shared/history/history-store.ts';
import { bucketExists, ensureBucket, objectExists } from '../../adapters/s3.ts';
import { S3Staging } from '../../adapters/s3-staging.ts';
import { deliverToArchives, type OssDeliveryPorts, type PendingFile } from '../../shared/delivery/oss-delivery.ts';
import type { Trail } from '../../shared/trails/model.ts';

const ACCOUNT = '1234567890123456';
const NOW = Date.parse('2026-11-22T10:00:00Z');
const iso = utcSeconds;
const LONE_HIGH = 'evt-\uD800-x';
const LONE_LOW = 'x\uDC00';

const event = (overrides: Json = {}): Json => syntheticEvent(ACCOUNT, overrides, NOW - 60_000);

function refusal(record: Record<string, unknown>, receivedAtMs = NOW) {
  const batch = validateRecords([event(), record, event()], ACCOUNT, [], { receivedAtMs });
  expect(batch.accepted.map((a) => a.index)).toEqual([0, 2]);
  expect(batch.rejected).toHaveLength(1);
  return batch.rejected[0];
}

describe('ingest refuses, per record, what a later stage would refuse', () => {
  it('an eventId over 255 UTF-8 bytes (history holds its length in one byte)', () => {
    expect(refusal(event({ eventId: 'a'.repeat(300) }))).toMatchObject({ index: 1, code: 'InvalidField', field: 'eventId', message: expect.stringContaining(`${EVENT_ID_MAX_BYTES} bytes`) });
    // 128 two-byte characters: 128 characters, 256 bytes
    expect(refusal(event({ eventId: 'é'.repeat(128) }))).toMatchObject({ field: 'eventId' });
    expect(parseEvent(event({ eventId: 'é'.repeat(127) })).ok).toBe(true);
  });

  it('a lone surrogate in the eventId or any string used as a key', () => {
    expect(refusal(event({ eventId: LONE_HIGH }))).toMatchObject({ code: 'InvalidField', field: 'eventId', message: expect.stringContaining('well-formed') });
    expect(refusal(event({ eventName: LONE_LOW }))).toMatchObject({ code: 'InvalidField', field: 'eventName' });
    expect(refusal(event({ serviceName: LONE_LOW }))).toMatchObject({ field: 'serviceName' });
    expect(refusal(event({ sourceIpAddress: LONE_LOW }))).toMatchObject({ field: 'sourceIpAddress' });
    const identity = (extra: Record<string, unknown>) => event({ userIdentity: { type: 'ram-user', accountId: ACCOUNT, ...extra } });
    expect(refusal(identity({ userName: LONE_HIGH }))).toMatchObject({ field: 'userIdentity.userName' });
    expect(refusal(identity({ accessKeyId: LONE_LOW }))).toMatchObject({ field: 'userIdentity.accessKeyId' });
    expect(refusal(event({ referencedResources: { 'ACS::ECS::Instance': [LONE_LOW] } }))).toMatchObject({ field: 'referencedResources.ACS::ECS::Instance.0' });
    // a surrogate pair is well-formed text, and so is a lone surrogate in a field that is no key
    expect(parseEvent(event({ eventId: 'evt-😀', userIdentity: { type: 'ram-user', accountId: ACCOUNT, userName: '😀' } })).ok).toBe(true);
    expect(parseEvent(event({ errorMessage: LONE_LOW })).ok).toBe(true);
  });

  it('an acsRegion that cannot name an archive folder', () => {
    expect(refusal(event({ acsRegion: '../../etc' }))).toMatchObject({ code: 'InvalidField', field: 'acsRegion' });
    expect(parseEvent(event({ acsRegion: '' })).ok).toBe(true);
  });

  it('an eventTime far past its receipt (year 9999, 2100), or before 1970; minutes of drift pass', () => {
    for (const time of ['9999-12-31T23:59:59Z', '2100-01-01T00:00:00Z', iso(NOW + EVENT_TIME_MAX_AHEAD_MS + 1000)]) {
      expect(refusal(event({ eventTime: time }))).toMatchObject({ code: 'InvalidField', field: 'eventTime', message: expect.stringContaining('after the event was received') });
    }
    expect(refusal(event({ eventTime: '1969-12-31T23:59:59Z' }))).toMatchObject({ code: 'InvalidField', field: 'eventTime' });
    expect(parseEvent(event({ eventTime: iso(NOW + 5 * 60_000) }), { receivedAtMs: NOW }).ok).toBe(true);
    // old events stay accepted (archives and summaries take them; history skips them)
    expect(parseEvent(event({ eventTime: '2019-01-01T00:00:00Z' }), { receivedAtMs: NOW }).ok).toBe(true);
  });
});

/** In-memory classify ports around a history that refuses what `refuses` names. */
function memoryPorts(refuses: (r: HistoryRecord) => string | undefined) {
  const stored = new Map<string, HistoryRecord>();
  const setAside: { objectId: string; records: SetAsideRecord[] }[] = [];
  const ports: ClassifyPorts & { setAside(objectId: string, records: readonly SetAsideRecord[]): Promise<void> } = {
    history: {
      put: async (records) => {
        const refused = records.flatMap((r) => {
          const reason = refuses(r);
          return reason === undefined ? [] : [{ eventId: r.eventId, reason }];
        });
        if (refused.length > 0) throw new RecordRefusedError(refused, 'history');
        const held = records.filter((r) => stored.has(r.eventId)).map((r) => r.eventId);
        for (const r of records) stored.set(r.eventId, r);
        return { added: records.length - held.length, duplicates: held.length, held };
      },
    },
    trailsOf: async () => [],
    managementAccountOf: async () => undefined,
    appendOutbox: async () => undefined,
    enqueueSummaries: async () => undefined,
    beginObject: async () => 'new',
    finishObject: async () => undefined,
    setAside: async (objectId, records) => {
      setAside.push({ objectId, records: [...records] });
    },
  };
  return { ports, stored, setAside };
}

describe('classify sets aside a record a store refuses; the rest of the object proceeds', () => {
  it('history refuses one record: the others are stored, the odd one set aside with stage and reason', async () => {
    const events = [event(), event({ eventId: 'odd-one' }), event()] as IdentifiedEvent[];
    const { ports, stored, setAside } = memoryPorts((r) => (r.eventId === 'odd-one' ? 'too odd to store' : undefined));
    const outcome = await classifyObject('staging/inbox/x.json.gz@E1', events, { backfill: false, nowMs: NOW }, ports);
    expect([...stored.keys()].sort()).toEqual([events[0]?.eventId, events[2]?.eventId].sort());
    expect(outcome).toMatchObject({ historyAdded: 2, kept: 2, setAside: [{ stage: 'history', eventId: 'odd-one', code: 'RecordRefused', reason: 'too odd to store', accountId: ACCOUNT }] });
    expect(setAside).toEqual([{ objectId: 'staging/inbox/x.json.gz@E1', records: [expect.objectContaining({ stage: 'history', eventId: 'odd-one', record: events[1] })] }]);
  });

  it('a store failure (not a refusal) still fails the object, so FC retries it', async () => {
    const { ports } = memoryPorts(() => undefined);
    ports.history.put = async () => {
      throw new Error('ECONNRESET');
    };
    await expect(classifyObject('o@E', [event()] as IdentifiedEvent[], { backfill: false, nowMs: NOW }, ports)).rejects.toThrow('ECONNRESET');
  });

  it('records set aside before classify (validation) are written with the object', async () => {
    const { ports, setAside } = memoryPorts(() => undefined);
    const early: SetAsideRecord = { stage: 'validate', accountId: ACCOUNT, eventId: 'x', index: 3, code: 'InvalidField', field: 'eventId', reason: 'bad', record: {} };
    const outcome = await classifyObject('o@E2', [event()] as IdentifiedEvent[], { backfill: false, nowMs: NOW, setAside: [early] }, ports);
    expect(outcome.historyAdded).toBe(1);
    expect(setAside[0]?.records).toEqual([early]);
  });
});

// ---- existence checks: not found vs. failed ----------------------------------------------

function s3Error(name: string, status: number | undefined): Error {
  const error = new Error(`${name} from the fake server`);
  error.name = name;
  return Object.assign(error, status === undefined ? {} : { $metadata: { httpStatusCode: status } });
}

/** An S3 client whose every call answers with `answer` (a value, or an error thrown). */
function fakeS3(answer: () => unknown): { client: S3Client; calls: string[] } {
  const calls: string[] = [];
  const client = {
    send: async (command: { constructor: { name: string } }) => {
      calls.push(command.constructor.name);
      const value = answer();
      if (value instanceof Error) throw value;
      return value;
    },
  } as unknown as S3Client;
  return { client, calls };
}

describe('existence checks tell "not found" from "failed"', () => {
  it('404/NoSuchKey/NoSuchBucket is absent; 503, a timeout and AccessDenied are retryable failures', async () => {
    expect(await objectExists(fakeS3(() => ({})).client, 'b', 'k')).toBe(true);
    expect(await objectExists(fakeS3(() => s3Error('NotFound', 404)).client, 'b', 'k')).toBe(false);
    expect(await objectExists(fakeS3(() => s3Error('NoSuchKey', 404)).client, 'b', 'k')).toBe(false);
    expect(await bucketExists(fakeS3(() => s3Error('NoSuchBucket', 404)).client, 'b')).toBe(false);
    for (const failure of [s3Error('ServiceUnavailable', 503), s3Error('TimeoutError', undefined), s3Error('AccessDenied', 403)]) {
      await expect(objectExists(fakeS3(() => failure).client, 'b', 'k')).rejects.toBeInstanceOf(RetryableError);
      await expect(bucketExists(fakeS3(() => failure).client, 'b')).rejects.toBeInstanceOf(RetryableError);
    }
  });

  it('ensureBucket creates a bucket only when S3 says it does not exist', async () => {
    const outage = fakeS3(() => s3Error('ServiceUnavailable', 503));
    await expect(ensureBucket(outage.client, 'b')).rejects.toBeInstanceOf(RetryableError);
    expect(outage.calls).toEqual(['HeadBucketCommand']);
  });

  it('the staging put says "unavailable, retry" (503) only for an outage; a client error stays what it is', async () => {
    const batch = { version: 1 as const, accountId: ACCOUNT, requestId: 'r', receivedAt: iso(NOW), sourceIp: '1.1.1.1', accessKeyId: 'k', events: [] };
    await expect(new S3Staging(fakeS3(() => s3Error('ServiceUnavailable', 503)).client, 'b').put('k', batch)).rejects.toBeInstanceOf(RetryableError);
    await expect(new S3Staging(fakeS3(() => s3Error('SlowDown', 503)).client, 'b').put('k', batch)).rejects.toMatchObject({ status: 503 });
    const denied = new S3Staging(fakeS3(() => s3Error('AccessDenied', 403)).client, 'b').put('k', batch);
    await expect(denied).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(denied).rejects.not.toBeInstanceOf(RetryableError);
  });
});

describe('deliver-oss: a HeadObject failure never reads as "absent"', () => {
  const trail = { accountId: ACCOUNT, name: 'default-trail', ossBucketName: 'archive', homeRegion: 'cn-hangzhou', isOrganizationTrail: false } as unknown as Trail;
  const pendingFile: PendingFile = {
    key: 'AliyunLogs/Actiontrail/cn-hangzhou/2026/11/22/Actiontrail_cn-hangzhou_20261122100000_1002_1_20_0123456789abcdef0123456789abcdef.gz',
    hourStartMs: NOW,
    scope: { ossKeyPrefix: '', region: 'cn-hangzhou' },
    entry: { key: 'k', sha256: 'x', size: 20, events: 1, oldestEventTime: iso(NOW), newestEventTime: iso(NOW) } as unknown as PendingFile['entry'],
    eventIds: ['e1'],
  };

  function ports(headAnswer: () => unknown) {
    const s3 = fakeS3(headAnswer);
    const state = { pending: pendingFile as PendingFile | undefined, puts: [] as string[], acked: [] as string[], outbox: [{ eventId: 'e1', json: JSON.stringify(event({ eventId: 'e1' })), arrivedAtMs: NOW - 60_000 }] };
    const p: OssDeliveryPorts = {
      trails: async () => [{ accountId: ACCOUNT, trailName: 'default-trail' }],
      getTrail: async () => trail,
      peek: async () => state.outbox.filter((i) => !state.acked.includes(i.eventId)),
      ack: async (_a, _t, ids) => void state.acked.push(...ids),
      withLock: async (_a, _t, work) => (await work(), true),
      pending: {
        get: async () => state.pending,
        set: async (_a, _t, file) => void (state.pending = file),
        clear: async () => void (state.pending = undefined),
      },
      fileLog: { add: async () => undefined, scopes: async () => [], files: async () => [], firstHour: async () => undefined, drop: async () => undefined },
      chain: { head: async () => null, save: async () => undefined },
      objects: {
        put: async (_bucket, key) => void state.puts.push(key),
        exists: (bucket, key) => objectExists(s3.client, bucket, key),
      },
      signingKey: async () => ({ privateKeyPem: '', fingerprint: '' }),
      status: { record: async () => undefined } as unknown as OssDeliveryPorts['status'],
      rejected: { bucket: 'staging', writeJson: async () => undefined, log: { warn: () => undefined } },
      now: () => NOW,
    };
    return { p, state };
  }

  it('HeadObject 503 or a timeout: the trail fails (FC retries), the pending file is kept, nothing is written again', async () => {
    for (const failure of [s3Error('ServiceUnavailable', 503), s3Error('TimeoutError', undefined)]) {
      const { p, state } = ports(() => failure);
      const result = await deliverToArchives(p, { force: true });
      expect(result.failed).toEqual([`${ACCOUNT}/default-trail`]);
      expect(state.puts).toEqual([]);
      expect(state.pending).toEqual(pendingFile);
      expect(state.acked).toEqual([]);
    }
  });

  it('once HeadObject answers, an existing pending file is finished — the events are not written under a new name', async () => {
    const { p, state } = ports(() => ({}));
    const result = await deliverToArchives(p, { force: true });
    expect(result.failed).toEqual([]);
    expect(state.acked).toEqual(['e1']);
    expect(state.puts).toEqual([]);
  });

  it('a pending file S3 says is absent (404) is dropped and its events written once', async () => {
    const { p, state } = ports(() => s3Error('NotFound', 404));
    await deliverToArchives(p, { force: true });
    expect(state.puts).toHaveLength(1);
    expect(state.acked).toEqual(['e1']);
  });
});
