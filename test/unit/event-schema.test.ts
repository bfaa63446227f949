import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  accountOf,
  eventTimeMs,
  hasError,
  isGlobalOf,
  mfaOf,
  parseEvent,
  type ActionTrailEvent,
} from '../../shared/events/schema.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const raw = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;

function parsed(input: unknown): ActionTrailEvent {
  const result = parseEvent(input);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.event;
}

function issuesOf(input: unknown) {
  const result = parseEvent(input);
  if (result.ok) throw new Error('expected the event to be rejected');
  return result.issues;
}

describe('parseEvent', () => {
  const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

  it.each(names)('accepts fixture %s and keeps it verbatim', (name) => {
    const input = raw(name);
    expect(parsed(input)).toEqual(input);
  });

  it('keeps unknown fields verbatim, at every level', () => {
    const base = raw('ecs-stopinstance-both-resources');
    const input = {
      ...base,
      extend: 'INSTANCE',
      somethingNew: { nested: [1, 'two', null, { deep: true }] },
      userIdentity: { ...(base.userIdentity as object), customField: 'kept', sessionContext: { attributes: { x: 1 }, y: 2 } },
      additionalEventData: { Scheme: 'http', CallerBid: '26842' },
      responseElements: 'a string body',
    };
    expect(parsed(input)).toEqual(input);
  });

  it('accepts eventVersion as a number or a string, unchanged', () => {
    expect(parsed({ ...raw('slb-api-create'), eventVersion: 1 }).eventVersion).toBe(1);
    expect(parsed({ ...raw('slb-api-create'), eventVersion: '1' }).eventVersion).toBe('1');
  });

  it('treats null optional fields as absent', () => {
    const event = parsed({ ...raw('slb-api-create'), errorCode: null, eventRW: null, referencedResources: null });
    expect(event.eventRW).toBeNull();
    expect(hasError(event)).toBe(false);
  });

  it('accepts eventId absent (generated elsewhere)', () => {
    const { eventId: _drop, ...input } = raw('sts-assumerole');
    expect(parsed(input).eventId).toBeUndefined();
  });

  it.each([
    '2020-02-30T00:00:00Z',
    '2021-02-29T00:00:00Z',
    '2021-13-01T00:00:00Z',
    '2021-06-01T24:00:00Z',
    '2021-06-01T02:60:04Z',
    '2021-06-01T02:03:60Z',
    '2021-06-01T02:03:04+08:00',
    '2021-06-01T02:03:04',
    '2021-06-01 02:03:04Z',
    '2021-06-01T02:03:04.Z',
    '2021-6-1T02:03:04Z',
    'yesterday',
    '',
  ])('rejects eventTime %j with field eventTime', (eventTime) => {
    const issues = issuesOf({ ...raw('slb-api-create'), eventTime });
    expect(issues).toEqual([expect.objectContaining({ field: 'eventTime', code: 'invalid_format' })]);
  });

  it('rejects a non-string or missing eventTime', () => {
    expect(issuesOf({ ...raw('slb-api-create'), eventTime: 1_600_000_000_000 })[0]).toMatchObject({
      field: 'eventTime',
      code: 'invalid_type',
    });
    const { eventTime: _drop, ...input } = raw('slb-api-create');
    expect(issuesOf(input)[0]).toMatchObject({ field: 'eventTime', code: 'required' });
  });

  it.each(['2020-02-29T00:00:00Z', '2021-06-01T02:03:04.5Z', '2021-06-01T02:03:04.123Z', '2021-06-01T02:03:04.123456Z'])(
    'accepts eventTime %s',
    (eventTime) => {
      expect(parsed({ ...raw('slb-api-create'), eventTime }).eventTime).toBe(eventTime);
    },
  );

  it('rejects a missing accountId with field userIdentity.accountId', () => {
    const base = raw('sts-assumerole');
    const { accountId: _drop, ...identity } = base.userIdentity as Record<string, unknown>;
    expect(issuesOf({ ...base, userIdentity: identity })).toEqual([
      { field: 'userIdentity.accountId', code: 'required', message: 'userIdentity.accountId is required' },
    ]);
  });

  it('rejects a numeric or non-digit accountId (numbers are not converted)', () => {
    const base = raw('sts-assumerole');
    const withAccount = (accountId: unknown) => ({ ...base, userIdentity: { ...(base.userIdentity as object), accountId } });
    expect(issuesOf(withAccount(1234567890123456))[0]).toMatchObject({
      field: 'userIdentity.accountId',
      code: 'invalid_type',
    });
    expect(issuesOf(withAccount('12345-678'))[0]).toMatchObject({
      field: 'userIdentity.accountId',
      code: 'invalid_format',
    });
    expect(issuesOf(withAccount(''))[0]).toMatchObject({ field: 'userIdentity.accountId' });
  });

  it('rejects a missing userIdentity', () => {
    const { userIdentity: _drop, ...input } = raw('sts-assumerole');
    expect(issuesOf(input)).toEqual([expect.objectContaining({ field: 'userIdentity', code: 'required' })]);
  });

  it.each(['read', 'WRITE', 'All', 1, true])('rejects eventRW %j', (eventRW) => {
    expect(issuesOf({ ...raw('slb-api-create'), eventRW })).toEqual([
      { field: 'eventRW', code: 'invalid_value', message: 'eventRW must be Read or Write' },
    ]);
  });

  it('rejects an unknown eventType and a missing or empty eventName', () => {
    expect(issuesOf({ ...raw('slb-api-create'), eventType: 'ApiCalls' })[0]).toMatchObject({
      field: 'eventType',
      code: 'invalid_value',
    });
    const { eventName: _drop, ...input } = raw('slb-api-create');
    expect(issuesOf(input)[0]).toMatchObject({ field: 'eventName', code: 'required' });
    expect(issuesOf({ ...raw('slb-api-create'), eventName: '' })[0]).toMatchObject({ field: 'eventName' });
  });

  it('rejects non-object input with field ""', () => {
    for (const input of [null, 'x', 42, []]) {
      expect(issuesOf(input)[0]).toMatchObject({ field: '', code: 'invalid_type' });
    }
  });

  it('reports every problem at once, with dotted paths', () => {
    const issues = issuesOf({
      ...raw('slb-api-create'),
      eventTime: 'bad',
      eventRW: 'x',
      referencedResources: { Instance: [1] },
    });
    expect(issues.map((i) => i.field).sort()).toEqual(['eventRW', 'eventTime', 'referencedResources.Instance.0']);
  });
});

