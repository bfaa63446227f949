/**
 * Archive files, signed hourly digests and verification against the REAL embedded S3 server
 * (s3rver in a child process) and a real Redis (signing key, trail, `npm run verify`).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArchiveReader, forgetObjectLockSupport, objectLockUnsupported, putArchiveObject } from '../../adapters/archive/s3-archive.ts';
import { chainHeads, saveChainHead } from '../../adapters/archive/digest-chain-store.ts';
import { SIGNING_KEY_KEY, ensureSigningKey, publicKey } from '../../adapters/archive/signing-key-store.ts';
import {
  createDigestDocument,
  describeArchiveFile,
  linkTo,
  serialiseSignedDigest,
  signDigest,
  type PreviousDigestLink,
  type SigningKeyPair,
} from '../../shared/archive/digest.ts';
import { HOUR_MS, archiveFileKey, digestKey, hourStartOf, type ArchiveScope } from '../../shared/archive/layout.ts';
import { verifyArchive, type VerifyReport } from '../../shared/archive/verify.ts';
import { trailSchema } from '../../shared/trails/model.ts';
import { freePort, startRedis, startS3, type StartedProcess } from '../../emulator/stack/processes.ts';
import { generateS3Credentials } from '../../emulator/s3/embedded.ts';
import { testSecretBox } from '../helpers/secrets.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUCKET = 'tk-archive';
const ACCOUNT = '1234567890123456';
const TRAIL = 'default-trail';
const REGION = 'cn-hangzhou';

let dataDir: string;
let s3Server: StartedProcess;
let redisServer: StartedProcess;
let s3: S3Client;
let redis: Redis;
let keys: SigningKeyPair;
const secrets = testSecretBox();

/** Three digested hours before the current one, and a file in the current hour (pending). */
const now = new Date();
const currentHour = hourStartOf(now).getTime();
const HOURS = [3, 2, 1].map((n) => new Date(currentHour - n * HOUR_MS));

/** The only key the test's S3 server accepts. */
const S3_KEYS = generateS3Credentials();

function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_KEYS.accessKeyId, secretAccessKey: S3_KEYS.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

interface Fixture {
  prefix: string;
  files: string[][];
  digests: string[];
  links: PreviousDigestLink[];
  pending: string;
}

function gzFile(scope: ArchiveScope, deliveredAt: Date, tag: string): { key: string; body: Buffer; events: { eventId: string; eventTime: string }[] } {
  const events = [0, 1, 2].map((i) => ({ eventId: `${tag}-${i}`, eventTime: new Date(deliveredAt.getTime() - (3 - i) * 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z') }));
  const body = gzipSync(JSON.stringify(events));
  const md5 = createHash('md5').update(body).digest('hex');
  return { key: archiveFileKey({ ...scope, deliveredAt, eventCount: events.length, fileSize: body.byteLength, md5 }), body, events };
}

/** What deliver-oss does: files of each hour, then the hour's digest linked to the previous one. */
async function writeArchive(prefix: string): Promise<Fixture> {
  const scope = { ossKeyPrefix: prefix, region: REGION };
  const fixture: Fixture = { prefix, files: [], digests: [], links: [], pending: '' };
  let previous: PreviousDigestLink | null = null;
  for (const hour of HOURS) {
    const entries = [];
    const keysOfHour: string[] = [];
    for (let i = 0; i < 2; i++) {
      const file = gzFile(scope, new Date(hour.getTime() + (i + 1) * 900_000 + 1_000), `${prefix}-${hour.getTime()}-${i}`);
      await putArchiveObject(s3, BUCKET, file.key, file.body, { retainUntil: new Date(Date.now() + 86_400_000) });
      entries.push(describeArchiveFile(file));
      keysOfHour.push(file.key);
    }
    const doc = createDigestDocument({ trailName: TRAIL, accountId: ACCOUNT, region: REGION, hour, files: entries, previous, publicKeyFingerprint: keys.fingerprint });
    const text = serialiseSignedDigest(signDigest(doc, keys.privateKeyPem));
    const key = digestKey({ ...scope, trailName: TRAIL, hourStart: hour });
    await putArchiveObject(s3, BUCKET, key, text);
    previous = linkTo(key, text);
    fixture.files.push(keysOfHour);
    fixture.digests.push(key);
    fixture.links.push(previous);
  }
  const pending = gzFile(scope, new Date(Math.max(currentHour, now.getTime() - 60_000)), `${prefix}-pending`);
  await putArchiveObject(s3, BUCKET, pending.key, pending.body);
  fixture.pending = pending.key;
  return fixture;
}

function verify(prefix: string, reader = new S3ArchiveReader(s3, BUCKET)): Promise<VerifyReport> {
  return verifyArchive({
    reader,
    trail: { name: TRAIL, accountId: ACCOUNT, ossKeyPrefix: prefix, regions: [REGION] },
    from: new Date(now.getTime() - 24 * HOUR_MS),
    to: new Date(now.getTime() + 1_000),
    publicKeyPem: keys.publicKeyPem,
    now,
  });
}

const at = <T>(items: readonly T[], i: number): T => {
  const item = items[i];
  if (item === undefined) throw new Error(`no item ${i}`);
  return item;
};

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'tk-archive-'));
  s3Server = await startS3({ port: await freePort(), dir: path.join(dataDir, 's3'), buckets: [BUCKET], credentials: S3_KEYS });
  redisServer = await startRedis({ port: await freePort(), dir: path.join(dataDir, 'redis') });
  s3 = s3Client(s3Server.url);
  redis = new Redis(redisServer.url);
  keys = await ensureSigningKey(redis, secrets);
});

