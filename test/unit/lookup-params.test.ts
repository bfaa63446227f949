import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import { HISTORY_RETENTION_MS } from '../../shared/history/history-store.ts';
import {
  DEFAULT_MAX_RESULTS,
  DEFAULT_WINDOW_MS,
  formatUtcSecond,
  parseLookupParams,
} from '../../shared/lookup/lookup-params.ts';

const NOW = Date.UTC(2024, 5, 15, 12, 30, 45, 678); // 2024-06-15T12:30:45.678Z
const NOW_SECOND = Date.UTC(2024, 5, 15, 12, 30, 45);
const DAY = 24 * 60 * 60 * 1000;

function refusal(params: Record<string, string>): ValidationError {
  try {
    parseLookupParams(params, NOW);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('parseLookupParams: defaults', () => {
  it('no parameters: the last 7 days up to now, BACKWARD, 20 results, no condition', () => {
    const p = parseLookupParams({}, NOW);
    expect(p.endMs).toBe(NOW_SECOND + 999);
    expect(p.startMs).toBe(NOW_SECOND - DEFAULT_WINDOW_MS);
    expect(DEFAULT_WINDOW_MS).toBe(7 * DAY);
    expect(p.direction).toBe('BACKWARD');
    expect(p.maxResults).toBe(DEFAULT_MAX_RESULTS);
    expect(DEFAULT_MAX_RESULTS).toBe(20);
    expect(p.condition).toBeUndefined();
    expect(p.filter).toBeUndefined();
    expect(p.nextToken).toBeUndefined();
    expect(p.given).toEqual({});
    expect(p.empty).toBe(false);
  });

  it('ignores other RPC parameters and treats empty values as absent', () => {
    const p = parseLookupParams(
      { Action: 'LookupEvents', Version: '2020-07-06', RegionId: 'cn-hangzhou', MaxResults: '', Direction: '', NextToken: '' },
      NOW,
    );
    expect(p.maxResults).toBe(20);
    expect(p.direction).toBe('BACKWARD');
    expect(p.nextToken).toBeUndefined();
  });
});

describe('parseLookupParams: time window', () => {
  it('inclusive bounds; an EndTime to the second covers that whole second', () => {
    const p = parseLookupParams({ StartTime: '2024-06-10T00:00:00Z', EndTime: '2024-06-11T09:40:11Z' }, NOW);
    expect(p.startMs).toBe(Date.UTC(2024, 5, 10));
    expect(p.endMs).toBe(Date.UTC(2024, 5, 11, 9, 40, 11, 999));
    expect(p.given).toEqual({ startTime: '2024-06-10T00:00:00Z', endTime: '2024-06-11T09:40:11Z' });
  });

  it('a fraction of a second is taken exactly', () => {
    const p = parseLookupParams({ StartTime: '2024-06-10T00:00:00.250Z', EndTime: '2024-06-11T00:00:00.500Z' }, NOW);
    expect(p.startMs).toBe(Date.UTC(2024, 5, 10, 0, 0, 0, 250));
    expect(p.endMs).toBe(Date.UTC(2024, 5, 11, 0, 0, 0, 500));
  });

  it.each([
    ['2024-06-10', 'date only'],
    ['2024-06-10 00:00:00', 'space'],
    ['2024-06-10T00:00:00+08:00', 'offset'],
    ['2024-02-30T00:00:00Z', 'impossible date'],
    ['1718000000', 'epoch seconds'],
    ['yesterday', 'text'],
  ])('StartTime %s (%s) → InvalidParameterStartTime', (value) => {
    const err = refusal({ StartTime: value, EndTime: '2024-06-11T00:00:00Z' });
    expect(err.code).toBe('InvalidParameterStartTime');
    expect(err.status).toBe(400);
    expect(err.field).toBe('StartTime');
    expect(err.message).toContain('StartTime');
  });

  it('a malformed EndTime → InvalidParameterEndTime', () => {
    const err = refusal({ StartTime: '2024-06-10T00:00:00Z', EndTime: '2024-06-11T25:00:00Z' });
    expect(err.code).toBe('InvalidParameterEndTime');
    expect(err.field).toBe('EndTime');
  });

  it('only one of StartTime / EndTime → InvalidParameterCombination naming the missing one', () => {
    expect(refusal({ StartTime: '2024-06-10T00:00:00Z' })).toMatchObject({ code: 'InvalidParameterCombination', field: 'EndTime' });
    expect(refusal({ EndTime: '2024-06-10T00:00:00Z' })).toMatchObject({ code: 'InvalidParameterCombination', field: 'StartTime' });
  });

  it('EndTime not later than StartTime → InvalidParameterCombination', () => {
    const after = refusal({ StartTime: '2024-06-11T00:00:00Z', EndTime: '2024-06-10T00:00:00Z' });
    expect(after.code).toBe('InvalidParameterCombination');
    expect(after.message).toBe('The end time must be later than the start time.');
    expect(refusal({ StartTime: '2024-06-11T00:00:00Z', EndTime: '2024-06-11T00:00:00Z' }).code).toBe('InvalidParameterCombination');
  });

  it('StartTime older than 90 days is clamped to the history horizon, EndTime in the future to now', () => {
    const p = parseLookupParams({ StartTime: '2023-01-01T00:00:00Z', EndTime: '2030-01-01T00:00:00Z' }, NOW);
    expect(p.startMs).toBe(Math.ceil((NOW - HISTORY_RETENTION_MS) / 1000) * 1000);
    expect(p.startMs).toBeGreaterThanOrEqual(NOW - HISTORY_RETENTION_MS);
    expect(p.endMs).toBe(NOW_SECOND + 999);
    expect(p.empty).toBe(false);
    // The token still binds what was asked, not the clamped values.
    expect(p.given).toEqual({ startTime: '2023-01-01T00:00:00Z', endTime: '2030-01-01T00:00:00Z' });
  });

  it('a window wholly beyond history or wholly in the future is empty, not an error', () => {
    expect(parseLookupParams({ StartTime: '2023-01-01T00:00:00Z', EndTime: '2023-02-01T00:00:00Z' }, NOW).empty).toBe(true);
    expect(parseLookupParams({ StartTime: '2030-01-01T00:00:00Z', EndTime: '2030-02-01T00:00:00Z' }, NOW).empty).toBe(true);
  });
});

describe('parseLookupParams: MaxResults and Direction', () => {
  it.each(['1', '20', '50'])('MaxResults %s is accepted', (v) => {
    expect(parseLookupParams({ MaxResults: v }, NOW).maxResults).toBe(Number(v));
  });

  it.each(['0', '51', '100', '-1', '1.5', 'ten', '1e1', ' 5', '0050'])('MaxResults %j → InvalidQueryParameter', (v) => {
    const err = refusal({ MaxResults: v });
    expect(err.code).toBe('InvalidQueryParameter');
    expect(err.field).toBe('MaxResults');
    expect(err.message).toMatch(/^MaxResults: /);
  });

  it('Direction FORWARD / BACKWARD; anything else → InvalidQueryParameter', () => {
    expect(parseLookupParams({ Direction: 'FORWARD' }, NOW).direction).toBe('FORWARD');
    expect(parseLookupParams({ Direction: 'BACKWARD' }, NOW).direction).toBe('BACKWARD');
    for (const v of ['forward', 'Backwards', 'ASC']) {
      expect(refusal({ Direction: v })).toMatchObject({ code: 'InvalidQueryParameter', field: 'Direction' });
    }
  });
});

describe('parseLookupParams: LookupAttribute', () => {
  it('one condition', () => {
    const p = parseLookupParams({ 'LookupAttribute.1.Key': 'EventName', 'LookupAttribute.1.Value': 'ConsoleSignin' }, NOW);
    expect(p.condition).toEqual({ key: 'EventName', value: 'ConsoleSignin' });
    expect(p.filter).toBeUndefined();
  });

  it('every documented key is accepted', () => {
    for (const key of ['EventName', 'EventRW', 'EventAccessKeyId', 'EventId', 'ResourceName', 'ResourceType', 'ServiceName', 'User', 'EventType', 'SourceIpAddress']) {
      expect(parseLookupParams({ 'LookupAttribute.1.Key': key, 'LookupAttribute.1.Value': 'x' }, NOW).condition?.key).toBe(key);
    }
  });

  it('an unknown key → InvalidQueryParameter naming LookupAttribute.N.Key', () => {
    const err = refusal({ 'LookupAttribute.1.Key': 'Username', 'LookupAttribute.1.Value': 'root' });
    expect(err).toMatchObject({ code: 'InvalidQueryParameter', field: 'LookupAttribute.1.Key' });
    expect(err.message).toContain('ServiceName');
  });

  it('a Key without Value, or a Value without Key → InvalidQueryParameter', () => {
    expect(refusal({ 'LookupAttribute.1.Key': 'User' })).toMatchObject({ code: 'InvalidQueryParameter', field: 'LookupAttribute.1.Value' });
    expect(refusal({ 'LookupAttribute.2.Value': 'alice' })).toMatchObject({ code: 'InvalidQueryParameter', field: 'LookupAttribute.2.Key' });
  });

  it('N must be a positive integer', () => {
    for (const n of ['0', 'x', '01', '-1']) {
      expect(refusal({ [`LookupAttribute.${n}.Key`]: 'User', [`LookupAttribute.${n}.Value`]: 'a' }).code).toBe('InvalidQueryParameter');
    }
  });

  it('the same key twice: the second condition counts (as ActionTrail documents)', () => {
    const p = parseLookupParams(
      { 'LookupAttribute.1.Key': 'User', 'LookupAttribute.1.Value': 'alice', 'LookupAttribute.2.Key': 'User', 'LookupAttribute.2.Value': 'bob' },
      NOW,
    );
    expect(p.condition).toEqual({ key: 'User', value: 'bob' });
    expect(p.filter).toBeUndefined();
  });

  it('an allowed pair: the more selective key goes to the store, the other filters', () => {
    const p = parseLookupParams(
      { 'LookupAttribute.1.Key': 'ServiceName', 'LookupAttribute.1.Value': 'Ecs', 'LookupAttribute.2.Key': 'EventName', 'LookupAttribute.2.Value': 'StartInstance' },
      NOW,
    );
    expect(p.condition).toEqual({ key: 'EventName', value: 'StartInstance' });
    expect(p.filter).toEqual({ key: 'ServiceName', value: 'Ecs' });
    const q = parseLookupParams(
      { 'LookupAttribute.1.Key': 'ResourceType', 'LookupAttribute.1.Value': 'ACS::ECS::Instance', 'LookupAttribute.2.Key': 'ResourceName', 'LookupAttribute.2.Value': 'i-1' },
      NOW,
    );
    expect(q.condition).toEqual({ key: 'ResourceName', value: 'i-1' });
    expect(q.filter).toEqual({ key: 'ResourceType', value: 'ACS::ECS::Instance' });
  });

  it('a pair ActionTrail does not combine → InvalidParameterCombination', () => {
    const err = refusal({ 'LookupAttribute.1.Key': 'User', 'LookupAttribute.1.Value': 'a', 'LookupAttribute.2.Key': 'EventRW', 'LookupAttribute.2.Value': 'Read' });
    expect(err.code).toBe('InvalidParameterCombination');
    expect(err.field).toBe('LookupAttribute');
    expect(refusal({ 'LookupAttribute.1.Key': 'EventId', 'LookupAttribute.1.Value': 'a', 'LookupAttribute.2.Key': 'ServiceName', 'LookupAttribute.2.Value': 'Ecs' }).code).toBe(
      'InvalidParameterCombination',
    );
  });

  it('more than two: only the first two by N count', () => {
    const p = parseLookupParams(
      {
        'LookupAttribute.10.Key': 'User',
        'LookupAttribute.10.Value': 'ignored',
        'LookupAttribute.2.Key': 'EventType',
        'LookupAttribute.2.Value': 'ApiCall',
        'LookupAttribute.1.Key': 'ServiceName',
        'LookupAttribute.1.Value': 'Ecs',
      },
      NOW,
    );
    expect(p.condition).toEqual({ key: 'ServiceName', value: 'Ecs' });
    expect(p.filter).toEqual({ key: 'EventType', value: 'ApiCall' });
  });
});

describe('formatUtcSecond', () => {
  it('formats like ActionTrail: 2020-11-02T09:40:11Z', () => {
    expect(formatUtcSecond(Date.UTC(2020, 10, 2, 9, 40, 11, 999))).toBe('2020-11-02T09:40:11Z');
    expect(formatUtcSecond(Date.UTC(2020, 10, 2, 9, 40, 11))).toBe('2020-11-02T09:40:11Z');
  });
});
