/**
 * Alert rules, pure (docs/design.md §3.12): the condition language (each operator, and/or/not,
 * the bounds), the built-in templates against rows shaped like the events they are about, the
 * firing of thresholds over eventTime windows (late events, groups), and the retry schedule.
 */
import { describe, expect, it } from 'vitest';
import { ALERT_MAX_CONDITIONS, ALERT_MAX_DEPTH, compileCondition, outsideHours, parseCondition, type Condition } from '../../shared/alerts/conditions.ts';
import { ALERT_MAX_ATTEMPTS, firingGroups, retryDelayMs, type StoredMatch } from '../../shared/alerts/evaluate.ts';
import { matchedEventOf, insightRows } from '../../shared/alerts/engine.ts';
import { ALERT_TEMPLATES, templateById } from '../../shared/alerts/templates.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import type { InsightEvent } from '../../shared/insights/detector.ts';
import { analysisRow } from '../helpers/analysis-row.ts';

const A = '1234567890123456';
const T0 = Date.UTC(2026, 10, 24, 3, 0, 0); // a Tuesday, 11:00 in Asia/Shanghai
const MIN = 60_000;

function compiled(raw: unknown): (row: AnalysisRow) => boolean {
  const parsed = parseCondition(raw);
  if (!('condition' in parsed)) throw new Error(parsed.message);
  return compileCondition(parsed.condition);
}

const signin = (over: Partial<AnalysisRow> = {}) => analysisRow(A, T0, { eventType: 'ConsoleSignin', eventName: 'ConsoleSignin', serviceName: 'AasSub', ...over });

describe('the condition language', () => {
  it('equals, prefix, in, exists and cidr test the named field', () => {
    const row = analysisRow(A, T0, { eventName: 'DeleteInstance', errorCode: 'Forbidden.RAM', sourceIpAddress: '203.0.113.9' });
    expect(compiled({ field: 'eventName', equals: 'DeleteInstance' })(row)).toBe(true);
    expect(compiled({ field: 'eventName', equals: 'deleteinstance' })(row)).toBe(false);
    expect(compiled({ field: 'errorCode', prefix: ['NoPermission', 'Forbidden'] })(row)).toBe(true);
    expect(compiled({ field: 'eventName', in: ['StopInstance', 'DeleteInstance'] })(row)).toBe(true);
    expect(compiled({ field: 'errorCode', exists: true })(row)).toBe(true);
    expect(compiled({ field: 'errorCode', exists: false })(analysisRow(A, T0))).toBe(true);
    expect(compiled({ field: 'sourceIpAddress', cidr: ['203.0.113.0/24'] })(row)).toBe(true);
    expect(compiled({ field: 'sourceIpAddress', cidr: ['198.51.100.0/24'] })(row)).toBe(false);
  });

  it('and, or and not combine conditions', () => {
    const row = analysisRow(A, T0, { eventName: 'StopInstance', userName: 'bob' });
    expect(compiled({ and: [{ field: 'eventName', equals: 'StopInstance' }, { field: 'userIdentity.userName', equals: 'bob' }] })(row)).toBe(true);
    expect(compiled({ and: [{ field: 'eventName', equals: 'StopInstance' }, { field: 'userIdentity.userName', equals: 'eve' }] })(row)).toBe(false);
    expect(compiled({ or: [{ field: 'eventName', equals: 'X' }, { field: 'userIdentity.userName', equals: 'bob' }] })(row)).toBe(true);
    expect(compiled({ not: { field: 'eventName', equals: 'StopInstance' } })(row)).toBe(false);
  });

  it('mfaChecked reads true/false and is absent when the event does not say; resource fields match any resource', () => {
    expect(compiled({ field: 'mfaChecked', equals: 'false' })(signin({ mfa: false }))).toBe(true);
    expect(compiled({ field: 'mfaChecked', equals: 'false' })(signin())).toBe(false);
    expect(compiled({ field: 'mfaChecked', exists: false })(signin())).toBe(true);
    const row = analysisRow(A, T0, { resources: [{ type: 'ACS::ECS::Instance', name: 'i-1' }, { type: 'ACS::ECS::Disk', name: 'd-2' }] });
    expect(compiled({ field: 'resourceName', equals: 'd-2' })(row)).toBe(true);
    expect(compiled({ field: 'resourceType', prefix: ['ACS::RAM::'] })(row)).toBe(false);
  });

  it('outsideHours reads the event time in the zone, on the listed weekdays', () => {
    const h = { timeZone: 'Asia/Shanghai', fromHour: 9, toHour: 18, days: [1, 2, 3, 4, 5] };
    expect(outsideHours(h, T0)).toBe(false); // Tuesday 11:00 +08
    expect(outsideHours(h, T0 + 8 * 60 * MIN)).toBe(true); // Tuesday 19:00 +08
    expect(outsideHours(h, Date.UTC(2026, 10, 22, 3, 0, 0))).toBe(true); // Sunday 11:00 +08
    expect(outsideHours({ ...h, timeZone: 'UTC' }, T0)).toBe(true); // 03:00 UTC
  });

  it('refuses unknown fields, unknown operators, bad CIDRs and bad zones with the path', () => {
    expect(parseCondition({ field: 'password', equals: 'x' })).toMatchObject({ message: expect.stringContaining('field must be one of') });
    expect(parseCondition({ field: 'eventName', like: 'x' })).toHaveProperty('message');
    expect(parseCondition({ field: 'sourceIpAddress', cidr: ['not-an-ip'] })).toHaveProperty('message');
    expect(parseCondition({ field: 'eventName', cidr: ['10.0.0.0/8'] })).toHaveProperty('message');
    expect(parseCondition({ outsideHours: { timeZone: 'Mars/Olympus', fromHour: 9, toHour: 18 } })).toHaveProperty('message');
    expect(parseCondition({ outsideHours: { timeZone: 'UTC', fromHour: 18, toHour: 9 } })).toHaveProperty('message');
    expect(parseCondition('eventName = x')).toHaveProperty('message');
  });

  it(`bounds nesting to ${ALERT_MAX_DEPTH} levels and ${ALERT_MAX_CONDITIONS} conditions, even for a hostile depth`, () => {
    let deep: Condition = { field: 'eventName', equals: 'x' };
    for (let i = 0; i < ALERT_MAX_DEPTH; i++) deep = { not: deep };
    expect(parseCondition(deep)).toMatchObject({ message: expect.stringContaining('nest at most') });
    let hostile: unknown = { field: 'eventName', equals: 'x' };
    for (let i = 0; i < 10_000; i++) hostile = { not: hostile };
    expect(parseCondition(hostile)).toMatchObject({ message: expect.stringContaining('nest at most') });
    const wide = { or: Array.from({ length: ALERT_MAX_CONDITIONS + 1 }, (_, i) => ({ field: 'eventName', equals: `e${i}` })) };
    expect(parseCondition(wide)).toHaveProperty('message');
    const many = { and: [{ or: Array.from({ length: 20 }, (_, i) => ({ field: 'eventName', equals: `a${i}` })) }, { or: Array.from({ length: 20 }, (_, i) => ({ field: 'eventName', equals: `b${i}` })) }] };
    expect(parseCondition(many)).toMatchObject({ message: expect.stringContaining(`at most ${ALERT_MAX_CONDITIONS} conditions`) });
  });
});

