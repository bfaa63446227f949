/**
 * The ActionTrail trail API (OpenAPI 2020-07-06, DESIGN §3.4) as pure use cases:
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

/** What the logstore deliverer knows of a trail's stream (DESIGN §3.6). */
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
  /**
   * Optional: the state of a trail's logstore delivery, for GetTrailStatus's
   * SlsLogStoreStatus / LatestDeliveryLogService* fields (left out when absent).
   */
  logstoreStatus?(trail: Trail): Promise<LogstoreStatus | undefined>;
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
    readonly status: 400 | 403,
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
    SlsProjectArn: trail.slsProjectArn,
    SlsWriteRoleArn: trail.slsWriteRoleArn,
  });
}

/** One entry of DescribeTrails' TrailList. */
function descriptionOf(trail: Trail): Record<string, unknown> {
  return compact({
    Name: trail.name,
    HomeRegion: trail.homeRegion,
    Region: trail.homeRegion,
    TrailRegion: trail.trailRegion,
    TrailArn: trailArn(trail),
    EventRW: trail.eventRW,
    OssBucketName: trail.ossBucketName,
    OssKeyPrefix: trail.ossKeyPrefix,
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

async function checkBucketExists(ports: TrailApiPorts, bucket: string | undefined): Promise<void> {
  if (bucket !== undefined && !(await ports.bucketExists(bucket))) throw bucketDoesNotExist(bucket);
}

async function existingTrail(ports: TrailApiPorts, caller: Caller, name: string): Promise<Trail> {
  const trail = await ports.trails.get(caller.accountId, name);
  if (!trail) throw trailNotFound(name);
  return trail;
}

async function replace(ports: TrailApiPorts, trail: Trail): Promise<Trail> {
  const valid = trailSchema.parse(compact(trail));
  if (!(await ports.trails.update(valid))) throw trailNotFound(valid.name);
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
    slsProjectArn: input.slsProjectArn,
    slsWriteRoleArn: input.slsWriteRoleArn,
    status: 'Fresh',
    createdAtMs: now,
    updatedAtMs: now,
  };
  const trail = trailSchema.parse(compact({ ...draft }));
  if (!(await ports.trails.create(trail))) throw trailAlreadyExists(trail.name);
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
  const destinations = { ossBucketName, ossKeyPrefix, slsProjectArn };
  checkDestinations(destinations);

  if (ossBucketName !== current.ossBucketName || ossKeyPrefix !== current.ossKeyPrefix) {
    const others = (await ports.trails.list(caller.accountId)).filter((t) => t.name !== current.name);
    checkBucketNotShared(others, destinations);
  }
  if (typeof input.ossBucketName === 'string') await checkBucketExists(ports, input.ossBucketName);

  const updated = await replace(ports, {
    ...current,
    eventRW: input.eventRW ?? current.eventRW,
    trailRegion: input.trailRegion ?? current.trailRegion,
    ossBucketName,
    ossKeyPrefix,
    slsProjectArn,
    slsWriteRoleArn,
    updatedAtMs: ports.now(),
  });
  return configurationOf(updated);
}

export async function deleteTrail(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  if (!(await ports.trails.delete(caller.accountId, name))) throw trailNotFound(name);
  return {};
}

export async function startLogging(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  const trail = await existingTrail(ports, caller, name);
  if (trail.status !== 'Enable') await replace(ports, { ...trail, status: 'Enable', startLoggingTimeMs: ports.now() });
  return {};
}

export async function stopLogging(params: Record<string, string>, caller: Caller, ports: TrailApiPorts): Promise<Record<string, unknown>> {
  const { name } = parseParams(trailNameParams, params);
  const trail = await existingTrail(ports, caller, name);
  if (trail.status === 'Enable') await replace(ports, { ...trail, status: 'Disable', stopLoggingTimeMs: ports.now() });
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
  return { TrailList: trails.map(descriptionOf) };
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

/** The actions by their RPC names, for the RPC adapter. */
export const TRAIL_ACTIONS: Readonly<Record<string, TrailAction>> = {
  CreateTrail: createTrail,
  UpdateTrail: updateTrail,
  DeleteTrail: deleteTrail,
  DescribeTrails: describeTrails,
  StartLogging: startLogging,
  StopLogging: stopLogging,
  GetTrailStatus: getTrailStatus,
};