afterAll(async () => {
  s3?.destroy();
  redis?.disconnect();
  await s3Server?.stop();
  await redisServer?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('archive verification against the embedded S3 server', () => {
  it('verifies a clean archive: the chain holds across hours, the current hour is pending', async () => {
    const fx = await writeArchive('clean');
    const report = await verify('clean');
    expect(report).toMatchObject({ ok: true, digestsChecked: 3, filesChecked: 6, modified: [], deleted: [], inserted: [], badSignatures: [], brokenChain: [] });
    expect(report.pendingHours).toEqual([{ region: REGION, hourStart: new Date(currentHour).toISOString(), files: 1, overdue: false }]);
    // The stored bytes are exactly what was hashed (no aws-chunked framing, no re-encoding).
    const stored = await new S3ArchiveReader(s3, BUCKET).read(at(at(fx.files, 0), 0));
    expect(stored[0]).toBe(0x1f);
    // Pagination: one object per page gives the same answer.
    expect(await verify('clean', new S3ArchiveReader(s3, BUCKET, { pageSize: 1 }))).toEqual(report);
  });

  it('reports a deleted file', async () => {
    const fx = await writeArchive('deleted');
    const victim = at(at(fx.files, 1), 0);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: victim }));
    const report = await verify('deleted');
    expect(report.ok).toBe(false);
    expect(report.deleted).toEqual([{ region: REGION, key: victim, digestKey: at(fx.digests, 1) }]);
    expect([...report.modified, ...report.inserted, ...report.brokenChain, ...report.badSignatures]).toEqual([]);
  });

  it('reports an edited file', async () => {
    const fx = await writeArchive('modified');
    const victim = at(at(fx.files, 0), 1);
    const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: victim }));
    const original = Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    const edited = gzipSync(JSON.stringify([{ eventId: 'forged', eventTime: '2020-01-01T00:00:00Z' }]));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: victim, Body: edited }));
    const report = await verify('modified');
    expect(report.ok).toBe(false);
    expect(report.modified).toMatchObject([
      { key: victim, digestKey: at(fx.digests, 0), expectedSha256: createHash('sha256').update(original).digest('hex'), actualSize: edited.byteLength },
    ]);
    expect([...report.deleted, ...report.inserted, ...report.brokenChain]).toEqual([]);
  });

  it('reports an added file in a digested hour', async () => {
    await writeArchive('inserted');
    const forged = gzFile({ ossKeyPrefix: 'inserted', region: REGION }, new Date(at(HOURS, 1).getTime() + 1_800_000), 'forged');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: forged.key, Body: forged.body }));
    const report = await verify('inserted');
    expect(report.ok).toBe(false);
    expect(report.inserted).toEqual([{ region: REGION, key: forged.key, size: forged.body.byteLength, hourStart: at(HOURS, 1).toISOString(), reason: 'not-in-digest' }]);
    expect([...report.deleted, ...report.modified, ...report.brokenChain]).toEqual([]);
  });

  it('reports a replaced digest as a broken chain, even when re-signed with the right key', async () => {
    const fx = await writeArchive('replaced');
    // Rewrite hour 2's digest without its first file (hiding its deletion) and sign it again.
    const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: at(fx.digests, 1) }));
    const original = JSON.parse(await (res.Body as { transformToString(): Promise<string> }).transformToString()) as Parameters<typeof signDigest>[0];
    const forged = signDigest({ ...original, files: original.files.slice(1) }, keys.privateKeyPem);
    await putArchiveObject(s3, BUCKET, at(fx.digests, 1), serialiseSignedDigest(forged));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: at(at(fx.files, 1), 0) }));
    const report = await verify('replaced');
    expect(report.ok).toBe(false);
    expect(report.badSignatures).toEqual([]);
    expect(report.deleted).toEqual([]);
    expect(report.brokenChain).toMatchObject([{ key: at(fx.digests, 2), previousKey: at(fx.digests, 1), reason: 'previous-hash-mismatch' }]);
  });

  it('reports a deleted digest between two present ones', async () => {
    const fx = await writeArchive('gap');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: at(fx.digests, 1) }));
    const report = await verify('gap');
    expect(report.ok).toBe(false);
    expect(report.brokenChain).toMatchObject([{ key: at(fx.digests, 2), previousKey: at(fx.digests, 1), reason: 'previous-missing' }]);
    // The hour lost its digest, so its files are no longer accounted for.
    expect(report.inserted.map((i) => i.key).sort()).toEqual([...at(fx.files, 1)].sort());
  });
});

