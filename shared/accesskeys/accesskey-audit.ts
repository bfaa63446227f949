/**
 * The AccessKey audit (docs/design.md §3.10): when each AccessKey of an account was last used —
 * overall, and per product (serviceName), per event (serviceName + eventName), per source IP and
 * per resource (type + name) — kept from the analysis rows (shared/analysis/analysis-row.ts) the
 * insights drain hands its consumers every minute. Pure: what a batch of rows changes, and the
 * contract of the store that keeps it (adapters/redis/accesskey-audit.ts).
 *
 * A use is (usedMs = the event's time, eventId, detail). Merging keeps the greater use: the later
 * time, and on equal times the greater eventId (bytewise, as Lua compares), so replays,
 * duplicates and rows arriving late or out of order give the same state whatever their order —
 * an older row never overwrites a newer use.
 *
 * Bounded: a list keeps at most ACCESS_KEY_AUDIT_MAX_ENTRIES entries per key (the most recent);
 * everything older than ACCESS_KEY_AUDIT_RETENTION_MS (400 days, as ActionTrail) is dropped, and
 * a key's records expire 400 days after its last use.
 */
import { z } from 'zod';
import type { AnalysisRow } from '../analysis/analysis-row.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long a use is kept (ActionTrail: 400 days). */
export const ACCESS_KEY_AUDIT_RETENTION_DAYS = 400;
export const ACCESS_KEY_AUDIT_RETENTION_MS = ACCESS_KEY_AUDIT_RETENTION_DAYS * DAY_MS;
/** Most entries a key keeps per list (products, events, IPs, resources): the most recent. */
export const ACCESS_KEY_AUDIT_MAX_ENTRIES = 500;
/** Longest entry identity kept (its JSON); a longer one (a huge resource name) is not recorded. */
export const ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS = 1024;
/** Longest string field copied into a use's Detail. */
export const ACCESS_KEY_AUDIT_MAX_DETAIL_FIELD_CHARS = 512;
/** Longest AccessKey id recorded or asked about. */
export const ACCESS_KEY_ID_MAX_CHARS = 128;
/** What ActionTrail answers as `Source` for uses that come from events. */
export const ACCESS_KEY_USE_SOURCE = 'ManagementEvent';

/** The lists kept per key, and what identifies an entry of each (a JSON array, serviceName first). */
export const AUDIT_LISTS = ['products', 'events', 'ips', 'resources'] as const;
export type AuditList = (typeof AUDIT_LISTS)[number];

/** One use: when, by which event, and the event's detail (ActionTrail's `Detail`, a JSON text). */
export interface KeyUse {
  usedMs: number;
  eventId: string;
  detail: string;
}

/** The last use overall, with the identity and call it was (GetAccessKeyLastUsedInfo). */
export interface LastUse extends KeyUse {
  accountId: string;
  identityType: string;
  userName: string;
  principalId: string;
  serviceName: string;
  eventName: string;
  sourceIpAddress: string;
}

/** What one batch records for one AccessKey: its newest use and the newest use of each entry. */
export interface KeyUsageUpdate {
  accessKeyId: string;
  last: LastUse;
  lists: Record<AuditList, Map<string, KeyUse>>;
}

/** An entry as read back: its identity (the member's JSON array) and its newest use. */
export interface AuditEntry extends KeyUse {
  member: string;
  parts: readonly string[];
}

/** The audit's store: an AnalysisConsumer that writes, and what the API reads. */
export interface AccessKeyAuditReader {
  /** The key's last use in `accountId` (undefined: none within the retention). */
  lastUse(accountId: string, accessKeyId: string, nowMs: number): Promise<LastUse | undefined>;
  /** Last uses of several keys of one account (one round trip). */
  lastUses(accountId: string, accessKeyIds: readonly string[], nowMs: number): Promise<Map<string, LastUse>>;
  /** Every entry of one list (at most ACCESS_KEY_AUDIT_MAX_ENTRIES), newest first. */
  entries(accountId: string, accessKeyId: string, list: AuditList, nowMs: number): Promise<AuditEntry[]>;
}

/**
 * UTF-8 byte order, as Lua's string comparison orders eventIds. UTF-16 code units below U+D800
 * order as their UTF-8 bytes do, so the usual case (ASCII ids) is decided without encoding; a
 * surrogate at the first difference (or at the end of a prefix) falls back to the bytes.
 */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  if (a.length === b.length) return 0;
  const last = n > 0 ? a.charCodeAt(n - 1) : 0;
  if (last >= 0xd800 && last < 0xe000) return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return a.length < b.length ? -1 : 1;
}

