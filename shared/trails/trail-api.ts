/**
 * The ActionTrail trail API (OpenAPI 2020-07-06, docs/design.md §3.4) as pure use cases:
 * CreateTrail, UpdateTrail, DeleteTrail, DescribeTrails, StartLogging, StopLogging,
 * GetTrailStatus. Each takes the RPC parameters, the caller and the ports, and answers the
 * ActionTrail response body without `RequestId` (the RPC adapter adds it).
 *
 * Rules (ActionTrail's unless marked "choice"):
 * - A new trail is `Fresh` and delivers nothing until StartLogging (→ `Enable`); StopLogging
 *   → `Disable`. Choice: StartLogging on an `Enable` trail and StopLogging on a trail that is
 *   not `Enable` change nothing (so a repeated StartLogging does not move the start-of-logging
 *   time that routing relies on, and a never-started trail stays `Fresh`). Start/stop do not
 *   touch UpdateTime, which ActionTrail describes as the last change of configuration.
 * - At least one destination, OssBucketName or SlsProjectArn
 *   (InvalidDeliveryConfigurationException); the bucket must exist (BucketDoesNotExistException).
 *   Choice: OssKeyPrefix without a bucket is refused; two trails of one account may not
 *   deliver to the same bucket and prefix (RepeatOssBucket — ActionTrail documents the code,
 *   not its exact scope).
 * - Buckets belong to accounts (bucket-claims.ts): the first account whose trail delivers to a
 *   bucket holds it, and another account's trail on it is refused (InsufficientBucketPolicyException,
 *   403) — except between the accounts of a resource directory where its organization trail
 *   delivers; even then one bucket and prefix's single-account folder has one account. A trail
 *   claims its bucket before it is stored and releases it when deleted or moved.
 * - Names are unique within the account (TrailAlreadyExistsException). At most
 *   MAX_TRAILS_PER_REGION single-account trails per home region
 *   (MaximumNumberOfTrailsExceededException, 403) and MAX_ORGANIZATION_TRAILS organization
 *   trail per account (MaximumNumberOfOrganizationTrailExceeded); only a management account
 *   may create one (NotAllowCreateOrganizationTrail). The limit checks read then write, so two
 *   concurrent creates may both pass them; the store itself only guarantees unique names.
 * - The home region is the API's region (`Caller.region`). Choice: UpdateTrail, DeleteTrail,
 *   StartLogging, StopLogging and GetTrailStatus find the trail by name in the caller's
 *   account from any region. DescribeTrails lists the trails whose home region is the API's
 *   region, plus, with IncludeShadowTrails=true, the trails of other home regions that apply
 *   to it (TrailRegion All or this region); organization trails only with
 *   IncludeOrganizationTrail=true (then alongside single-account ones).
 * - Times are UTC `YYYY-MM-DDThh:mm:ssZ`; fields with no value are left out.
 */
import { DomainError, NotFoundError, ValidationError } from '../errors.ts';
import { MAX_ORGANIZATION_TRAILS, MAX_TRAILS_PER_REGION, trailSchema, type Trail, type TrailInput } from './model.ts';
import type { TrailStore } from './trail-store.ts';
import { describeRegions } from './regions.ts';
import { BUCKET_NOT_ACCESSIBLE_CODE, claimPrefix, type BucketClaim, type BucketClaimStore, type OrganizationMembership } from './bucket-claims.ts';
import {
  createTrailParams,
  describeTrailsParams,
  getTrailStatusParams,
  parseParams,
  trailNameParams,
  updateTrailParams,
} from './trail-params.ts';

export interface Caller {
  accountId: string;
  /** The API's region, which becomes the home region of the trails created through it. */
  region: string;
}

/** What the logstore deliverer knows of a trail's stream (docs/design.md §3.6). */
export interface LogstoreStatus {
  /** Whether the trail's logstore can be written. */
  available: boolean;
  latestDeliveryTimeMs?: number;
  latestDeliveryError?: string;
}

