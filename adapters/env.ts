/** The functions' configuration, read once from the environment s.yaml sets (validated). */
import { z } from 'zod';
import { parseRedisUrl } from './redis-url.ts';
import { SecretBox, secretsKeyProblem } from '../shared/crypto/secret-box.ts';

/** The variable that carries the key secrets are encrypted at rest with (base64 of 32 bytes). */
export const SECRETS_KEY_VARIABLE = 'TK_SECRETS_KEY';
const SECRETS_KEY_MISSING = `${SECRETS_KEY_VARIABLE} is required: the base64 of 32 random bytes, from your secret store (npm start generates one into .local/)`;

/** Required; the messages name the variable, never its value. */
const SecretsKeySchema = z.string({ error: () => SECRETS_KEY_MISSING }).superRefine((text, ctx) => {
  const problem = secretsKeyProblem(text, SECRETS_KEY_VARIABLE);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

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
  /** `off`: classify queues no analysis rows and insights-cron does nothing (Insights and the AccessKey audit stop; docs/design.md §3.9, §3.10). */
  TK_ANALYSIS: z.enum(['on', 'off']).default('on'),
  /** The local folder archive queries and compaction copy objects to for the engine (default: <tmpdir>/trailkeeper-archive; docs/design.md §3.13). */
  TK_ARCHIVE_CACHE_DIR: z.string().min(1).optional(),
  /** Size cap of that folder in bytes (default 2 GiB; least recently used files go first). */
  TK_ARCHIVE_CACHE_BYTES: z.coerce.number().int().min(64 * 1024 * 1024).optional(),
  /** `true`: alert webhooks may call private and loopback addresses (the local stack, tests); link-local and metadata addresses never (docs/design.md §3.12). */
  TK_ALERTS_ALLOW_PRIVATE_NETWORKS: z.enum(['true', 'false']).default('false'),
  /** The key AccessKey secrets, the digest signing key and the NextToken key are sealed with in Redis. */
  TK_SECRETS_KEY: SecretsKeySchema,
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

/** The box secrets at rest are sealed with, from the deployment's TK_SECRETS_KEY. */
export function secretBoxOf(env: Pick<Env, 'TK_SECRETS_KEY'>): SecretBox {
  return SecretBox.fromBase64(env.TK_SECRETS_KEY, SECRETS_KEY_VARIABLE);
}

/**
 * The secret box from an environment, reading only TK_SECRETS_KEY: what the tools and the tests
 * use, so they get the key the same way the functions do.
 */
export function secretBoxFromEnv(source: Record<string, string | undefined> = process.env): SecretBox {
  const parsed = SecretsKeySchema.safeParse(source[SECRETS_KEY_VARIABLE]);
  if (!parsed.success) throw new EnvError(parsed.error.issues.map((i) => i.message).join('; '));
  return secretBoxOf({ TK_SECRETS_KEY: parsed.data });
}
