/**
 * Starts a private stack for one test file: Redis (own port and data dir), the embedded S3
 * server (own port and dir) and the emulator on a project's s.yaml — all on free ports, so
 * tests pass while `npm start` runs. `redis: 'cluster'` runs it on a three-master Redis
 * Cluster instead (the functions and the emulator get TK_REDIS_URL=redis-cluster://…).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { loadProject } from '../../emulator/config.ts';
import { HISTORY_SERVER_CONFIG } from '../../adapters/redis/history-store.ts';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator/emulator.ts';
import { createLogger } from '../../emulator/logger.ts';
import { generateInternalToken } from '../../emulator/http-guard.ts';
import { generateS3Credentials } from '../../emulator/s3/embedded.ts';
import type { S3Credentials } from '../../emulator/s3/sigv4.ts';
import { freePort, generateRedisPassword, startRedis, startRedisCluster, startS3, type StartedProcess } from '../../emulator/stack/processes.ts';
import { secretBoxFromEnv } from '../../adapters/env.ts';
import type { SecretBox } from '../../shared/crypto/secret-box.ts';
import { testSecretsEnv } from './secrets.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtureProject = path.join(repoRoot, 'test', 'fixtures', 'emulator', 's.yaml');
export const productProject = path.join(repoRoot, 's.yaml');

export const TEST_IDENTITY = {
  accountId: '1000000000000001',
  credentials: { accessKeyId: 'LTAITestEmulatorKey', accessKeySecret: 'test-emulator-secret', securityToken: '' },
};

export interface TestStack {
  /** TK_REDIS_URL of the stack: redis://:password@… or, on a cluster, redis-cluster://:password@…. */
  redisUrl: string;
  /** The Redis password (requirepass) of this stack. */
  redisPassword: string;
  s3Url: string;
  /** The only key pair the stack's S3 server accepts. */
  s3Credentials: S3Credentials;
  /** The emulator's internal-route token (`Authorization: Bearer <token>`). */
  internalToken: string;
  /** The environment the functions got (TK_SECRETS_KEY included). */
  env: Readonly<Record<string, string>>;
  /** The box of the functions' TK_SECRETS_KEY: what a test's own stores seal secrets with. */
  secrets: SecretBox;
  emulator: RunningEmulator;
  dataDir: string;
  s3: StartedProcess;
  /** The Redis server, or the three of a cluster (`pid` is the first's). */
  redis: StartedProcess;
  /** Stops the S3 server (objects stay on disk) until `startS3Again`. */
  stopS3(): Promise<void>;
  startS3Again(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestStack(options: {
  project: string;
  buckets: string[];
  env?: Record<string, string>;
  emulator?: Partial<Omit<EmulatorOptions, 'project' | 'redisUrl' | 'identity'>>;
  /** `standalone` (default): one redis-server; `cluster`: three masters. */
  redis?: 'standalone' | 'cluster';
}): Promise<TestStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tk-test-'));
  const [s3Port, invokePort] = [await freePort(), await freePort()];
  // this stack's own secrets, as `npm start` keeps in .local/
  const redisPassword = generateRedisPassword();
  const s3Credentials = generateS3Credentials();
  const internalToken = generateInternalToken();
  // the invoke API's URL, known before the emulator starts (its default host)
  let s3Options = {
    port: s3Port,
    dir: path.join(dataDir, 's3'),
    buckets: options.buckets,
    credentials: s3Credentials,
    webhookUrl: `http://127.0.0.1:${invokePort}/-/s3-events`,
    webhookToken: internalToken,
  };
  let s3: StartedProcess | undefined;
  let redis: StartedProcess;
  if (options.redis === 'cluster') {
    // A cluster takes ~2 s to turn ok (redis-server's writable delay): start S3 meanwhile.
    const [cluster, server] = await Promise.all([
      startRedisCluster({ dir: path.join(dataDir, 'redis'), config: HISTORY_SERVER_CONFIG, password: redisPassword }),
      startS3(s3Options),
    ]);
    redis = { url: cluster.url, pid: cluster.pids[0], stop: () => cluster.stop() };
    s3 = server;
  } else {
    redis = await startRedis({ port: await freePort(), dir: path.join(dataDir, 'redis'), config: HISTORY_SERVER_CONFIG, password: redisPassword });
  }
  const s3Url = `http://127.0.0.1:${s3Port}`;
  const env: Record<string, string> = {
    TK_REDIS_URL: redis.url,
    PROBE_REDIS_URL: redis.url,
    TK_S3_ENDPOINT: s3Url,
    TK_S3_ACCESS_KEY_ID: s3Credentials.accessKeyId,
    TK_S3_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
    TK_S3_FORCE_PATH_STYLE: 'true',
    TK_FC_ENDPOINT: `http://127.0.0.1:${invokePort}`,
    TK_LOG_LEVEL: process.env['TK_LOG_LEVEL'] ?? 'warn',
    ...testSecretsEnv(),
    ...options.env,
  };
  const project = loadProject(options.project, { env, accountId: TEST_IDENTITY.accountId });
  const verbose = process.env['TK_TEST_VERBOSE'] === '1';
  const emulator = await startEmulator({
    project,
    redisUrl: redis.url,
    identity: TEST_IDENTITY,
    invokePort,
    build: false,
    timers: false,
    asyncRetryBaseMs: 20,
    internalToken,
    logger: createLogger(verbose ? (line) => process.stderr.write(`${line}\n`) : null),
    ...options.emulator,
  });
  if (!s3) {
    s3Options = { ...s3Options, webhookUrl: `${emulator.invokeUrl}/-/s3-events` };
    s3 = await startS3(s3Options);
  }
  return {
    redisUrl: redis.url,
    redisPassword,
    s3Url,
    s3Credentials,
    internalToken,
    env,
    secrets: secretBoxFromEnv(env),
    emulator,
    dataDir,
    get s3() {
      return s3 as StartedProcess;
    },
    redis,
    stopS3: () => (s3 as StartedProcess).stop(),
    startS3Again: async () => {
      s3 = await startS3(s3Options);
    },
    stop: async () => {
      await emulator.stop();
      await s3?.stop();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function waitUntil<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `Authorization: Bearer <token>` for the emulator's internal routes (`/-/…`). */
export function internalAuth(stack: Pick<TestStack, 'internalToken'>): { authorization: string } {
  return { authorization: `Bearer ${stack.internalToken}` };
}

/** An S3 client for the stack's embedded server (path-style, no aws-chunked bodies), signing with the stack's key. */
export function s3ClientFor(stack: Pick<TestStack, 's3Url' | 's3Credentials'>): S3Client {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  return new S3Client({
    endpoint: stack.s3Url,
    region: 'cn-hangzhou',
    forcePathStyle: true,
    credentials: { accessKeyId: stack.s3Credentials.accessKeyId, secretAccessKey: stack.s3Credentials.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}