export interface TrailApiPorts {
  trails: TrailStore;
  bucketExists(bucket: string): Promise<boolean>;
  /** The resource directory of a management account; undefined when the account manages none. */
  organizationIdOf(managementAccountId: string): Promise<string | undefined>;
  now(): number;
  /** Who holds which archive bucket (docs/design.md §3.5 tenancy; bucket-claims.ts). */
  bucketClaims: BucketClaimStore;
  /** The resource directory an account belongs to, as management account or member; undefined when none. */
  organizationOf(accountId: string): Promise<OrganizationMembership | undefined>;
  /**
   * Optional: the state of a trail's logstore delivery, for GetTrailStatus's
   * SlsLogStoreStatus / LatestDeliveryLogService* fields (left out when absent).
   */
  logstoreStatus?(trail: Trail): Promise<LogstoreStatus | undefined>;
  /** Optional: the region of a bucket, DescribeTrails' OssBucketLocation (left out when absent or unknown). */
  bucketLocation?(bucket: string): Promise<string | undefined>;
  /**
   * Buckets of the deployment itself (the staging bucket: ingest's inbox/, backfill/,
   * redeliver/, rejected/), which no trail may deliver to: a trail's files there would be read
   * as the operator's input.
   */
  reservedBuckets?: readonly string[];
}

export type TrailAction = (params: Record<string, string>, caller: Caller, ports: TrailApiPorts) => Promise<Record<string, unknown>>;

/**
 * A request the trail rules refuse with ActionTrail's code and status: 400 for
 * TrailAlreadyExistsException, InvalidDeliveryConfigurationException, RepeatOssBucket,
 * MaximumNumberOfOrganizationTrailExceeded and NotAllowCreateOrganizationTrail; 403 for
 * MaximumNumberOfTrailsExceededException (as the 2020-07-06 API metadata lists them).
 */
export class TrailRequestError extends DomainError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: 400 | 403 | 409,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** `2020-11-02T09:40:11Z`: UTC, whole seconds, as ActionTrail writes times. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `acs:actiontrail:<homeRegion>:<accountId>:trail/<name>`, ActionTrail's TrailArn. */
export function trailArn(trail: Trail): string {
  return `acs:actiontrail:${trail.homeRegion}:${trail.accountId}:trail/${trail.name}`;
}

function compact(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

const time = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : formatTime(ms));

/** CreateTrail's and UpdateTrail's answer: the trail's configuration. */
function configurationOf(trail: Trail): Record<string, unknown> {
  return compact({
    Name: trail.name,
    HomeRegion: trail.homeRegion,
    TrailRegion: trail.trailRegion,
    EventRW: trail.eventRW,
    OssBucketName: trail.ossBucketName,
    OssKeyPrefix: trail.ossKeyPrefix,
    OssWriteRoleArn: trail.ossWriteRoleArn,
    SlsProjectArn: trail.slsProjectArn,
    SlsWriteRoleArn: trail.slsWriteRoleArn,
  });
}

/** One entry of DescribeTrails' TrailList (DescribeTrailsResponseBodyTrailList of actiontrail-20200706). */
function descriptionOf(trail: Trail, ossBucketLocation: string | undefined): Record<string, unknown> {
  return compact({
    Name: trail.name,
    HomeRegion: trail.homeRegion,
    Region: trail.homeRegion,
    TrailRegion: trail.trailRegion,
    TrailArn: trailArn(trail),
    EventRW: trail.eventRW,
    OssBucketName: trail.ossBucketName,
    OssKeyPrefix: trail.ossKeyPrefix,
    OssWriteRoleArn: trail.ossWriteRoleArn,
    OssBucketLocation: ossBucketLocation,
    SlsProjectArn: trail.slsProjectArn,
    SlsWriteRoleArn: trail.slsWriteRoleArn,
    Status: trail.status,
    IsOrganizationTrail: trail.isOrganizationTrail,
    OrganizationId: trail.isOrganizationTrail ? trail.organizationId : undefined,
    CreateTime: formatTime(trail.createdAtMs),
    UpdateTime: formatTime(trail.updatedAtMs),
    StartLoggingTime: time(trail.startLoggingTimeMs),
    StopLoggingTime: time(trail.stopLoggingTimeMs),
  });
}

