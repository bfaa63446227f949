/**
 * Seeded events for archive-query tests and the answer the reference evaluator
 * (shared/query/evaluate.ts) gives over them: the oracle the archive's SQL must agree with.
 */
import { Aggregator, matches } from '../../shared/query/evaluate.ts';
import { filterOf, type QueryPlan } from '../../shared/query/plan.ts';

export type SeededEvent = Record<string, unknown> & { eventId: string; eventTime: string; userIdentity: { accountId: string } & Record<string, unknown> };

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pick = <T>(rnd: () => number, items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;

/**
 * `count` events of `accountId`, one every `stepMs` from `startMs` (distinct times), with the
 * shapes the language must handle: missing, null and empty fields, numbers and numeric strings,
 * arrays, booleans and their text, wildcard characters in values, mixed-type keys, offsets in times.
 */
export function seededEvents(options: { accountId: string; count: number; startMs: number; stepMs: number; seed: number; idPrefix?: string }): SeededEvent[] {
  const rnd = prng(options.seed);
  const out: SeededEvent[] = [];
  for (let i = 0; i < options.count; i += 1) {
    const t = new Date(options.startMs + i * options.stepMs).toISOString().replace('.000Z', 'Z');
    const user = pick(rnd, ['alice', 'bob', 'Carol', 'dave_ops']);
    const event: SeededEvent = {
      eventId: `${options.idPrefix ?? 'ev'}-${String(i).padStart(5, '0')}`,
      eventVersion: pick(rnd, [1, '1', 1, 2]),
      eventTime: t,
      eventType: 'ApiCall',
      eventName: pick(rnd, ['StopInstance', 'DescribeInstances', 'CreateUser', 'DeleteBucket', 'AssumeRole']),
      serviceName: pick(rnd, ['Ecs', 'Ram', 'Ims', 'Oss', 'Sts']),
      eventRW: pick(rnd, ['Read', 'Write']),
      acsRegion: pick(rnd, ['cn-hangzhou', 'cn-shanghai']),
      isGlobal: pick(rnd, [true, false, 'true', undefined]),
      sourceIpAddress: pick(rnd, ['10.0.0.1', '10.2.3.4', '47.1.2.3', '192.168.1.9', '']),
      userIdentity: {
        type: pick(rnd, ['ram-user', 'root-account', 'assumed-role']),
        accountId: options.accountId,
        userName: user,
        ...(rnd() < 0.85 ? { accessKeyId: pick(rnd, ['LTAI-a', 'LTAI-b', 'LTAI-c', 'LTAI_d', 'STS.x']) } : {}),
      },
      requestParameters: {
        When: pick(rnd, ['2026-11-30T12:00:00Z', '2026-12-01', '2026-12-01T08:00:00+08:00', 'not a time', 20261201]),
        Note: pick(rnd, ['Deploy PROD tonight', 'routine', 'Bob asked', '100%_sure']),
      },
      additionalEventData: { bytes: pick(rnd, [5, 150, '250', ' 42 ', 'many', null, [7, 300], 1.5]) },
      referencedResources: { tags: pick(rnd, [['prod', 'web'], ['dev'], [], ['prod']]) },
    };
    const errorCode = pick(rnd, ['Forbidden.RAM', 'Forbidden_x', 'Forb%dden', 'NoPermission', null, undefined, '']);
    if (errorCode !== undefined) event['errorCode'] = errorCode;
    if (event['isGlobal'] === undefined) delete event['isGlobal'];
    out.push(event);
  }
  return out;
}

export interface OracleRange {
  fromMs: number;
  /** Exclusive. */
  toMs: number;
}

/** The events of the range, each id once, newest first (the order history hands them to the evaluator). */
export function candidates(events: readonly SeededEvent[], range: OracleRange): SeededEvent[] {
  const byId = new Map<string, SeededEvent>();
  for (const e of events) {
    const t = Date.parse(e.eventTime);
    if (t >= range.fromMs && t < range.toMs && !byId.has(e.eventId)) byId.set(e.eventId, e);
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.eventTime) - Date.parse(a.eventTime) || (a.eventId < b.eventId ? 1 : -1));
}

export type OracleAnswer = { kind: 'events'; eventIds: string[] } | { kind: 'rows'; columns: string[]; rows: (string | number | boolean | null)[][] };

/** What the reference evaluator answers for `plan` over `events` in `range` (a search: every matching id, newest first). */
export function oracle(plan: QueryPlan, events: readonly SeededEvent[], range: OracleRange): OracleAnswer {
  const filter = filterOf(plan);
  const matching = candidates(events, range).filter((e) => matches(filter, e));
  if (!plan.select) return { kind: 'events', eventIds: matching.map((e) => e.eventId) };
  const aggregator = new Aggregator(plan.select);
  for (const e of matching) aggregator.add(e);
  const { columns, rows } = aggregator.result();
  return { kind: 'rows', columns, rows };
}

/** Numbers rounded to 9 significant digits (sums and averages may differ in the last bits between engines). */
export function roundNumbers<T>(rows: T): T {
  return JSON.parse(JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'number' ? Number(value.toPrecision(9)) : value))) as T;
}
