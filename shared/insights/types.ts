/**
 * The Insights catalogue (docs/design.md §3.9): the seven ActionTrail insight types, each with
 * the one sentence that explains when it fires, and the named limits of the model. Pure.
 */
import { z } from 'zod';

export const INSIGHT_TYPE_NAMES = [
  'ApiCallRateInsight',
  'ApiErrorRateInsight',
  'AkInsight',
  'IpInsight',
  'PolicyChangeInsight',
  'PasswordChangeInsight',
  'TrailConcealmentInsight',
] as const;
export type InsightType = (typeof INSIGHT_TYPE_NAMES)[number];
export const InsightTypeSchema = z.enum(INSIGHT_TYPE_NAMES);

export function isInsightType(value: string): value is InsightType {
  return (INSIGHT_TYPE_NAMES as readonly string[]).includes(value);
}

const MINUTE_MS = 60_000;
export const INSIGHT_MINUTE_MS = MINUTE_MS;
/** The baseline period: per-minute counts of the 24 whole hours before the evaluated minute's hour. */
export const BASELINE_HOURS = 24;
export const HOUR_MS = 60 * MINUTE_MS;
export const BASELINE_MS = BASELINE_HOURS * HOUR_MS;
export const BASELINE_MINUTES = BASELINE_MS / MINUTE_MS;
/** "Far above": value ≥ max(minCount, mean + K_SIGMA · sd) over the baseline's per-minute counts. */
export const K_SIGMA = 6;
/** An open insight ends after this many consecutive evaluated minutes under its threshold. */
export const END_QUIET_MINUTES = 5;
/** A novelty (a new IP, network, permission-changing identity) or an immediate type fires on this many calls in a minute. */
export const NOVELTY_MIN_COUNT = 1;
/** Attributions reported per dimension (top users, AccessKeys, IPs, events, error codes). */
export const ATTRIBUTION_TOP_N = 5;
/** Values kept per dimension of an open insight's tallies (bounded; the top N are reported). */
export const MAX_TALLY_ENTRIES = 20;
/** Insight events are kept as long as history (90 days). */
export const INSIGHT_RETENTION_MS = 90 * 24 * HOUR_MS;

export type SeriesKind = 'rate' | 'novel' | 'immediate';

export interface InsightTypeInfo {
  type: InsightType;
  /** The one sentence that explains when the type fires. */
  sentence: string;
  /** Smallest per-minute rate that can open an insight, whatever the baseline (novelties: NOVELTY_MIN_COUNT). */
  minCount: number;
  /** Whether the type needs BASELINE_MS of the account's history before it can fire. */
  needsBaseline: boolean;
}

/** docs/design.md §3.9: the same sentences. */
export const INSIGHT_TYPES: Readonly<Record<InsightType, InsightTypeInfo>> = {
  ApiCallRateInsight: {
    type: 'ApiCallRateInsight',
    sentence: 'Write calls per minute of one serviceName:eventName are far above that API\'s baseline.',
    minCount: 20,
    needsBaseline: true,
  },
  ApiErrorRateInsight: {
    type: 'ApiErrorRateInsight',
    sentence: 'Failed calls per minute of one API, or of one error code, are far above their baseline.',
    minCount: 10,
    needsBaseline: true,
  },
  AkInsight: {
    type: 'AkInsight',
    sentence: 'Calls per minute of one AccessKey are far above its baseline, or the key is used from a network (/24 for IPv4) it did not use in the baseline period.',
    minCount: 30,
    needsBaseline: true,
  },
  IpInsight: {
    type: 'IpInsight',
    sentence: 'Write or sensitive calls come from an IP the account did not use in the baseline period and that is not on its allowlist.',
    minCount: 1,
    needsBaseline: true,
  },
  PolicyChangeInsight: {
    type: 'PolicyChangeInsight',
    sentence: 'RAM permission changes burst far above their baseline, or come from an identity that made none in the baseline period.',
    minCount: 5,
    needsBaseline: true,
  },
  PasswordChangeInsight: {
    type: 'PasswordChangeInsight',
    sentence: 'Password changes (ChangePassword, Create/UpdateLoginProfile, PasswordModify/PasswordReset logons) burst far above their baseline.',
    minCount: 5,
    needsBaseline: true,
  },
  TrailConcealmentInsight: {
    type: 'TrailConcealmentInsight',
    sentence: 'A trail is stopped, deleted, or narrowed (EventRW or TrailRegion no longer All, a destination removed) — at once, with no baseline.',
    minCount: 1,
    needsBaseline: false,
  },
};
