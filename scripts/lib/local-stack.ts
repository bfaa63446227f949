/**
 * Where the local stack lives: ports (overridable by environment variables), the state
 * directory (git-ignored), the emulator's FC account, and the lock file through which a
 * second `npm start` — and the command-line tools — find a running stack.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';


/**
 * Creates the state folder, private to its owner (0700): it holds Redis's data and AOF, every
 * staged and archived object and the stack's secrets, so no other local user may read into it.
 */
export function ensureStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true });
  chmodSync(stateDir, 0o700);
}

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) throw new Error(`${name}=${raw} is not a TCP port`);
  return value;
}

export function stackSettings() {
  return {
    host: process.env['TK_HOST'] ?? '127.0.0.1',
    ports: {
      invoke: port('TK_INVOKE_PORT', 8700),
      s3: port('TK_S3_PORT', 8701),
      redis: port('TK_REDIS_PORT', 8702),
      ingest: port('TK_INGEST_PORT', 8710),
      lookup: port('TK_LOOKUP_PORT', 8711),
    },
    stateDir: path.resolve(process.env['TK_STATE_DIR'] ?? path.join(repoRoot, '.local')),
    stagingBucket: process.env['TK_STAGING_BUCKET'] ?? 'trailkeeper-staging',
    archiveBucket: process.env['TK_ARCHIVE_BUCKET'] ?? 'trailkeeper-archive',
  };
}
export type StackSettings = ReturnType<typeof stackSettings>;

const FcAccountSchema = z.object({ accountId: z.string(), accessKeyId: z.string(), accessKeySecret: z.string() });
export type FcAccount = z.infer<typeof FcAccountSchema>;

/** The emulator's own account (what `s config` holds in the cloud), created on first start. */
export function loadOrCreateFcAccount(stateDir: string): FcAccount {
  const file = path.join(stateDir, 'fc-account.json');
  if (existsSync(file)) return FcAccountSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const account: FcAccount = {
    accountId: `1${Array.from(randomBytes(15), (b) => b % 10).join('')}`,
    accessKeyId: `LTAIemu${randomBytes(8).toString('hex')}`,
    accessKeySecret: randomBytes(20).toString('base64url'),
  };
  ensureStateDir(stateDir);
  writeFileSync(file, `${JSON.stringify(account, null, 2)}\n`, { mode: 0o600 });
  return account;
}

/** Bytes of the generated stack token and S3 secret; TK_SECRETS_KEY is exactly 32 bytes. */
const STACK_TOKEN_BYTES = 32;
const SECRETS_KEY_BYTES = 32;
const REDIS_PASSWORD_BYTES = 24;

const StackSecretsSchema = z.object({
  /** `Authorization: Bearer <token>` of the emulator's internal routes (`/-/…`). */
  internalToken: z.string().min(32),
  /** requirepass of the stack's own redis-server. */
  redisPassword: z.string().regex(/^[0-9a-f]{32,}$/),
  /** The only key pair the embedded S3 server accepts. */
  s3AccessKeyId: z.string().min(8),
  s3SecretAccessKey: z.string().min(20),
  /** TK_SECRETS_KEY of the functions: base64 of 32 bytes. */
  secretsKey: z.string().min(40),
});
export type StackSecrets = z.infer<typeof StackSecretsSchema>;

export function stackSecretsFile(stateDir: string): string {
  return path.join(stateDir, 'stack-secrets.json');
}

export function readStackSecrets(stateDir: string): StackSecrets | undefined {
  const file = stackSecretsFile(stateDir);
  return existsSync(file) ? StackSecretsSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
}

/**
 * The stack's own secrets, created on first start and kept in `<state>/stack-secrets.json`
 * (mode 0600): the internal-route token, the Redis password, the embedded S3 key pair and
 * TK_SECRETS_KEY. Never printed.
 */
