/**
 * Tenancy of archive buckets (docs/design.md §3.4, §3.5): a bucket that one account's trail
 * delivers to does not receive another account's files.
 *
 * Rules:
 * - The first account whose trail uses a bucket holds it. A bucket is held as long as any trail
 *   that claimed it still delivers there; the claims of the last trail going (deleted, or moved
 *   to another bucket or prefix) free it.
 * - Another account's CreateTrail/UpdateTrail on a held bucket is refused with
 *   `InsufficientBucketPolicyException` (403) — ActionTrail's code for a bucket its service role
 *   may not write (listed for CreateTrail/UpdateTrail; the closest code to "this bucket is not
 *   yours to deliver to"). The message never names the holding account.
 * - Organizations: accounts of one resource directory may share a bucket that the management
 *   account's organization trail delivers to (its members' files land there anyway, under
 *   `<orgId>/<accountId>/`), and the management account may point its organization trail at a
 *   bucket its members hold. They are the `peers` of a claim.
 * - Even between peers, the single-account folder of a bucket and prefix
 *   (`<prefix>/AliyunLogs/Actiontrail/<region>/…`) belongs to one account: a second account's
 *   single-account trail on the same bucket and prefix is refused the same way.
 *
 * Claims are per trail (account, trail name, prefix), so claiming and releasing are idempotent
 * and a retried request neither double-counts nor frees a bucket early. The check and the claim
 * are one atomic step in the store.
 */
import { normaliseOssKeyPrefix } from '../archive/layout.ts';

/** ActionTrail's code for a bucket the trail may not deliver to. */
export const BUCKET_NOT_ACCESSIBLE_CODE = 'InsufficientBucketPolicyException';

export interface BucketClaim {
  bucket: string;
  /** The trail's OssKeyPrefix as given; stores normalise it with `claimPrefix`. */
  ossKeyPrefix?: string | undefined;
  accountId: string;
  trailName: string;
  /** Single-account trails also claim the bucket and prefix's single-account folder. */
  singleAccount: boolean;
}

export type ClaimResult = { ok: true } | { ok: false; reason: 'bucket' | 'prefix' };

export interface BucketClaimStore {
  /**
   * Atomically: when every account holding `claim.bucket` is `claim.accountId` or one of
   * `peers`, and (single-account trails) the prefix's single-account folder is free or held by
   * this trail, records the claim; otherwise changes nothing and says why.
   */
  claim(claim: BucketClaim, peers: readonly string[]): Promise<ClaimResult>;
  /** Drops the trail's claim (a no-op when it holds none); frees the bucket with its last claim. */
  release(claim: BucketClaim): Promise<void>;
  /** The accounts holding a bucket (sorted), for tests and tools. */
  holders(bucket: string): Promise<string[]>;
}

/** The prefix as archive keys use it: '' when absent. */
export function claimPrefix(ossKeyPrefix: string | undefined): string {
  return normaliseOssKeyPrefix(ossKeyPrefix);
}

/** An organization as the claim rules need it. */
export interface OrganizationMembership {
  managementAccountId: string;
  memberAccountIds: string[];
}

/** The organization directory calls `organizationMembershipOf` needs (shared/accounts/accounts.ts). */
export interface OrganizationLookup {
  managementAccountOf(accountId: string): Promise<string | undefined>;
  membersOf(managementAccountId: string): Promise<string[]>;
}

/** The resource directory of `accountId` (as its management account or a member), or undefined. */
export async function organizationMembershipOf(directory: OrganizationLookup, accountId: string): Promise<OrganizationMembership | undefined> {
  const management = (await directory.managementAccountOf(accountId)) ?? accountId;
  const members = await directory.membersOf(management);
  if (members.length === 0) return undefined;
  return { managementAccountId: management, memberAccountIds: members };
}