/** Whether `a` is a newer use than `b` (later time; on a tie, the greater eventId). */
export function isNewer(a: Pick<KeyUse, 'usedMs' | 'eventId'>, b: Pick<KeyUse, 'usedMs' | 'eventId'> | undefined): boolean {
  if (!b) return true;
  return a.usedMs > b.usedMs || (a.usedMs === b.usedMs && compareBytes(a.eventId, b.eventId) > 0);
}

const clip = (s: string): string => s.slice(0, ACCESS_KEY_AUDIT_MAX_DETAIL_FIELD_CHARS);

/** ActionTrail's `Detail`: the event's summary as a JSON text, from what the row carries. */
export function detailOf(row: AnalysisRow): string {
  return JSON.stringify({
    eventId: clip(row.eventId),
    eventType: clip(row.eventType),
    eventName: clip(row.eventName),
    serviceName: clip(row.serviceName),
    acsRegion: clip(row.acsRegion),
    sourceIpAddress: clip(row.sourceIpAddress),
    eventTime: new Date(row.eventTimeMs).toISOString(),
    userIdentity: {
      type: clip(row.identityType),
      accountId: row.accountId,
      principalId: clip(row.principalId),
      userName: clip(row.userName),
      accessKeyId: row.accessKeyId,
    },
    ...(row.errorCode ? { errorCode: clip(row.errorCode) } : {}),
  });
}

/**
 * The entries a batch's rows are uses of, by list: each identity's text (a JSON array, serviceName
 * first) made once per batch — a batch's rows repeat their products, events and IPs — and an
 * identity over ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS left out (undefined).
 */
class BatchMembers {
  private readonly products = new Map<string, string | undefined>();
  private readonly pairs: Record<'events' | 'ips', Map<string, Map<string, string | undefined>>> = { events: new Map(), ips: new Map() };

  private static fit(member: string): string | undefined {
    return member.length <= ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS ? member : undefined;
  }

  product(serviceName: string): string | undefined {
    let member = this.products.get(serviceName);
    if (member === undefined && !this.products.has(serviceName)) this.products.set(serviceName, (member = BatchMembers.fit(JSON.stringify([serviceName]))));
    return member;
  }

  pair(list: 'events' | 'ips', serviceName: string, value: string): string | undefined {
    let ofService = this.pairs[list].get(serviceName);
    if (!ofService) this.pairs[list].set(serviceName, (ofService = new Map()));
    let member = ofService.get(value);
    if (member === undefined && !ofService.has(value)) ofService.set(value, (member = BatchMembers.fit(JSON.stringify([serviceName, value]))));
    return member;
  }

  resource(serviceName: string, type: string, name: string): string | undefined {
    return BatchMembers.fit(JSON.stringify([serviceName, type, name]));
  }
}

/** Whether a row says a use of an AccessKey of `accountId` worth recording at `nowMs`. */
export function isAuditable(row: AnalysisRow, accountId: string, nowMs: number): boolean {
  return (
    row.accountId === accountId &&
    row.accessKeyId !== '' &&
    row.accessKeyId.length <= ACCESS_KEY_ID_MAX_CHARS &&
    row.eventId !== '' &&
    Number.isSafeInteger(row.eventTimeMs) &&
    row.eventTimeMs > nowMs - ACCESS_KEY_AUDIT_RETENTION_MS
  );
}

/**
 * How fresh the audit is kept: a use newer than one this process wrote for the same entry by less
 * than this may be left unwritten (WrittenUses). So a stored use is at most this much older than
 * the entry's newest use (ActionTrail refreshes its audit hourly), and a steady stream writes each
 * entry about once a minute per classify instance instead of once per object.
 */
export const ACCESS_KEY_AUDIT_REFRESH_MS = 60_000;

/** Whether an entry's use must be written (`last`: the key's newest use overall, member ''). */
export type AuditWriteFilter = (accessKeyId: string, list: AuditList | 'last', member: string, usedMs: number) => boolean;

/**
 * What a batch of one account's rows records, per AccessKey: the newest use overall and per
 * entry (rows of other accounts, without a key or past the retention are left out). The store
 * merges it with what it holds by the same rule (isNewer), so the outcome does not depend on
 * how rows are split into batches. `needsWrite` leaves out the entries already written recently
 * enough (ACCESS_KEY_AUDIT_REFRESH_MS).
 */
