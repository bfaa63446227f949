/**
 * What one analysis row adds to the per-minute counters (docs/design.md §3.9). Pure.
 *
 * A series is `<InsightType>|<kind>|<object>`: `r` a rate compared with its baseline, `n` a
 * novelty (fires when its object was not seen in the baseline period), `i` immediate (no baseline).
 * A row yields the series it counts in (with the attributions of that count) and the novelty
 * marks it sets (a value "seen" in its hour: every call of an IP, of a key from a network, every
 * permission change of an identity), so novelty is judged against all calls, not only counted ones.
 * A row's signature (the fields that decide its series and attributions) is what the stores keep
 * per minute for attributions; `minuteAttributions` rebuilds the tallies of the series that can
 * open or extend an insight that minute.
 */
import type { AnalysisRow } from '../analysis/analysis-row.ts';
import type { Tallies } from './detector.ts';
import { INSIGHT_TYPES, NOVELTY_MIN_COUNT, type InsightType, type SeriesKind } from './types.ts';

/** The unit separator between a signature's fields. */
const US = '\x1f';
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
  readonly counts: readonly string[];
  /** Novelty marks the row sets in its hour (the first minute it was seen there). */
  readonly marks: readonly string[];
  /** The row's attribution values (empty values left out). */
  readonly attributions: Readonly<Partial<Record<AttributionDimension, string>>>;
  /**
   * The row's signature: the few fields that decide both its series and its attributions
   * (`encodeSignature`). Stores keep per minute how many rows had each signature, not per-series
   * tallies; `minuteAttributions` rebuilds the tallies of the series that can matter.
   */
  signature: string;
}

/** RAM permission-changing calls (UpdateRole: its one change of note is the trust policy). */
const POLICY_EVENT = /^(?:(?:Attach|Detach)PolicyTo(?:User|Group|Role)|DetachPolicyFrom(?:User|Group|Role)|CreatePolicy|DeletePolicy|CreatePolicyVersion|DeletePolicyVersion|SetDefaultPolicyVersion|UpdateRole)$/;
const PASSWORD_EVENTS: ReadonlySet<string> = new Set(['ChangePassword', 'UpdateLoginProfile', 'CreateLoginProfile', 'PasswordModify', 'PasswordReset']);
/** Objects of the account-wide series. */
export const POLICY_CHANGE_OBJECT = 'Ram:PermissionChange';
export const PASSWORD_CHANGE_OBJECT = 'Password';

/** The IPv4 /24 of a dotted quad (`a.b.c.0/24`), parsed by hand (no match arrays per row); undefined if it is not one. */
function ipv4Network(ip: string): string | undefined {
  let octets = 0;
  let digits = 0;
  let value = 0;
  let lastDot = -1;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octets === 3) return undefined;
      octets += 1;
      digits = 0;
      value = 0;
      lastDot = i;
    } else if (c >= 48 && c <= 57) {
      if (digits === 3) return undefined;
      digits += 1;
      value = value * 10 + (c - 48);
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (octets !== 3 || digits === 0) return undefined;
  return `${ip.slice(0, lastDot)}.0/24`;
}

