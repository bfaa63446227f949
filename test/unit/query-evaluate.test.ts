import { describe, expect, it } from 'vitest';
import { Aggregator, matches, MAX_GROUPS, QueryTooLargeError, truncateTime } from '../../shared/query/evaluate.ts';
import { parseQuery } from '../../shared/query/parser.ts';
import { filterOf } from '../../shared/query/plan.ts';

const event = {
  eventId: 'e1',
  eventVersion: 1,
  eventTime: '2026-12-03T16:25:07Z',
  eventName: 'CreateUser',
  serviceName: 'Ram',
  errorCode: 'Forbidden.RAM',
  sourceIpAddress: '203.0.113.9',
  isGlobal: true,
  vpcId: '',
  requestParameters: { UserName: 'Bob', Count: '12' },
  referencedResources: { 'ACS::RAM::User': ['bob', 'carol'] },
  tags: ['alpha', 3],
  userIdentity: { type: 'ram-user', userName: 'alice', accessKeyId: null },
};

const hit = (query: string, e: unknown = event): boolean => matches(filterOf(parseQuery(query)), e);

describe('advanced query evaluator: conditions', () => {
  it('matches exact values case-sensitively, numbers and booleans by their text', () => {
    expect(hit('event.eventName: CreateUser')).toBe(true);
    expect(hit('event.eventName: createuser')).toBe(false);
    expect(hit('event.eventVersion: 1')).toBe(true);
    expect(hit('event.isGlobal: true')).toBe(true);
    expect(hit('event.tags: alpha and event.tags: 3')).toBe(true);
    // an object has no text; a path through a scalar or an array is missing
    expect(hit('event.requestParameters: Bob')).toBe(false);
    expect(hit('event.eventName.x: *')).toBe(false);
  });

  it('matches wildcards anchored, case-sensitively', () => {
    expect(hit('event.errorCode: Forbidden*')).toBe(true);
    expect(hit('event.errorCode: *RAM')).toBe(true);
    expect(hit('event.errorCode: F*n.*M')).toBe(true);
    expect(hit('event.errorCode: forbidden*')).toBe(false);
    expect(hit('event.errorCode: Forbidden')).toBe(false);
    expect(hit('event.sourceIpAddress: 10.*')).toBe(false);
    // overlapping pieces: the middle must fit between prefix and suffix
    expect(hit('event.eventName: Create*teUser')).toBe(false);
    expect(hit('event.eventName: Cre*ate*User')).toBe(true);
  });

  it('treats missing, null and "" as absent', () => {
    expect(hit('event.userIdentity.accessKeyId: *')).toBe(false);
    expect(hit('event.vpcId: *')).toBe(false);
    expect(hit('event.nothing: *')).toBe(false);
    expect(hit('event.userIdentity.userName: *')).toBe(true);
    expect(hit('| select count(*) where event.vpcId is null')).toBe(true);
  });

  it('compares numbers (numeric strings too) and times as instants', () => {
    expect(hit('event.eventVersion >= 1 and event.eventVersion < 2')).toBe(true);
    expect(hit('event.requestParameters.Count > 9')).toBe(true); // "12" numerically, not as text
    expect(hit('event.eventName > 1')).toBe(false);
    expect(hit('not event.nothing > 1')).toBe(true);
    expect(hit('event.eventTime >= 2026-12-03T16:25:07Z and event.eventTime < "2026-12-04"')).toBe(true);
    expect(hit('event.eventTime > 2026-12-04T00:25:06+08:00')).toBe(true);
    expect(hit('event.eventTime > 2026-12-04T00:25:07+08:00')).toBe(false);
  });

  it('matches free text in any scalar, case-insensitively, not in keys', () => {
    expect(hit('bob')).toBe(true);
    expect(hit('"forbidden.ram"')).toBe(true);
    expect(hit('CAROL')).toBe(true);
    expect(hit('UserName')).toBe(false);
    expect(hit('nobody')).toBe(false);
  });

  it('combines with and, or, not', () => {
    expect(hit('event.serviceName: Ram and not event.sourceIpAddress: 10.*')).toBe(true);
    expect(hit('(event.serviceName: Ecs or event.serviceName: Ims) and event.eventName: CreateUser')).toBe(false);
    expect(hit('event.serviceName: Ecs or not event.eventName: StopInstance')).toBe(true);
  });
});

const events = [
  { eventTime: '2026-12-03T16:59:59Z', eventName: 'A', n: 5, user: 'u1' },
  { eventTime: '2026-12-03T17:00:00Z', eventName: 'A', n: '7', user: 'u2' },
  { eventTime: '2026-12-03T17:30:00Z', eventName: 'B', n: 'x', user: 'u1' },
  { eventTime: '2026-12-03T18:10:00Z', n: 1, user: '' },
];

function run(query: string, input: unknown[] = events) {
  const plan = parseQuery(query);
  const aggregator = new Aggregator(plan.select ?? (() => { throw new Error('no select'); })());
  for (const e of input) if (matches(filterOf(plan), e)) aggregator.add(e);
  return aggregator.result();
}

describe('advanced query evaluator: select', () => {
  it('counts, distinct counts, min/max/sum/avg skipping absent values', () => {
    expect(run('| select count(*) as c, count(event.eventName), count(distinct event.user), min(event.n), max(event.n), sum(event.n), avg(event.n)')).toEqual({
      columns: ['c', 'count(event.eventName)', 'count(distinct event.user)', 'min(event.n)', 'max(event.n)', 'sum(event.n)', 'avg(event.n)'],
      rows: [[4, 3, 2, 1, 'x', 13, 13 / 3]],
    });
  });

  it('answers one row over no events', () => {
    expect(run('event.eventName: Z | select count(*), max(event.n)').rows).toEqual([[0, null]]);
  });

  it('groups absent values as null, ordered last in both directions', () => {
    expect(run('| select event.eventName, count(*) as n group by 1 order by n desc').rows).toEqual([['A', 2], ['B', 1], [null, 1]]);
    expect(run('| select event.eventName, count(*) as n group by 1 order by 1 desc').rows).toEqual([['B', 1], ['A', 2], [null, 1]]);
    expect(run('| select event.eventName, count(*) as n group by 1 order by 1').rows).toEqual([['A', 2], ['B', 1], [null, 1]]);
  });

  it('buckets time in UTC', () => {
    expect(run("| select date_trunc('hour', event.eventTime) as h, count(*) as n group by h order by h").rows).toEqual([
      ['2026-12-03T16:00:00Z', 1],
      ['2026-12-03T17:00:00Z', 2],
      ['2026-12-03T18:00:00Z', 1],
    ]);
    expect(truncateTime(Date.UTC(2026, 11, 3, 16), 'week')).toBe(Date.UTC(2026, 10, 30)); // a Thursday → Monday
    expect(truncateTime(Date.UTC(2026, 11, 3, 16), 'month')).toBe(Date.UTC(2026, 11, 1));
  });

  it('returns rows in the given order, limited', () => {
    expect(run('| select event.user, event.n where event.n > 0 order by event.n desc limit 2').rows).toEqual([['u2', '7'], ['u1', 5]]);
    expect(run('| select event.user limit 2').rows).toEqual([['u1'], ['u2']]);
  });

  it('refuses more than MAX_GROUPS groups with QueryTooLarge, holding no more', () => {
    const many = { length: MAX_GROUPS + 1 } as const;
    const aggregator = new Aggregator(parseQuery('| select event.i, count(*) group by 1').select ?? (() => { throw new Error(); })());
    expect(() => Array.from(many, (_, i) => aggregator.add({ i }))).toThrow(QueryTooLargeError);
  });
});
