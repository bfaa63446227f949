/**
 * The AccessKey audit's pure logic: what a batch of rows records (newest use wins, whatever the
 * order; rows of other accounts, without a key or past 400 days left out) and the actions over
 * an in-memory store that merges by the same rule (not-found alike for unknown and foreign
 * keys, ServiceName filter, paging with a NextToken bound to action, key, filter and caller,
 * ListAccessKeyLastUsed's flags).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS,
  ACCESS_KEY_AUDIT_RETENTION_MS,
  AUDIT_LISTS,
  auditUpdatesOf,
  compareEntries,
  isNewer,
  memberParts,
  type AccessKeyAuditReader,
  type AuditEntry,
  type AuditList,
  type KeyUse,
  type LastUse,
} from '../../shared/accesskeys/accesskey-audit.ts';
import { ACCESS_KEY_AUDIT_ACTIONS, type AccessKeyAuditPorts } from '../../shared/accesskeys/accesskey-actions.ts';
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { DomainError } from '../../shared/errors.ts';
import { analysisRow } from '../helpers/analysis-rows.ts';

const A = '1111111111111111';
const B = '2222222222222222';
const KEY = 'LTAI5tAuditKeyAAAAAAAAAAA';
const NOW = Date.UTC(2026, 5, 1, 12);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

describe('auditUpdatesOf', () => {
  it('keeps the newest use per key and per entry, whatever the order of the rows', () => {
    const rows = [
      analysisRow({ accountId: A, eventTimeMs: NOW - 5 * MIN, eventName: 'StopInstance', sourceIpAddress: '192.0.2.1' }),
      analysisRow({ accountId: A, eventTimeMs: NOW - 1 * MIN, eventName: 'StartInstance', sourceIpAddress: '192.0.2.2' }),
      analysisRow({ accountId: A, eventTimeMs: NOW - 9 * MIN, eventName: 'StopInstance', sourceIpAddress: '192.0.2.1' }),
    ];
    const forward = auditUpdatesOf(A, rows, NOW);
    const backward = auditUpdatesOf(A, [...rows].reverse(), NOW);
    for (const updates of [forward, backward]) {
      expect(updates).toHaveLength(1);
      const u = updates[0]!;
      expect(u.last.usedMs).toBe(NOW - MIN);
      expect(u.last.eventName).toBe('StartInstance');
      expect(u.lists.events.get(JSON.stringify(['Ecs', 'StopInstance']))?.usedMs).toBe(NOW - 5 * MIN);
      expect(u.lists.ips.get(JSON.stringify(['Ecs', '192.0.2.1']))?.usedMs).toBe(NOW - 5 * MIN);
      expect(u.lists.products.get(JSON.stringify(['Ecs']))?.usedMs).toBe(NOW - MIN);
      expect(u.lists.resources.get(JSON.stringify(['Ecs', 'ACS::ECS::Instance', 'i-audit-1']))?.usedMs).toBe(NOW - MIN);
    }
    expect(backward[0]!.last.eventId).toBe(forward[0]!.last.eventId);
  });

  it('breaks a tie on time by the greater eventId (bytewise), so either order gives the same use', () => {
    const t = NOW - MIN;
    const rows = [analysisRow({ accountId: A, eventTimeMs: t, eventId: 'b-event' }), analysisRow({ accountId: A, eventTimeMs: t, eventId: 'a-event' })];
    expect(auditUpdatesOf(A, rows, NOW)[0]!.last.eventId).toBe('b-event');
    expect(auditUpdatesOf(A, [...rows].reverse(), NOW)[0]!.last.eventId).toBe('b-event');
    // UTF-8 byte order, as the store's Lua compares (UTF-16 order would put U+FF5E before U+1F600)
    expect(isNewer({ usedMs: 1, eventId: '😀' }, { usedMs: 1, eventId: '～' })).toBe(true);
  });

  it('keeps AccessKeys apart and leaves out other accounts, rows without a key, and rows older than 400 days', () => {
    const rows: AnalysisRow[] = [
      analysisRow({ accountId: A, accessKeyId: 'LTAIkeyOne000000' }),
      analysisRow({ accountId: A, accessKeyId: 'LTAIkeyTwo000000', serviceName: 'Oss' }),
      analysisRow({ accountId: B, accessKeyId: 'LTAIkeyOne000000', serviceName: 'Ram' }),
      analysisRow({ accountId: A, accessKeyId: '' }),
      analysisRow({ accountId: A, accessKeyId: 'LTAIkeyOld000000', eventTimeMs: NOW - ACCESS_KEY_AUDIT_RETENTION_MS }),
    ];
    const updates = auditUpdatesOf(A, rows, NOW);
    expect(updates.map((u) => u.accessKeyId).sort()).toEqual(['LTAIkeyOne000000', 'LTAIkeyTwo000000']);
    const one = updates.find((u) => u.accessKeyId === 'LTAIkeyOne000000')!;
    expect([...one.lists.products.keys()]).toEqual([JSON.stringify(['Ecs'])]);
    expect(one.last.accountId).toBe(A);
  });

  it('records no entry for an empty service, IP or resource name, nor one whose identity is too long', () => {
    const u = auditUpdatesOf(
      A,
      [
        analysisRow({ accountId: A, sourceIpAddress: '', resources: [{ type: 'ACS::OSS::Object', name: 'x'.repeat(ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS) }, { type: 'T', name: '' }] }),
      ],
      NOW,
    )[0]!;
    expect(u.lists.ips.size).toBe(0);
    expect(u.lists.resources.size).toBe(0);
    const none = auditUpdatesOf(A, [analysisRow({ accountId: A, serviceName: '' })], NOW)[0]!;
    expect(AUDIT_LISTS.map((l) => none.lists[l].size)).toEqual([0, 0, 0, 0]);
    expect(none.last.usedMs).toBeGreaterThan(0);
  });

  it('rows of a batch that share an entry make it once; an over-long one is left out for every row', () => {
    const long = 'E'.repeat(ACCESS_KEY_AUDIT_MAX_MEMBER_CHARS);
    const u = auditUpdatesOf(
      A,
      [
        analysisRow({ accountId: A, eventId: 'e1', eventTimeMs: NOW - 3000, eventName: long, sourceIpAddress: '10.0.0.1' }),
        analysisRow({ accountId: A, eventId: 'e2', eventTimeMs: NOW - 2000, eventName: long, sourceIpAddress: '10.0.0.1' }),
        analysisRow({ accountId: A, eventId: 'e3', eventTimeMs: NOW - 1000, eventName: 'RunInstances', sourceIpAddress: '10.0.0.2' }),
      ],
      NOW,
    )[0]!;
    expect([...u.lists.events.keys()]).toEqual([JSON.stringify(['Ecs', 'RunInstances'])]);
    expect(Object.fromEntries([...u.lists.ips].map(([m, use]) => [m, use.eventId]))).toEqual({ [JSON.stringify(['Ecs', '10.0.0.1'])]: 'e2', [JSON.stringify(['Ecs', '10.0.0.2'])]: 'e3' });
    expect(u.lists.products.get(JSON.stringify(['Ecs']))?.eventId).toBe('e3');
  });

  it('Detail is the event summary as ActionTrail shows it (a JSON text)', () => {
    const row = analysisRow({ accountId: A, eventTimeMs: Date.UTC(2026, 4, 1, 9, 21, 32), identityType: 'root-account', errorCode: 'Forbidden' });
    const detail = JSON.parse(auditUpdatesOf(A, [row], NOW)[0]!.last.detail) as Record<string, unknown>;
    expect(detail).toMatchObject({
      eventId: row.eventId,
      eventName: 'DescribeInstances',
      serviceName: 'Ecs',
      eventTime: '2026-05-01T09:21:32.000Z',
      sourceIpAddress: '192.0.2.10',
      errorCode: 'Forbidden',
      userIdentity: { type: 'root-account', accountId: A, accessKeyId: KEY },
    });
  });
});

/** An in-memory audit store merging by the same rule as the Redis one (isNewer). */
class MemoryAudit implements AccessKeyAuditReader {
  last = new Map<string, LastUse>();
  lists = new Map<string, Map<string, KeyUse>>();
  record(accountId: string, rows: readonly AnalysisRow[]): void {
    for (const u of auditUpdatesOf(accountId, rows, NOW)) {
      const id = `${accountId}/${u.accessKeyId}`;
      if (isNewer(u.last, this.last.get(id))) this.last.set(id, u.last);
      for (const list of AUDIT_LISTS) {
        const k = `${id}/${list}`;
        const entries = this.lists.get(k) ?? new Map<string, KeyUse>();
        for (const [m, use] of u.lists[list]) if (isNewer(use, entries.get(m))) entries.set(m, use);
        this.lists.set(k, entries);
      }
    }
  }
  async lastUse(accountId: string, accessKeyId: string): Promise<LastUse | undefined> {
    return this.last.get(`${accountId}/${accessKeyId}`);
  }
  async lastUses(accountId: string, ids: readonly string[]): Promise<Map<string, LastUse>> {
    const out = new Map<string, LastUse>();
    for (const id of ids) {
      const last = this.last.get(`${accountId}/${id}`);
      if (last) out.set(id, last);
    }
    return out;
  }
  async entries(accountId: string, accessKeyId: string, list: AuditList): Promise<AuditEntry[]> {
    const entries = this.lists.get(`${accountId}/${accessKeyId}/${list}`) ?? new Map<string, KeyUse>();
    return [...entries].map(([member, use]) => ({ member, parts: memberParts(member) ?? [], ...use })).sort(compareEntries);
  }
}

