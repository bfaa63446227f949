/**
 * The Insights API on lookup-http (ActionTrail 2020-07-06, docs/design.md §3.9): EnableInsight,
 * DisableInsight, GetInsightTypes, PutInsightSelectors, GetInsightSelectors, LookupInsightEvents,
 * GetInsightsEventsCount; and ours (ActionTrail has none): PutInsightIpAllowlist and
 * GetInsightIpAllowlist, the IPs and CIDR blocks whose calls never open an IpInsight. A caller
 * sees and changes only its own account.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.ts';
import { parseUtcTime } from '../events/schema.ts';
import { JsonText } from '../json-text.ts';
import { formatUtcSecond } from '../lookup/lookup-params.ts';
import { issueToken, readToken, type TokenBinding } from '../lookup/next-token.ts';
import type { Trail } from '../trails/model.ts';
import { INSIGHT_TYPE_NAMES, InsightTypeSchema, type InsightType } from './types.ts';
import { IpAllowlistSchema, MAX_INSIGHT_IP_ALLOWLIST } from './allowlist.ts';

/** LookupInsightEvents / GetInsightsEventsCount: the longest StartTime–EndTime span. */
export const MAX_INSIGHT_QUERY_MS = 93 * 24 * 60 * 60 * 1000;
export const DEFAULT_INSIGHT_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_COUNT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_INSIGHT_MAX_RESULTS = 20;
export const MAX_INSIGHT_MAX_RESULTS = 50;
/** Index pages read for one LookupInsightEvents request when conditions filter them. */
export const MAX_INSIGHT_SCAN_PAGES = 10;
/** Most events GetInsightsEventsCount reads (insight events are rare; this bounds a pathological account). */
export const MAX_COUNTED_INSIGHT_EVENTS = 10_000;
export const INSIGHT_LOOKUP_KEYS = ['InsightType', 'InsightObject', 'EventId', 'SharedEventId', 'State'] as const;

export interface InsightApiPorts {
  enabledTypes(accountId: string): Promise<Set<InsightType>>;
  setType(accountId: string, type: InsightType, enabled: boolean): Promise<void>;
  allowlist(accountId: string): Promise<string[]>;
  /** Replaces the account's IpInsight allowlist (canonical entries). */
  setAllowlist(accountId: string, entries: readonly string[]): Promise<void>;
  getTrail(accountId: string, name: string): Promise<Trail | undefined>;
  updateTrail(trail: Trail): Promise<boolean>;
  page(accountId: string, q: { startMs: number; endMs: number; limit: number; after?: { timeMs: number; eventId: string } }): Promise<{ events: string[]; members: string[] }>;
  tokenKey(): Promise<Buffer>;
  now(): number;
}

type Caller = { accountId: string };
export type InsightAction = (params: Record<string, string>, caller: Caller, ports: InsightApiPorts) => Promise<Record<string, unknown>>;

function insightType(params: Record<string, string>): InsightType {
  const value = params['InsightType'];
  if (value === undefined || value === '') throw new ValidationError('MissingParameter', 'InsightType is required', 'InsightType');
  const parsed = InsightTypeSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError('InsightTypeNotValid', `The insight type is not valid: ${JSON.stringify(value.slice(0, 64))}; one of ${INSIGHT_TYPE_NAMES.join(', ')}.`, 'InsightType');
  return parsed.data;
}

const trailNameSchema = z.string().min(1).max(64);
const SelectorsSchema = z.array(z.object({ insightType: z.string() }).strict()).max(INSIGHT_TYPE_NAMES.length * 2);

async function trailOf(params: Record<string, string>, caller: Caller, ports: InsightApiPorts): Promise<Trail> {
  const name = trailNameSchema.safeParse(params['TrailName']);
  if (!name.success) throw new ValidationError('MissingParameter', 'TrailName is required', 'TrailName');
  const trail = await ports.getTrail(caller.accountId, name.data);
  if (!trail) throw new NotFoundError('TrailNotFoundException', `The specified Trail does not exist: ${name.data}.`);
  return trail;
}

function parseTime(text: string, field: string): number {
  const ms = parseUtcTime(text);
  if (ms === undefined) throw new ValidationError(`InvalidParameter${field}`, `The specified ${field} is invalid: expected UTC yyyy-MM-ddTHH:mm:ssZ`, field);
  return ms;
}

function window(params: Record<string, string>, nowMs: number, defaultMs: number): { startMs: number; endMs: number; given: { start?: string; end?: string } } {
  const start = params['StartTime'] || undefined;
  const end = params['EndTime'] || undefined;
  const endMs = end !== undefined ? parseTime(end, 'EndTime') + (end.includes('.') ? 0 : 999) : nowMs;
  const startMs = start !== undefined ? parseTime(start, 'StartTime') : endMs - defaultMs;
  if (endMs <= startMs) throw new ValidationError('InvalidParameterCombination', 'The end time must be later than the start time.', 'EndTime');
  if (endMs - startMs > MAX_INSIGHT_QUERY_MS) throw new ValidationError('InvalidParameterCombination', 'StartTime and EndTime may be at most 93 days apart.', 'StartTime');
  return { startMs, endMs, given: { ...(start ? { start } : {}), ...(end ? { end } : {}) } };
}

