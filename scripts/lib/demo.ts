/**
 * First run of `npm start`: a demo account (the fixtures' management account) with an AccessKey
 * pair and a started default trail. The secret is printed once and kept in
 * `.local/demo-credentials.json` (mode 0600) for the command-line tools.
 */
import { createRedisClient } from '../../adapters/redis.ts';
import { RedisAccountStore } from '../../adapters/redis/account-store.ts';
import { RedisBucketClaims, RedisTrailStore } from '../../adapters/redis/trail-store.ts';
import { ensureSigningKey } from '../../adapters/archive/signing-key-store.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import type { SecretBox } from '../../shared/crypto/secret-box.ts';
import { readDemo, writeDemo, type DemoCredentials } from './local-stack.ts';

export const DEMO_ACCOUNT_ID = '1234567890123456';
export const DEMO_TRAIL_NAME = 'default-trail';

/** `secrets`: the box of the functions' TK_SECRETS_KEY (the demo key and the signing key are sealed with it). */
export async function ensureDemo(options: { redisUrl: string; stateDir: string; archiveBucket: string; region: string; secrets: SecretBox }): Promise<{ demo: DemoCredentials; created: boolean }> {
  const redis = createRedisClient(options.redisUrl);
  try {
    const accounts = new RedisAccountStore(redis, options.secrets);
    const trails = new RedisTrailStore(redis);
    // The digest signing key pair exists from the first start (its public key is served by GetDigestPublicKey).
    await ensureSigningKey(redis, options.secrets);
    const existing = readDemo(options.stateDir);
    if (existing && (await accounts.getKey(existing.accessKeyId))) return { demo: existing, created: false };
    const key = await accounts.createKey(DEMO_ACCOUNT_ID);
    const now = Date.now();
    await trails.create(
      trailSchema.parse({
        name: DEMO_TRAIL_NAME,
        accountId: DEMO_ACCOUNT_ID,
        homeRegion: options.region,
        eventRW: 'All',
        trailRegion: 'All',
        ossBucketName: options.archiveBucket,
        slsProjectArn: `acs:log:${options.region}:${DEMO_ACCOUNT_ID}:project/trailkeeper-demo`,
        slsWriteRoleArn: `acs:ram::${DEMO_ACCOUNT_ID}:role/aliyunactiontraildefaultrole`,
        status: 'Enable',
        createdAtMs: now,
        updatedAtMs: now,
        startLoggingTimeMs: now,
      }),
    );
    // The demo trail holds its bucket as a trail created through CreateTrail does (shared/trails/bucket-claims.ts).
    await new RedisBucketClaims(redis).claim({ bucket: options.archiveBucket, accountId: DEMO_ACCOUNT_ID, trailName: DEMO_TRAIL_NAME, singleAccount: true }, []);
    const demo = { accountId: DEMO_ACCOUNT_ID, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, trailName: DEMO_TRAIL_NAME };
    writeDemo(options.stateDir, demo);
    return { demo, created: true };
  } finally {
    redis.disconnect();
  }
}