// ── errors ───────────────────────────────────────────────────────────────────────────────

function trailNotFound(name: string): NotFoundError {
  return new NotFoundError('TrailNotFoundException', `The specified Trail does not exist: ${name}.`);
}

function trailAlreadyExists(name: string): TrailRequestError {
  return new TrailRequestError('TrailAlreadyExistsException', `The specified Trail name already exists: ${name}.`, 400, 'Name');
}

function bucketDoesNotExist(bucket: string): NotFoundError {
  return new NotFoundError('BucketDoesNotExistException', `The specified OSS bucket does not exist: ${bucket}.`);
}

// ── shared checks ────────────────────────────────────────────────────────────────────────

interface Destinations {
  ossBucketName?: string | undefined;
  ossKeyPrefix?: string | undefined;
  slsProjectArn?: string | undefined;
}

function checkDestinations(d: Destinations): void {
  if (d.ossBucketName === undefined && d.slsProjectArn === undefined) {
    throw new TrailRequestError(
      'InvalidDeliveryConfigurationException',
      'You must specify at least one Log Service project or OSS bucket for a Trail: set OssBucketName or SlsProjectArn.',
      400,
    );
  }
  if (d.ossKeyPrefix !== undefined && d.ossBucketName === undefined) {
    throw new ValidationError('InvalidPrefixException', 'The specified OSS bucket prefix is invalid: OssKeyPrefix needs an OssBucketName.', 'OssKeyPrefix');
  }
}

function checkBucketNotShared(others: readonly Trail[], d: Destinations): void {
  if (d.ossBucketName === undefined) return;
  const clash = others.find((t) => t.ossBucketName === d.ossBucketName && t.ossKeyPrefix === d.ossKeyPrefix);
  if (clash) {
    throw new TrailRequestError(
      'RepeatOssBucket',
      `The specified OSS bucket is already in use: trail ${clash.name} delivers to ${d.ossBucketName}${d.ossKeyPrefix ? `/${d.ossKeyPrefix}` : ''}. Modify the existing Trail or specify another bucket or prefix.`,
      400,
      'OssBucketName',
    );
  }
}

// ── bucket tenancy ───────────────────────────────────────────────────────────────────────

type ClaimSource = Pick<Trail, 'accountId' | 'name' | 'isOrganizationTrail'> & { ossBucketName?: string | undefined; ossKeyPrefix?: string | undefined };

/** The bucket claim a trail needs; undefined when it delivers to no bucket. */
function claimOf(t: ClaimSource): BucketClaim | undefined {
  if (t.ossBucketName === undefined) return undefined;
  return { bucket: t.ossBucketName, ossKeyPrefix: t.ossKeyPrefix, accountId: t.accountId, trailName: t.name, singleAccount: !t.isOrganizationTrail };
}

function sameClaim(a: BucketClaim | undefined, b: BucketClaim | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.bucket === b.bucket && claimPrefix(a.ossKeyPrefix) === claimPrefix(b.ossKeyPrefix) && a.singleAccount === b.singleAccount;
}

/**
 * The accounts that may share `bucket` with `accountId`: its resource directory's accounts when
 * the trail is the organization trail (its members' files land in that bucket anyway) or when the
 * management account's organization trail delivers to that bucket; nobody otherwise.
 */
async function bucketPeers(ports: TrailApiPorts, accountId: string, bucket: string, isOrganizationTrail: boolean): Promise<string[]> {
  const org = await ports.organizationOf(accountId);
  if (!org) return [];
  const everyone = [org.managementAccountId, ...org.memberAccountIds].filter((a) => a !== accountId);
  if (isOrganizationTrail) return everyone;
  const orgTrails = (await ports.trails.list(org.managementAccountId)).filter((t) => t.isOrganizationTrail);
  return orgTrails.some((t) => t.ossBucketName === bucket) ? everyone : [];
}

