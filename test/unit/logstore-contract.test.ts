import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import {
  GET_LOGS_MAX_LINE,
  LOGSTORE_RETENTION_DAYS,
  LOGSTORE_TOPIC,
  checkAccountId,
  logTimeOf,
  logstoreNameOf,
  normalizeGetLogsQuery,
  retentionCutoff,
} from '../../shared/logstore/logstore.ts';

const q = { accountId: '1234567890123456', trailName: 'audit-trail', from: 100, to: 200 };

describe('logstore contract helpers', () => {
  it('names the logstore actiontrail_<trail> and rejects what is not a trail name', () => {
    expect(logstoreNameOf('audit-trail')).toBe('actiontrail_audit-trail');
    for (const bad of ['', 'Audit-trail', '../../etc', 'a/b/c/d/e', 'trail}x', 'short']) {
      expect(() => logstoreNameOf(bad)).toThrow(ValidationError);
    }
    expect(LOGSTORE_TOPIC).toBe('actiontrail_audit_event');
  });

  it('account ids are digits only (they sit inside a key hash tag)', () => {
    expect(checkAccountId('1234567890123456')).toBe('1234567890123456');
    for (const bad of ['', '12}34', '{tk:1}', 'abc']) expect(() => checkAccountId(bad)).toThrow(ValidationError);
  });

  it('__time__ is whole epoch seconds of eventTime', () => {
    expect(logTimeOf(Date.parse('2024-01-01T00:00:00Z'))).toBe(1_704_067_200);
    expect(logTimeOf(1_999)).toBe(1);
    expect(() => logTimeOf(Number.NaN)).toThrow(ValidationError);
    expect(() => logTimeOf(-1)).toThrow(ValidationError);
  });

  it(`retention keeps ${LOGSTORE_RETENTION_DAYS} days of __time__`, () => {
    const now = Date.parse('2024-07-01T00:00:00Z');
    expect(retentionCutoff(now)).toBe(now / 1000 - 180 * 86_400);
    expect(retentionCutoff(now, 1)).toBe(now / 1000 - 86_400);
  });

  it('GetLogs defaults: offset 0, line 100, oldest first', () => {
    expect(normalizeGetLogsQuery(q)).toEqual({ ...q, offset: 0, line: GET_LOGS_MAX_LINE, reverse: false });
    expect(normalizeGetLogsQuery({ ...q, offset: 5, line: 1, reverse: true })).toMatchObject({ offset: 5, line: 1, reverse: true });
  });

  it.each([
    { line: 0 },
    { line: 101 },
    { line: 1.5 },
    { offset: -1 },
    { from: 300 },
    { from: Number.NaN },
    { trailName: '../x/y/z' },
    { accountId: '1}' },
  ])('rejects a malformed GetLogs query %o', (change) => {
    expect(() => normalizeGetLogsQuery({ ...q, ...change })).toThrow(ValidationError);
  });
});