function portsOver(audit: MemoryAudit, keys: AccessKeyAuditPorts['keysOf'] = async () => []): AccessKeyAuditPorts {
  const tokenKey = randomBytes(32);
  return { audit, keysOf: keys, tokenKey: async () => tokenKey, now: () => NOW };
}

async function call(name: string, params: Record<string, string>, accountId: string, ports: AccessKeyAuditPorts): Promise<Record<string, unknown>> {
  const action = ACCESS_KEY_AUDIT_ACTIONS[name];
  if (!action) throw new Error(`no action ${name}`);
  return action(params, { accountId }, ports);
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, status: error.status, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('the AccessKey audit actions', () => {
  const audit = new MemoryAudit();
  // 25 distinct events of Ecs, one of Oss, for KEY in account A
  audit.record(
    A,
    Array.from({ length: 25 }, (_v, n) => analysisRow({ accountId: A, eventTimeMs: NOW - (n + 1) * MIN, eventName: `Event${String(n).padStart(2, '0')}` })),
  );
  audit.record(A, [analysisRow({ accountId: A, eventTimeMs: NOW - 30 * MIN, serviceName: 'Oss', eventName: 'PutObject', sourceIpAddress: '198.51.100.7' })]);
  const ports = portsOver(audit);

  it('GetAccessKeyLastUsedInfo answers ActionTrail\'s fields from the newest use', async () => {
    const info = await call('GetAccessKeyLastUsedInfo', { AccessKey: KEY }, A, ports);
    expect(info).toMatchObject({
      AccessKeyId: KEY,
      AccountId: A,
      AccountType: 'ram-user',
      OwnerId: '245494290036250',
      UserName: 'alice',
      ServiceName: 'Ecs',
      Source: 'ManagementEvent',
      UsedTimestamp: NOW - MIN,
    });
    expect(JSON.parse(info.Detail as string)).toMatchObject({ eventName: 'Event00' });
  });

  it('an unknown key and a key used only in another account get the same not-found answer', async () => {
    const foreign = await refusal(call('GetAccessKeyLastUsedInfo', { AccessKey: KEY }, B, ports));
    const unknown = await refusal(call('GetAccessKeyLastUsedInfo', { AccessKey: 'LTAIunknown00000000' }, B, ports));
    expect(foreign).toEqual({ ...unknown, message: unknown.message });
    expect(foreign).toMatchObject({ code: 'AccessKeyNotFound', status: 404 });
    for (const name of ['GetAccessKeyLastUsedProducts', 'GetAccessKeyLastUsedEvents', 'GetAccessKeyLastUsedIps', 'GetAccessKeyLastUsedResources']) {
      expect(await refusal(call(name, { AccessKey: KEY, ServiceName: 'Ecs' }, B, ports))).toEqual(foreign);
    }
  });

  it('refuses a missing or malformed AccessKey and a PageSize outside 1–100', async () => {
    expect(await refusal(call('GetAccessKeyLastUsedInfo', {}, A, ports))).toMatchObject({ code: 'MissingParameter', status: 400 });
    expect(await refusal(call('GetAccessKeyLastUsedInfo', { AccessKey: 'a b' }, A, ports))).toMatchObject({ code: 'InvalidParameter' });
    for (const PageSize of ['0', '101', 'x', '-1']) {
      expect(await refusal(call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', PageSize }, A, ports))).toMatchObject({ code: 'InvalidParameter' });
    }
  });

  it('Products lists each service with its newest use', async () => {
    const { Products } = await call('GetAccessKeyLastUsedProducts', { AccessKey: KEY }, A, ports);
    expect(Products).toEqual([
      expect.objectContaining({ ServiceName: 'Ecs', Source: 'ManagementEvent', UsedTimestamp: NOW - MIN }),
      expect.objectContaining({ ServiceName: 'Oss', UsedTimestamp: NOW - 30 * MIN }),
    ]);
  });

  it('Events pages newest first (default 20) with a NextToken, and the ServiceName filter applies', async () => {
    const first = await call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs' }, A, ports);
    const events = first.Events as { EventName: string; UsedTimestamp: number }[];
    expect(events).toHaveLength(20);
    expect(events[0]).toMatchObject({ EventName: 'Event00', UsedTimestamp: NOW - MIN, Source: 'ManagementEvent' });
    expect(typeof first.NextToken).toBe('string');
    const second = await call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', NextToken: first.NextToken as string }, A, ports);
    expect((second.Events as { EventName: string }[]).map((e) => e.EventName)).toEqual(['Event20', 'Event21', 'Event22', 'Event23', 'Event24']);
    expect(second.NextToken).toBeUndefined();
    const oss = await call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Oss' }, A, ports);
    expect(oss.Events).toEqual([expect.objectContaining({ EventName: 'PutObject', ServiceName: 'Oss' })]);
    const ips = await call('GetAccessKeyLastUsedIps', { AccessKey: KEY, ServiceName: 'Oss' }, A, ports);
    expect(ips.Ips).toEqual([expect.objectContaining({ Ip: '198.51.100.7' })]);
    const resources = await call('GetAccessKeyLastUsedResources', { AccessKey: KEY, ServiceName: 'Ecs', PageSize: '1' }, A, ports);
    expect(resources.Resources).toEqual([expect.objectContaining({ ResourceType: 'ACS::ECS::Instance', ResourceName: 'i-audit-1', UsedTimestamp: NOW - MIN })]);
    expect(resources.NextToken).toBeUndefined();
  });

  it('a NextToken reads back only for the same action, key, ServiceName and caller, and not altered', async () => {
    const first = await call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', PageSize: '5' }, A, ports);
    const token = first.NextToken as string;
    const cases: [string, Record<string, string>, string][] = [
      ['GetAccessKeyLastUsedIps', { AccessKey: KEY, ServiceName: 'Ecs', NextToken: token }, A],
      ['GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Oss', NextToken: token }, A],
      ['GetAccessKeyLastUsedEvents', { AccessKey: 'LTAIotherKey0000000', ServiceName: 'Ecs', NextToken: token }, A],
      ['GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', NextToken: token }, B],
      ['GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', NextToken: `${token.slice(0, -2)}AA` }, A],
    ];
    for (const [name, params, caller] of cases) expect(await refusal(call(name, params, caller, ports))).toMatchObject({ code: 'InvalidNextToken', status: 400 });
    // the page size may change while paging
    const next = await call('GetAccessKeyLastUsedEvents', { AccessKey: KEY, ServiceName: 'Ecs', PageSize: '50', NextToken: token }, A, ports);
    expect((next.Events as unknown[]).length).toBe(20);
  });

  it('ListAccessKeyLastUsed (ours) lists the account\'s keys with their last use and flags', async () => {
    const store = new MemoryAudit();
    store.record(A, [
      analysisRow({ accountId: A, accessKeyId: 'LTAIrecent0000000', eventTimeMs: NOW - DAY }),
      analysisRow({ accountId: A, accessKeyId: 'LTAIstale00000000', eventTimeMs: NOW - 91 * DAY, identityType: 'root-account', userName: '' }),
    ]);
    const summary = (id: string) => ({ accessKeyId: id, accountId: A, status: 'Active' as const, createdAt: '2026-01-01T00:00:00.000Z' });
    const listed = await call('ListAccessKeyLastUsed', {}, A, portsOver(store, async (account) => (account === A ? ['LTAIrecent0000000', 'LTAIstale00000000', 'LTAInever00000000'].map(summary) : [])));
    expect(listed.AccessKeys).toEqual([
      expect.objectContaining({ AccessKeyId: 'LTAIrecent0000000', UsedTimestamp: NOW - DAY, UnusedFor90Days: false, RootAccessKey: false, UserName: 'alice' }),
      expect.objectContaining({ AccessKeyId: 'LTAIstale00000000', UsedTimestamp: NOW - 91 * DAY, UnusedFor90Days: true, RootAccessKey: true, UserName: 'root' }),
      { AccessKeyId: 'LTAInever00000000', Status: 'Active', CreateTime: '2026-01-01T00:00:00.000Z', UnusedFor90Days: true, RootAccessKey: false },
    ]);
  });
});
