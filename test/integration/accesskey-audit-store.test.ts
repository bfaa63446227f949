/**
 * RedisAccessKeyAudit on a real Redis, standalone and the three-master cluster: what the merge
 * script keeps (newest use wins across batches: replays write nothing, late rows never
 * overwrite), the per-list cap (most recent kept, no orphaned use), the 400-day retention
 * (trimmed and expiring with the key's newest use), isolation between accounts and keys; and the
 * freshness window (a use newer than one the instance wrote by under a minute may stay unwritten:
 * what is stored is always a real use, never more than a minute older than the newest).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { accessKeyAuditPrefix, lastUseKey, listKey, listUseKey, RedisAccessKeyAudit } from '../../adapters/redis/accesskey-audit.ts';
import { ACCESS_KEY_AUDIT_MAX_ENTRIES, ACCESS_KEY_AUDIT_REFRESH_MS, ACCESS_KEY_AUDIT_RETENTION_MS, AUDIT_LISTS } from '../../shared/accesskeys/accesskey-audit.ts';
import { WRITTEN_USES_TRUST_MS } from '../../shared/accesskeys/written-uses.ts';
import { analysisRow } from '../helpers/analysis-rows.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';

const backends = useRedisBackends();
const A = '1111111111111111';
const B = '2222222222222222';
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const NOW = Date.now();

describe.each(REDIS_BACKENDS)('RedisAccessKeyAudit (%s)', (backendName) => {
  let redis: RedisClient;
  let audit: RedisAccessKeyAudit;
  let n = 0;
  /** A fresh AccessKey id per test, so tests share the server without sharing state. */
  const freshKey = (): string => `LTAI5t${backendName}${String((n += 1)).padStart(8, '0')}`;

  beforeAll(() => {
    redis = backends.get(backendName).client();
    // the merge rule itself: every use written (no freshness window; that one is tested below)
    audit = new RedisAccessKeyAudit(redis, () => NOW, { refreshMs: 0 });
  });
  afterAll(() => redis?.disconnect());

  it('keeps the newest use: a replay writes nothing, an older row never overwrites, a newer one does', async () => {
    const key = freshKey();
    const newer = analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - 2 * MIN, eventName: 'StopInstance', sourceIpAddress: '192.0.2.2' });
    const older = analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - 9 * MIN, eventName: 'StopInstance', sourceIpAddress: '192.0.2.1', userName: 'bob' });
    expect(await audit.record(A, [newer])).toBeGreaterThan(0);
    expect(await audit.record(A, [newer])).toBe(0);
    // the late row adds its IP, and nothing else
    expect(await audit.record(A, [older])).toBe(1);
    const last = await audit.lastUse(A, key, NOW);
    expect(last).toMatchObject({ usedMs: NOW - 2 * MIN, eventId: newer.eventId, userName: 'alice', eventName: 'StopInstance' });
    const events = await audit.entries(A, key, 'events', NOW);
    expect(events).toEqual([expect.objectContaining({ parts: ['Ecs', 'StopInstance'], usedMs: NOW - 2 * MIN, eventId: newer.eventId })]);
    expect(JSON.parse(events[0]!.detail)).toMatchObject({ eventId: newer.eventId, sourceIpAddress: '192.0.2.2' });
    expect((await audit.entries(A, key, 'ips', NOW)).map((e) => [e.parts[1], e.usedMs])).toEqual([
      ['192.0.2.2', NOW - 2 * MIN],
      ['192.0.2.1', NOW - 9 * MIN],
    ]);
    const newest = analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - MIN, eventName: 'StartInstance', serviceName: 'Ecs' });
    await audit.consume(A, [newest]);
    expect((await audit.lastUse(A, key, NOW))?.eventName).toBe('StartInstance');
    expect((await audit.entries(A, key, 'products', NOW)).map((e) => [e.parts[0], e.usedMs])).toEqual([['Ecs', NOW - MIN]]);
  });

  it('equal times across batches: the greater eventId wins, whichever batch comes first', async () => {
    const [k1, k2] = [freshKey(), freshKey()];
    const row = (key: string, eventId: string) => analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - 3 * MIN, eventId, sourceIpAddress: eventId === 'ev-b' ? '192.0.2.9' : '192.0.2.8' });
    await audit.record(A, [row(k1, 'ev-a')]);
    await audit.record(A, [row(k1, 'ev-b')]);
    await audit.record(A, [row(k2, 'ev-b')]);
    await audit.record(A, [row(k2, 'ev-a')]);
    for (const key of [k1, k2]) {
      expect((await audit.lastUse(A, key, NOW))?.eventId).toBe('ev-b');
      expect((await audit.entries(A, key, 'events', NOW))[0]?.eventId).toBe('ev-b');
    }
  });

  it('keeps accounts and keys apart, under each account\'s hash tag', async () => {
    const key = freshKey();
    await audit.record(A, [analysisRow({ accountId: A, accessKeyId: key, serviceName: 'Ecs' })]);
    await audit.record(B, [analysisRow({ accountId: B, accessKeyId: key, serviceName: 'Ram', eventTimeMs: NOW - 10 * MIN })]);
    // a row of another account handed in with A's is not recorded under A
    await audit.record(A, [analysisRow({ accountId: B, accessKeyId: key, serviceName: 'Vpc', eventTimeMs: NOW })]);
    expect((await audit.entries(A, key, 'products', NOW)).map((e) => e.parts[0])).toEqual(['Ecs']);
    expect((await audit.entries(B, key, 'products', NOW)).map((e) => e.parts[0])).toEqual(['Ram']);
    expect(await audit.lastUse(A, freshKey(), NOW)).toBeUndefined();
    expect(accessKeyAuditPrefix(A, key).startsWith(`{tk:${A}}:`)).toBe(true);
    const uses = await audit.lastUses(A, [key, 'LTAInothing00000'], NOW);
    expect([...uses.keys()]).toEqual([key]);
  });

  it(`caps each list at ${ACCESS_KEY_AUDIT_MAX_ENTRIES} entries, the most recent, in one batch and across batches`, async () => {
    const key = freshKey();
    const extra = 40;
    // more than a Lua unpack chunk (500) removed at once: 2 × cap + extra distinct events in one batch
    const rows = Array.from({ length: 2 * ACCESS_KEY_AUDIT_MAX_ENTRIES + extra }, (_v, i) =>
      analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - DAY + i * 1000, eventName: `E${i}`, resources: [] }),
    );
    await audit.record(A, rows);
    const events = await audit.entries(A, key, 'events', NOW);
    expect(events).toHaveLength(ACCESS_KEY_AUDIT_MAX_ENTRIES);
    expect(events[0]?.parts[1]).toBe(`E${rows.length - 1}`);
    expect(events.at(-1)?.parts[1]).toBe(`E${rows.length - ACCESS_KEY_AUDIT_MAX_ENTRIES}`);
    expect(await redis.hlen(listUseKey(A, key, 'events'))).toBe(ACCESS_KEY_AUDIT_MAX_ENTRIES);
    // an old event arriving late does not push a recent one out; a new one pushes the oldest out
    await audit.record(A, [analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - 2 * DAY, eventName: 'Ancient', resources: [] })]);
    await audit.record(A, [analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - MIN, eventName: 'Fresh', resources: [] })]);
    const after = await audit.entries(A, key, 'events', NOW);
    expect(after).toHaveLength(ACCESS_KEY_AUDIT_MAX_ENTRIES);
    expect(after[0]?.parts[1]).toBe('Fresh');
    expect(after.map((e) => e.parts[1])).not.toContain('Ancient');
    expect(after.at(-1)?.parts[1]).toBe(`E${rows.length - ACCESS_KEY_AUDIT_MAX_ENTRIES + 1}`);
    expect(await redis.zcard(listKey(A, key, 'events'))).toBe(ACCESS_KEY_AUDIT_MAX_ENTRIES);
    expect(await redis.hlen(listUseKey(A, key, 'events'))).toBe(ACCESS_KEY_AUDIT_MAX_ENTRIES);
  });

  it('keeps 400 days: older rows are not recorded, a key\'s records expire 400 days after its newest use, old entries are trimmed', async () => {
    const key = freshKey();
    expect(await audit.record(A, [analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - ACCESS_KEY_AUDIT_RETENTION_MS - 1 })])).toBe(0);
    expect(await audit.lastUse(A, key, NOW)).toBeUndefined();

    const usedMs = NOW - 100 * DAY;
    await audit.record(A, [analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: usedMs, eventName: 'Old', sourceIpAddress: '192.0.2.50' })]);
    const keys = [lastUseKey(A, key), ...AUDIT_LISTS.flatMap((l) => [listKey(A, key, l), listUseKey(A, key, l)])];
    const direct = redis as Redis;
    for (const k of keys) expect(await direct.pexpiretime(k)).toBe(usedMs + ACCESS_KEY_AUDIT_RETENTION_MS);

    // 301 days later the old use is past 400 days: not read, and trimmed by the next merge
    const later = NOW + 301 * DAY;
    const lateAudit = new RedisAccessKeyAudit(redis, () => later);
    expect(await lateAudit.entries(A, key, 'events', later)).toEqual([]);
    await lateAudit.record(A, [analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: later - MIN, eventName: 'New', sourceIpAddress: '192.0.2.51' })]);
    expect((await lateAudit.entries(A, key, 'events', later)).map((e) => e.parts[1])).toEqual(['New']);
    expect(await redis.zrange(listKey(A, key, 'ips'), 0, -1)).toEqual([JSON.stringify(['Ecs', '192.0.2.51'])]);
    expect(await redis.hkeys(listUseKey(A, key, 'ips'))).toEqual([JSON.stringify(['Ecs', '192.0.2.51'])]);
    for (const k of keys) expect(await direct.pexpiretime(k)).toBe(later - MIN + ACCESS_KEY_AUDIT_RETENTION_MS);
  });

  it(`keeps each entry within ${ACCESS_KEY_AUDIT_REFRESH_MS / 1000} s of its newest use, writing a steady stream about once a minute`, async () => {
    const key = freshKey();
    let now = NOW;
    const fresh = new RedisAccessKeyAudit(redis, () => now);
    const row = (atMs: number, ip: string) => analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: atMs, eventName: 'StopInstance', sourceIpAddress: ip });
    const first = row(NOW - 10 * MIN, '192.0.2.1');
    expect(await fresh.record(A, [first])).toBeGreaterThan(0);
    // 30 s newer, same entries: covered by the write of a moment ago — nothing sent
    expect(await fresh.record(A, [row(NOW - 10 * MIN + 30_000, '192.0.2.1')])).toBe(0);
    expect((await fresh.lastUse(A, key, NOW))?.eventId).toBe(first.eventId);
    // a new entry (another IP) is written at once, and the key's newest use travels with it
    const otherIp = row(NOW - 10 * MIN + 40_000, '192.0.2.9');
    expect(await fresh.record(A, [otherIp])).toBeGreaterThan(0);
    expect((await fresh.lastUse(A, key, NOW))?.eventId).toBe(otherIp.eventId);
    expect((await fresh.entries(A, key, 'ips', NOW)).map((e) => e.parts[1])).toEqual(['192.0.2.9', '192.0.2.1']);
    // a minute or more newer: written
    const later = row(NOW - 10 * MIN + ACCESS_KEY_AUDIT_REFRESH_MS, '192.0.2.1');
    expect(await fresh.record(A, [later])).toBeGreaterThan(0);
    expect((await fresh.entries(A, key, 'ips', NOW)).find((e) => e.parts[1] === '192.0.2.1')?.eventId).toBe(later.eventId);
    // another instance (another classify process) knows nothing of these writes: it writes
    const elsewhere = row(NOW - 10 * MIN + ACCESS_KEY_AUDIT_REFRESH_MS + 5_000, '192.0.2.1');
    expect(await new RedisAccessKeyAudit(redis, () => now).record(A, [elsewhere])).toBeGreaterThan(0);
    // what an instance knows is trusted for WRITTEN_USES_TRUST_MS only (a key lost to a failover is written again)
    await redis.del(listKey(A, key, 'ips'), listUseKey(A, key, 'ips'));
    const soon = row(NOW - 10 * MIN + ACCESS_KEY_AUDIT_REFRESH_MS + 10_000, '192.0.2.1');
    expect(await fresh.record(A, [soon])).toBe(0);
    now = NOW + WRITTEN_USES_TRUST_MS;
    expect(await fresh.record(A, [soon])).toBeGreaterThan(0);
    expect((await fresh.entries(A, key, 'ips', now)).map((e) => e.eventId)).toEqual([soon.eventId]);
  });

  it('a random stream split into objects: every stored use is one of the stream, at most the window older than the newest', async () => {
    const key = freshKey();
    const fresh = new RedisAccessKeyAudit(redis, () => NOW);
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const rows = Array.from({ length: 3000 }, (_v, i) =>
      analysisRow({ accountId: A, accessKeyId: key, eventTimeMs: NOW - 60 * MIN + i * 1000 + rand(4000), eventName: `Op${rand(7)}`, sourceIpAddress: `198.51.100.${rand(20)}` }),
    );
    for (let i = 0; i < rows.length; i += 100) await fresh.record(A, rows.slice(i, i + 100));
    const byId = new Map(rows.map((r) => [r.eventId, r]));
    for (const [list, memberOf] of [
      ['events', (r: (typeof rows)[number]) => r.eventName],
      ['ips', (r: (typeof rows)[number]) => r.sourceIpAddress],
    ] as const) {
      const entries = await fresh.entries(A, key, list, NOW);
      const newest = new Map<string, number>();
      for (const r of rows) newest.set(memberOf(r), Math.max(newest.get(memberOf(r)) ?? 0, r.eventTimeMs));
      expect(entries.length).toBe(newest.size);
      for (const e of entries) {
        const use = byId.get(e.eventId);
        expect(use?.eventTimeMs).toBe(e.usedMs);
        const best = newest.get(e.parts[1] as string) as number;
        expect(best - e.usedMs).toBeGreaterThanOrEqual(0);
        expect(best - e.usedMs).toBeLessThan(ACCESS_KEY_AUDIT_REFRESH_MS);
      }
    }
  });
});