/** The network of an IP: IPv4 /24 (`a.b.c.0/24`), IPv6 /64; undefined for what is not an IP (a service's name). */
export function networkOf(ip: string): string | undefined {
  const v4 = ipv4Network(ip);
  if (v4 !== undefined) return v4;
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

/** What decides a row's series and attributions (a row's fields reduced to these). */
interface RowSignature {
  write: boolean;
  sensitive: boolean;
  /** identityOf(row) */
  user: string;
  accessKeyId: string;
  sourceIpAddress: string;
  serviceName: string;
  eventName: string;
  errorCode: string;
  acsRegion: string;
  /** The trail a concealment stops, deletes or narrows (concealmentOf), if it is one. */
  trail?: string;
}

const SIGNATURE_FIELDS = 9;

function signatureFields(row: AnalysisRow): RowSignature {
  const trail = concealmentOf(row);
  return {
    write: row.eventRW.toLowerCase() === 'write',
    sensitive: row.sensitive,
    user: identityOf(row),
    accessKeyId: row.accessKeyId,
    sourceIpAddress: row.sourceIpAddress,
    serviceName: row.serviceName,
    eventName: row.eventName,
    errorCode: row.errorCode,
    acsRegion: row.acsRegion,
    ...(trail !== undefined ? { trail } : {}),
  };
}

/** The signature as one string (unit-separated; flags: 1 write, 2 sensitive, 4 concealment). */
function encodeSignature(s: RowSignature): string {
  const flags = (s.write ? 1 : 0) | (s.sensitive ? 2 : 0) | (s.trail !== undefined ? 4 : 0);
  return `${flags}${US}${s.user}${US}${s.accessKeyId}${US}${s.sourceIpAddress}${US}${s.serviceName}${US}${s.eventName}${US}${s.errorCode}${US}${s.acsRegion}${US}${s.trail ?? ''}`;
}

function decodeSignature(text: string): RowSignature | undefined {
  const p = text.split(US);
  if (p.length !== SIGNATURE_FIELDS) return undefined;
  const flags = Number(p[0]);
  const [, user, accessKeyId, sourceIpAddress, serviceName, eventName, errorCode, acsRegion, trail] = p as [string, string, string, string, string, string, string, string, string];
  return { write: (flags & 1) !== 0, sensitive: (flags & 2) !== 0, user, accessKeyId, sourceIpAddress, serviceName, eventName, errorCode, acsRegion, ...((flags & 4) !== 0 ? { trail } : {}) };
}


function countersOf(sig: RowSignature): Omit<RowCounters, 'signature'> {
  const counts: string[] = [];
  const marks: string[] = [];
  const api = `${sig.serviceName}:${sig.eventName}`;
  const write = sig.write;
  const net = networkOf(sig.sourceIpAddress);
  const ip = net !== undefined ? sig.sourceIpAddress : undefined;

  if (write) counts.push(seriesKey('ApiCallRateInsight', 'rate', api));
  if (sig.errorCode !== '') {
    counts.push(seriesKey('ApiErrorRateInsight', 'rate', api), seriesKey('ApiErrorRateInsight', 'rate', sig.errorCode));
  }
  if (sig.accessKeyId !== '') {
    counts.push(seriesKey('AkInsight', 'rate', sig.accessKeyId));
    if (net !== undefined) {
      const novel = seriesKey('AkInsight', 'novel', `${sig.accessKeyId}@${net}`);
      counts.push(novel);
      marks.push(novel);
    }
  }
  if (ip) {
    const novel = seriesKey('IpInsight', 'novel', ip);
    marks.push(novel);
    if (write || sig.sensitive) counts.push(novel);
  }
  if (POLICY_EVENT.test(sig.eventName)) {
    counts.push(seriesKey('PolicyChangeInsight', 'rate', POLICY_CHANGE_OBJECT));
    const novel = seriesKey('PolicyChangeInsight', 'novel', sig.user);
    counts.push(novel);
    marks.push(novel);
  }
  if (PASSWORD_EVENTS.has(sig.eventName)) counts.push(seriesKey('PasswordChangeInsight', 'rate', PASSWORD_CHANGE_OBJECT));
  if (sig.trail !== undefined) counts.push(seriesKey('TrailConcealmentInsight', 'immediate', sig.trail));

  const attributions: Partial<Record<AttributionDimension, string>> = {};
  if (sig.user) attributions.u = sig.user;
  if (sig.accessKeyId) attributions.k = sig.accessKeyId;
  if (sig.sourceIpAddress) attributions.i = sig.sourceIpAddress;
  attributions.e = api;
  if (sig.errorCode) attributions.c = sig.errorCode;
  if (sig.acsRegion) attributions.r = sig.acsRegion;
  return { counts, marks, attributions };
}

export function rowCounters(row: AnalysisRow): RowCounters {
  const sig = signatureFields(row);
  return { ...countersOf(sig), signature: encodeSignature(sig) };
}

/** Most signatures a CountersBySignature keeps (then it starts afresh): ~0.5 KB each. */
export const COUNTERS_BY_SIGNATURE_MAX = 20_000;

/**
 * The counters of rows by signature, each computed once: the row's signature is encoded once, and
 * its counters derived only for a signature not seen before. A memo of a pure function, so it may
 * live as long as its holder likes: kept across batches, a signature seen before (the same user,
 * key, IP and API) reuses its series names, whose hashes the fold's lookups have already computed.
 * Bounded by `max` entries.
 */
export class CountersBySignature {
  private readonly bySignature = new Map<string, RowCounters>();
  constructor(private readonly max = COUNTERS_BY_SIGNATURE_MAX) {}
  of(row: AnalysisRow): RowCounters {
    const sig = signatureFields(row);
    const signature = encodeSignature(sig);
    let counters = this.bySignature.get(signature);
    if (!counters) {
      if (this.bySignature.size >= this.max) this.bySignature.clear();
      const { counts, marks, attributions } = countersOf(sig);
      this.bySignature.set(signature, (counters = { counts, marks, attributions, signature }));
    }
    return counters;
  }

  get size(): number {
    return this.bySignature.size;
  }
}

/** The smallest per-minute count at which a series' attributions are read (detector's minimumOf). */
function attributionMinimum(series: string): number | undefined {
  const id = parseSeriesKey(series);
  if (!id || !(id.type in INSIGHT_TYPES)) return undefined;
  return id.kind === 'rate' ? INSIGHT_TYPES[id.type].minCount : NOVELTY_MIN_COUNT;
}

/**
 * A minute's attribution tallies, rebuilt from how many of its rows had each signature, for the
 * series whose count that minute reaches their type's minimum (the detector reads a series'
 * attributions only when it opens, value ≥ threshold ≥ minimum, or when an open insight is over its
 * threshold, itself ≥ the minimum). Exactly the tallies per-series counting would have kept.
 */
export function minuteAttributions(counts: ReadonlyMap<string, number>, signatures: Iterable<readonly [string, number]>): Map<string, Tallies> {
  const wanted = new Set<string>();
  for (const [series, count] of counts) {
    const min = attributionMinimum(series);
    if (min !== undefined && count >= min) wanted.add(series);
  }
  const out = new Map<string, Tallies>();
  if (wanted.size === 0) return out;
  for (const [text, n] of signatures) {
    const sig = decodeSignature(text);
    if (!sig || !(n > 0)) continue;
    const { counts: series, attributions } = countersOf(sig);
    for (const s of series) {
      if (!wanted.has(s)) continue;
      let t = out.get(s);
      if (!t) out.set(s, (t = {}));
      for (const dim of ATTRIBUTION_DIMENSIONS) {
        const value = attributions[dim];
        if (value === undefined) continue;
        const d = (t[dim] ??= {});
        d[value] = (d[value] ?? 0) + n;
      }
    }
  }
  return out;
}
