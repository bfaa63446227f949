/**
 * The Redis stores the functions are wired with (adapters/wiring.ts) beyond history and the
 * logstore — summary queue and summaries, trail outboxes, accounts, trails and the small
 * stores — and the emulator's async queue, on one redis-server and on a three-master Redis
 * Cluster (redis-backends.ts). On the cluster, several accounts land on different masters, so
 * a command, MULTI, pipeline or script that mixed their slots would fail here; the last tests
 * show that the cluster does refuse such commands (CROSSSLOT), so passing means something.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { createRedisClient, isCluster, mastersOf, redisFor, scanKeys, type RedisClient } from '../../adapters/redis.ts';
import { parseRedisUrl } from '../../adapters/redis-url.ts';
import { readEnv } from '../../adapters/env.ts';
import { RedisAccountStore, redisNonceStore } from '../../adapters/redis/account-store.ts';
import { archiveDeliveryState } from '../../adapters/redis/archive-delivery.ts';
import { RedisDeliveryStatus } from '../../adapters/redis/delivery-status.ts';
import { RedisDeliveryMetrics } from '../../adapters/redis/delivery-metrics.ts';
import { DELIVERY_METRICS_RETENTION_DAYS } from '../../shared/delivery/delivery-metrics.ts';
import { RedisIngestClaims } from '../../adapters/redis/ingest-claims.ts';
import { RedisObjectMarkers } from '../../adapters/redis/object-markers.ts';
import { RedisOutbox, outboxDataKey, outboxIndexKey, outboxKey } from '../../adapters/redis/outbox.ts';
import { BACKFILL_MAX_RECORDS } from '../../shared/pipeline/staging.ts';
import { SUMMARY_ACCOUNTS_KEY, RedisSummaryQueue, summaryQueueKey } from '../../adapters/redis/summary-queue.ts';
import { RedisSummaryStore } from '../../adapters/redis/summary-store.ts';
import { lookupTokenKey } from '../../adapters/redis/token-key.ts';
import { trailLock } from '../../adapters/redis/trail-lock.ts';
import { RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { chainHead, chainHeads, saveChainHead } from '../../adapters/archive/digest-chain-store.ts';
import { ensureSigningKey, publicKey } from '../../adapters/archive/signing-key-store.ts';
import { AsyncQueue, type AsyncTarget } from '../../emulator/async-queue.ts';
import { createLogger } from '../../emulator/logger.ts';
import type { InvocationResult } from '../../emulator/runtime/function-runtime.ts';
import { digestKey, digestScopePrefix } from '../../shared/archive/layout.ts';
import { drainSummaryQueues } from '../../shared/summaries/drain.ts';
import { SUMMARY_WINDOW_MS, windowStartOf, type SummaryDimensions, type SummaryRow } from '../../shared/summaries/summary-row.ts';
import { trailSchema, type Trail } from '../../shared/trails/model.ts';
import { REDIS_BACKENDS, useRedisBackends, type RedisBackend } from '../helpers/redis-backends.ts';
import { waitUntil } from '../helpers/stack.ts';
import { testSecretBox, testSecretsEnv } from '../helpers/secrets.ts';

const HOUR = 3_600_000;
const secrets = testSecretBox();
/**
 * Nine accounts whose hash tags `{tk:<account>}` fall on the three masters in turn (slots
 * 0–5460, 5461–10922, 10923–16383; checked below), so any three consecutive ones span the cluster.
 */
const ACCOUNTS = ['1100000000007919', '1100000000071271', '1100000000000000', '1100000000015838', '1100000000087109', '1100000000023757', '1100000000055433', '1100000000095028', '1100000000031676'];

function dims(accountId: string, eventName: string): SummaryDimensions {
  return { userName: 'alice', identityType: 'ram-user', accountId, accessKeyId: '', serviceName: 'Ecs', eventName, apiVersion: '', eventRW: 'Write', resourceType: '', resourceName: '', acsRegion: 'cn-hangzhou', sourceIpAddress: '' };
}

