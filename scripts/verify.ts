/**
 * `npm run verify -- --trail NAME [--account ID] [--from ISO] [--to ISO] [--region R …] [--public-key FILE] [--json]`
 *
 * Verifies a trail's archive (object storage) against its signed hourly digests and reports
 * modified, deleted and inserted files, badly signed digests and breaks in the digest chain.
 * Exit status: 0 verified (pending hours allowed), 1 tampering found, 2 usage or
 * infrastructure error.
 *
 *   --trail       the trail name (required)
 *   --account     the trail's account (default: accountId of .local/demo-credentials.json)
 *   --from/--to   ISO times; default the last 24 hours
 *   --region      verify only these regions (repeatable; default every region found in the archive or
 *                 in the deliverer's chain heads, and the trail's own region)
 *   --public-key  verify with this PEM file instead of the public key kept in Redis (keep a copy
 *                 outside Redis: whoever controls Redis could replace the key)
 *   --json        print the report as JSON
 * Environment: TK_REDIS_URL (default the running stack's, redis://127.0.0.1:8702),
 * TK_S3_ENDPOINT (default the running stack's, http://127.0.0.1:8701), TK_S3_ACCESS_KEY_ID / TK_S3_SECRET_ACCESS_KEY
 * (default the running stack's embedded-server key, from its state dir), TK_S3_REGION (default cn-hangzhou), path-style addressing.
 */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createRedisClient } from '../adapters/redis.ts';
import { S3ArchiveReader } from '../adapters/archive/s3-archive.ts';
import { chainHeads } from '../adapters/archive/digest-chain-store.ts';
import { publicKey } from '../adapters/archive/signing-key-store.ts';
import { ARCHIVE_REGION_PATTERN } from '../shared/archive/layout.ts';
import type { VerifyReport } from '../shared/archive/verify.ts';
import { verifyTrailArchive } from '../shared/archive/verify-trail.ts';
import { trailSchema, type Trail } from '../shared/trails/model.ts';
import { demoFile, readLiveLock, stackRedisUrl, stackS3Credentials, stackSettings } from './lib/local-stack.ts';

const USAGE = 'usage: npm run verify -- --trail NAME [--account ID] [--from ISO] [--to ISO] [--region R …] [--public-key FILE] [--json]';
const DEFAULT_RANGE_MS = 24 * 3_600_000;

function fail(message: string, usage = false): never {
  process.stderr.write(`verify: ${message}\n${usage ? `${USAGE}\n` : ''}`);
  process.exit(2);
}

function parseTime(value: string | undefined, flag: string, fallback: Date): Date {
  if (value === undefined) return fallback;
  const t = Date.parse(value);
  if (Number.isNaN(t)) fail(`--${flag} ${value} is not an ISO time`, true);
  return new Date(t);
}

function defaultAccount(): string | undefined {
  const file = demoFile(stackSettings().stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = z.object({ accountId: z.string() }).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data.accountId : undefined;
  } catch {
    return undefined;
  }
}

function scopeLabel(item: { region: string; organization?: { orgId: string; accountId: string } }): string {
  return item.organization ? `${item.organization.orgId}/${item.organization.accountId}/${item.region}` : item.region;
}

function printReport(report: VerifyReport, trail: Trail): void {
  const out: string[] = [];
  out.push(`Trail ${trail.name} (account ${trail.accountId}) in oss://${trail.ossBucketName ?? ''}/${trail.ossKeyPrefix ?? ''}`);
  out.push(`Range ${report.from} .. ${report.to}; scopes: ${report.scopes.map(scopeLabel).join(', ') || '(none found)'}`);
  out.push(`Checked ${report.digestsChecked} digest(s) and ${report.filesChecked} file(s).`);
  const section = <T>(title: string, items: T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    out.push('', `${title} (${items.length}):`);
    for (const item of items) out.push(`  ${line(item)}`);
  };
  section('MODIFIED files (content differs from the digest)', report.modified, (m) => `${m.key}\n      digest ${m.digestKey}: sha256 ${m.expectedSha256} (${m.expectedSize} B), stored ${m.actualSha256} (${m.actualSize} B)`);
  section('DELETED files (listed in a digest, missing)', report.deleted, (d) => `${d.key}\n      listed in ${d.digestKey}`);
  section('INSERTED files (in a digested hour, listed in no digest: added, or their digest is gone)', report.inserted, (i) => `${i.key} (${i.size} B${i.reason === 'unrecognised-name' ? ', not an archive file name' : ''})`);
  section('BAD digests', report.badSignatures, (b) => `${b.key}: ${b.reason} — ${b.message}`);
  section('BROKEN chain', report.brokenChain, (b) => `${b.key}: ${b.reason} — ${b.message}`);
  section('Pending hours (files whose digest is not written yet)', report.pendingHours, (p) => `${scopeLabel(p)} ${p.hourStart}: ${p.files} file(s)${p.overdue ? ' — OVERDUE: the digest should exist by now (deliverer behind, or digest deleted)' : ''}`);
  out.push('', report.ok ? 'OK: the archive matches its signed digests.' : 'FAILED: the archive does not match its signed digests.');
  process.stdout.write(`${out.join('\n')}\n`);
}