describe('the built-in templates', () => {
  const spec = (id: string, parameters: Record<string, unknown> = {}) => {
    const t = templateById(id);
    if (!t) throw new Error(id);
    const s = t.expand(parameters);
    return { ...s, test: compileCondition(s.condition) };
  };

  it('every template expands with its defaults into a valid condition', () => {
    for (const t of ALERT_TEMPLATES.filter((x) => x.id !== 'logon-unauthorized-ip')) expect(parseCondition(t.expand(t.defaults).condition)).toHaveProperty('condition');
    expect(parseCondition(spec('logon-unauthorized-ip', { allowlist: ['10.0.0.0/8'] }).condition)).toHaveProperty('condition');
  });

  it('root logon and logon without MFA', () => {
    const root = signin({ identityType: 'root-account', userName: 'root', mfa: false });
    expect(spec('root-logon').test(root)).toBe(true);
    expect(spec('root-logon').test(signin())).toBe(false);
    expect(spec('root-logon').test(analysisRow(A, T0, { identityType: 'root-account' }))).toBe(false); // an API call, not a logon
    expect(spec('logon-without-mfa').test(root)).toBe(true);
    expect(spec('logon-without-mfa').test(signin({ mfa: true }))).toBe(false);
    expect(spec('logon-without-mfa').test(signin({ mfa: false, errorCode: 'InvalidPassword' }))).toBe(false);
  });

  it('logon failures count per user, over the parameters given', () => {
    const s = spec('logon-failures', { count: 3, windowMinutes: 5 });
    expect(s).toMatchObject({ threshold: 3, windowMinutes: 5, groupBy: 'userIdentity.userName' });
    expect(s.test(signin({ errorCode: 'InvalidPassword' }))).toBe(true);
    expect(s.test(signin())).toBe(false);
  });

  it('logon from outside the allowlist, and outside business hours', () => {
    const ip = spec('logon-unauthorized-ip', { allowlist: ['10.0.0.0/8', '192.0.2.7'] });
    expect(ip.test(signin({ sourceIpAddress: '10.1.2.3' }))).toBe(false);
    expect(ip.test(signin({ sourceIpAddress: '192.0.2.7' }))).toBe(false);
    expect(ip.test(signin({ sourceIpAddress: '203.0.113.5' }))).toBe(true);
    const hours = spec('logon-outside-hours', { timeZone: 'Asia/Shanghai' });
    expect(hours.test(signin())).toBe(false);
    expect(hours.test(signin({ eventTimeMs: T0 + 10 * 60 * MIN }))).toBe(true);
  });

  it('AccessKey, trail and RAM policy changes; unauthorized calls; any insight', () => {
    expect(spec('accesskey-change').test(analysisRow(A, T0, { eventName: 'CreateAccessKey', serviceName: 'Ram' }))).toBe(true);
    const trail = spec('trail-change');
    expect(trail.test(analysisRow(A, T0, { eventName: 'StopLogging', serviceName: 'Actiontrail' }))).toBe(true);
    expect(trail.test(analysisRow(A, T0, { eventName: 'StopLogging', serviceName: 'Actiontrail', errorCode: 'TrailNotFoundException' }))).toBe(false);
    expect(spec('ram-policy-change').test(analysisRow(A, T0, { eventName: 'AttachPolicyToUser', serviceName: 'Ram' }))).toBe(true);
    const unauthorized = spec('unauthorized-calls');
    expect(unauthorized.threshold).toBe(10);
    for (const code of ['Forbidden.RAM', 'NoPermission', 'InvalidAccessKeyId.NotFound']) expect(unauthorized.test(analysisRow(A, T0, { errorCode: code }))).toBe(true);
    expect(unauthorized.test(analysisRow(A, T0, { errorCode: 'Throttling' }))).toBe(false);
    const insight: InsightEvent = {
      eventVersion: 1,
      eventType: 'ActionTrailInsight',
      eventCategory: 'Insight',
      eventId: 'ins-1',
      eventTime: '2026-11-24T03:00:00Z',
      acsRegion: 'cn-hangzhou',
      recipientAccountId: A,
      sharedEventId: 's-1',
      insightDetails: {
        state: 'Start',
        insightType: 'IpInsight',
        insightObject: '203.0.113.9',
        insightContext: { statistics: { insight: 1, insightDuration: 1, baseline: 0, baselineDuration: 1440, insightCount: 1 }, attributions: { users: [], accessKeys: [], ips: [], events: [], errorCodes: [] } },
      },
    };
    const rows = insightRows(A, [insight, { ...insight, eventId: 'ins-2', insightDetails: { ...insight.insightDetails, state: 'End' } }]);
    expect(rows).toHaveLength(1);
    expect(spec('any-insight').test(rows[0] as AnalysisRow)).toBe(true);
  });
});