export function loadOrCreateStackSecrets(stateDir: string): StackSecrets {
  const existing = readStackSecrets(stateDir);
  if (existing) {
    chmodSync(stackSecretsFile(stateDir), 0o600);
    return existing;
  }
  const secrets: StackSecrets = {
    internalToken: randomBytes(STACK_TOKEN_BYTES).toString('hex'),
    redisPassword: randomBytes(REDIS_PASSWORD_BYTES).toString('hex'),
    s3AccessKeyId: `TKS3${randomBytes(8).toString('hex').toUpperCase()}`,
    s3SecretAccessKey: randomBytes(30).toString('base64url'),
    secretsKey: randomBytes(SECRETS_KEY_BYTES).toString('base64'),
  };
  ensureStateDir(stateDir);
  writeFileSync(stackSecretsFile(stateDir), `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/** `redis://:password@host:port` from a URL without credentials. */
export function withRedisPassword(url: string, password: string): string {
  return url.replace(/^(rediss?(?:-cluster)?:\/\/)/, `$1:${encodeURIComponent(password)}@`);
}

const LockSchema = z.object({
  pid: z.number(),
  startedAt: z.string(),
  /** What the terminal shows: never a password. */
  endpoints: z.record(z.string(), z.string()),
  /** The Redis endpoint is the stack's own: its password is in stack-secrets.json. */
  ownRedis: z.boolean().optional(),
  /** The S3 endpoint is the embedded server: its key is in stack-secrets.json. */
  ownS3: z.boolean().optional(),
});
export type StackLock = z.infer<typeof LockSchema>;

export function lockPath(stateDir: string): string {
  return path.join(stateDir, 'stack.lock.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running stack's lock, or undefined (a stale lock of a dead process is removed). */
export function readLiveLock(stateDir: string): StackLock | undefined {
  const file = lockPath(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const lock = LockSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    if (alive(lock.pid)) return lock;
  } catch {
    // unreadable: treat as stale
  }
  rmSync(file, { force: true });
  return undefined;
}

export function writeLock(stateDir: string, lock: StackLock): void {
  ensureStateDir(stateDir);
  writeFileSync(lockPath(stateDir), `${JSON.stringify(lock, null, 2)}\n`, { mode: 0o600 });
}

export function removeLock(stateDir: string): void {
  rmSync(lockPath(stateDir), { force: true });
}

/** Redis of the running stack (or TK_REDIS_URL), for the command-line tools. */
export function stackRedisUrl(): string {
  if (process.env['TK_REDIS_URL']) return process.env['TK_REDIS_URL'];
  const settings = stackSettings();
  const lock = readLiveLock(settings.stateDir);
  const password = readStackSecrets(settings.stateDir)?.redisPassword;
  const url = lock?.endpoints['Redis'] ?? `redis://${settings.host}:${settings.ports.redis}`;
  // the stack's own redis-server takes the password kept in the state dir
  return password && (lock === undefined || lock.ownRedis === true) ? withRedisPassword(url, password) : url;
}

/** The key pair of the running stack's embedded S3 server (or TK_S3_ACCESS_KEY_ID / TK_S3_SECRET_ACCESS_KEY). */
export function stackS3Credentials(): { accessKeyId: string; secretAccessKey: string } | undefined {
  const id = process.env['TK_S3_ACCESS_KEY_ID'];
  const secret = process.env['TK_S3_SECRET_ACCESS_KEY'];
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
  const secrets = readStackSecrets(stackSettings().stateDir);
  return secrets ? { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey } : undefined;
}

/** The ingest base URL of the running stack (or TK_INGEST_URL). */
export function stackIngestUrl(): string {
  if (process.env['TK_INGEST_URL']) return process.env['TK_INGEST_URL'];
  const settings = stackSettings();
  const fromLock = readLiveLock(settings.stateDir)?.endpoints['ingest'];
  return fromLock ? new URL(fromLock).origin : `http://${settings.host}:${settings.ports.ingest}`;
}

const DemoSchema = z.object({ accountId: z.string(), accessKeyId: z.string(), accessKeySecret: z.string(), trailName: z.string() });
export type DemoCredentials = z.infer<typeof DemoSchema>;

export function demoFile(stateDir: string): string {
  return path.join(stateDir, 'demo-credentials.json');
}

export function readDemo(stateDir: string): DemoCredentials | undefined {
  const file = demoFile(stateDir);
  return existsSync(file) ? DemoSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) : undefined;
}

export function writeDemo(stateDir: string, demo: DemoCredentials): void {
  ensureStateDir(stateDir);
  writeFileSync(demoFile(stateDir), `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
}

/** The AccessKey pair the tools sign with: TK_ACCESS_KEY_ID / TK_ACCESS_KEY_SECRET, else the demo pair. */
export function toolCredentials(): { accessKeyId: string; accessKeySecret: string; accountId?: string } | undefined {
  const id = process.env['TK_ACCESS_KEY_ID'];
  const secret = process.env['TK_ACCESS_KEY_SECRET'];
  if (id && secret) return { accessKeyId: id, accessKeySecret: secret };
  return readDemo(stackSettings().stateDir);
}

export const NO_CREDENTIALS_MESSAGE = 'No AccessKey pair: run npm start once (it creates the demo account), or set TK_ACCESS_KEY_ID and TK_ACCESS_KEY_SECRET.\n';
