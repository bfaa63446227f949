/**
 * Advanced query templates and history on Redis (adapters/redis/saved-queries.ts) through their
 * actions (shared/query/saved-queries.ts): the per-account bounds (MAX_TEMPLATES refused beyond,
 * MAX_HISTORY_ENTRIES kept newest first) and that one account's ids never reach another's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSavedQueryStore } from '../../adapters/redis/saved-queries.ts';
import type { RedisClient } from '../../adapters/redis.ts';
import { MAX_HISTORY_ENTRIES, MAX_TEMPLATES, SAVED_QUERY_ACTIONS, type SavedQueryPorts } from '../../shared/query/saved-queries.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';

const backends = useRedisBackends();

describe.each(REDIS_BACKENDS)('advanced query templates and history on Redis (%s)', (backendName) => {
  let redis: RedisClient;
  let ports: SavedQueryPorts;
  let clock = 1_000;
  const call = (action: string, params: Record<string, string>, accountId: string) => {
    const run = SAVED_QUERY_ACTIONS[action];
    if (!run) throw new Error(`no action ${action}`);
    return run(params, { accountId }, ports);
  };

  beforeAll(() => {
    redis = backends.get(backendName).client();
    ports = { store: new RedisSavedQueryStore(redis), now: () => (clock += 1) };
  });
  afterAll(() => redis?.disconnect());

  it(`holds at most ${MAX_TEMPLATES} templates per account, and another account is not counted`, async () => {
    const A = `71${backendName.length}0000000000001`;
    const B = `71${backendName.length}0000000000002`;
    const ids: string[] = [];
    for (let i = 0; i < MAX_TEMPLATES; i += 1) ids.push((await call('CreateAdvancedQueryTemplate', { TemplateName: `t${i}`, TemplateSql: `event.eventName: E${i}` }, A)).TemplateId as string);
    await expect(call('CreateAdvancedQueryTemplate', { TemplateSql: '*' }, A)).rejects.toMatchObject({ code: 'TemplateLimitExceeded' });
    // an update of one held is not a new one
    await expect(call('UpdateAdvancedQueryTemplate', { TemplateId: ids[0] as string, TemplateName: 'renamed' }, A)).resolves.toEqual({ TemplateId: ids[0] });
    await expect(call('CreateAdvancedQueryTemplate', { TemplateSql: '*' }, B)).resolves.toMatchObject({ TemplateId: expect.stringMatching(/^utpl-/) });
    const listed = (await call('DescribeAdvancedQueryTemplate', {}, A)).QueryTemplates as { TemplateId: string; TemplateType: string }[];
    expect(listed.filter((t) => t.TemplateType === 'Custom')).toHaveLength(MAX_TEMPLATES);
    await expect(call('GetAdvancedQueryTemplate', { TemplateId: ids[1] as string }, B)).rejects.toMatchObject({ code: 'TemplateNotFound' });
    await call('DeleteAdvancedQueryTemplate', { TemplateId: ids[1] as string }, A);
    await expect(call('CreateAdvancedQueryTemplate', { TemplateSql: '*' }, A)).resolves.toMatchObject({ TemplateId: expect.any(String) });
  });

  it(`keeps the newest ${MAX_HISTORY_ENTRIES} history entries per account`, async () => {
    const A = `72${backendName.length}0000000000001`;
    const B = `72${backendName.length}0000000000002`;
    const ids: string[] = [];
    for (let i = 0; i < MAX_HISTORY_ENTRIES + 5; i += 1) ids.push((await call('CreateAdvancedQueryHistory', { QuerySql: `event.eventName: Q${i}` }, A)).QueryId as string);
    const list = (await call('DescribeAdvancedQueryHistory', {}, A)).QueryHistoryList as { QueryId: string; QuerySql: string }[];
    expect(list.map((e) => e.QueryId)).toEqual(ids.slice(5).reverse());
    expect((await call('DescribeAdvancedQueryHistory', {}, B)).QueryHistoryList).toEqual([]);
    await expect(call('DeleteAdvancedQueryHistory', { QueryId: ids[10] as string }, B)).rejects.toMatchObject({ code: 'QueryNotFound' });
    await expect(call('CreateAdvancedQueryHistory', { QuerySql: 'event.a: (' }, A)).rejects.toMatchObject({ code: 'InvalidQuery' });
  });
});