describe('thresholds over eventTime windows', () => {
  const match = (group: string, t: number, pending: boolean, id = `e-${group}-${t}`): StoredMatch => ({ group, pending, event: matchedEventOf(analysisRow(A, t, { eventId: id })) });

  it('a threshold of one fires every group with a pending match, once per group', () => {
    const fired = firingGroups([match('alice', T0, true), match('alice', T0 + MIN, true), match('bob', T0, true), match('carol', T0, false)], 1, 10 * MIN);
    expect(fired.map((f) => f.group).sort()).toEqual(['alice', 'bob']);
  });

  it('N in M minutes fires only when N fall within M minutes, per group', () => {
    const three = [match('alice', T0, true), match('alice', T0 + 2 * MIN, true), match('alice', T0 + 4 * MIN, true)];
    expect(firingGroups(three, 3, 5 * MIN)).toHaveLength(1);
    expect(firingGroups(three, 3, 4 * MIN)).toHaveLength(0); // the window is half-open: 4 minutes apart is outside
    expect(firingGroups([...three.slice(0, 2), match('bob', T0 + MIN, true)], 3, 10 * MIN)).toHaveLength(0);
  });

  it('a late event completes a window with matches already evaluated; evaluated matches alone never fire again', () => {
    const evaluated = [match('alice', T0, false), match('alice', T0 + MIN, false)];
    expect(firingGroups(evaluated, 2, 10 * MIN)).toHaveLength(0);
    const late = match('alice', T0 + 30_000, true);
    const fired = firingGroups([...evaluated, late], 3, 10 * MIN);
    expect(fired).toHaveLength(1);
    expect(fired[0]?.events.map((e) => e.eventTimeMs)).toEqual([T0, T0 + 30_000, T0 + MIN]);
  });

  it('retries back off, then give up after the named number of attempts', () => {
    expect(retryDelayMs(1)).toBe(10_000);
    expect(retryDelayMs(2)).toBe(30_000);
    expect(retryDelayMs(ALERT_MAX_ATTEMPTS - 1)).toBeGreaterThan(0);
    expect(retryDelayMs(ALERT_MAX_ATTEMPTS)).toBeUndefined();
  });
});
