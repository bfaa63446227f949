/**
 * DescribeTrailDeliveryMetricData without I/O: per-minute counts summed into Period buckets
 * aligned to the epoch (every bucket listed), and the parameters (the field at fault named).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.ts';
import { bucketed, describeTrailDeliveryMetricData, type MetricApiPorts } from '../../shared/delivery/delivery-metrics.ts';
import { trailSchema } from '../../shared/trails/model.ts';

const ACCOUNT = '1234567890123456';
const T0 = Date.parse('2026-12-03T01:00:00Z');
const MIN = 60_000;

describe('bucketed', () => {
  it('sums minutes into Period buckets from the epoch-aligned one holding StartTime, zeros included', () => {
    const perMinute = new Map([
      [T0, 3],
      [T0 + 14 * MIN, 2],
      [T0 + 15 * MIN, 7],
      [T0 + 59 * MIN, 1],
      [T0 + 60 * MIN, 100], // at EndTime: outside
    ]);
    expect(bucketed(perMinute, T0, T0 + 60 * MIN, 15 * MIN)).toEqual([
      { Timestamp: T0, Count: 5 },
      { Timestamp: T0 + 15 * MIN, Count: 7 },
      { Timestamp: T0 + 30 * MIN, Count: 0 },
      { Timestamp: T0 + 45 * MIN, Count: 1 },
    ]);
  });
});

describe('DescribeTrailDeliveryMetricData', () => {
  const trail = trailSchema.parse({ name: 'metric-trail', accountId: ACCOUNT, homeRegion: 'cn-hangzhou', createdAtMs: T0, updatedAtMs: T0 });
  const ports: MetricApiPorts = {
    getTrail: async (_a, name) => (name === trail.name ? trail : undefined),
    metrics: { perMinute: async (_a, _t, metric) => new Map(metric === 'delivery_sls_success_count' ? [[T0 + 5 * MIN, 21]] : []) },
    now: () => T0 + 60 * MIN,
  };
  const base = { MetricName: 'delivery_sls_success_count', TrailName: 'metric-trail', StartTime: '2026-12-03T01:00:00Z', EndTime: '2026-12-03T02:00:00Z', Period: '3600' };
  const field = async (params: Record<string, string>) => {
    const error = await describeTrailDeliveryMetricData(params, { accountId: ACCOUNT }, ports).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    return [(error as ValidationError).code, (error as ValidationError).field];
  };

  it("answers ActionTrail's MetricList", async () => {
    expect(await describeTrailDeliveryMetricData(base, { accountId: ACCOUNT }, ports)).toEqual({ MetricList: [{ Timestamp: T0, Count: 21 }] });
    expect(await describeTrailDeliveryMetricData({ ...base, MetricName: 'delivery_oss_fail_count' }, { accountId: ACCOUNT }, ports)).toEqual({ MetricList: [{ Timestamp: T0, Count: 0 }] });
    await expect(describeTrailDeliveryMetricData({ ...base, TrailName: 'other-trail' }, { accountId: ACCOUNT }, ports)).rejects.toMatchObject({ code: 'TrailNotFoundException' });
  });

  it('names the parameter at fault', async () => {
    expect(await field({ ...base, Period: '' })).toEqual(['MissingParameter', 'Period']);
    expect(await field({ ...base, Period: '90' })).toEqual(['InvalidParameter', 'Period']);
    expect(await field({ ...base, Period: '30' })).toEqual(['InvalidParameter', 'Period']);
    expect(await field({ ...base, MetricName: 'delivery_sls_bytes' })).toEqual(['InvalidParameter', 'MetricName']);
    expect(await field({ ...base, StartTime: 'yesterday' })).toEqual(['InvalidParameter', 'StartTime']);
    expect(await field({ ...base, EndTime: '2026-12-03T00:00:00Z' })).toEqual(['InvalidParameter', 'EndTime']);
    // 30 days by the minute: more than 1,440 points
    expect(await field({ ...base, EndTime: '2027-01-02T01:00:00Z', Period: '60' })).toEqual(['InvalidParameter', 'Period']);
  });
});
