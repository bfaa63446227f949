/**
 * TrailKeeper's own API calls as events (shared/trails/api-events.ts): the event's fields, no
 * secrets, idempotent ids, and recording through the ingest use case before the answer.
 */
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../shared/errors.ts';
import { parseEvent } from '../../shared/events/schema.ts';
import type { IngestPorts, StagingWriter } from '../../shared/pipeline/ingest.ts';
import type { StagingBatch } from '../../shared/pipeline/staging.ts';
import { apiCallEvent, apiEventId, recordedParameters, recordingApiCalls } from '../../shared/trails/api-events.ts';

const ACCOUNT = '1234567890123456';
const caller = { accountId: ACCOUNT, accessKeyId: 'LTAIcaller0001' };
const request = { requestId: 'req-0001', sourceIp: '198.51.100.9', userAgent: 'AlibabaCloud (linux; x64) Node.js' };
const AT = new Date('2026-01-02T03:04:05.678Z');
const SIGNED = {
  Action: 'StopLogging',
  Version: '2020-07-06',
  Name: 'audit-trail',
  AccessKeyId: 'LTAIcaller0001',
  Signature: 'c2lnbmF0dXJl',
  SignatureMethod: 'HMAC-SHA1',
  SignatureVersion: '1.0',
  SignatureNonce: 'nonce-1',
  SecurityToken: 'sts-token',
  Timestamp: '2026-01-02T03:04:05Z',
};

/** Ingest ports in memory: what ingestBatch staged, and which ids it claimed. */
function memoryIngest(): IngestPorts & { batches: StagingBatch[] } {
  const claimed = new Set<string>();
  const batches: StagingBatch[] = [];
  const staging: StagingWriter = {
    put: async (_key, batch) => {
      batches.push(batch);
    },
  };
  return {
    batches,
    staging,
    history: { has: async (_a, ids) => ids.map(() => false) },
    claims: {
      known: async (a, ids) => ids.map((id) => claimed.has(`${a}/${id}`)),
      claim: async (a, ids) =>
        ids.map((id) => {
          const fresh = !claimed.has(`${a}/${id}`);
          claimed.add(`${a}/${id}`);
          return fresh;
        }),
    },
  };
}

describe('apiCallEvent', () => {
  it("is an ActionTrail event of the caller's account: Actiontrail, its regional source, the caller and the request", () => {
    const event = apiCallEvent({ action: 'StopLogging', params: SIGNED, caller, request, region: 'cn-hangzhou', at: AT, outcome: { ok: true } });
    expect(event).toMatchObject({
      eventType: 'ApiCall',
      eventRW: 'Write',
      eventName: 'StopLogging',
      serviceName: 'Actiontrail',
      eventSource: 'actiontrail.cn-hangzhou.aliyuncs.com',
      acsRegion: 'cn-hangzhou',
      apiVersion: '2020-07-06',
      eventTime: '2026-01-02T03:04:05Z',
      requestId: 'req-0001',
      sourceIpAddress: '198.51.100.9',
      userAgent: request.userAgent,
      userIdentity: { type: 'root-account', accountId: ACCOUNT, principalId: ACCOUNT, accessKeyId: 'LTAIcaller0001', userName: 'root' },
      requestParameters: { Action: 'StopLogging', Version: '2020-07-06', Name: 'audit-trail', AccessKeyId: 'LTAIcaller0001', Timestamp: '2026-01-02T03:04:05Z' },
    });
    expect(event).not.toHaveProperty('errorCode');
    expect(parseEvent(event).ok).toBe(true);
  });

  it('records no signature, nonce, token or secret', () => {
    const recorded = recordedParameters({ ...SIGNED, AccessKeySecret: 's3cret', ClientSecret: 'x', Password: 'p' });
    expect(Object.keys(recorded).sort()).toEqual(['AccessKeyId', 'Action', 'Name', 'Timestamp', 'Version']);
    const text = JSON.stringify(apiCallEvent({ action: 'StopLogging', params: SIGNED, caller, request, region: 'cn-hangzhou', at: AT, outcome: { ok: true } }));
    for (const secret of ['c2lnbmF0dXJl', 'nonce-1', 'sts-token']) expect(text).not.toContain(secret);
  });

  it("carries a refused call's code and message, and hides an internal error's", () => {
    const refused = apiCallEvent({ action: 'DeleteTrail', params: { Name: 'gone-trail' }, caller, request, region: 'cn-hangzhou', at: AT, outcome: { ok: false, error: new NotFoundError('TrailNotFoundException', 'The specified Trail does not exist: gone-trail.') } });
    expect(refused).toMatchObject({ errorCode: 'TrailNotFoundException', errorMessage: 'The specified Trail does not exist: gone-trail.' });
    const internal = apiCallEvent({ action: 'DeleteTrail', params: {}, caller, request, region: 'cn-hangzhou', at: AT, outcome: { ok: false, error: new Error('redis at 10.0.0.3 refused') } });
    expect(internal['errorCode']).toBe('InternalError');
    expect(JSON.stringify(internal)).not.toContain('10.0.0.3');
  });

  it('derives one event id per account and request id', () => {
    expect(apiEventId(ACCOUNT, 'req-0001')).toBe(apiEventId(ACCOUNT, 'req-0001'));
    expect(apiEventId(ACCOUNT, 'req-0002')).not.toBe(apiEventId(ACCOUNT, 'req-0001'));
    expect(apiEventId('2234567890123456', 'req-0001')).not.toBe(apiEventId(ACCOUNT, 'req-0001'));
    expect(apiEventId(ACCOUNT, 'req-0001')).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
  });
});