describe('readers', () => {
  it('mfaOf reads isMFAChecked (root) and mfaChecked (RAM user)', () => {
    expect(mfaOf(parsed(raw('console-signin-root')))).toBe(false);
    expect(mfaOf(parsed(raw('console-signin-ramuser')))).toBe(true);
  });

  it('mfaOf accepts booleans and any-case strings, falls back to the session, else undefined', () => {
    const root = raw('console-signin-root');
    const withData = (data: Record<string, unknown>) => parsed({ ...root, additionalEventData: data });
    expect(mfaOf(withData({ isMFAChecked: true }))).toBe(true);
    expect(mfaOf(withData({ mfaChecked: 'TRUE' }))).toBe(true);
    expect(mfaOf(withData({ mfaChecked: false }))).toBe(false);
    expect(mfaOf(withData({ loginAccount: 'x' }))).toBeUndefined();
    expect(mfaOf(parsed(raw('slb-console-create')))).toBe(false);
    expect(mfaOf(parsed(raw('sts-assumerole')))).toBeUndefined();
  });

  it('rejects an MFA flag that is not a boolean', () => {
    const issues = issuesOf({ ...raw('console-signin-ramuser'), additionalEventData: { mfaChecked: 'yes' } });
    expect(issues[0]).toMatchObject({ field: 'additionalEventData.mfaChecked' });
  });

  it('eventTimeMs reads the UTC instant, with milliseconds', () => {
    expect(eventTimeMs(parsed(raw('kms-decrypt-after-reclass')))).toBe(Date.UTC(2020, 11, 19, 16, 0, 1));
    expect(eventTimeMs({ eventTime: '2021-06-01T02:03:04.25Z' })).toBe(Date.UTC(2021, 5, 1, 2, 3, 4, 250));
    expect(eventTimeMs({ eventTime: '2021-06-01T02:03:04.123456Z' })).toBe(Date.UTC(2021, 5, 1, 2, 3, 4, 123));
  });

  it('hasError treats empty errorCode/errorMessage as no error', () => {
    expect(hasError(parsed(raw('console-signin-ramuser')))).toBe(false);
    expect(hasError(parsed({ ...raw('sts-assumerole'), errorCode: 'NoPermission', errorMessage: 'denied' }))).toBe(true);
    expect(hasError(parsed({ ...raw('sts-assumerole'), errorCode: '', errorMessage: 'denied' }))).toBe(true);
    expect(hasError(parsed({ ...raw('sts-assumerole'), errorCode: '  ' }))).toBe(false);
  });

  it('isGlobalOf and accountOf', () => {
    expect(isGlobalOf(parsed(raw('ram-createaccesskey')))).toBe(true);
    expect(isGlobalOf(parsed({ ...raw('ram-createaccesskey'), isGlobal: 'false' }))).toBe(false);
    expect(isGlobalOf(parsed(raw('slb-api-create')))).toBe(false);
    expect(accountOf(parsed(raw('member-ecs-startinstance')))).toBe('2234567890123456');
  });
});
