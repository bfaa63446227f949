/**
 * The console's pure display helpers (functions/lookup-http/web/format.ts, query.ts): identity
 * labels, resources, MFA and details read from the fixtures, times, summary windows, error
 * messages, and the shareable URL hash.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, NetworkError, type JsonObject } from '../../functions/lookup-http/web/api.ts';
import {
  describeError,
  eventDetails,
  eventMfa,
  eventResources,
  eventUser,
  formatLocal,
  formatWindow,
  niceMax,
  windowsBetween,
  zoneLabel,
} from '../../functions/lookup-http/web/format.ts';
import {
  DEFAULT_STATE,
  describeFilter,
  describeQuery,
  describeRange,
  formatHash,
  localInputToUtc,
  lookupParams,
  parseHash,
  timeWindowOf,
  utcToLocalInput,
  widerPreset,
  windowRange,
} from '../../functions/lookup-http/web/query.ts';
import { repoRoot } from '../helpers/stack.ts';

const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const fixture = (name: string): JsonObject => JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as JsonObject;

describe('events as the console shows them', () => {
  it('labels users with ActionTrail identity types, and keeps unknown types as they are', () => {
    expect(eventUser(fixture('console-signin-root'))).toBe('root (Alibaba Cloud account)');
    expect(eventUser(fixture('ecs-stopinstance-both-resources'))).toBe('bob (RAM user)');
    expect(eventUser(fixture('slb-console-create'))).toBe('CommonBuyAdminRole:yx_sub_acc (RAM role)');
    expect(eventUser(fixture('ecs-service-event'))).toBe('ecs.aliyuncs.com (Alibaba Cloud service)');
    expect(eventUser({ userIdentity: { type: 'federated-user', principalId: 'p-1' } })).toBe('p-1 (federated-user)');
    expect(eventUser({})).toBe('—');
  });

  it("shows an event's ACS:: resources when it has both forms, else its legacy ones", () => {
    expect(eventResources(fixture('ecs-stopinstance-both-resources'))).toEqual({ types: ['ACS::ECS::Instance'], names: ['i-bp1fadfadf0007'] });
    expect(eventResources(fixture('slb-console-create'))).toEqual({ types: ['LoadBalancer'], names: ['lb-bp15t2g9omw99scxa0001'] });
    expect(eventResources(fixture('console-signin-root'))).toEqual({ types: [], names: [] });
  });

  it('reads MFA from both logon spellings and from the session context, and leaves it out when unknown', () => {
    expect(eventMfa(fixture('console-signin-root'))).toBe('No');
    expect(eventMfa(fixture('console-signin-ramuser'))).toBe('Yes');
    expect(eventMfa(fixture('slb-console-create'))).toBe('No');
    expect(eventMfa(fixture('ecs-stopinstance-both-resources'))).toBeUndefined();
    const details = Object.fromEntries(eventDetails(fixture('ecs-stopinstance-both-resources')));
    expect(details).toMatchObject({
      AccessKey: 'LTAI5tBob0006',
      'Event Source': 'ecs.aliyuncs.com',
      Region: 'cn-hangzhou',
      'Error Code': 'None',
      'Request ID': 'ecs-0007',
      'Event ID': 'ecs-0007',
      'Source IP': '42.120.75.1',
      'Read/Write': 'Write',
    });
    expect(details).not.toHaveProperty('MFA');
    expect(Object.fromEntries(eventDetails({ errorCode: 'Forbidden.RAM', errorMessage: 'User not authorized' }))['Error Code']).toBe('Forbidden.RAM: User not authorized');
  });
});

describe('times and windows', () => {
  it("formats instants in a zone, with the zone's name and offset for headings", () => {
    const ms = Date.parse('2026-11-22T10:04:05Z');
    expect(formatLocal(ms, 'Asia/Shanghai')).toBe('2026-11-22 18:04:05');
    expect(formatLocal(ms, 'UTC')).toBe('2026-11-22 10:04:05');
    expect(zoneLabel(ms, 'Asia/Shanghai')).toBe('Asia/Shanghai, UTC+08:00');
    expect(zoneLabel(ms, 'UTC')).toBe('UTC');
  });

  it('lists the 2-hour UTC windows of a range and names them in local time', () => {
    const windows = windowsBetween(Date.parse('2026-11-22T09:30:00Z'), Date.parse('2026-11-22T14:00:00Z'));
    expect(windows.map((w) => new Date(w).toISOString())).toEqual(['2026-11-22T08:00:00.000Z', '2026-11-22T10:00:00.000Z', '2026-11-22T12:00:00.000Z', '2026-11-22T14:00:00.000Z']);
    expect(formatWindow(Date.parse('2026-11-22T10:00:00Z'), 'Asia/Shanghai')).toBe('2026-11-22 18:00–20:00');
    expect(formatWindow(Date.parse('2026-11-22T14:00:00Z'), 'Asia/Shanghai')).toBe('2026-11-22 22:00 – 2026-11-23 00:00');
    expect([0, 1, 3, 7, 10, 11, 180, 999].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 200, 1000]);
  });
});

describe('error messages', () => {
  it('say what to do: a wrong key, a disabled key, a clock off, an unreachable server', () => {
    expect(describeError(new ApiError('InvalidAccessKeyId.NotFound', 'AccessKeyId "x" does not exist', 404, 'r-1'))).toMatchObject({
      message: expect.stringContaining('The AccessKey ID or secret is wrong'),
      action: 'sign-in',
      detail: 'InvalidAccessKeyId.NotFound: AccessKeyId "x" does not exist · RequestId r-1',
    });
    expect(describeError(new ApiError('SignatureDoesNotMatch', '…', 400)).message).toContain('The AccessKey ID or secret is wrong');
    expect(describeError(new ApiError('InvalidAccessKeyId.Inactive', '…', 400)).message).toContain('npm run keys -- enable');
    expect(describeError(new ApiError('InvalidTimeStamp.Expired', '…', 400)).message).toContain('clock');
    expect(describeError(new NetworkError('http://10.0.0.5:8711/', new TypeError('Failed to fetch')))).toMatchObject({
      message: expect.stringContaining('Cannot reach lookup-http at http://10.0.0.5:8711/'),
      action: 'retry',
    });
    expect(describeError(new ApiError('InvalidParameterStartTime', 'The specified StartTime is invalid', 400)).message).toBe('InvalidParameterStartTime: The specified StartTime is invalid');
  });
});

describe('the URL hash and the lookup parameters', () => {
  it('round-trips a query and ignores what it does not know', () => {
    const state = { tab: 'summaries' as const, range: '1h' as const, filterKey: 'EventName' as const, filterValue: 'StopInstance', pageSize: 50 as const };
    expect(parseHash(formatHash(state))).toEqual(state);
    const custom = { ...DEFAULT_STATE, range: 'custom' as const, from: '2026-11-22T01:00:00Z', to: '2026-11-22T03:30:00Z' };
    expect(parseHash(formatHash(custom))).toEqual(custom);
    expect(parseHash('#tab=nope&range=2y&key=Password&value=x&size=1000')).toEqual(DEFAULT_STATE);
    expect(parseHash('#range=custom&from=yesterday&to=2026-11-22T03:30:00Z')).toEqual(DEFAULT_STATE);
  });

  it('links to one event on the events tab, keeping the search to go back to', () => {
    const state = { ...DEFAULT_STATE, range: '1h' as const, filterKey: 'EventName' as const, filterValue: 'StopInstance', event: 'ecs-0007 &#x=1' };
    const hash = formatHash(state);
    expect(hash).toBe('#tab=events&event=ecs-0007+%26%23x%3D1&range=1h&key=EventName&value=StopInstance');
    expect(parseHash(hash)).toEqual(state);
    expect(parseHash('#tab=events&event=abc')).toEqual({ ...DEFAULT_STATE, event: 'abc' });
    expect(parseHash('#event=abc')).toEqual({ ...DEFAULT_STATE, event: 'abc' }); // the events tab is the default
    // Only on the events tab, and not empty or longer than GetEvent takes.
    expect(parseHash('#tab=summaries&event=abc')).toEqual({ ...DEFAULT_STATE, tab: 'summaries' });
    expect(formatHash({ ...DEFAULT_STATE, tab: 'trails', event: 'abc' })).toBe('#tab=trails&range=1d');
    expect(parseHash('#tab=events&event=')).toEqual(DEFAULT_STATE);
    expect(parseHash(`#tab=events&event=${'x'.repeat(2049)}`)).toEqual(DEFAULT_STATE);
  });

  it("turns a summaries window into a custom range within the summaries' range, to the window's last second", () => {
    const within = { startMs: Date.parse('2026-11-22T09:30:07.400Z'), endMs: Date.parse('2026-11-22T14:10:00.900Z') };
    // A window inside the range: all of it (LookupEvents' EndTime covers its whole second).
    expect(windowRange(Date.parse('2026-11-22T10:00:00Z'), within)).toEqual({ from: '2026-11-22T10:00:00Z', to: '2026-11-22T11:59:59Z' });
    // The first and last windows reach past the range: clamped to it.
    expect(windowRange(Date.parse('2026-11-22T08:00:00Z'), within)).toEqual({ from: '2026-11-22T09:30:07Z', to: '2026-11-22T09:59:59Z' });
    expect(windowRange(Date.parse('2026-11-22T14:00:00Z'), within)).toEqual({ from: '2026-11-22T14:00:00Z', to: '2026-11-22T14:10:00Z' });
    // Nothing of the window inside the range.
    expect(windowRange(Date.parse('2026-11-22T16:00:00Z'), within)).toBeUndefined();
    expect(windowRange(Date.parse('2026-11-22T14:00:00Z'), { startMs: within.startMs, endMs: Date.parse('2026-11-22T14:00:00.500Z') })).toBeUndefined();
    // The range is a custom one the hash keeps.
    const range = windowRange(Date.parse('2026-11-22T10:00:00Z'), within)!;
    const state = { ...DEFAULT_STATE, range: 'custom' as const, ...range };
    expect(parseHash(formatHash(state))).toEqual(state);
    expect(timeWindowOf(state, 0)).toMatchObject({ StartTime: '2026-11-22T10:00:00Z', EndTime: '2026-11-22T11:59:59Z' });
  });

  it('turns a preset into the window ending now, and a filter into LookupAttribute.1', () => {
    const now = Date.parse('2026-11-22T10:00:07.500Z');
    const window = timeWindowOf({ range: '1h' }, now);
    expect(window).toMatchObject({ StartTime: '2026-11-22T09:00:07Z', EndTime: '2026-11-22T10:00:07Z' });
    expect(lookupParams({ ...DEFAULT_STATE, filterKey: 'EventName', filterValue: 'StopInstance' }, window!)).toEqual({
      StartTime: '2026-11-22T09:00:07Z',
      EndTime: '2026-11-22T10:00:07Z',
      'LookupAttribute.1.Key': 'EventName',
      'LookupAttribute.1.Value': 'StopInstance',
    });
    expect(timeWindowOf({ range: 'custom', from: '2026-11-22T03:00:00Z', to: '2026-11-22T01:00:00Z' }, now)).toBeUndefined();
    expect(widerPreset('1h')).toBe('3h');
    expect(widerPreset('30d')).toBeUndefined();
  });

  it("reads datetime-local values in the browser's zone", () => {
    const zone = process.env['TZ'];
    process.env['TZ'] = 'Asia/Shanghai';
    try {
      expect(localInputToUtc('2026-11-22T18:04')).toBe('2026-11-22T10:04:00Z');
      expect(localInputToUtc('2026-11-22T18:04:05')).toBe('2026-11-22T10:04:05Z');
      expect(utcToLocalInput('2026-11-22T10:04:00Z')).toBe('2026-11-22T18:04');
      expect(utcToLocalInput('2026-11-22T10:04:05Z')).toBe('2026-11-22T18:04:05');
      expect(localInputToUtc('')).toBeUndefined();
    } finally {
      if (zone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = zone;
    }
  });
});

describe('describing a query', () => {
  const utcTime = (ms: number) => formatLocal(ms, 'UTC');

  it('says the range and the filter, for captions and empty states', () => {
    const preset = { ...DEFAULT_STATE, range: '30m' as const, filterKey: 'EventName' as const, filterValue: 'StopInstance' };
    expect(describeQuery(preset, utcTime)).toBe('in the last 30 minutes with Event Name StopInstance');
    expect(describeRange(preset, utcTime)).toBe('the last 30 minutes');
    expect(describeFilter(preset)).toBe(' with Event Name StopInstance');
    expect(describeFilter(DEFAULT_STATE)).toBe('');
    const custom = { ...DEFAULT_STATE, range: 'custom' as const, from: '2026-11-22T09:00:00Z', to: '2026-11-22T10:30:00Z' };
    expect(describeQuery(custom, utcTime)).toBe('between 2026-11-22 09:00:00 and 2026-11-22 10:30:00');
    expect(describeRange(custom, utcTime)).toBe('2026-11-22 09:00:00 to 2026-11-22 10:30:00');
  });
});
