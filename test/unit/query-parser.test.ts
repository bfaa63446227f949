import { describe, expect, it } from 'vitest';
import { DEFAULT_SELECT_LIMIT, MAX_SELECT_LIMIT, parseQuery, QUERY_LIMITS, QueryError } from '../../shared/query/parser.ts';
import type { Condition } from '../../shared/query/plan.ts';

const field = (name: string) => ({ path: name.split('.').slice(1), name });

function errorOf(text: string): QueryError {
  try {
    parseQuery(text);
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error(`no error for ${text}`);
}

describe('advanced query parser: the search part', () => {
  it('reads an empty search and * as every event', () => {
    expect(parseQuery('').search).toEqual({ kind: 'all' });
    expect(parseQuery('  * ').search).toEqual({ kind: 'all' });
  });

  it('reads exact, wildcard, exists and quoted values', () => {
    expect(parseQuery('event.eventName: StopInstance').search).toEqual({ kind: 'exact', field: field('event.eventName'), value: 'StopInstance' });
    expect(parseQuery('event.errorCode:Forbidden*').search).toEqual({ kind: 'wildcard', field: field('event.errorCode'), pattern: { parts: ['Forbidden', ''] } });
    expect(parseQuery('event.userIdentity.accessKeyId: *').search).toEqual({ kind: 'exists', field: field('event.userIdentity.accessKeyId') });
    expect(parseQuery('event.userIdentity.type: "root-account"').search).toEqual({ kind: 'exact', field: field('event.userIdentity.type'), value: 'root-account' });
    // a quoted star is literal
    expect(parseQuery('event.x: "a*b"').search).toEqual({ kind: 'exact', field: field('event.x'), value: 'a*b' });
    // values after ':' may hold ':' (times, ARNs)
    expect(parseQuery('event.userIdentity.arn: acs:ram::1:role/x').search).toMatchObject({ kind: 'exact', value: 'acs:ram::1:role/x' });
  });

  it('reads numeric and time comparisons', () => {
    expect(parseQuery('event.eventVersion >= 1').search).toEqual({ kind: 'compare', field: field('event.eventVersion'), op: '>=', value: { type: 'number', value: 1 } });
    expect(parseQuery('event.eventTime < 2026-12-01T08:00:00Z').search).toEqual({
      kind: 'compare',
      field: field('event.eventTime'),
      op: '<',
      value: { type: 'time', ms: Date.UTC(2026, 11, 1, 8) },
    });
    expect(parseQuery('event.eventTime > "2026-12-01T08:00:00+08:00"').search).toMatchObject({ value: { type: 'time', ms: Date.UTC(2026, 11, 1, 0) } });
  });

  it('reads and/or/not with precedence, parentheses and implicit and', () => {
    const plan = parseQuery('(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser');
    expect(plan.search).toEqual({
      kind: 'and',
      terms: [
        { kind: 'or', terms: [{ kind: 'exact', field: field('event.serviceName'), value: 'Ram' }, { kind: 'exact', field: field('event.serviceName'), value: 'Ims' }] },
        { kind: 'exact', field: field('event.eventName'), value: 'CreateUser' },
      ],
    });
    const a: Condition = { kind: 'exact', field: field('event.a'), value: '1' };
    const b: Condition = { kind: 'exact', field: field('event.b'), value: '2' };
    const c: Condition = { kind: 'exact', field: field('event.c'), value: '3' };
    expect(parseQuery('event.a: 1 or event.b: 2 and event.c: 3').search).toEqual({ kind: 'or', terms: [a, { kind: 'and', terms: [b, c] }] });
    expect(parseQuery('event.a: 1 event.b: 2').search).toEqual({ kind: 'and', terms: [a, b] });
    expect(parseQuery('NOT event.a: 1 AND not (event.b: 2)').search).toEqual({ kind: 'and', terms: [{ kind: 'not', term: a }, { kind: 'not', term: b }] });
  });

  it('reads free text, bare or quoted', () => {
    expect(parseQuery('denied').search).toEqual({ kind: 'text', text: 'denied' });
    expect(parseQuery('"access denied" and event.eventRW: Write').search).toMatchObject({ kind: 'and', terms: [{ kind: 'text', text: 'access denied' }, { kind: 'exact' }] });
  });
});

describe('advanced query parser: the select part', () => {
  it('reads the worked queries', () => {
    const root = parseQuery('event.userIdentity.type: "root-account" | select count(1)');
    expect(root.select).toEqual({ columns: [{ name: 'count(*)', expr: { kind: 'count' } }], mode: 'grouped', groupBy: [], orderBy: [], limit: DEFAULT_SELECT_LIMIT });
    const byKey = parseQuery('event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc');
    expect(byKey.select).toMatchObject({
      columns: [{ name: 'event.userIdentity.accessKeyId' }, { name: 'n', expr: { kind: 'count' } }],
      mode: 'grouped',
      groupBy: [{ kind: 'field', field: field('event.userIdentity.accessKeyId') }],
      orderBy: [{ column: 1, descending: true }],
    });
  });

  it('reads aggregates, time buckets, where, order by expression and limit', () => {
    const plan = parseQuery(
      "| select date_trunc('hour', event.eventTime) as hour, count(distinct event.userIdentity.userName) users, min(event.eventTime), max(event.eventVersion), sum(event.x), avg(event.x), count(event.errorCode) where event.eventRW = 'Write' and event.errorCode like 'No%' and event.serviceName in ('Ecs', 'Ram') and event.vpcId is not null group by hour order by count(event.errorCode) desc, 1 limit 24",
    );
    expect(plan.search).toEqual({ kind: 'all' });
    expect(plan.select?.columns.map((c) => c.name)).toEqual(['hour', 'users', 'min(event.eventTime)', 'max(event.eventVersion)', 'sum(event.x)', 'avg(event.x)', 'count(event.errorCode)']);
    expect(plan.select?.groupBy).toEqual([{ kind: 'bucket', unit: 'hour', field: field('event.eventTime') }]);
    expect(plan.select?.orderBy).toEqual([{ column: 6, descending: true }, { column: 0, descending: false }]);
    expect(plan.select?.limit).toBe(24);
    expect(plan.select?.where).toEqual({
      kind: 'and',
      terms: [
        { kind: 'exact', field: field('event.eventRW'), value: 'Write' },
        { kind: 'wildcard', field: field('event.errorCode'), pattern: { parts: ['No', ''] } },
        { kind: 'or', terms: [{ kind: 'exact', field: field('event.serviceName'), value: 'Ecs' }, { kind: 'exact', field: field('event.serviceName'), value: 'Ram' }] },
        { kind: 'exists', field: field('event.vpcId') },
      ],
    });
  });

  it('reads a plain row select', () => {
    const plan = parseQuery("event.eventRW: Write | select event.eventName, event.eventTime where event.x != 'a' and event.y is null order by event.eventTime");
    expect(plan.select).toMatchObject({ mode: 'rows', orderBy: [{ column: 1, descending: false }] });
    expect(plan.select?.where).toEqual({
      kind: 'and',
      terms: [
        { kind: 'not', term: { kind: 'exact', field: field('event.x'), value: 'a' } },
        { kind: 'not', term: { kind: 'exists', field: field('event.y') } },
      ],
    });
  });
});

describe('advanced query parser: errors point at the position', () => {
  it.each([
    ['event.eventName:', 16, 'expected a value'],
    ['(event.a: 1', 0, 'closing ) is missing'],
    ['event.a: 1)', 10, 'unbalanced )'],
    ['eventName: x', 0, 'fields are written event.<name>'],
    ['event.a > abc', 10, 'expected a number or a UTC time'],
    ['event.a: "abc', 9, 'unterminated string'],
    ['event.a: 1 and', 14, 'expected a condition'],
    ['Forb*', 0, 'wildcards are for field values'],
    ['event.a: 1 | count(*)', 13, 'expected select'],
    ['| select event.a, count(*)', 9, 'must appear in group by'],
    ['| select count(*) order by nope', 27, 'no column is named'],
    ["| select date_trunc('year', event.eventTime), count(*) group by 1", 20, 'unknown time unit'],
    ['| select count(*) limit 0', 24, 'limit must be'],
    [`| select count(*) limit ${MAX_SELECT_LIMIT + 1}`, 24, 'limit must be'],
    ["| select count(*) where event.a like 'a_b'", 37, 'single-character wildcard'],
    ['| select *', 9, 'select * is not supported'],
    ['| select count(*) group by 1', 27, 'aggregate'],
    ['event.a.b-c: 1', 0, 'invalid field'],
  ])('%s → position %i', (text, position, message) => {
    const error = errorOf(text);
    expect(error.code).toBe('InvalidQuery');
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
    expect(error.status).toBe(400);
  });
});

describe('advanced query parser: bounds (hostile queries)', () => {
  it('refuses a query over the length limit without parsing it', () => {
    expect(errorOf('a'.repeat(QUERY_LIMITS.maxQueryLength + 1)).message).toContain('query too long');
  });

  it('refuses deep nesting with a clear error, not a stack overflow', () => {
    const deep = '('.repeat(2000) + 'event.a: 1' + ')'.repeat(2000);
    expect(errorOf(deep).message).toContain('nested too deeply');
    expect(errorOf('not '.repeat(1000) + 'event.a: 1').message).toContain('nested too deeply');
    const sqlDeep = '| select count(*) where ' + '('.repeat(500) + "event.a = 'x'" + ')'.repeat(500);
    expect(errorOf(sqlDeep).message).toContain('nested too deeply');
  });

  it('refuses huge literals and too many conditions', () => {
    expect(errorOf(`event.a: ${'x'.repeat(QUERY_LIMITS.maxLiteralLength + 1)}`).message).toContain('literal too long');
    expect(errorOf(`event.a: "${'x'.repeat(QUERY_LIMITS.maxLiteralLength + 1)}"`).message).toContain('literal too long');
    const many = Array.from({ length: QUERY_LIMITS.maxConditions + 1 }, (_, i) => `event.a: ${i}`).join(' or ');
    expect(errorOf(many).message).toContain('too many conditions');
    const list = Array.from({ length: QUERY_LIMITS.maxInList + 1 }, (_, i) => `'${i}'`).join(',');
    expect(errorOf(`| select count(*) where event.a in (${list})`).message).toContain('in list too long');
  });

  it('never throws anything but QueryError on random input', () => {
    const alphabet = ['event.a', ':', '*', '(', ')', '"', "'", '|', 'select', 'count', ',', 'and', 'or', 'not', '>', '=', ' ', 'x', '1', 'group', 'by', 'where'];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i += 1) {
      const text = Array.from({ length: Math.floor(rand() * 12) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(' ');
      try {
        parseQuery(text);
      } catch (error) {
        expect(error, text).toBeInstanceOf(QueryError);
      }
    }
  });
});
