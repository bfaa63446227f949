/**
 * Verifies one trail's archive against its signed digests (verify.ts) over [from, to): the scopes
 * are what the bucket holds, what the deliverer recorded as chain heads, and the trail's own
 * region; an organization trail is verified per organization folder and member account. Used by
 * `npm run verify` and by the compliance report's digest-chain control.
 */
import type { PreviousDigestLink } from './digest.ts';
import { normaliseOssKeyPrefix, parseDigestKey } from './layout.ts';
import { discoverScopes, emptyReport, verifyArchive, type ArchiveReader, type VerifyReport, type VerifyTrail } from './verify.ts';
import type { Trail } from '../trails/model.ts';

export interface VerifyTrailOptions {
  reader: ArchiveReader;
  trail: Pick<Trail, 'name' | 'accountId' | 'ossKeyPrefix' | 'isOrganizationTrail' | 'organizationId' | 'trailRegion'>;
  from: Date;
  to: Date;
  publicKeyPem: string;
  /** The deliverer's chain heads of the trail (adapters/archive/digest-chain-store.ts). */
  heads: readonly PreviousDigestLink[];
  now: Date;
  /** Verify only these regions (default: every region found). */
  regions?: readonly string[] | undefined;
  /**
   * Organization trails: verify only these member accounts' folders (default: every member
   * found) — what a member may see of its organization's archive is its own folder.
   */
  memberAccountIds?: readonly string[] | undefined;
}

export async function verifyTrailArchive(options: VerifyTrailOptions): Promise<VerifyReport> {
  const { trail, reader, heads } = options;
  const organization = trail.isOrganizationTrail ? { orgId: trail.organizationId } : undefined;
  const found = await discoverScopes(reader, { ossKeyPrefix: trail.ossKeyPrefix, organization });
  const foundRegions = new Set(found.regions);
  if (!trail.isOrganizationTrail && trail.trailRegion !== 'All') foundRegions.add(trail.trailRegion);
  for (const head of heads) {
    const parsed = parseDigestKey(head.key);
    if (!parsed || parsed.ossKeyPrefix !== normaliseOssKeyPrefix(trail.ossKeyPrefix)) continue;
    if (trail.isOrganizationTrail !== (parsed.organization !== undefined)) continue;
    foundRegions.add(parsed.region);
    if (parsed.organization && (organization?.orgId === undefined || organization.orgId === parsed.organization.orgId)) {
      const accounts = found.organizations.get(parsed.organization.orgId) ?? [];
      if (!accounts.includes(parsed.organization.accountId)) found.organizations.set(parsed.organization.orgId, [...accounts, parsed.organization.accountId]);
    }
  }
  const regions = options.regions ? [...options.regions] : [...foundRegions].sort();
  const foundOrganizations = found.organizations;
  const verifyTrails: VerifyTrail[] = [];
  if (trail.isOrganizationTrail) {
    const only = options.memberAccountIds ? new Set(options.memberAccountIds) : undefined;
    for (const [orgId, found] of foundOrganizations) {
      const accountIds = only ? found.filter((a) => only.has(a)) : found;
      if (accountIds.length > 0) verifyTrails.push({ name: trail.name, ossKeyPrefix: trail.ossKeyPrefix, regions, organization: { orgId, accountIds } });
    }
  } else {
    verifyTrails.push({ name: trail.name, accountId: trail.accountId, ossKeyPrefix: trail.ossKeyPrefix, regions });
  }
  let report: VerifyReport | undefined;
  for (const verifyTrail of verifyTrails) {
    const part = await verifyArchive({ reader, trail: verifyTrail, from: options.from, to: options.to, publicKeyPem: options.publicKeyPem, now: options.now, heads });
    report = report ? mergeReports(report, part) : part;
  }
  return report ?? emptyReport(trail.name, options.from, options.to);
}

export function mergeReports(a: VerifyReport, b: VerifyReport): VerifyReport {
  return {
    ok: a.ok && b.ok,
    trailName: a.trailName,
    from: a.from,
    to: a.to,
    scopes: [...a.scopes, ...b.scopes],
    digestsChecked: a.digestsChecked + b.digestsChecked,
    filesChecked: a.filesChecked + b.filesChecked,
    modified: [...a.modified, ...b.modified],
    deleted: [...a.deleted, ...b.deleted],
    inserted: [...a.inserted, ...b.inserted],
    badSignatures: [...a.badSignatures, ...b.badSignatures],
    brokenChain: [...a.brokenChain, ...b.brokenChain],
    pendingHours: [...a.pendingHours, ...b.pendingHours],
  };
}