const maxResultsSchema = z.coerce.number().int().min(1).max(MAX_INSIGHT_MAX_RESULTS);
const keySchema = z.enum(INSIGHT_LOOKUP_KEYS);
interface Condition {
  key: (typeof INSIGHT_LOOKUP_KEYS)[number];
  value: string;
}

function conditionsOf(params: Record<string, string>): Condition[] {
  const out = new Map<number, Partial<Condition>>();
  for (const [name, value] of Object.entries(params)) {
    const m = /^LookupAttribute\.([1-9]\d{0,5})\.(Key|Value)$/.exec(name);
    if (!m) continue;
    const entry = out.get(Number(m[1])) ?? {};
    if (m[2] === 'Key') {
      const key = keySchema.safeParse(value);
      if (!key.success) throw new ValidationError('InvalidQueryParameter', `${name}: must be one of ${INSIGHT_LOOKUP_KEYS.join(', ')}`, name);
      entry.key = key.data;
    } else entry.value = value;
    out.set(Number(m[1]), entry);
  }
  const conditions: Condition[] = [];
  for (const [n, c] of [...out].sort((a, b) => a[0] - b[0]).slice(0, 2)) {
    if (!c.key || !c.value) throw new ValidationError('InvalidQueryParameter', `LookupAttribute.${n}: Key and Value are both required`, `LookupAttribute.${n}`);
    if (c.key === 'InsightType') insightType({ InsightType: c.value });
    conditions.push({ key: c.key, value: c.value });
  }
  return conditions;
}

interface StoredInsight {
  eventId?: string;
  sharedEventId?: string;
  acsRegion?: string;
  insightDetails?: { state?: string; insightType?: string; insightObject?: string };
}

function matches(e: StoredInsight, c: Condition): boolean {
  const d = e.insightDetails ?? {};
  const value = { InsightType: d.insightType, InsightObject: d.insightObject, EventId: e.eventId, SharedEventId: e.sharedEventId, State: d.state }[c.key];
  return value === c.value;
}

async function lookupInsightEvents(params: Record<string, string>, caller: Caller, ports: InsightApiPorts): Promise<Record<string, unknown>> {
  const nowMs = ports.now();
  let { startMs, endMs, given } = window(params, nowMs, DEFAULT_INSIGHT_WINDOW_MS);
  const maxText = params['MaxResults'];
  const parsedMax = maxText ? maxResultsSchema.safeParse(maxText) : undefined;
  if (parsedMax && !parsedMax.success) throw new ValidationError('InvalidQueryParameter', `MaxResults: must be 1–${MAX_INSIGHT_MAX_RESULTS}`, 'MaxResults');
  const maxResults = parsedMax?.data ?? DEFAULT_INSIGHT_MAX_RESULTS;
  const conditions = conditionsOf(params);
  // bound to the action, the caller, the window as given and the conditions (a LookupEvents token never reads here)
  const binding: TokenBinding = {
    callerAccountId: `LookupInsightEvents\u0000${caller.accountId}\u0000${JSON.stringify(conditions.map((c) => [c.key, c.value]))}`,
    accountIds: [caller.accountId],
    startTime: given.start,
    endTime: given.end,
    direction: 'BACKWARD',
    conditions: [],
  };
  let after: { timeMs: number; eventId: string } | undefined;
  const token = params['NextToken'];
  let key: Buffer | undefined;
  if (token) {
    key = await ports.tokenKey();
    const state = readToken(token, binding, key);
    ({ startMs, endMs } = state);
    after = { timeMs: state.cursor.timeMs, eventId: state.cursor.eventId };
  }
  const events: JsonText[] = [];
  let last: { timeMs: number; eventId: string } | undefined;
  let more = false;
  for (let pages = 0; pages < MAX_INSIGHT_SCAN_PAGES && events.length < maxResults; pages++) {
    const limit = maxResults - events.length;
    const page = await ports.page(caller.accountId, { startMs, endMs, limit, ...(after ? { after } : {}) });
    page.events.forEach((json, i) => {
      const member = page.members[i] as string;
      last = { timeMs: Number(member.slice(0, 15)), eventId: member.slice(16) };
      const e = JSON.parse(json) as StoredInsight;
      if (conditions.every((c) => matches(e, c))) events.push(new JsonText(json));
    });
    more = page.members.length === limit;
    if (!more) break;
    after = last;
  }
  const answer: Record<string, unknown> = { StartTime: formatUtcSecond(startMs), EndTime: formatUtcSecond(endMs), Events: events };
  if (more && last) {
    key ??= await ports.tokenKey();
    answer['NextToken'] = issueToken({ cursor: last, startMs, endMs }, binding, key);
  }
  return answer;
}

