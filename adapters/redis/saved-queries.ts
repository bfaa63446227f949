/**
 * Advanced query templates and history on Redis (shared/query/saved-queries.ts):
 *
 *   {tk:A}:aqt   hash  TemplateId → template JSON            (at most MAX_TEMPLATES fields)
 *   {tk:A}:aqh   list  history entry JSON, newest first       (trimmed to MAX_HISTORY_ENTRIES)
 *
 * One account's keys share its hash tag. Records are validated with zod when read back.
 */
import { z } from 'zod';
import type { RedisClient } from '../redis.ts';
import type { QueryHistoryEntry, QueryTemplate, SavedQueryStore } from '../../shared/query/saved-queries.ts';

const templateSchema = z.object({
  id: z.string(),
  name: z.string(),
  sql: z.string(),
  simpleQuery: z.boolean(),
  createdMs: z.number(),
  updatedMs: z.number(),
});
const entrySchema = z.object({ id: z.string(), sql: z.string(), simpleQuery: z.boolean(), createdMs: z.number() });

/** Adds or replaces a template unless that would make more than ARGV[3] of them. */
const PUT_TEMPLATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

function parsed<T>(schema: z.ZodType<T>, text: string | null | undefined): T | undefined {
  if (!text) return undefined;
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

export class RedisSavedQueryStore implements SavedQueryStore {
  constructor(private readonly redis: RedisClient) {}

  private key(accountId: string, kind: 'aqt' | 'aqh'): string {
    if (accountId === '' || /[{}]/.test(accountId)) throw new TypeError('saved queries: invalid accountId');
    return `{tk:${accountId}}:${kind}`;
  }

  async listTemplates(accountId: string): Promise<QueryTemplate[]> {
    const all = await this.redis.hvals(this.key(accountId, 'aqt'));
    return all.map((text) => parsed(templateSchema, text)).filter((t): t is QueryTemplate => t !== undefined);
  }

  async getTemplate(accountId: string, id: string): Promise<QueryTemplate | undefined> {
    return parsed(templateSchema, await this.redis.hget(this.key(accountId, 'aqt'), id));
  }

  async putTemplate(accountId: string, template: QueryTemplate, max: number): Promise<boolean> {
    const done = await this.redis.eval(PUT_TEMPLATE, 1, this.key(accountId, 'aqt'), template.id, JSON.stringify(template), max);
    return done === 1;
  }

  async deleteTemplate(accountId: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(this.key(accountId, 'aqt'), id)) === 1;
  }

  async addHistory(accountId: string, entry: QueryHistoryEntry, max: number): Promise<void> {
    const key = this.key(accountId, 'aqh');
    await this.redis.multi().lpush(key, JSON.stringify(entry)).ltrim(key, 0, max - 1).exec();
  }

  async listHistory(accountId: string): Promise<QueryHistoryEntry[]> {
    const all = await this.redis.lrange(this.key(accountId, 'aqh'), 0, -1);
    return all.map((text) => parsed(entrySchema, text)).filter((e): e is QueryHistoryEntry => e !== undefined);
  }

  async deleteHistory(accountId: string, id: string): Promise<boolean> {
    const key = this.key(accountId, 'aqh');
    const all = await this.redis.lrange(key, 0, -1);
    const text = all.find((t) => parsed(entrySchema, t)?.id === id);
    return text !== undefined && (await this.redis.lrem(key, 1, text)) > 0;
  }
}
