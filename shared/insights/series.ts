/**
 * What one analysis row adds to the per-minute counters (docs/design.md §3.9). Pure.
 *
 * A series is `<InsightType>|<kind>|<object>`: `r` a rate compared with its baseline, `n` a
 * novelty (fires when its object was not seen in the baseline period), `i` immediate (no baseline).
 * A row yields the series it counts in (with the attributions of that count) and the novelty
 * marks it sets (a value "seen" in its hour: every call of an IP, of a key from a network, every
 * permission change of an identity), so novelty is judged against all calls, not only counted ones.
 */
import type { AnalysisRow } from '../analysis/analysis-row.ts';
import type { InsightType, SeriesKind } from './types.ts';

const KIND_CODE: Record<SeriesKind, string> = { rate: 'r', novel: 'n', immediate: 'i' };
const CODE_KIND: Record<string, SeriesKind> = { r: 'rate', n: 'novel', i: 'immediate' };

export interface SeriesId {
  type: InsightType;
  kind: SeriesKind;
  object: string;
}

export function seriesKey(type: InsightType, kind: SeriesKind, object: string): string {
  return `${type}|${KIND_CODE[kind]}|${object}`;
}

export function parseSeriesKey(key: string): SeriesId | undefined {
  const first = key.indexOf('|');
  const second = key.indexOf('|', first + 1);
  if (first < 0 || second < 0) return undefined;
  const kind = CODE_KIND[key.slice(first + 1, second)];
  if (!kind) return undefined;
  return { type: key.slice(0, first) as InsightType, kind, object: key.slice(second + 1) };
}

/** Attribution dimensions: u user, k AccessKey, i IP, e event, c error code, r region (the event's region, not reported). */
export const ATTRIBUTION_DIMENSIONS = ['u', 'k', 'i', 'e', 'c', 'r'] as const;
export type AttributionDimension = (typeof ATTRIBUTION_DIMENSIONS)[number];

export interface RowCounters {
  /** Series the row counts in (each +1 in the row's minute). */
  counts: string[];
  /** Novelty marks the row sets in its hour (the first minute it was seen there). */
  marks: string[];
  /** The row's attribution values (empty values left out). */
  attributions: Partial<Record<AttributionDimension, string>>;
}

/** RAM permission-changing calls (UpdateRole: its one change of note is the trust policy). */
const POLICY_EVENT = /^(?:(?:Attach|Detach)PolicyTo(?:User|Group|Role)|DetachPolicyFrom(?:User|Group|Role)|CreatePolicy|DeletePolicy|CreatePolicyVersion|DeletePolicyVersion|SetDefaultPolicyVersion|UpdateRole)$/;
const PASSWORD_EVENTS: ReadonlySet<string> = new Set(['ChangePassword', 'UpdateLoginProfile', 'CreateLoginProfile', 'PasswordModify', 'PasswordReset']);
/** Objects of the account-wide series. */
export const POLICY_CHANGE_OBJECT = 'Ram:PermissionChange';
export const PASSWORD_CHANGE_OBJECT = 'Password';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The network of an IP: IPv4 /24 (`a.b.c.0/24`), IPv6 /64; undefined for what is not an IP (a service's name). */
export function networkOf(ip: string): string | undefined {
  const v4 = IPV4.exec(ip);
  if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255) ? `${v4[1]}.${v4[2]}.${v4[3]}.0/24` : undefined;
  if (ip.includes(':') && /^[0-9a-fA-F:]+$/.test(ip)) {
    const groups = ip.toLowerCase().split(':').slice(0, 4);
    return `${groups.join(':')}::/64`;
  }
  return undefined;
}

export function isIp(value: string): boolean {
  return networkOf(value) !== undefined;
}

/** Whether an ActionTrail call stops, deletes or narrows a trail; the trail's name as the object. */
export function concealmentOf(row: AnalysisRow): string | undefined {
  if (row.serviceName.toLowerCase() !== 'actiontrail' || row.errorCode !== '') return undefined;
  const p = row.requestParameters ?? {};
  const name = p['Name'] ?? p['name'] ?? row.eventName;
  if (row.eventName === 'StopLogging' || row.eventName === 'DeleteTrail') return name;
  if (row.eventName !== 'UpdateTrail') return undefined;
  const narrowed =
    (p['EventRW'] !== undefined && p['EventRW'] !== 'All') ||
    (p['TrailRegion'] !== undefined && p['TrailRegion'] !== 'All') ||
    p['OssBucketName'] === '' ||
    p['SlsProjectArn'] === '';
  return narrowed ? name : undefined;
}

function identityOf(row: AnalysisRow): string {
  return row.userName || row.principalId || row.accessKeyId || 'unknown';
}

export function rowCounters(row: AnalysisRow): RowCounters {
  const counts: string[] = [];
  const marks: string[] = [];
  const api = `${row.serviceName}:${row.eventName}`;
  const write = row.eventRW.toLowerCase() === 'write';
  const ip = isIp(row.sourceIpAddress) ? row.sourceIpAddress : undefined;

  if (write) counts.push(seriesKey('ApiCallRateInsight', 'rate', api));
  if (row.errorCode !== '') {
    counts.push(seriesKey('ApiErrorRateInsight', 'rate', api), seriesKey('ApiErrorRateInsight', 'rate', row.errorCode));
  }
  if (row.accessKeyId !== '') {
    counts.push(seriesKey('AkInsight', 'rate', row.accessKeyId));
    const net = ip ? networkOf(ip) : undefined;
    if (net) {
      const novel = seriesKey('AkInsight', 'novel', `${row.accessKeyId}@${net}`);
      counts.push(novel);
      marks.push(novel);
    }
  }
  if (ip) {
    const novel = seriesKey('IpInsight', 'novel', ip);
    marks.push(novel);
    if (write || row.sensitive) counts.push(novel);
  }
  if (POLICY_EVENT.test(row.eventName)) {
    counts.push(seriesKey('PolicyChangeInsight', 'rate', POLICY_CHANGE_OBJECT));
    const novel = seriesKey('PolicyChangeInsight', 'novel', identityOf(row));
    counts.push(novel);
    marks.push(novel);
  }
  if (PASSWORD_EVENTS.has(row.eventName)) counts.push(seriesKey('PasswordChangeInsight', 'rate', PASSWORD_CHANGE_OBJECT));
  const trail = concealmentOf(row);
  if (trail !== undefined) counts.push(seriesKey('TrailConcealmentInsight', 'immediate', trail));

  const attributions: RowCounters['attributions'] = {};
  const user = identityOf(row);
  if (user) attributions.u = user;
  if (row.accessKeyId) attributions.k = row.accessKeyId;
  if (row.sourceIpAddress) attributions.i = row.sourceIpAddress;
  attributions.e = api;
  if (row.errorCode) attributions.c = row.errorCode;
  if (row.acsRegion) attributions.r = row.acsRegion;
  return { counts, marks, attributions };
}