const { values } = parseArgs({
  options: {
    trail: { type: 'string' },
    account: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    region: { type: 'string', multiple: true },
    'public-key': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.trail) fail('--trail is required', true);
const accountId = values.account ?? defaultAccount();
if (!accountId) fail('--account is required (no .local/demo-credentials.json to take it from)', true);
if (!/^\d+$/.test(accountId)) fail(`--account ${accountId}: an account id is digits`, true);
const now = new Date();
const to = parseTime(values.to, 'to', now);
const from = parseTime(values.from, 'from', new Date(to.getTime() - DEFAULT_RANGE_MS));
if (from.getTime() >= to.getTime()) fail('--from must be before --to', true);
for (const region of values.region ?? []) if (!ARCHIVE_REGION_PATTERN.test(region)) fail(`--region ${region} is not a region id`, true);

const redisUrl = stackRedisUrl();
const redis = createRedisClient(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 }, { clusterRetryStrategy: (times) => (times > 3 ? null : 200) });
let exitCode = 2;
try {
  try {
    await redis.connect();
  } catch {
    fail(`cannot reach Redis at ${redisUrl}: start the stack with npm start, or set TK_REDIS_URL`);
  }
  const raw = await redis.hget(`{tk:${accountId}}:trails`, values.trail);
  if (!raw) fail(`account ${accountId} has no trail named ${values.trail}`);
  const parsedTrail = trailSchema.safeParse(JSON.parse(raw));
  if (!parsedTrail.success) fail(`the stored trail ${values.trail} is malformed: ${parsedTrail.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  const trail = parsedTrail.data;
  if (!trail.ossBucketName) fail(`trail ${trail.name} has no object-storage destination (OssBucketName)`);

  let publicKeyPem: string | undefined;
  if (values['public-key']) {
    try {
      publicKeyPem = readFileSync(values['public-key'], 'utf8');
    } catch (error) {
      fail(`cannot read --public-key ${values['public-key']}: ${(error as Error).message}`);
    }
  } else {
    publicKeyPem = await publicKey(redis);
  }
  if (!publicKeyPem) fail('no digest signing key exists yet (nothing was ever delivered): nothing to verify against');

  const s3 = new S3Client({
    endpoint: process.env['TK_S3_ENDPOINT'] ?? readLiveLock(stackSettings().stateDir)?.endpoints['S3'] ?? 'http://127.0.0.1:8701',
    region: process.env['TK_S3_REGION'] ?? 'cn-hangzhou',
    forcePathStyle: true,
    credentials: {
      accessKeyId: stackS3Credentials()?.accessKeyId ?? '',
      secretAccessKey: stackS3Credentials()?.secretAccessKey ?? '',
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const reader = new S3ArchiveReader(s3, trail.ossBucketName);
  const heads = await chainHeads(redis, trail.accountId, trail.name);
  const report = await verifyTrailArchive({ reader, trail, from, to, publicKeyPem, heads, now, regions: values.region });
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report, trail);
  exitCode = report.ok ? 0 : 1;
  s3.destroy();
} catch (error) {
  process.stderr.write(`verify: ${(error as Error).message}\n`);
  exitCode = 2;
} finally {
  redis.disconnect();
}
process.exit(exitCode);