async function claimBucket(ports: TrailApiPorts, claim: BucketClaim): Promise<void> {
  const peers = await bucketPeers(ports, claim.accountId, claim.bucket, !claim.singleAccount);
  const result = await ports.bucketClaims.claim(claim, peers);
  if (result.ok) return;
  const where = result.reason === 'prefix' ? `${claim.bucket}/${claimPrefix(claim.ossKeyPrefix)}` : claim.bucket;
  throw new TrailRequestError(
    BUCKET_NOT_ACCESSIBLE_CODE,
    `The bucket policy is insufficient: ${where} receives the trail files of another account. Specify a bucket${result.reason === 'prefix' ? ' or prefix' : ''} of your own.`,
    403,
    'OssBucketName',
  );
}

async function checkBucketExists(ports: TrailApiPorts, bucket: string | undefined): Promise<void> {
  if (bucket === undefined) return;
  if (ports.reservedBuckets?.includes(bucket)) {
    throw new TrailRequestError(
      BUCKET_NOT_ACCESSIBLE_CODE,
      `The bucket policy is insufficient: ${bucket} is this deployment's own staging bucket, which trails cannot deliver to. Specify a bucket of your own.`,
      403,
      'OssBucketName',
    );
  }
  if (!(await ports.bucketExists(bucket))) throw bucketDoesNotExist(bucket);
}

async function existingTrail(ports: TrailApiPorts, caller: Caller, name: string): Promise<Trail> {
  const trail = await ports.trails.get(caller.accountId, name);
  if (!trail) throw trailNotFound(name);
  return trail;
}

/**
 * Writes `trail`, read as `read`: only while the stored trail still delivers where `read` did, so
 * a write from a stale read (StartLogging racing UpdateTrail) never puts a trail back on a bucket
 * whose claim UpdateTrail has released — which another account could then claim (§3.4 tenancy).
 */
async function replace(ports: TrailApiPorts, trail: Trail, read: Trail): Promise<Trail> {
  const valid = trailSchema.parse(compact(trail));
  const written = await ports.trails.update(valid, { ossBucketName: read.ossBucketName, ossKeyPrefix: read.ossKeyPrefix });
  if (written === 'changed') {
    throw new TrailRequestError('ConcurrentModification', `The trail ${valid.name} was changed by another request meanwhile; send the request again.`, 409);
  }
  if (!written) throw trailNotFound(valid.name);
  return valid;
}

// ── actions ──────────────────────────────────────────────────────────────────────────────