async function getInsightsEventsCount(params: Record<string, string>, caller: Caller, ports: InsightApiPorts): Promise<Record<string, unknown>> {
  const { startMs, endMs } = window(params, ports.now(), DEFAULT_COUNT_WINDOW_MS);
  const counts = new Map<string, { InsightType: string; RegionId: string; Count: number }>();
  let after: { timeMs: number; eventId: string } | undefined;
  for (let read = 0; read < MAX_COUNTED_INSIGHT_EVENTS; ) {
    const page = await ports.page(caller.accountId, { startMs, endMs, limit: 500, ...(after ? { after } : {}) });
    if (page.members.length === 0) break;
    read += page.members.length;
    for (const json of page.events) {
      const e = JSON.parse(json) as StoredInsight;
      // an insight is counted once: by its Start event
      if (e.insightDetails?.state !== 'Start' || !e.insightDetails.insightType) continue;
      const k = `${e.insightDetails.insightType}\u0000${e.acsRegion ?? ''}`;
      const c = counts.get(k) ?? { InsightType: e.insightDetails.insightType, RegionId: e.acsRegion ?? '', Count: 0 };
      c.Count += 1;
      counts.set(k, c);
    }
    const m = page.members[page.members.length - 1] as string;
    after = { timeMs: Number(m.slice(0, 15)), eventId: m.slice(16) };
  }
  return { Data: [...counts.values()].sort((a, b) => a.InsightType.localeCompare(b.InsightType) || a.RegionId.localeCompare(b.RegionId)) };
}

export const INSIGHT_ACTIONS: Readonly<Record<string, InsightAction>> = {
  EnableInsight: async (params, caller, ports) => {
    await ports.setType(caller.accountId, insightType(params), true);
    return {};
  },
  DisableInsight: async (params, caller, ports) => {
    await ports.setType(caller.accountId, insightType(params), false);
    return {};
  },
  GetInsightTypes: async (_params, caller, ports) => {
    const enabled = await ports.enabledTypes(caller.accountId);
    return { InsightTypes: Object.fromEntries(INSIGHT_TYPE_NAMES.map((t) => [t, enabled.has(t) ? 'Enable' : 'Disable'])) };
  },
  PutInsightSelectors: async (params, caller, ports) => {
    const trail = await trailOf(params, caller, ports);
    let raw: unknown;
    try {
      raw = JSON.parse(params['InsightSelectors'] ?? '');
    } catch {
      throw new ValidationError('InvalidQueryParameter', 'InsightSelectors must be a JSON array such as [{"insightType":"AkInsight"}]', 'InsightSelectors');
    }
    const parsed = SelectorsSchema.safeParse(raw);
    if (!parsed.success) throw new ValidationError('InvalidQueryParameter', 'InsightSelectors must be a JSON array such as [{"insightType":"AkInsight"}]', 'InsightSelectors');
    const types = [...new Set(parsed.data.map((s) => insightType({ InsightType: s.insightType })))];
    if (!(await ports.updateTrail({ ...trail, insightSelectors: types }))) throw new NotFoundError('TrailNotFoundException', `The specified Trail does not exist: ${trail.name}.`);
    return { TrailName: trail.name, InsightSelectors: JSON.stringify(types.map((insightType) => ({ insightType }))) };
  },
  GetInsightSelectors: async (params, caller, ports) => {
    const trail = await trailOf(params, caller, ports);
    return { TrailName: trail.name, InsightSelectors: JSON.stringify((trail.insightSelectors ?? []).map((insightType) => ({ insightType }))) };
  },
  // ours: IpInsight's allowlist, replaced whole (an empty array clears it)
  PutInsightIpAllowlist: async (params, caller, ports) => {
    const usage = `IpAllowlist must be a JSON array of at most ${MAX_INSIGHT_IP_ALLOWLIST} IPs or CIDR blocks, such as ["198.51.100.0/24","2001:db8::/48"]`;
    const text = params['IpAllowlist'];
    if (text === undefined) throw new ValidationError('MissingParameter', 'IpAllowlist is required', 'IpAllowlist');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ValidationError('InvalidParameter', usage, 'IpAllowlist');
    }
    const parsed = IpAllowlistSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (entry ${String(issue.path[0])}: ${issue.message})` : issue ? ` (${issue.message})` : '';
      throw new ValidationError('InvalidParameter', `${usage}${where}`, 'IpAllowlist');
    }
    await ports.setAllowlist(caller.accountId, parsed.data);
    return { IpAllowlist: parsed.data };
  },
  GetInsightIpAllowlist: async (_params, caller, ports) => ({ IpAllowlist: await ports.allowlist(caller.accountId) }),
  LookupInsightEvents: lookupInsightEvents,
  GetInsightsEventsCount: getInsightsEventsCount,
};
