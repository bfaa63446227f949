/**
 * What the compliance report is decided from (docs/design.md §3.11): the facts about one account
 * — the trails that cover it, the settings of their buckets, their logstores' retention, their
 * digest chains, and what its events say — gathered by shared/compliance/gather.ts behind ports
 * and judged by the pure controls of shared/compliance/controls.ts.
 *
 * A setting that could not be read is `{ known: false, reason }` — never a guess: an S3-compatible
 * server that does not implement GetBucketEncryption makes the encryption control UNKNOWN, with
 * that reason, not PASS.
 */
import type { TrailEventRW, TrailStatus } from '../trails/model.ts';

export type Known<T> = { known: true; value: T } | { known: false; reason: string };

export const known = <T>(value: T): Known<T> => ({ known: true, value });
export const unknown = <T = never>(reason: string): Known<T> => ({ known: false, reason });

/** How far back the governance checks look: the history's whole retention. */
export const GOVERNANCE_WINDOW_DAYS = 90;
/** Most history events one governance scan reads; a capped scan says so in its evidence. */
export const MAX_GOVERNANCE_SCAN_EVENTS = 5_000;
/** The digest chain is verified over this much of the recent past. */
export const DIGEST_CHECK_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Most event ids, keys or files one control names in its evidence (the counts stay exact). */
export const MAX_EVIDENCE_ITEMS = 20;
/** MLPS 2.0: operation logs are kept at least this long. */
export const MLPS_RETENTION_DAYS = 180;
/** More root-account console logons than this in the window is non-compliant. */
export const MAX_ROOT_CONSOLE_LOGONS = 3;

/** The outcome of verifying a trail's archive against its digests over the last 24 hours. */
export interface DigestFact {
  ok: boolean;
  /** ISO range verified. */
  from: string;
  to: string;
  digestsChecked: number;
  filesChecked: number;
  /** One line per problem found (modified, deleted, inserted files, bad digests, chain breaks). */
  problems: string[];
  /** Hours whose digest should exist by now and does not. */
  overdueHours: number;
  /** Files of hours whose digest is not written yet (the current hour's, normally): not checked. */
  pendingFiles: number;
}

/** A trail that covers the account: its own, or an organization trail of its management account. */
export interface TrailFact {
  name: string;
  /** The trail's own account (the management account for an inherited organization trail). */
  accountId: string;
  homeRegion: string;
  status: TrailStatus;
  eventRW: TrailEventRW;
  trailRegion: string;
  isOrganizationTrail: boolean;
  /** An organization trail of the account's management account. */
  inherited: boolean;
  ossBucketName?: string | undefined;
  slsProjectArn?: string | undefined;
  latestDeliveryError?: string | undefined;
  latestLogstoreDeliveryError?: string | undefined;
  /** Days the trail's logstore keeps entries (present when the trail has a logstore). */
  logstoreRetentionDays?: Known<number> | undefined;
  /** The digest chain (present when the trail is logging to a bucket). */
  digest?: Known<DigestFact> | undefined;
}

export interface ObjectLockFact {
  enabled: boolean;
  /** The bucket's default retention, when it has one. */
  mode?: 'COMPLIANCE' | 'GOVERNANCE' | undefined;
  days?: number | undefined;
}

/** A bucket's own public-access settings (S3 API names). */
export interface PublicAccessFact {
  /** Grants of the bucket ACL to everyone or to any authenticated user (`AllUsers READ`, …). */
  acl: Known<{ publicGrants: string[] }>;
  /** GetBucketPolicyStatus: null when the bucket has no policy. */
  policy: Known<{ isPublic: boolean } | null>;
  /** GetPublicAccessBlock: null when none is configured. */
  block: Known<{ blockPublicAcls: boolean; ignorePublicAcls: boolean; blockPublicPolicy: boolean; restrictPublicBuckets: boolean } | null>;
}

export interface BucketFact {
  bucket: string;
  /** The bucket's default server-side encryption: null when none is configured. */
  encryption: Known<{ algorithm: string; kmsKeyId?: string | undefined } | null>;
  objectLock: Known<ObjectLockFact>;
  publicAccess: PublicAccessFact;
}

/** An event named as evidence. */
export interface EventRef {
  eventId: string;
  eventTime: string;
  userName?: string | undefined;
  accessKeyId?: string | undefined;
}

/** What a bounded scan of history saw. */
export interface ScanInfo {
  /** Events read. */
  scanned: number;
  /** The scan stopped at MAX_GOVERNANCE_SCAN_EVENTS: older matching events may exist. */
  capped: boolean;
}

export interface ConsoleSigninFacts extends ScanInfo {
  /** Successful root-account console logons. */
  rootLogons: EventRef[];
  /** Successful console logons whose event says MFA was not checked. */
  withoutMfa: EventRef[];
  /** Successful logons whose event carries no MFA flag at all (not counted as without MFA). */
  noMfaFlag: number;
}

export interface RootKeyUseFacts extends ScanInfo {
  /** Per root-account AccessKey: how many API calls it signed, the latest one. */
  keys: { accessKeyId: string; calls: number; latest: EventRef }[];
  /** TrailKeeper's own recorded API calls (signed with its account keys) — not counted. */
  ownApiCalls: number;
}

export interface AccessKeyFact {
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  createdAt: string;
  lastUsedMs?: number | undefined;
}

/** A successful StopLogging or DeleteTrail. */
export interface TrailChangeFact extends EventRef {
  eventName: 'StopLogging' | 'DeleteTrail';
  trailName: string;
}

export interface GovernanceFacts {
  windowDays: number;
  consoleSignins: Known<ConsoleSigninFacts>;
  rootKeyUse: Known<RootKeyUseFacts>;
  accessKeys: Known<AccessKeyFact[]>;
  trailChanges: Known<{ events: TrailChangeFact[] } & ScanInfo>;
}

export interface ComplianceFacts {
  accountId: string;
  /** The account's management account, when it is an organization member. */
  managementAccountId?: string | undefined;
  generatedAtMs: number;
  /** The object-lock retention the archive deliverer requests on every file (COMPLIANCE mode), in days. */
  archiveLockDays: number;
  trails: TrailFact[];
  buckets: BucketFact[];
  governance: GovernanceFacts;
}