export function auditUpdatesOf(accountId: string, rows: readonly AnalysisRow[], nowMs: number, needsWrite?: AuditWriteFilter): KeyUsageUpdate[] {
  // the newest row per key and per (key, list, entry) first; Details (a JSON text each) and the
  // LastUse objects are made once per winning row at the end, not per row
  interface Pending {
    accessKeyId: string;
    last: AnalysisRow;
    lists: Record<AuditList, Map<string, AnalysisRow>>;
  }
  const newer = (a: AnalysisRow, b: AnalysisRow | undefined): boolean =>
    !b || a.eventTimeMs > b.eventTimeMs || (a.eventTimeMs === b.eventTimeMs && compareBytes(a.eventId, b.eventId) > 0);
  const byKey = new Map<string, Pending>();
  const members = new BatchMembers();
  for (const row of rows) {
    if (!isAuditable(row, accountId, nowMs)) continue;
    let pending = byKey.get(row.accessKeyId);
    if (!pending) {
      pending = { accessKeyId: row.accessKeyId, last: row, lists: { products: new Map(), events: new Map(), ips: new Map(), resources: new Map() } };
      byKey.set(row.accessKeyId, pending);
    } else if (newer(row, pending.last)) {
      pending.last = row;
    }
    const s = row.serviceName;
    if (!s) continue;
    const lists = pending.lists;
    const keep = (entries: Map<string, AnalysisRow>, member: string | undefined) => {
      if (member !== undefined && newer(row, entries.get(member))) entries.set(member, row);
    };
    keep(lists.products, members.product(s));
    if (row.eventName) keep(lists.events, members.pair('events', s, row.eventName));
    if (row.sourceIpAddress) keep(lists.ips, members.pair('ips', s, row.sourceIpAddress));
    for (const r of row.resources) if (r.name) keep(lists.resources, members.resource(s, r.type, r.name));
  }
  const uses = new Map<AnalysisRow, KeyUse>();
  const useOf = (row: AnalysisRow): KeyUse => {
    let use = uses.get(row);
    if (!use) uses.set(row, (use = { usedMs: row.eventTimeMs, eventId: row.eventId, detail: detailOf(row) }));
    return use;
  };
  const out: KeyUsageUpdate[] = [];
  for (const p of byKey.values()) {
    const row = p.last;
    if (needsWrite) {
      // entries a write of at most ACCESS_KEY_AUDIT_REFRESH_MS ago already covers are left out; a key
      // with nothing left is not sent at all (its newest use travels whenever anything of it does)
      let any = needsWrite(p.accessKeyId, 'last', '', row.eventTimeMs);
      for (const list of AUDIT_LISTS) {
        for (const [member, r] of p.lists[list]) {
          if (needsWrite(p.accessKeyId, list, member, r.eventTimeMs)) any = true;
          else p.lists[list].delete(member);
        }
      }
      if (!any) continue;
    }
    const last: LastUse = {
      ...useOf(row),
      accountId: row.accountId,
      identityType: row.identityType,
      userName: row.userName,
      principalId: row.principalId,
      serviceName: row.serviceName,
      eventName: row.eventName,
      sourceIpAddress: row.sourceIpAddress,
    };
    const lists = { products: new Map(), events: new Map(), ips: new Map(), resources: new Map() } as Record<AuditList, Map<string, KeyUse>>;
    for (const list of AUDIT_LISTS) for (const [member, r] of p.lists[list]) lists[list].set(member, useOf(r));
    out.push({ accessKeyId: p.accessKeyId, last, lists });
  }
  return out;
}

/** The stored form of a last use (validated when read back). */
export const LastUseSchema = z.object({
  usedMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  eventId: z.string().min(1),
  detail: z.string(),
  accountId: z.string(),
  identityType: z.string(),
  userName: z.string(),
  principalId: z.string(),
  serviceName: z.string(),
  eventName: z.string(),
  sourceIpAddress: z.string(),
});

/** An entry's member read back: a JSON array of 1–3 strings, serviceName first. */
const MemberSchema = z.array(z.string()).min(1).max(3);

export function memberParts(member: string): string[] | undefined {
  try {
    const parsed = MemberSchema.safeParse(JSON.parse(member));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Newest first; on equal times, by member (a total order paging can resume from). */
export function compareEntries(a: Pick<AuditEntry, 'usedMs' | 'member'>, b: Pick<AuditEntry, 'usedMs' | 'member'>): number {
  return b.usedMs - a.usedMs || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0);
}