describe('putArchiveObject', () => {
  it('requests SSE with a Content-MD5, and drops object-lock headers once a server refuses them', async () => {
    const client = s3Client(s3Server.url);
    const seen: Record<string, string>[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        seen.push({ ...headers });
        if (headers['x-amz-object-lock-mode'] !== undefined) {
          throw new S3ServiceException({ name: 'InvalidRequest', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Bucket is missing Object Lock Configuration' });
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'refuseObjectLock' },
    );
    const retainUntil = new Date(Date.now() + 86_400_000);
    const first = await putArchiveObject(client, BUCKET, 'lock/a.gz', gzipSync('[]'), { retainUntil });
    expect(first.objectLock).toBe('unsupported');
    expect(objectLockUnsupported(client, BUCKET)).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-server-side-encryption': 'AES256' });
    expect(seen[1]?.['x-amz-object-lock-mode']).toBeUndefined();
    expect(seen[1]).toMatchObject({ 'x-amz-server-side-encryption': 'AES256', 'content-md5': createHash('md5').update(gzipSync('[]')).digest('base64') });
    const second = await putArchiveObject(client, BUCKET, 'lock/b.gz', gzipSync('[]'), { retainUntil });
    expect(second.objectLock).toBe('unsupported');
    expect(seen).toHaveLength(3); // no second attempt with the headers
    expect((await new S3ArchiveReader(client, BUCKET).list('lock/')).map((o) => o.key)).toEqual(['lock/a.gz', 'lock/b.gz']);
    forgetObjectLockSupport(client, BUCKET);
    expect(objectLockUnsupported(client, BUCKET)).toBe(false);
    client.destroy();
  });

  it('says when a server takes object-lock headers without showing retention (s3rver ignores them)', async () => {
    const client = s3Client(s3Server.url);
    const retainUntil = new Date(Date.now() + 86_400_000);
    expect((await putArchiveObject(client, BUCKET, 'lock/c.gz', gzipSync('[]'), { retainUntil })).objectLock).toBe('unconfirmed');
    expect((await putArchiveObject(client, BUCKET, 'lock/d.gz', gzipSync('[]'))).objectLock).toBe('not-requested');
    client.destroy();
  });

  it('reads a missing object as not found', async () => {
    await expect(new S3ArchiveReader(s3, BUCKET).read('nope/none.gz')).rejects.toMatchObject({ name: 'ArchiveObjectNotFoundError' });
  });
});

describe('signing key store', () => {
  it('creates one pair for concurrent callers and serves its public key', async () => {
    await redis.del(SIGNING_KEY_KEY);
    const other = new Redis(redisServer.url);
    const [a, b] = await Promise.all([ensureSigningKey(redis, secrets), ensureSigningKey(other, secrets)]);
    other.disconnect();
    expect(a).toEqual(b);
    expect(await publicKey(redis)).toBe(a.publicKeyPem);
    expect(await ensureSigningKey(redis, secrets)).toEqual(a);
    keys = a;
  });
});

describe('npm run verify (scripts/verify.ts)', () => {
  const exec = promisify(execFile);
  const run = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'verify.ts'), ...args], {
        cwd: repoRoot,
        env: {
          ...process.env,
          TK_REDIS_URL: redisServer.url,
          TK_S3_ENDPOINT: s3Server.url,
          TK_S3_ACCESS_KEY_ID: S3_KEYS.accessKeyId,
          TK_S3_SECRET_ACCESS_KEY: S3_KEYS.secretAccessKey,
          TK_STATE_DIR: path.join(dataDir, 'state'),
        },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  it('exits 0 on a clean archive and 1 once it is tampered with', async () => {
    keys = await ensureSigningKey(redis, secrets);
    const nowMs = Date.now();
    const trail = trailSchema.parse({
      name: TRAIL,
      accountId: ACCOUNT,
      homeRegion: REGION,
      eventRW: 'All',
      ossBucketName: BUCKET,
      ossKeyPrefix: 'cli',
      status: 'Enable',
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    });
    await redis.hset(`{tk:${ACCOUNT}}:trails`, TRAIL, JSON.stringify(trail));
    const fx = await writeArchive('cli');
    for (const link of fx.links) await saveChainHead(redis, ACCOUNT, TRAIL, link);
    expect(await saveChainHead(redis, ACCOUNT, TRAIL, at(fx.links, 0))).toBe(false); // heads only move forward
    expect(await chainHeads(redis, ACCOUNT, TRAIL)).toEqual([at(fx.links, 2)]);

    const clean = await run(['--trail', TRAIL, '--account', ACCOUNT]);
    expect(clean.stderr).not.toMatch(/verify:/);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('OK: the archive matches its signed digests.');
    expect(clean.stdout).toContain('Checked 3 digest(s) and 6 file(s).');

    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: at(at(fx.files, 2), 1) }));
    const tampered = await run(['--trail', TRAIL, '--account', ACCOUNT, '--json']);
    expect(tampered.code).toBe(1);
    const report = JSON.parse(tampered.stdout) as VerifyReport;
    expect(report.ok).toBe(false);
    expect(report.deleted.map((d) => d.key)).toEqual([at(at(fx.files, 2), 1)]);

    const readable = await run(['--trail', TRAIL, '--account', ACCOUNT]);
    expect(readable.code).toBe(1);
    expect(readable.stdout).toContain('DELETED files');

    // Deleting the newest digest (and with it the evidence of its hour) is caught by the chain head in Redis.
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: at(fx.digests, 2) }));
    const headless = await run(['--trail', TRAIL, '--account', ACCOUNT, '--json']);
    expect(headless.code).toBe(1);
    expect((JSON.parse(headless.stdout) as VerifyReport).brokenChain).toMatchObject([{ key: at(fx.digests, 2), reason: 'head-missing' }]);

    const unknown = await run(['--trail', 'no-such-trail', '--account', ACCOUNT]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no trail named no-such-trail');
  });
});
