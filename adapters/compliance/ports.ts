/**
 * What GetComplianceReport reads (shared/compliance/), wired to the stores: trails and their
 * delivery status (Redis), bucket settings (S3), logstore retention (the local Redis logstore's
 * LOGSTORE_RETENTION_DAYS; Log Service's ttl is not read), the digest chain (the archive in S3,
 * the chain heads and public key in Redis), history and the AccessKey audit.
 */
import { LOGSTORE_RETENTION_DAYS } from '../../shared/logstore/logstore.ts';
import { known, unknown, MAX_EVIDENCE_ITEMS, type DigestFact, type Known } from '../../shared/compliance/facts.ts';
import type { ComplianceActionPorts } from '../../shared/compliance/compliance-action.ts';
import type { VerifyReport } from '../../shared/archive/verify.ts';
import { verifyTrailArchive } from '../../shared/archive/verify-trail.ts';
import type { Trail } from '../../shared/trails/model.ts';
import { S3ArchiveReader } from '../archive/s3-archive.ts';
import { chainHeads } from '../archive/digest-chain-store.ts';
import { publicKey } from '../archive/signing-key-store.ts';
import type { Services } from '../wiring.ts';
import { bucketSettings } from './bucket-settings.ts';

/** One line per problem the verifier found (at most MAX_EVIDENCE_ITEMS of each kind). */
function problemsOf(report: VerifyReport): string[] {
  const lines = <T>(items: readonly T[], line: (item: T) => string) => items.slice(0, MAX_EVIDENCE_ITEMS).map(line);
  return [
    ...lines(report.modified, (m) => `modified ${m.key}`),
    ...lines(report.deleted, (d) => `deleted ${d.key}`),
    ...lines(report.inserted, (i) => `inserted ${i.key}`),
    ...lines(report.badSignatures, (b) => `bad digest ${b.key} (${b.reason})`),
    ...lines(report.brokenChain, (b) => `chain broken at ${b.key} (${b.reason})`),
  ];
}

/**
 * The longest the report waits for one trail's digest verification (it reads and hashes every
 * archive file of the last 24 hours): past it the control is UNKNOWN and names the command that
 * verifies without a limit. lookup-http's own timeout is 30 s (s.yaml).
 */
export const DIGEST_CHECK_TIMEOUT_MS = 15_000;

/** `work`, or unknown when it takes longer than `ms` (the work itself is not stopped). */
async function within<T>(work: Promise<Known<T>>, ms: number, reason: string): Promise<Known<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Known<T>>((resolve) => {
    timer = setTimeout(() => resolve(unknown(reason)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function verifyDigests(services: Services, trail: Trail, from: Date, to: Date, memberAccountId: string | undefined): Promise<Known<DigestFact>> {
  if (!trail.ossBucketName) return unknown('the trail has no bucket');
  const key = await publicKey(services.redis);
  if (!key) return unknown('no digest signing key exists yet (nothing was ever delivered)');
  const heads = await chainHeads(services.redis, trail.accountId, trail.name);
  const report = await verifyTrailArchive({
    reader: new S3ArchiveReader(services.s3, trail.ossBucketName),
    trail,
    from,
    to,
    publicKeyPem: key,
    // a member's report: its own folder, and the chain heads of its own scopes only
    heads: memberAccountId ? heads.filter((h) => h.key.includes(`/${memberAccountId}/`)) : heads,
    now: to,
    ...(memberAccountId ? { memberAccountIds: [memberAccountId] } : {}),
  });
  return known({
    ok: report.ok,
    from: report.from,
    to: report.to,
    digestsChecked: report.digestsChecked,
    filesChecked: report.filesChecked,
    problems: problemsOf(report),
    overdueHours: report.pendingHours.filter((p) => p.overdue).length,
    pendingFiles: report.pendingHours.reduce((n, p) => n + p.files, 0),
  });
}

export function complianceActionPorts(services: Services): ComplianceActionPorts {
  return {
    trailsOf: (accountId) => services.trails.list(accountId),
    managementAccountOf: (accountId) => services.accounts.managementAccountOf(accountId),
    membersOf: (accountId) => services.accounts.membersOf(accountId),
    deliveryStatus: (accountId, trailName) => services.deliveryStatus.get(accountId, trailName),
    bucketSettings: (bucket) => bucketSettings(services.s3, bucket),
    logstoreRetentionDays: async () =>
      services.env.TK_LOGSTORE === 'redis'
        ? known(LOGSTORE_RETENTION_DAYS)
        : unknown('Log Service: TrailKeeper does not read the logstore\'s retention (its ttl); check it with GetLogStore'),
    verifyDigests: (trail, from, to, memberAccountId) =>
      within(
        verifyDigests(services, trail, from, to, memberAccountId),
        DIGEST_CHECK_TIMEOUT_MS,
        `verifying the last 24 hours took longer than ${DIGEST_CHECK_TIMEOUT_MS / 1000} s; run npm run verify -- --trail ${trail.name} --account ${trail.accountId}`,
      ),
    history: services.history,
    keysOf: (accountId) => services.accounts.listKeys(accountId),
    lastUses: (accountId, ids, nowMs) => services.accessKeyAudit.lastUses(accountId, ids, nowMs),
    archiveLockDays: services.env.TK_ARCHIVE_LOCK_DAYS,
    now: () => Date.now(),
  };
}
