/** The functions' configuration, read once from the environment s.yaml sets (validated). */
import { z } from 'zod';
import { parseRedisUrl } from './redis-url.ts';

/** redis://, rediss:// (one server or a cluster proxy), redis-cluster://host:port[,host:port…] or several hosts (a cluster). */
function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const EnvSchema = z.object({
  TK_REGION: z.string().min(1).default('cn-hangzhou'),
  TK_REDIS_URL: z.string().superRefine((url, ctx) => {
    const problem = redisUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: `TK_REDIS_URL must be a redis://, rediss:// or redis-cluster:// URL (${problem})` });
  }),
  TK_S3_ENDPOINT: z.string().url('TK_S3_ENDPOINT must be a URL'),
  TK_S3_REGION: z.string().default('cn-hangzhou'),
  TK_S3_ACCESS_KEY_ID: z.string().min(1),
  TK_S3_SECRET_ACCESS_KEY: z.string().min(1),
  TK_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false'),
  TK_STAGING_BUCKET: z.string().min(3),
  TK_FC_ENDPOINT: z.string().url('TK_FC_ENDPOINT must be a URL').optional(),
  /** Object-lock retention requested on archive files, in days (0: none). */
  TK_ARCHIVE_LOCK_DAYS: z.coerce.number().int().min(0).max(36_500).default(180),
  /** Where deliver-logstore writes: `redis` (local streams) or `sls` (Alibaba Cloud Log Service). */
  TK_LOGSTORE: z.enum(['redis', 'sls']).default('redis'),
  /** Log Service endpoint override (default `https://<region>.log.aliyuncs.com`). */
  TK_SLS_ENDPOINT: z.string().url().optional(),
});
export type Env = z.infer<typeof EnvSchema>;

export class EnvError extends Error {
  override name = 'EnvError';
}

let cached: Env | undefined;

export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  if (cached && source === process.env) return cached;
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    // Names only: values may be secrets.
    const fields = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new EnvError(`function configuration is invalid: ${fields}`);
  }
  if (source === process.env) cached = parsed.data;
  return parsed.data;
}