export async function createTrail(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const input = parseParams(createTrailParams, params);
  checkDestinations(input);

  let organizationId: string | undefined;
  if (input.isOrganizationTrail) {
    organizationId = await ports.organizationIdOf(caller.accountId);
    if (organizationId === undefined) {
      throw new TrailRequestError(
        'NotAllowCreateOrganizationTrail',
        `Your account does not allow you to create organization trail: ${caller.accountId} is not the management account of a resource directory.`,
        400,
        'IsOrganizationTrail',
      );
    }
  }

  const existing = await ports.trails.list(caller.accountId);
  if (existing.some((t) => t.name === input.name)) throw trailAlreadyExists(input.name);
  if (input.isOrganizationTrail) {
    if (existing.filter((t) => t.isOrganizationTrail).length >= MAX_ORGANIZATION_TRAILS) {
      throw new TrailRequestError(
        'MaximumNumberOfOrganizationTrailExceeded',
        `Your account can create only ${MAX_ORGANIZATION_TRAILS} organization trail.`,
        400,
        'IsOrganizationTrail',
      );
    }
  } else if (existing.filter((t) => !t.isOrganizationTrail && t.homeRegion === caller.region).length >= MAX_TRAILS_PER_REGION) {
    throw new TrailRequestError(
      'MaximumNumberOfTrailsExceededException',
      `The number of Trails in the same region exceeds the upper limit (${MAX_TRAILS_PER_REGION}): ${caller.region} already has ${MAX_TRAILS_PER_REGION}.`,
      403,
    );
  }
  checkBucketNotShared(existing, input);
  await checkBucketExists(ports, input.ossBucketName);

  const now = ports.now();
  const draft: TrailInput = {
    name: input.name,
    accountId: caller.accountId,
    homeRegion: caller.region,
    eventRW: input.eventRW,
    trailRegion: input.trailRegion,
    isOrganizationTrail: input.isOrganizationTrail,
    organizationId,
    ossBucketName: input.ossBucketName,
    ossKeyPrefix: input.ossKeyPrefix,
    ossWriteRoleArn: input.ossWriteRoleArn,
    slsProjectArn: input.slsProjectArn,
    slsWriteRoleArn: input.slsWriteRoleArn,
    status: 'Fresh',
    createdAtMs: now,
    updatedAtMs: now,
  };
  const trail = trailSchema.parse(compact({ ...draft }));
  const claim = claimOf(trail);
  if (claim) await claimBucket(ports, claim);
  let created = false;
  try {
    created = await ports.trails.create(trail);
  } finally {
    // A trail of that name created meanwhile keeps its own claim (the same fields when it uses the same bucket and prefix).
    if (!created && claim) {
      const other = await ports.trails.get(caller.accountId, trail.name);
      if (!other || !sameClaim(claimOf(other), claim)) await ports.bucketClaims.release(claim);
    }
  }
  if (!created) throw trailAlreadyExists(trail.name);
  return configurationOf(trail);
}

export async function updateTrail(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const input = parseParams(updateTrailParams, params);
  const current = await existingTrail(ports, caller, input.name);
  if (input.isOrganizationTrail !== undefined && input.isOrganizationTrail !== current.isOrganizationTrail) {
    throw new ValidationError(
      'InvalidQueryParameter',
      'IsOrganizationTrail cannot be changed by UpdateTrail: delete the trail and create it again.',
      'IsOrganizationTrail',
    );
  }

  /** undefined: keep; null: clear; a value: set. */
  const pick = <T>(next: T | null | undefined, now: T | undefined): T | undefined => (next === undefined ? now : (next ?? undefined));
  const ossBucketName = pick(input.ossBucketName, current.ossBucketName);
  const slsProjectArn = pick(input.slsProjectArn, current.slsProjectArn);
  // A cleared destination takes its companion setting with it unless that is set anew.
  const ossKeyPrefix = pick(input.ossKeyPrefix, ossBucketName === undefined ? undefined : current.ossKeyPrefix);
  const slsWriteRoleArn = pick(input.slsWriteRoleArn, slsProjectArn === undefined ? undefined : current.slsWriteRoleArn);
  const ossWriteRoleArn = pick(input.ossWriteRoleArn, ossBucketName === undefined ? undefined : current.ossWriteRoleArn);
  const destinations = { ossBucketName, ossKeyPrefix, slsProjectArn };
  checkDestinations(destinations);

  if (ossBucketName !== current.ossBucketName || ossKeyPrefix !== current.ossKeyPrefix) {
    const others = (await ports.trails.list(caller.accountId)).filter((t) => t.name !== current.name);
    checkBucketNotShared(others, destinations);
  }
  if (typeof input.ossBucketName === 'string') await checkBucketExists(ports, input.ossBucketName);

  const before = claimOf(current);
  const after = claimOf({ ...current, ossBucketName, ossKeyPrefix });
  const moved = !sameClaim(before, after);
  if (moved && after) await claimBucket(ports, after);
  let updated: Trail;
  try {
    updated = await replace(ports, {
      ...current,
      eventRW: input.eventRW ?? current.eventRW,
      trailRegion: input.trailRegion ?? current.trailRegion,
      ossBucketName,
      ossKeyPrefix,
      ossWriteRoleArn,
      slsProjectArn,
      slsWriteRoleArn,
      updatedAtMs: ports.now(),
    }, current);
  } catch (error) {
    if (moved && after) await ports.bucketClaims.release(after);
    throw error;
  }
  if (moved && before) await ports.bucketClaims.release(before);
  return configurationOf(updated);
}