function row(accountId: string, eventId: string, eventTimeMs: number, eventName = 'StopInstance'): SummaryRow {
  return { eventId, accountId, windowStartMs: windowStartOf(eventTimeMs), eventTimeMs, dimensions: dims(accountId, eventName) };
}

function trail(accountId: string, name: string, extra: Partial<Trail> = {}): Trail {
  const now = Date.now();
  return trailSchema.parse({
    name,
    accountId,
    homeRegion: 'cn-hangzhou',
    ossBucketName: 'archive',
    slsProjectArn: `acs:log:cn-hangzhou:${accountId}:project/trailkeeper`,
    status: 'Enable',
    createdAtMs: now,
    updatedAtMs: now,
    startLoggingTimeMs: now,
    ...extra,
  });
}

/**
 * The port of the master serving a key (undefined off a cluster), from the server's own slot map
 * (`CLUSTER SLOTS`), not the client's cache, which may not be filled yet right after connecting.
 */
async function nodeOf(redis: RedisClient, key: string): Promise<number | undefined> {
  if (!isCluster(redis)) return undefined;
  const slot = Number(await redis.cluster('KEYSLOT', key));
  const range = (await redis.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
  const master = range?.[2];
  return master === undefined ? undefined : Number(master[1]);
}

const backends = useRedisBackends();

describe.each(REDIS_BACKENDS)('Redis stores (%s)', (backendName) => {
  let backend: RedisBackend;
  let redis: RedisClient;

  beforeAll(() => {
    backend = backends.get(backendName);
    // as the functions connect (adapters/redis.ts redisFor)
    redis = backend.client({ maxRetriesPerRequest: 3, enableAutoPipelining: true });
  });

  afterAll(() => {
    redis?.disconnect();
  });

  it('summary queue and summaries: rows of accounts on every node folded once, read across accounts', async () => {
    if (isCluster(redis)) {
      const nodes = await Promise.all(ACCOUNTS.map((a) => nodeOf(redis, summaryQueueKey(a))));
      expect(new Set(nodes.slice(0, 3)).size).toBe(3);
      expect(nodes.slice(3)).toEqual([...nodes.slice(0, 3), ...nodes.slice(0, 3)]);
    }
    const queue = new RedisSummaryQueue(redis);
    const store = new RedisSummaryStore(redis);
    const base = windowStartOf(Date.now() - 10 * HOUR);
    const windows = [base, base + SUMMARY_WINDOW_MS];
    const expected = new Map<number, number>();
    for (const [i, accountId] of ACCOUNTS.entries()) {
      const rows = Array.from({ length: 5 + i }, (_, k) => row(accountId, `${accountId}-${k}`, windows[k % 2]! + 60_000 * (k + 1), k % 3 ? 'StopInstance' : 'StartInstance'));
      await queue.enqueue(accountId, rows);
      await queue.enqueue(accountId, rows.slice(0, 2)); // queued twice, stored once
      expect(await queue.size(accountId)).toBe(rows.length);
      for (const r of rows) expected.set(r.windowStartMs, (expected.get(r.windowStartMs) ?? 0) + 1);
    }
    expect(await store.queuedAccounts()).toEqual([...ACCOUNTS].sort());

    const report = await drainSummaryQueues(store, Date.now, { batchSize: 4 });
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    expect(report).toMatchObject({ accounts: ACCOUNTS.length, read: total, folded: total, duplicates: 0, complete: true });
    expect(await store.queuedAccounts()).toEqual([]);
    expect(await store.windowStarts(ACCOUNTS, 0, Date.now())).toEqual(windows);
    for (const ws of windows) {
      const entries = await store.readWindow(ACCOUNTS, ws);
      expect(entries.reduce((n, e) => n + e.count, 0)).toBe(expected.get(ws));
      expect(new Set(entries.map((e) => e.dimensions.accountId))).toEqual(new Set(ACCOUNTS));
    }
    const [first, second] = ACCOUNTS as [string, string];
    expect(await store.windowStarts([first], base, base)).toEqual([base]);
    expect((await store.readWindow([first, second], base)).every((e) => e.dimensions.accountId === first || e.dimensions.accountId === second)).toBe(true);
  });

  it('trail outboxes: append once, listed per destination, peek in order, ack', async () => {
    const outbox = new RedisOutbox(redis);
    const trails = ACCOUNTS.slice(0, 4).map((a, i) => trail(a, `trail-${i}`));
    for (const t of trails) {
      const entries = Array.from({ length: 6 }, (_, k) => ({ eventId: `${t.name}-e${k}`, eventTimeMs: Date.now(), json: `{"n":${k}}` }));
      expect(await outbox.append(t, entries)).toBe(12); // oss and logstore
      expect(await outbox.append(t, entries.slice(0, 3))).toBe(0);
    }
    const listed = await outbox.trails('logstore');
    for (const t of trails) expect(listed).toContainEqual({ accountId: t.accountId, trailName: t.name });
    const t = trails[2] as Trail;
    expect((await outbox.peek(t.accountId, t.name, 'oss', 4)).map((e) => e.json)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}']);
    const withArrival = await outbox.peekWithArrival(t.accountId, t.name, 'logstore', 10);
    expect(withArrival).toHaveLength(6);
    await outbox.ack(t.accountId, t.name, 'oss', withArrival.slice(0, 5).map((e) => e.eventId));
    expect(await outbox.size(t.accountId, t.name, 'oss')).toBe(1);
    expect(await outbox.size(t.accountId, t.name, 'logstore')).toBe(6);
    expect(await redis.scard(outboxIndexKey('oss'))).toBeGreaterThanOrEqual(4);
  });

  it('trail outboxes: a whole backfill file of entries (BACKFILL_MAX_RECORDS) is appended in one call (was RangeError: its arguments were spread onto the stack)', async () => {
    const outbox = new RedisOutbox(redis);
    const t = trail(ACCOUNTS[6] as string, 'backfill-sized');
    const entries = Array.from({ length: BACKFILL_MAX_RECORDS }, (_, k) => ({ eventId: `bf-e${k}`, eventTimeMs: Date.now(), json: `{"k":${k}}` }));
    expect(await outbox.append(t, entries)).toBe(2 * BACKFILL_MAX_RECORDS);
    expect(await outbox.size(t.accountId, t.name, 'oss')).toBe(BACKFILL_MAX_RECORDS);
  });

  it('trail outboxes: one copy of each JSON for both destinations, dropped once both delivered; entries of earlier releases still read and cleared', async () => {
    const outbox = new RedisOutbox(redis);
    const t = trail(ACCOUNTS[5] as string, 'shared-data');
    const entries = Array.from({ length: 4 }, (_, k) => ({ eventId: `sd-e${k}`, eventTimeMs: Date.now(), json: `{"k":${k}}` }));
    expect(await outbox.append(t, entries)).toBe(8);
    const data = outboxDataKey(t.accountId, t.name);
    expect(await redis.hlen(data)).toBe(4);
    for (const d of ['oss', 'logstore'] as const) expect(await redis.exists(`${outboxKey(t.accountId, t.name, d)}:data`)).toBe(0);
    // the archive delivers two: their JSON stays for the logstore, which still reads every entry
    await outbox.ack(t.accountId, t.name, 'oss', ['sd-e0', 'sd-e1']);
    expect(await redis.hlen(data)).toBe(4);
    expect((await outbox.peek(t.accountId, t.name, 'logstore', 10)).map((e) => e.json)).toEqual(['{"k":0}', '{"k":1}', '{"k":2}', '{"k":3}']);
    await outbox.ack(t.accountId, t.name, 'logstore', ['sd-e0', 'sd-e1', 'sd-e2']);
    expect((await redis.hkeys(data)).sort()).toEqual(['sd-e2', 'sd-e3']);
    await outbox.ack(t.accountId, t.name, 'oss', ['sd-e2', 'sd-e3']);
    await outbox.ack(t.accountId, t.name, 'logstore', ['sd-e3']);
    expect(await redis.exists(data)).toBe(0);

    // an entry as releases before the shared copy wrote it (its JSON under the destination's own data hash)
    const legacy = `${outboxKey(t.accountId, t.name, 'oss')}:data`;
    await redis.zadd(outboxKey(t.accountId, t.name, 'oss'), Date.now(), 'sd-old');
    await redis.hset(legacy, 'sd-old', '{"old":true}');
    expect(await outbox.peekWithArrival(t.accountId, t.name, 'oss', 10)).toMatchObject([{ eventId: 'sd-old', json: '{"old":true}' }]);
    await outbox.ack(t.accountId, t.name, 'oss', ['sd-old']);
    expect(await redis.exists(legacy)).toBe(0);
    expect(await outbox.size(t.accountId, t.name, 'oss')).toBe(0);
  });

  it("archive delivery's finishFile: file log, acknowledgement, pending file and success count in one step, leaving the other entries", async () => {
    const outbox = new RedisOutbox(redis);
    const state = archiveDeliveryState(redis);
    const metrics = new RedisDeliveryMetrics(redis);
    for (const accountId of ACCOUNTS.slice(3, 6)) {
      const t = trail(accountId, 'finish-trail');
      const entries = Array.from({ length: 1200 }, (_, k) => ({ eventId: `e-${k}`, eventTimeMs: Date.now(), json: `{"n":${k}}` }));
      await outbox.append(t, entries);
      const scope = { region: 'cn-shanghai', organization: { orgId: 'rd-x', accountId: '1200000000000001' } };
      const entry = { key: `AliyunLogs/Actiontrail/cn-shanghai/${accountId}.gz`, sha256: 'a'.repeat(64), size: 10, eventCount: 1100, firstEventTime: '2026-01-01T00:00:00Z', lastEventTime: '2026-01-01T00:05:00Z' };
      const file = { key: entry.key, hourStartMs: 7 * HOUR, scope, entry, eventIds: entries.slice(0, 1100).map((e) => e.eventId) };
      await state.pending.set(accountId, t.name, file);
      // a count of today (a day's counts expire DELIVERY_METRICS_RETENTION_DAYS after it)
      const atMs = Date.now();
      await state.finishFile(accountId, t.name, file, atMs);
      expect(await state.pending.get(accountId, t.name)).toBeUndefined();
      expect(await outbox.size(accountId, t.name, 'oss')).toBe(100);
      expect((await outbox.peek(accountId, t.name, 'oss', 1000)).map((e) => e.eventId)).toEqual(entries.slice(1100).map((e) => e.eventId));
      expect(await outbox.size(accountId, t.name, 'logstore')).toBe(1200);
      // the logstore still reads every entry's JSON (the trail's one copy stays while it holds them)
      expect((await outbox.peek(accountId, t.name, 'logstore', 1200)).map((e) => e.json).sort()).toEqual(entries.map((e) => e.json).sort());
      await outbox.ack(accountId, t.name, 'logstore', file.eventIds);
      expect(await redis.hlen(outboxDataKey(accountId, t.name))).toBe(100);
      expect(await state.fileLog.scopes(accountId, t.name)).toEqual([scope]);
      expect(await state.fileLog.files(accountId, t.name, scope, 7 * HOUR)).toEqual([entry]);
      expect(await state.fileLog.firstHour(accountId, t.name, scope)).toBe(7 * HOUR);
      const minute = atMs - (atMs % 60_000);
      expect(await metrics.perMinute(accountId, t.name, 'delivery_oss_success_count', minute, minute + 60_000)).toEqual(new Map([[minute, 1100]]));
      // what the step-by-step metrics.add would have set: the same field and expiry
      const day = `{tk:${accountId}}:dmetric:${t.name}:${Math.floor(atMs / 86_400_000)}`;
      expect(await redis.pexpiretime(day)).toBe((Math.floor(atMs / 86_400_000) + 1 + DELIVERY_METRICS_RETENTION_DAYS) * 86_400_000);

      // a file found pending by a retry (read back, not the object written), and one whose pending
      // key holds something else or nothing: each finished all the same, with exactly its eventIds
      const second = { ...file, key: `${entry.key}.2`, entry: { ...entry, key: `${entry.key}.2` }, eventIds: ['e-1100', 'e-1101'] };
      await state.pending.set(accountId, t.name, second);
      await state.finishFile(accountId, t.name, (await state.pending.get(accountId, t.name)) as typeof second, atMs);
      const third = { ...file, key: `${entry.key}.3`, entry: { ...entry, key: `${entry.key}.3` }, eventIds: ['e-1102', 'e-1103'] };
      await state.pending.set(accountId, t.name, { ...third, eventIds: ['e-1104'] });
      await state.finishFile(accountId, t.name, third, atMs);
      expect(await state.pending.get(accountId, t.name)).toBeUndefined();
      const fourth = { ...file, key: `${entry.key}.4`, entry: { ...entry, key: `${entry.key}.4` }, eventIds: ['e-1105'] };
      await state.finishFile(accountId, t.name, fourth, atMs);
      expect((await outbox.peek(accountId, t.name, 'oss', 1000)).map((e) => e.eventId)).toEqual(entries.slice(1104, 1105).concat(entries.slice(1106)).map((e) => e.eventId));
      expect((await state.fileLog.files(accountId, t.name, scope, 7 * HOUR)).map((f) => f.key).sort()).toEqual([entry.key, second.key, third.key, fourth.key].sort());
      expect(await metrics.perMinute(accountId, t.name, 'delivery_oss_success_count', minute, minute + 60_000)).toEqual(new Map([[minute, 1105]]));
    }
  });

  it('accounts: every AccessKey listed (a scan of every master), organizations, nonces', async () => {
    const accounts = new RedisAccountStore(redis, secrets);
    const created = [];
    for (const accountId of ACCOUNTS.slice(0, 5)) created.push(await accounts.createKey(accountId));
    // a cluster's own SCAN reads one random master: list a few times so a lucky pick cannot pass
    for (let i = 0; i < 4; i++) {
      const listed = await accounts.listKeys();
      for (const key of created) expect(listed.map((k) => k.accessKeyId)).toContain(key.accessKeyId);
    }
    // scanKeys reads every master: one key per account tag, on all three nodes
    await Promise.all(ACCOUNTS.map((a) => redis.set(`{tk:${a}}:scan-probe`, '1')));
    expect((await scanKeys(redis, '*:scan-probe')).sort()).toEqual(ACCOUNTS.map((a) => `{tk:${a}}:scan-probe`).sort());
    expect((await accounts.listKeys(ACCOUNTS[1])).map((k) => k.accessKeyId)).toEqual([created[1]?.accessKeyId]);
    expect(await accounts.setKeyStatus(created[0]!.accessKeyId, 'Inactive')).toBe(true);
    expect(await accounts.deleteKey(created[4]!.accessKeyId)).toBe(true);
    expect((await accounts.listKeys()).map((k) => k.accessKeyId)).not.toContain(created[4]!.accessKeyId);
    await accounts.addMember(ACCOUNTS[0]!, ACCOUNTS[1]!);
    expect(await accounts.managementAccountOf(ACCOUNTS[1]!)).toBe(ACCOUNTS[0]);
    expect(await accounts.membersOf(ACCOUNTS[0]!)).toEqual([ACCOUNTS[1]]);
    expect(await accounts.removeMember(ACCOUNTS[1]!)).toBe(true);
    const nonces = redisNonceStore(redis);
    expect(await nonces.claim('LTAIx', 'n-1', 60)).toBe(true);
    expect(await nonces.claim('LTAIx', 'n-1', 60)).toBe(false);
  });

  it('trails, ingest claims, object markers, locks, delivery status, archive state, digest heads, signing and token keys', async () => {
    const [a, b] = ACCOUNTS as [string, string];
    const trails = new RedisTrailStore(redis);
    expect(await trails.create(trail(a, 'trail-one'))).toBe(true);
    expect(await trails.create(trail(a, 'trail-one'))).toBe(false);
    expect(await trails.update(trail(a, 'trail-one', { eventRW: 'Read' }))).toBe(true);
    expect((await trails.list(a)).map((t) => t.eventRW)).toEqual(['Read']);
    expect(await trails.delete(a, 'trail-one')).toBe(true);

    const claims = new RedisIngestClaims(redis);
    expect(await claims.claim(b, ['x', 'y'])).toEqual([true, true]);
    expect(await claims.claim(b, ['y', 'z'])).toEqual([false, true]);
    expect(await claims.known(b, ['x', 'q'])).toEqual([true, false]);

    const markers = new RedisObjectMarkers(redis);
    expect(await markers.begin('bucket/inbox/1@etag')).toBe('new');
    expect(await markers.begin('bucket/inbox/1@etag')).toBe('retry');
    await markers.finish('bucket/inbox/1@etag');
    expect(await markers.begin('bucket/inbox/1@etag')).toBe('done');

    const lock = trailLock(redis, 'oss');
    let inner: boolean | undefined;
    expect(await lock(a, 'trail-one', async () => { inner = await lock(a, 'trail-one', async () => undefined); })).toBe(true);
    expect(inner).toBe(false);

    const status = new RedisDeliveryStatus(redis);
    await status.record(a, 'trail-one', 'oss', { ok: false, error: 'bucket down' });
    await status.record(a, 'trail-one', 'oss', { ok: true, atMs: 1234 });
    expect(await status.get(a, 'trail-one')).toEqual({ latestDeliveryTimeMs: 1234 });

    const state = archiveDeliveryState(redis);
    const scope = { region: 'cn-hangzhou' };
    const entry = { key: 'AliyunLogs/Actiontrail/cn-hangzhou/f.gz', sha256: 'a'.repeat(64), size: 10, eventCount: 1, firstEventTime: '2026-01-01T00:00:00Z', lastEventTime: '2026-01-01T00:00:00Z' };
    await state.fileLog.add(a, 'trail-one', scope, 7 * HOUR, entry);
    expect(await state.fileLog.scopes(a, 'trail-one')).toEqual([scope]);
    expect(await state.fileLog.files(a, 'trail-one', scope, 7 * HOUR)).toEqual([entry]);
    expect(await state.fileLog.firstHour(a, 'trail-one', scope)).toBe(7 * HOUR);
    await state.fileLog.drop(a, 'trail-one', scope, 7 * HOUR);
    expect(await state.fileLog.firstHour(a, 'trail-one', scope)).toBeUndefined();
    await state.pending.set(a, 'trail-one', { key: entry.key, hourStartMs: 0, scope, entry, eventIds: ['e'] });
    expect((await state.pending.get(a, 'trail-one'))?.eventIds).toEqual(['e']);
    await state.pending.clear(a, 'trail-one');

    const link = { key: digestKey({ ...scope, trailName: 'trail-one', hourStart: new Date(Date.UTC(2026, 0, 1)) }), sha256: 'b'.repeat(64), signature: 'c2ln' };
    expect(await saveChainHead(redis, a, 'trail-one', link)).toBe(true);
    expect(await chainHeads(redis, a, 'trail-one')).toEqual([link]);
    expect(await chainHead(redis, a, 'trail-one', digestScopePrefix(scope))).toEqual(link);

    const pair = await ensureSigningKey(redis, secrets);
    expect(await publicKey(redis)).toBe(pair.publicKeyPem);
    expect((await lookupTokenKey(redis, secrets)).equals(await lookupTokenKey(redis, secrets))).toBe(true);
  });

  it('async queue (the emulator): runs, retries through the delayed set, sends failures to their destination', async () => {
    const calls: string[] = [];
    const attempts = new Map<string, number>();
    const fail = (requestId: string): InvocationResult => ({
      ok: false,
      requestId,
      error: { errorMessage: 'boom', errorType: 'Error', stackTrace: [] },
      errorType: 'UnhandledInvocationError',
      durationMs: 1,
    });
    const target: AsyncTarget = {
      functionNames: () => ['steady', 'flaky', 'broken', 'dead-letter'],
      capacityOf: () => 2,
      invoke: async (name, event, requestId) => {
        calls.push(`${name}:${requestId}`);
        const n = (attempts.get(requestId) ?? 0) + 1;
        attempts.set(requestId, n);
        if (name === 'broken' || (name === 'flaky' && n < 3)) return fail(requestId);
        return { ok: true, requestId, payload: event, durationMs: 1 };
      },
      configOf: (name) =>
        name === 'broken' ? { maxAsyncRetryAttempts: 1, maxAsyncEventAgeInSeconds: 60, destinationConfig: { onFailure: { destination: 'acs:fc:cn-hangzhou:1:functions/dead-letter' } } } : undefined,
      arnOf: (name) => `acs:fc:cn-hangzhou:1:functions/${name}`,
      destinationFunction: (arn) => (arn.endsWith('/dead-letter') ? 'dead-letter' : undefined),
    };
    const queue = new AsyncQueue(redis, target, { namespace: `t${process.pid}`, retryBaseMs: 10, logger: createLogger(null) });
    await queue.start();
    try {
      const ids = [await queue.enqueue('steady', Buffer.from('a')), await queue.enqueue('flaky', Buffer.from('b')), await queue.enqueue('broken', Buffer.from('c'), 'req-broken')];
      const states = () => Promise.all([...ids, 'req-broken-onfailure'].map((id) => queue.status(id)));
      const final = await waitUntil(async () => {
        const all = await states();
        return all.every((s) => s?.state === 'Succeeded' || s?.state === 'Failed') ? all : undefined;
      }, 10_000, 'async invocations to finish');
      expect(final.map((s) => [s?.functionName, s?.state, s?.attempts])).toEqual([
        ['steady', 'Succeeded', 1],
        ['flaky', 'Succeeded', 3],
        ['broken', 'Failed', 2],
        ['dead-letter', 'Succeeded', 1],
      ]);
    } finally {
      await queue.stop();
    }
    expect(calls.filter((c) => c.startsWith('dead-letter:'))).toEqual(['dead-letter:req-broken-onfailure']);
  });

  it('async queue (the emulator): a Redis error in its bookkeeping puts the invocation back in its lane instead of ending the process', async () => {
    const calls: string[] = [];
    const target: AsyncTarget = {
      functionNames: () => ['steady'],
      capacityOf: () => 1,
      invoke: async (_name, event, requestId) => {
        calls.push(requestId);
        return { ok: true, requestId, payload: event, durationMs: 1 };
      },
      configOf: () => undefined,
      arnOf: (name) => `acs:fc:cn-hangzhou:1:functions/${name}`,
      destinationFunction: () => undefined,
    };
    // the first 'Running' write answers as Redis does while a script runs past its time limit
    let refusals = 0;
    const busy = new Proxy(redis, {
      get(client, property, receiver) {
        if (property !== 'hset') return Reflect.get(client, property, receiver) as unknown;
        return (key: string, fields: Record<string, string>) => {
          if (fields['state'] === 'Running' && refusals++ === 0) return Promise.reject(new Error('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.'));
          return client.hset(key, fields);
        };
      },
    });
    const queue = new AsyncQueue(busy, target, { namespace: `b${process.pid}`, retryBaseMs: 10, logger: createLogger(null) });
    await queue.start();
    try {
      const id = await queue.enqueue('steady', Buffer.from('a'));
      const final = await waitUntil(async () => {
        const status = await queue.status(id);
        return status?.state === 'Succeeded' ? status : undefined;
      }, 10_000, 'the invocation to run after the refusal');
      expect([refusals, final.attempts, calls]).toEqual([2, 1, [id]]);
      expect(await redis.llen(`{fcemu:b${process.pid}}:async:processing:steady`)).toBe(0);
    } finally {
      await queue.stop();
    }
  });

  if (backendName === 'cluster') {
    it('is three masters, a third of the slots each; TK_REDIS_URL with redis-cluster:// gives a cluster client', async () => {
      const masters = await mastersOf(redis);
      expect(masters.map((m) => m.options.port).sort()).toEqual(backend.nodeUrls.map((u) => Number(u.split(':').at(-1))).sort());
      for (const master of masters) {
        const info = await master.cluster('INFO');
        expect(info).toMatch(/cluster_state:ok/);
        expect(info).toMatch(/cluster_known_nodes:3\b/);
        expect(info).toMatch(/cluster_size:3\b/);
      }
      expect(parseRedisUrl(backend.url)).toMatchObject({ kind: 'cluster', nodes: backend.nodeUrls.map((u) => ({ host: '127.0.0.1', port: Number(u.split(':').at(-1)) })) });
      const env = readEnv({ TK_REDIS_URL: backend.url, TK_S3_ENDPOINT: 'http://127.0.0.1:1', TK_S3_ACCESS_KEY_ID: 'k', TK_S3_SECRET_ACCESS_KEY: 's', TK_STAGING_BUCKET: 'bucket', ...testSecretsEnv() });
      const client = redisFor(env.TK_REDIS_URL);
      expect(isCluster(client)).toBe(true);
      expect(await client.set('{probe}:x', '1')).toBe('OK');
      client.disconnect();
      // several nodes in a plain redis:// URL are a cluster too; one node is one server
      const [several, one] = [createRedisClient(backend.url.replace('redis-cluster://', 'redis://'), { lazyConnect: true }), createRedisClient(backend.nodeUrls[0] as string, { lazyConnect: true })];
      expect([isCluster(several), isCluster(one)]).toEqual([true, false]);
      several.disconnect();
      one.disconnect();
    });

    it('refuses cross-slot work: multi-key commands, MULTI, pipelines over nodes, scripts reaching another node', async () => {
      // without auto-pipelining, so that the server answers (the product's client refuses first)
      const cluster = backend.client() as Cluster;
      onTestFinished(() => cluster.disconnect());
      // two hash tags on different masters: the slots the old summary-queue pipeline mixed
      const account = (await Promise.all(ACCOUNTS.map(async (a) => ((await nodeOf(redis, summaryQueueKey(a))) !== (await nodeOf(redis, SUMMARY_ACCOUNTS_KEY)) ? a : undefined)))).find(Boolean) as string;
      const here = summaryQueueKey(account);
      expect(await nodeOf(redis, here)).not.toBe(await nodeOf(redis, SUMMARY_ACCOUNTS_KEY));

      await expect(redis.del(here, SUMMARY_ACCOUNTS_KEY)).rejects.toThrow(/same slot/);
      await expect(cluster.del(here, SUMMARY_ACCOUNTS_KEY)).rejects.toThrow(/CROSSSLOT/);
      await expect(cluster.mget(`{tk:${account}}:a`, '{tk}:b')).rejects.toThrow(/CROSSSLOT/);
      await expect(cluster.eval("return redis.call('SMEMBERS', ARGV[1])", 1, here, SUMMARY_ACCOUNTS_KEY)).rejects.toThrow(/non local key/);
      // what summary-queue.ts enqueue did before: one pipeline over the account's slot and {tk}
      await expect(cluster.pipeline().hsetnx(here, 'e', '{}').sadd(SUMMARY_ACCOUNTS_KEY, account).exec()).rejects.toThrow(/same slots allocation group/);
      await expect(cluster.multi().hsetnx(here, 'e', '{}').sadd(SUMMARY_ACCOUNTS_KEY, account).exec()).rejects.toThrow(/same slots allocation group/);
      // MULTI over two slots of one node: the server refuses it
      const node = (await nodeOf(redis, here)) as number;
      const sameNode = (await Promise.all(Array.from({ length: 64 }, async (_, i) => ((await nodeOf(redis, `{other${i}}`)) === node ? `{other${i}}:k` : undefined)))).find(Boolean) as string;
      await expect(cluster.multi().set(`{tk:${account}}:k`, '1').set(sameNode, '1').exec()).rejects.toThrow(/CROSSSLOT/);
      // and what one slot may do, it does
      expect(await cluster.multi().hset(here, 'e', '{}').hlen(here).exec()).toEqual([[null, 1], [null, 1]]);
      await cluster.del(here);
      // a plain connection to the wrong master is redirected, not served
      const masters = await mastersOf(redis);
      const wrong = masters.find((m) => m.options.port !== node) as Redis;
      await expect(wrong.hlen(here)).rejects.toThrow(/MOVED/);
    });
  }
});