describe('recordingApiCalls', () => {
  it('stages the event of a write call before it answers, once per request id', async () => {
    const ingest = memoryIngest();
    const calls: string[] = [];
    const action = recordingApiCalls('StopLogging', async () => {
      calls.push('action');
      expect(ingest.batches).toHaveLength(calls.length === 1 ? 0 : 1); // the action runs first, the event is staged before the answer
      return {};
    }, { region: 'cn-hangzhou', ports: ingest, now: () => AT });
    await action(SIGNED, caller, request);
    expect(ingest.batches).toHaveLength(1);
    expect(ingest.batches[0]).toMatchObject({ accountId: ACCOUNT, accessKeyId: caller.accessKeyId, sourceIp: request.sourceIp });
    expect(ingest.batches[0]?.events).toEqual([expect.objectContaining({ eventName: 'StopLogging', eventId: apiEventId(ACCOUNT, 'req-0001') })]);
    await action(SIGNED, caller, request); // FC retried the same request
    expect(ingest.batches).toHaveLength(1);
    expect(calls).toEqual(['action', 'action']);
  });

  it('records a refused call with its error and still throws the error', async () => {
    const ingest = memoryIngest();
    const action = recordingApiCalls('DeleteTrail', async () => {
      throw new NotFoundError('TrailNotFoundException', 'The specified Trail does not exist: x.');
    }, { region: 'cn-hangzhou', ports: ingest, now: () => AT });
    await expect(action({ Name: 'x' }, caller, request)).rejects.toMatchObject({ code: 'TrailNotFoundException' });
    expect(ingest.batches[0]?.events[0]).toMatchObject({ eventName: 'DeleteTrail', errorCode: 'TrailNotFoundException' });
  });

  it('leaves read actions alone, and fails the call when its event cannot be staged', async () => {
    const ingest = memoryIngest();
    const read = async () => ({ TrailList: [] });
    expect(recordingApiCalls('DescribeTrails', read, { region: 'cn-hangzhou', ports: ingest })).toBe(read);
    const broken: IngestPorts = { ...ingest, staging: { put: async () => Promise.reject(new Error('object store away')) } };
    const write = recordingApiCalls('StartLogging', async () => ({}), { region: 'cn-hangzhou', ports: broken });
    await expect(write({ Name: 'x' }, caller, request)).rejects.toThrow('object store away');
  });
});
