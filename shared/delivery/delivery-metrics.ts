/**
 * Delivery metrics (ActionTrail's DescribeTrailDeliveryMetricData, docs/design.md §3.14): per
 * trail and minute, how many events the deliverers delivered to the logstore (`sls`) and the
 * archive (`oss`), and how many they failed to deliver.
 *
 * What counts: `success` — events written (a logstore batch; an archive file once it is put and
 * acknowledged); `fail` — events a deliverer set aside because the destination cannot take them
 * for what they are (they will never be delivered). Events held back by an outage stay in the
 * outbox and count as success when they are delivered, not as failures on each attempt. A
 * deliverer killed between writing and counting may count a batch twice on its retry (a metric,
 * not a ledger). Counted by the deliverers (`DeliveryMetricsPort`), kept DELIVERY_METRICS_RETENTION_DAYS.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import { parseUtcTime } from '../events/schema.ts';
import type { Trail } from '../trails/model.ts';

export const DELIVERY_METRICS = ['delivery_sls_success_count', 'delivery_sls_fail_count', 'delivery_oss_success_count', 'delivery_oss_fail_count'] as const;
export type DeliveryMetric = (typeof DELIVERY_METRICS)[number];

/** How long per-minute counts are kept. */
export const DELIVERY_METRICS_RETENTION_DAYS = 30;
export const MINUTE_MS = 60_000;
/** Period: 60 s or a multiple of it, at most a day. */
export const METRIC_PERIOD_MAX_S = 86_400;
/** Most data points one answer holds (EndTime − StartTime over Period). */
export const MAX_METRIC_POINTS = 1_440;

export interface DeliveryMetricsPort {
  add(accountId: string, trailName: string, metric: DeliveryMetric, count: number, atMs: number): Promise<void>;
}

export interface DeliveryMetricsReader {
  /** Counts per minute (epoch ms of the minute's start) of one metric in [fromMs, toMs). */
  perMinute(accountId: string, trailName: string, metric: DeliveryMetric, fromMs: number, toMs: number): Promise<Map<number, number>>;
}

export interface MetricApiPorts {
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  metrics: DeliveryMetricsReader;
  now(): number;
}

/** Sums per-minute counts into Period buckets aligned to the epoch, every bucket of [fromMs, toMs) listed. */
export function bucketed(perMinute: ReadonlyMap<number, number>, fromMs: number, toMs: number, periodMs: number): { Timestamp: number; Count: number }[] {
  const first = Math.floor(fromMs / periodMs) * periodMs;
  const points: { Timestamp: number; Count: number }[] = [];
  for (let t = first; t < toMs; t += periodMs) points.push({ Timestamp: t, Count: 0 });
  for (const [minute, count] of perMinute) {
    if (minute < fromMs || minute >= toMs) continue;
    const point = points[Math.floor((minute - first) / periodMs)];
    if (point) point.Count += count;
  }
  return points;
}

const paramsSchema = z.object({
  MetricName: z.enum(DELIVERY_METRICS, { error: `one of ${DELIVERY_METRICS.join(', ')}` }),
  TrailName: z.string().min(1).max(64, { error: 'at most 64 characters' }),
  StartTime: z.string().max(40).refine((v) => parseUtcTime(v) !== undefined, { error: 'a UTC time YYYY-MM-DDThh:mm:ssZ' }),
  EndTime: z.string().max(40).refine((v) => parseUtcTime(v) !== undefined, { error: 'a UTC time YYYY-MM-DDThh:mm:ssZ' }),
  Period: z
    .string()
    .regex(/^\d{1,6}$/, { error: 'an integer number of seconds' })
    .transform(Number)
    .refine((n) => n >= 60 && n % 60 === 0 && n <= METRIC_PERIOD_MAX_S, { error: `60 or a multiple of 60, at most ${METRIC_PERIOD_MAX_S}` }),
});

export async function describeTrailDeliveryMetricData(params: Record<string, string>, caller: { accountId: string }, ports: MetricApiPorts): Promise<Record<string, unknown>> {
  for (const name of ['MetricName', 'TrailName', 'StartTime', 'EndTime', 'Period'] as const) {
    if (!Object.hasOwn(params, name) || params[name] === '') throw new ValidationError('MissingParameter', `the parameter ${name} is required`, name);
  }
  const parsed = paramsSchema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? 'MetricName');
    throw new ValidationError('InvalidParameter', `the parameter ${field} is invalid: ${issue?.message ?? 'bad value'}`, field);
  }
  const p = parsed.data;
  const fromMs = parseUtcTime(p.StartTime) as number;
  const toMs = parseUtcTime(p.EndTime) as number;
  const periodMs = p.Period * 1000;
  if (toMs <= fromMs) throw new ValidationError('InvalidParameter', 'the parameter EndTime is invalid: it must be later than StartTime', 'EndTime');
  if (Math.ceil((toMs - Math.floor(fromMs / periodMs) * periodMs) / periodMs) > MAX_METRIC_POINTS) {
    throw new ValidationError('InvalidParameter', `the parameter Period is invalid: StartTime to EndTime holds more than ${MAX_METRIC_POINTS} periods`, 'Period');
  }
  const trail = await ports.getTrail(caller.accountId, p.TrailName);
  if (!trail) throw new NotFoundError('TrailNotFoundException', `The specified Trail does not exist: ${p.TrailName}.`);
  // nothing older than the retention is kept: the read starts there
  const readFrom = Math.max(fromMs, ports.now() - DELIVERY_METRICS_RETENTION_DAYS * 86_400_000);
  const perMinute = readFrom < toMs ? await ports.metrics.perMinute(caller.accountId, trail.name, p.MetricName, readFrom, toMs) : new Map<number, number>();
  return { MetricList: bucketed(perMinute, fromMs, toMs, periodMs) };
}