export async function deleteTrail(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  const trail = await ports.trails.get(caller.accountId, name);
  if (!trail || !(await ports.trails.delete(caller.accountId, name))) throw trailNotFound(name);
  const claim = claimOf(trail);
  if (claim) await ports.bucketClaims.release(claim);
  return {};
}

export async function startLogging(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  const trail = await existingTrail(ports, caller, name);
  if (trail.status !== 'Enable') await replace(ports, { ...trail, status: 'Enable', startLoggingTimeMs: ports.now() }, trail);
  return {};
}

export async function stopLogging(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  const trail = await existingTrail(ports, caller, name);
  if (trail.status === 'Enable') await replace(ports, { ...trail, status: 'Disable', stopLoggingTimeMs: ports.now() }, trail);
  return {};
}

export async function describeTrails(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const input = parseParams(describeTrailsParams, params);
  const names = input.nameList ? new Set(input.nameList) : undefined;
  const appliesHere = (t: Trail): boolean =>
    t.homeRegion === caller.region || (input.includeShadowTrails && (t.trailRegion === 'All' || t.trailRegion === caller.region));
  const trails = (await ports.trails.list(caller.accountId)).filter(
    (t) => (input.includeOrganizationTrail || !t.isOrganizationTrail) && appliesHere(t) && (!names || names.has(t.name)),
  );
  const locations = new Map<string, string | undefined>();
  for (const bucket of new Set(trails.map((t) => t.ossBucketName).filter((b): b is string => b !== undefined))) {
    locations.set(bucket, ports.bucketLocation ? await ports.bucketLocation(bucket) : undefined);
  }
  return { TrailList: trails.map((t) => descriptionOf(t, t.ossBucketName === undefined ? undefined : locations.get(t.ossBucketName))) };
}

/**
 * GetTrailStatus. IsOrganizationTrail (default false) says which kind of trail is asked for;
 * a trail of the other kind is not found (ActionTrail: false queries single-account trails).
 */
export async function getTrailStatus(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const input = parseParams(getTrailStatusParams, params);
  const trail = await ports.trails.get(caller.accountId, input.name);
  if (!trail || trail.isOrganizationTrail !== input.isOrganizationTrail) throw trailNotFound(input.name);
  const ossBucketStatus = trail.ossBucketName === undefined ? undefined : await ports.bucketExists(trail.ossBucketName);
  const logstore = trail.slsProjectArn !== undefined && ports.logstoreStatus ? await ports.logstoreStatus(trail) : undefined;
  return compact({
    IsLogging: trail.status === 'Enable',
    StartLoggingTime: time(trail.startLoggingTimeMs),
    StopLoggingTime: time(trail.stopLoggingTimeMs),
    LatestDeliveryTime: time(trail.latestDeliveryTimeMs),
    LatestDeliveryError: trail.latestDeliveryError,
    OssBucketStatus: ossBucketStatus,
    SlsLogStoreStatus: logstore?.available,
    LatestDeliveryLogServiceTime: time(logstore?.latestDeliveryTimeMs),
    LatestDeliveryLogServiceError: logstore?.latestDeliveryError,
  });
}

/** The actions by their RPC names, for the RPC adapter (DescribeRegions too: ActionTrail's region list). */
export const TRAIL_ACTIONS: Readonly<Record<string, TrailAction>> = {
  CreateTrail: createTrail,
  UpdateTrail: updateTrail,
  DeleteTrail: deleteTrail,
  DescribeTrails: describeTrails,
  StartLogging: startLogging,
  StopLogging: stopLogging,
  GetTrailStatus: getTrailStatus,
  DescribeRegions: (params) => describeRegions(params),
};
