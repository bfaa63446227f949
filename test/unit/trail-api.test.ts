import { beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../shared/errors.ts';
import { MAX_ORGANIZATION_TRAILS, MAX_TRAILS_PER_REGION, trailSchema, type Trail } from '../../shared/trails/model.ts';
import type { TrailDestination, TrailStore } from '../../shared/trails/trail-store.ts';
import {
  TRAIL_ACTIONS,
  createTrail,
  deleteTrail,
  describeTrails,
  formatTime,
  getTrailStatus,
  startLogging,
  stopLogging,
  updateTrail,
  type Caller,
  type LogstoreStatus,
  type TrailApiPorts,
} from '../../shared/trails/trail-api.ts';
import { describeTrailsParams, parseParams } from '../../shared/trails/trail-params.ts';
import { claimPrefix, type BucketClaim, type BucketClaimStore, type ClaimResult } from '../../shared/trails/bucket-claims.ts';

/** The Redis bucket-claim script's rules in memory (adapters/redis/trail-store.ts). */
class MemoryBucketClaims implements BucketClaimStore {
  /** bucket → (trail field → account), and bucket → (prefix → "account|trail"). */
  private readonly trails = new Map<string, Map<string, string>>();
  private readonly folders = new Map<string, Map<string, string>>();
  async claim(claim: BucketClaim, peers: readonly string[]): Promise<ClaimResult> {
    const trails = this.trails.get(claim.bucket) ?? new Map<string, string>();
    const folders = this.folders.get(claim.bucket) ?? new Map<string, string>();
    for (const holder of trails.values()) if (holder !== claim.accountId && !peers.includes(holder)) return { ok: false, reason: 'bucket' };
    const prefix = claimPrefix(claim.ossKeyPrefix);
    const mine = `${claim.accountId}|${claim.trailName}`;
    if (claim.singleAccount) {
      const current = folders.get(prefix);
      if (current !== undefined && current !== mine) return { ok: false, reason: 'prefix' };
      folders.set(prefix, mine);
    }
    trails.set(`${mine}|${prefix}`, claim.accountId);
    this.trails.set(claim.bucket, trails);
    this.folders.set(claim.bucket, folders);
    return { ok: true };
  }
  async release(claim: BucketClaim): Promise<void> {
    const prefix = claimPrefix(claim.ossKeyPrefix);
    const mine = `${claim.accountId}|${claim.trailName}`;
    this.trails.get(claim.bucket)?.delete(`${mine}|${prefix}`);
    if (this.folders.get(claim.bucket)?.get(prefix) === mine) this.folders.get(claim.bucket)?.delete(prefix);
  }
  async holders(bucket: string): Promise<string[]> {
    return [...new Set(this.trails.get(bucket)?.values() ?? [])].sort();
  }
}

/** A small in-memory TrailStore with the Redis store's contract (validated writes, created-order listing). */
class MemoryTrailStore implements TrailStore {
  private readonly trails = new Map<string, Trail>();
  private key(accountId: string, name: string): string {
    return `${accountId}\u0000${name}`;
  }
  async list(accountId: string): Promise<Trail[]> {
    return [...this.trails.values()]
      .filter((t) => t.accountId === accountId)
      .sort((a, b) => a.createdAtMs - b.createdAtMs || a.name.localeCompare(b.name))
      .map((t) => structuredClone(t));
  }
  async get(accountId: string, name: string): Promise<Trail | undefined> {
    const t = this.trails.get(this.key(accountId, name));
    return t ? structuredClone(t) : undefined;
  }
  async create(trail: Trail): Promise<boolean> {
    const valid = trailSchema.parse(trail);
    const key = this.key(valid.accountId, valid.name);
    if (this.trails.has(key)) return false;
    this.trails.set(key, valid);
    return true;
  }
  async update(trail: Trail, expected?: TrailDestination): Promise<boolean | 'changed'> {
    const valid = trailSchema.parse(trail);
    const key = this.key(valid.accountId, valid.name);
    const current = this.trails.get(key);
    if (!current) return false;
    if (expected && (current.ossBucketName !== expected.ossBucketName || current.ossKeyPrefix !== expected.ossKeyPrefix)) return 'changed';
    this.trails.set(key, valid);
    return true;
  }
  async delete(accountId: string, name: string): Promise<boolean> {
    return this.trails.delete(this.key(accountId, name));
  }
  /** Test hook: what a deliverer would write. */
  async patch(accountId: string, name: string, fields: Partial<Trail>): Promise<void> {
    const t = this.trails.get(this.key(accountId, name));
    if (!t) throw new Error(`no trail ${name}`);
    this.trails.set(this.key(accountId, name), trailSchema.parse({ ...t, ...fields }));
  }
}

const MANAGEMENT = '1234567890123456';
const SINGLE = '2234567890123456';
const MEMBER = '3234567890123456';
const ORG_ID = 'rd-Ev7abc';
const HANGZHOU = 'cn-hangzhou';
const SHANGHAI = 'cn-shanghai';
const T0 = Date.parse('2020-11-02T09:40:11Z');
const SLS_PROJECT = `acs:log:${HANGZHOU}:${MANAGEMENT}:project/audit-project`;
const SLS_ROLE = `acs:ram::${MANAGEMENT}:role/aliyunserviceroleforactiontrail`;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let store: MemoryTrailStore;
let clock: number;
let buckets: Set<string>;
let logstore: LogstoreStatus | undefined;
let ports: TrailApiPorts;
let claims: MemoryBucketClaims;

const caller = (accountId = MANAGEMENT, region = HANGZHOU): Caller => ({ accountId, region });
const tick = (ms: number): void => {
  clock += ms;
};

beforeEach(() => {
  store = new MemoryTrailStore();
  clock = T0;
  buckets = new Set(['audit-log', 'other-log', 'third-log']);
  logstore = undefined;
  claims = new MemoryBucketClaims();
  ports = {
    bucketClaims: claims,
    organizationOf: async (accountId) =>
      accountId === MANAGEMENT || accountId === MEMBER ? { managementAccountId: MANAGEMENT, memberAccountIds: [MEMBER] } : undefined,
    trails: store,
    bucketExists: async (bucket) => buckets.has(bucket),
    organizationIdOf: async (accountId) => (accountId === MANAGEMENT ? ORG_ID : undefined),
    now: () => clock,
    logstoreStatus: async () => logstore,
  };
});

/** Asserts a DomainError with ActionTrail's code, the HTTP status and (when given) the parameter named. */
async function refused(promise: Promise<unknown>, code: string, status: number, field?: string): Promise<DomainError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(DomainError);
  const domain = error as DomainError;
  expect({ code: domain.code, status: domain.status }).toEqual({ code, status });
  if (field !== undefined) expect((domain as DomainError & { field?: string }).field).toBe(field);
  expect(domain.message.length).toBeGreaterThan(0);
  return domain;
}

const create = (params: Record<string, string>, who: Caller = caller()) => createTrail(params, who, ports);

describe('CreateTrail', () => {
  it("creates a Fresh trail with ActionTrail's current defaults (EventRW All, TrailRegion All, single-account)", async () => {
    const answer = await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    expect(answer).toEqual({ Name: 'trail-test', HomeRegion: HANGZHOU, TrailRegion: 'All', EventRW: 'All', OssBucketName: 'audit-log' });
    const stored = await store.get(MANAGEMENT, 'trail-test');
    expect(trailSchema.safeParse(stored).success).toBe(true);
    expect(stored).toMatchObject({
      status: 'Fresh',
      eventRW: 'All',
      trailRegion: 'All',
      isOrganizationTrail: false,
      homeRegion: HANGZHOU,
      createdAtMs: T0,
      updatedAtMs: T0,
    });
    expect(stored?.startLoggingTimeMs).toBeUndefined();
    expect(stored?.organizationId).toBeUndefined();
  });

  it('takes every documented parameter and ignores the RPC common ones', async () => {
    const answer = await create({
      Action: 'CreateTrail',
      Version: '2020-07-06',
      AccessKeyId: 'LTAIexample',
      Signature: 'x',
      Name: 'full-trail',
      OssBucketName: 'audit-log',
      OssKeyPrefix: 'at-product-account-audit-B',
      OssWriteRoleArn: SLS_ROLE,
      SlsProjectArn: SLS_PROJECT,
      SlsWriteRoleArn: SLS_ROLE,
      EventRW: 'All',
      TrailRegion: SHANGHAI,
      IsOrganizationTrail: 'false',
    });
    expect(answer).toEqual({
      Name: 'full-trail',
      HomeRegion: HANGZHOU,
      TrailRegion: SHANGHAI,
      EventRW: 'All',
      OssBucketName: 'audit-log',
      OssKeyPrefix: 'at-product-account-audit-B',
      OssWriteRoleArn: SLS_ROLE,
      SlsProjectArn: SLS_PROJECT,
      SlsWriteRoleArn: SLS_ROLE,
    });
  });

  it('accepts a Log Service project as the only destination', async () => {
    await create({ Name: 'sls-only', SlsProjectArn: SLS_PROJECT });
    expect(await store.get(MANAGEMENT, 'sls-only')).toMatchObject({ slsProjectArn: SLS_PROJECT, status: 'Fresh' });
  });

  it.each([
    ['../x', 'path traversal'],
    ['../../etc/passwd', 'path traversal, long enough'],
    ['a/b', 'slash, too short'],
    ['trail/inner', 'slash'],
    ['UPPER', 'uppercase, too short'],
    ['Upper-case', 'uppercase first'],
    ['trail.name', 'dot'],
    ['short', 'five characters'],
    ['a'.repeat(37), '37 characters'],
    ['1trail', 'digit first'],
  ])('refuses the name %j (%s) with InvalidTrailNameException', async (name) => {
    await refused(create({ Name: name, OssBucketName: 'audit-log' }), 'InvalidTrailNameException', 400, 'Name');
    expect(await store.list(MANAGEMENT)).toEqual([]);
  });

  it('accepts names of 6 and 36 characters', async () => {
    await create({ Name: 'sixchr', OssBucketName: 'audit-log' });
    await create({ Name: `a${'b'.repeat(34)}_`, OssBucketName: 'other-log' });
    expect((await store.list(MANAGEMENT)).map((t) => t.name).sort()).toEqual([`a${'b'.repeat(34)}_`, 'sixchr']);
    expect(`a${'b'.repeat(34)}_`).toHaveLength(36);
  });

  it('refuses a missing Name with MissingParameter', async () => {
    await refused(create({ OssBucketName: 'audit-log' }), 'MissingParameter', 400, 'Name');
    await refused(create({ Name: '', OssBucketName: 'audit-log' }), 'MissingParameter', 400, 'Name');
  });

  it('needs at least one destination (InvalidDeliveryConfigurationException)', async () => {
    await refused(create({ Name: 'no-destination' }), 'InvalidDeliveryConfigurationException', 400);
    await refused(create({ Name: 'no-destination', OssBucketName: '', SlsProjectArn: '' }), 'InvalidDeliveryConfigurationException', 400);
  });

  it('refuses a bucket that does not exist (BucketDoesNotExistException, 404)', async () => {
    await refused(create({ Name: 'trail-test', OssBucketName: 'missing-bucket' }), 'BucketDoesNotExistException', 404);
    expect(await store.list(MANAGEMENT)).toEqual([]);
  });

  it.each([
    ['OssBucketName', 'Audit-Log', 'InvalidBucketNameException'],
    ['OssBucketName', 'ab', 'InvalidBucketNameException'],
    ['OssBucketName', '../bucket', 'InvalidBucketNameException'],
    ['OssKeyPrefix', 'logs', 'InvalidPrefixException'],
    ['OssKeyPrefix', '../logs-x', 'InvalidPrefixException'],
    ['OssKeyPrefix', 'logs-x//y', 'InvalidPrefixException'],
    ['OssKeyPrefix', 'logs-x/', 'InvalidPrefixException'],
    ['OssKeyPrefix', `a${'b'.repeat(32)}`, 'InvalidPrefixException'],
    ['EventRW', 'write', 'InvalidQueryParameter'],
    ['TrailRegion', 'mars', 'InvalidQueryParameter'],
    ['IsOrganizationTrail', 'yes', 'InvalidQueryParameter'],
    ['SlsProjectArn', 'acs:log:cn-hangzhou:123:logstore/x', 'InvalidQueryParameter'],
    ['SlsWriteRoleArn', 'aliyunserviceroleforactiontrail', 'InvalidQueryParameter'],
    ['OssWriteRoleArn', 'acs:ram::x:role/y', 'InvalidQueryParameter'],
    ['MaxComputeProjectArn', `acs:odps:cn-hangzhou:${MANAGEMENT}:project/actiontrail_x`, 'InvalidQueryParameter'],
  ])('refuses %s=%j with %s, naming the parameter', async (param, value, code) => {
    await refused(create({ Name: 'trail-test', OssBucketName: 'audit-log', [param]: value }), code, 400, param);
  });

  it('refuses OssKeyPrefix without OssBucketName', async () => {
    await refused(create({ Name: 'trail-test', SlsProjectArn: SLS_PROJECT, OssKeyPrefix: 'audit-prefix' }), 'InvalidPrefixException', 400, 'OssKeyPrefix');
  });

  it('refuses a duplicate name (TrailAlreadyExistsException, 400), in any region', async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    await refused(create({ Name: 'trail-test', OssBucketName: 'other-log' }), 'TrailAlreadyExistsException', 400, 'Name');
    await refused(create({ Name: 'trail-test', OssBucketName: 'other-log' }, caller(MANAGEMENT, SHANGHAI)), 'TrailAlreadyExistsException', 400);
  });

  it('refuses a second trail on the same bucket and prefix (RepeatOssBucket)', async () => {
    await create({ Name: 'trail-one', OssBucketName: 'audit-log' });
    await refused(create({ Name: 'trail-two', OssBucketName: 'audit-log' }), 'RepeatOssBucket', 400, 'OssBucketName');
    await create({ Name: 'trail-two', OssBucketName: 'audit-log', OssKeyPrefix: 'second-trail' });
  });

  it(`allows ${MAX_TRAILS_PER_REGION} single-account trails per region (MaximumNumberOfTrailsExceededException, 403)`, async () => {
    for (let i = 0; i < MAX_TRAILS_PER_REGION; i++) await create({ Name: `trail-${i}`, SlsProjectArn: SLS_PROJECT });
    await refused(create({ Name: 'trail-extra', SlsProjectArn: SLS_PROJECT }), 'MaximumNumberOfTrailsExceededException', 403);
    // Another home region has its own allowance; an organization trail is not counted.
    await create({ Name: 'trail-shanghai', SlsProjectArn: SLS_PROJECT }, caller(MANAGEMENT, SHANGHAI));
    await create({ Name: 'org-trail', SlsProjectArn: SLS_PROJECT, IsOrganizationTrail: 'true' });
    // Deleting one frees a place.
    await deleteTrail({ Name: 'trail-0' }, caller(), ports);
    await create({ Name: 'trail-extra', SlsProjectArn: SLS_PROJECT });
  });

  it('lets only a management account create an organization trail (NotAllowCreateOrganizationTrail)', async () => {
    await refused(
      create({ Name: 'org-trail', OssBucketName: 'audit-log', IsOrganizationTrail: 'true' }, caller(SINGLE)),
      'NotAllowCreateOrganizationTrail',
      400,
      'IsOrganizationTrail',
    );
    expect(await store.list(SINGLE)).toEqual([]);
  });

  it(`stores the organization id and allows ${MAX_ORGANIZATION_TRAILS} organization trail (MaximumNumberOfOrganizationTrailExceeded)`, async () => {
    await create({ Name: 'org-trail', OssBucketName: 'audit-log', IsOrganizationTrail: 'TRUE' });
    expect(await store.get(MANAGEMENT, 'org-trail')).toMatchObject({ isOrganizationTrail: true, organizationId: ORG_ID, status: 'Fresh' });
    await refused(
      create({ Name: 'org-trail-2', OssBucketName: 'other-log', IsOrganizationTrail: 'true' }, caller(MANAGEMENT, SHANGHAI)),
      'MaximumNumberOfOrganizationTrailExceeded',
      400,
    );
  });
});

describe('StartLogging / StopLogging', () => {
  it('moves Fresh → Enable → Disable → Enable, recording start and stop times', async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    const status = () => getTrailStatus({ Name: 'trail-test' }, caller(), ports);
    expect(await status()).toEqual({ IsLogging: false, OssBucketStatus: true });

    tick(60_000);
    expect(await startLogging({ Name: 'trail-test' }, caller(), ports)).toEqual({});
    const started = await store.get(MANAGEMENT, 'trail-test');
    expect(started).toMatchObject({ status: 'Enable', startLoggingTimeMs: T0 + 60_000, updatedAtMs: T0 });
    expect(await status()).toMatchObject({ IsLogging: true, StartLoggingTime: '2020-11-02T09:41:11Z' });

    tick(60_000);
    expect(await stopLogging({ Name: 'trail-test' }, caller(), ports)).toEqual({});
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ status: 'Disable', startLoggingTimeMs: T0 + 60_000, stopLoggingTimeMs: T0 + 120_000 });
    expect(await status()).toMatchObject({ IsLogging: false, StartLoggingTime: '2020-11-02T09:41:11Z', StopLoggingTime: '2020-11-02T09:42:11Z' });

    tick(60_000);
    await startLogging({ Name: 'trail-test' }, caller(), ports);
    const restarted = await store.get(MANAGEMENT, 'trail-test');
    expect(restarted).toMatchObject({ status: 'Enable', startLoggingTimeMs: T0 + 180_000, stopLoggingTimeMs: T0 + 120_000 });
    expect(trailSchema.safeParse(restarted).success).toBe(true);
  });

  it('keeps the start time when an Enable trail is started again, and leaves a Fresh trail Fresh on stop', async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    await stopLogging({ Name: 'trail-test' }, caller(), ports);
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ status: 'Fresh' });
    expect((await store.get(MANAGEMENT, 'trail-test'))?.stopLoggingTimeMs).toBeUndefined();

    await startLogging({ Name: 'trail-test' }, caller(), ports);
    tick(5_000);
    await startLogging({ Name: 'trail-test' }, caller(), ports);
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ status: 'Enable', startLoggingTimeMs: T0 });
  });
});

describe('unknown trails', () => {
  it.each([
    ['UpdateTrail', () => updateTrail({ Name: 'no-such-trail', EventRW: 'All' }, caller(), ports)],
    ['DeleteTrail', () => deleteTrail({ Name: 'no-such-trail' }, caller(), ports)],
    ['StartLogging', () => startLogging({ Name: 'no-such-trail' }, caller(), ports)],
    ['StopLogging', () => stopLogging({ Name: 'no-such-trail' }, caller(), ports)],
    ['GetTrailStatus', () => getTrailStatus({ Name: 'no-such-trail' }, caller(), ports)],
  ])('%s answers TrailNotFoundException (404)', async (_action, call) => {
    await refused(call(), 'TrailNotFoundException', 404);
  });

  it("does not reach another account's trail", async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    await refused(getTrailStatus({ Name: 'trail-test' }, caller(SINGLE), ports), 'TrailNotFoundException', 404);
    await refused(deleteTrail({ Name: 'trail-test' }, caller(SINGLE), ports), 'TrailNotFoundException', 404);
    expect(await store.get(MANAGEMENT, 'trail-test')).toBeDefined();
  });

  it.each([
    ['DeleteTrail', () => deleteTrail({ Name: '../trail-test' }, caller(), ports)],
    ['StartLogging', () => startLogging({ Name: 'Trail-Test' }, caller(), ports)],
    ['GetTrailStatus', () => getTrailStatus({ Name: 'a/b/c/d/e' }, caller(), ports)],
  ])('%s checks the name first (InvalidTrailNameException)', async (_action, call) => {
    await refused(call(), 'InvalidTrailNameException', 400, 'Name');
  });

  it('DeleteTrail removes the trail', async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log' });
    expect(await deleteTrail({ Name: 'trail-test' }, caller(), ports)).toEqual({});
    expect(await store.get(MANAGEMENT, 'trail-test')).toBeUndefined();
    await refused(deleteTrail({ Name: 'trail-test' }, caller(), ports), 'TrailNotFoundException', 404);
  });
});

describe('UpdateTrail', () => {
  beforeEach(async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log', OssKeyPrefix: 'audit-prefix' });
    await startLogging({ Name: 'trail-test' }, caller(), ports);
    tick(1_000);
  });

  it('changes what is given, keeps the rest (status, times, defaults) and bumps UpdateTime', async () => {
    const answer = await updateTrail({ Name: 'trail-test', EventRW: 'All', SlsProjectArn: SLS_PROJECT }, caller(), ports);
    expect(answer).toEqual({
      Name: 'trail-test',
      HomeRegion: HANGZHOU,
      TrailRegion: 'All',
      EventRW: 'All',
      OssBucketName: 'audit-log',
      OssKeyPrefix: 'audit-prefix',
      SlsProjectArn: SLS_PROJECT,
    });
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({
      status: 'Enable',
      createdAtMs: T0,
      startLoggingTimeMs: T0,
      updatedAtMs: T0 + 1_000,
      eventRW: 'All',
    });
  });

  it('clears a destination sent empty, with its prefix', async () => {
    await updateTrail({ Name: 'trail-test', SlsProjectArn: SLS_PROJECT, OssBucketName: '' }, caller(), ports);
    const trail = await store.get(MANAGEMENT, 'trail-test');
    expect(trail?.ossBucketName).toBeUndefined();
    expect(trail?.ossKeyPrefix).toBeUndefined();
    expect(trail?.slsProjectArn).toBe(SLS_PROJECT);
  });

  it('refuses to leave the trail without a destination', async () => {
    await refused(updateTrail({ Name: 'trail-test', OssBucketName: '' }, caller(), ports), 'InvalidDeliveryConfigurationException', 400);
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ ossBucketName: 'audit-log' });
  });

  it('checks a new bucket exists (BucketDoesNotExistException) and is not in use', async () => {
    await refused(updateTrail({ Name: 'trail-test', OssBucketName: 'missing-bucket' }, caller(), ports), 'BucketDoesNotExistException', 404);
    await create({ Name: 'trail-other', OssBucketName: 'other-log' });
    await refused(updateTrail({ Name: 'trail-other', OssBucketName: 'audit-log', OssKeyPrefix: 'audit-prefix' }, caller(), ports), 'RepeatOssBucket', 400);
    await updateTrail({ Name: 'trail-test', OssBucketName: 'third-log' }, caller(), ports);
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ ossBucketName: 'third-log', ossKeyPrefix: 'audit-prefix' });
  });

  it('does not change IsOrganizationTrail', async () => {
    await refused(updateTrail({ Name: 'trail-test', IsOrganizationTrail: 'true' }, caller(), ports), 'InvalidQueryParameter', 400, 'IsOrganizationTrail');
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ isOrganizationTrail: false });
    await updateTrail({ Name: 'trail-test', IsOrganizationTrail: 'false', TrailRegion: SHANGHAI }, caller(), ports);
    expect(await store.get(MANAGEMENT, 'trail-test')).toMatchObject({ isOrganizationTrail: false, trailRegion: SHANGHAI });
  });

  it('validates parameters as CreateTrail does', async () => {
    await refused(updateTrail({ Name: 'trail-test', EventRW: 'Both' }, caller(), ports), 'InvalidQueryParameter', 400, 'EventRW');
    await refused(updateTrail({ Name: 'trail-test', OssKeyPrefix: '../up' }, caller(), ports), 'InvalidPrefixException', 400, 'OssKeyPrefix');
    await refused(updateTrail({ EventRW: 'All' }, caller(), ports), 'MissingParameter', 400, 'Name');
  });
});

describe('DescribeTrails', () => {
  beforeEach(async () => {
    await create({ Name: 'trail-alpha', OssBucketName: 'audit-log', OssKeyPrefix: 'alpha-prefix', EventRW: 'All' });
    tick(1_000);
    await create({ Name: 'trail-beta', SlsProjectArn: SLS_PROJECT, SlsWriteRoleArn: SLS_ROLE });
    tick(1_000);
    await create({ Name: 'org-trail', OssBucketName: 'other-log', IsOrganizationTrail: 'true' });
    tick(1_000);
    await create({ Name: 'shanghai-all', OssBucketName: 'third-log' }, caller(MANAGEMENT, SHANGHAI));
    await create({ Name: 'shanghai-only', SlsProjectArn: SLS_PROJECT, TrailRegion: SHANGHAI }, caller(MANAGEMENT, SHANGHAI));
    tick(1_000);
    await startLogging({ Name: 'trail-alpha' }, caller(), ports);
    tick(1_000);
    await stopLogging({ Name: 'trail-alpha' }, caller(), ports);
  });

  const names = (answer: Record<string, unknown>): string[] =>
    (answer['TrailList'] as Array<Record<string, unknown>>).map((t) => String(t['Name']));

  it("answers TrailList with ActionTrail's field names and time format", async () => {
    const answer = await describeTrails({ NameList: 'trail-alpha' }, caller(), ports);
    expect(answer).toEqual({
      TrailList: [
        {
          Name: 'trail-alpha',
          HomeRegion: HANGZHOU,
          Region: HANGZHOU,
          TrailRegion: 'All',
          TrailArn: `acs:actiontrail:${HANGZHOU}:${MANAGEMENT}:trail/trail-alpha`,
          EventRW: 'All',
          OssBucketName: 'audit-log',
          OssKeyPrefix: 'alpha-prefix',
          Status: 'Disable',
          IsOrganizationTrail: false,
          CreateTime: '2020-11-02T09:40:11Z',
          UpdateTime: '2020-11-02T09:40:11Z',
          StartLoggingTime: '2020-11-02T09:40:15Z',
          StopLoggingTime: '2020-11-02T09:40:16Z',
        },
      ],
    });
  });

  it("lists this region's single-account trails by default", async () => {
    expect(names(await describeTrails({}, caller(), ports))).toEqual(['trail-alpha', 'trail-beta']);
    expect(names(await describeTrails({}, caller(MANAGEMENT, SHANGHAI), ports))).toEqual(['shanghai-all', 'shanghai-only']);
    expect(names(await describeTrails({}, caller(SINGLE), ports))).toEqual([]);
  });

  it('filters by NameList (comma-separated, unknown names skipped)', async () => {
    expect(names(await describeTrails({ NameList: 'trail-beta, no-such-trail,,trail-beta' }, caller(), ports))).toEqual(['trail-beta']);
    expect(names(await describeTrails({ NameList: 'trail-alpha,trail-beta' }, caller(), ports))).toEqual(['trail-alpha', 'trail-beta']);
    expect(names(await describeTrails({ NameList: '' }, caller(), ports))).toEqual(['trail-alpha', 'trail-beta']);
    await refused(describeTrails({ NameList: 'trail-alpha,../etc' }, caller(), ports), 'InvalidTrailNameException', 400, 'NameList');
  });

  it('adds organization trails with IncludeOrganizationTrail=true, with their OrganizationId', async () => {
    const answer = await describeTrails({ IncludeOrganizationTrail: 'true' }, caller(), ports);
    expect(names(answer)).toEqual(['trail-alpha', 'trail-beta', 'org-trail']);
    const org = (answer['TrailList'] as Array<Record<string, unknown>>)[2];
    expect(org).toMatchObject({ Name: 'org-trail', IsOrganizationTrail: true, OrganizationId: ORG_ID, Status: 'Fresh' });
    expect(names(await describeTrails({ NameList: 'org-trail' }, caller(), ports))).toEqual([]);
  });

  it('adds shadow trails (other home region, applying here) with IncludeShadowTrails=true', async () => {
    expect(names(await describeTrails({ IncludeShadowTrails: 'true' }, caller(), ports))).toEqual(['trail-alpha', 'trail-beta', 'shanghai-all']);
    expect(names(await describeTrails({ IncludeShadowTrails: 'true' }, caller(MANAGEMENT, SHANGHAI), ports))).toEqual([
      'trail-alpha',
      'trail-beta',
      'shanghai-all',
      'shanghai-only',
    ]);
  });

  it('refuses malformed booleans', async () => {
    await refused(describeTrails({ IncludeShadowTrails: '1' }, caller(), ports), 'InvalidQueryParameter', 400, 'IncludeShadowTrails');
  });
});

describe('GetTrailStatus', () => {
  it('reports delivery times and errors as ActionTrail does', async () => {
    await create({ Name: 'trail-test', OssBucketName: 'audit-log', SlsProjectArn: SLS_PROJECT });
    await startLogging({ Name: 'trail-test' }, caller(), ports);
    await store.patch(MANAGEMENT, 'trail-test', {
      latestDeliveryTimeMs: T0 + 3_600_000 + 123,
      latestDeliveryError: 'write oss failed: AccessDenied',
    });
    logstore = { available: true, latestDeliveryTimeMs: T0 + 7_200_000, latestDeliveryError: 'write sls failed' };
    buckets.delete('audit-log');
    const answer = await getTrailStatus({ Name: 'trail-test' }, caller(), ports);
    expect(answer).toEqual({
      IsLogging: true,
      StartLoggingTime: '2020-11-02T09:40:11Z',
      LatestDeliveryTime: '2020-11-02T10:40:11Z',
      LatestDeliveryError: 'write oss failed: AccessDenied',
      OssBucketStatus: false,
      SlsLogStoreStatus: true,
      LatestDeliveryLogServiceTime: '2020-11-02T11:40:11Z',
      LatestDeliveryLogServiceError: 'write sls failed',
    });
    for (const key of ['StartLoggingTime', 'LatestDeliveryTime', 'LatestDeliveryLogServiceTime']) expect(answer[key]).toMatch(TIME);
  });

  it('leaves out the logstore fields without a logstore port', async () => {
    await create({ Name: 'trail-test', SlsProjectArn: SLS_PROJECT });
    const { logstoreStatus: _unused, ...withoutLogstore } = ports;
    expect(await getTrailStatus({ Name: 'trail-test' }, caller(), withoutLogstore)).toEqual({ IsLogging: false });
  });

  it('finds an organization trail only with IsOrganizationTrail=true, and a single-account one only without', async () => {
    await create({ Name: 'org-trail', OssBucketName: 'audit-log', IsOrganizationTrail: 'true' });
    await create({ Name: 'one-trail', OssBucketName: 'other-log' });
    expect(await getTrailStatus({ Name: 'org-trail', IsOrganizationTrail: 'true' }, caller(), ports)).toMatchObject({ IsLogging: false });
    await refused(getTrailStatus({ Name: 'org-trail' }, caller(), ports), 'TrailNotFoundException', 404);
    await refused(getTrailStatus({ Name: 'one-trail', IsOrganizationTrail: 'true' }, caller(), ports), 'TrailNotFoundException', 404);
  });
});

describe('TRAIL_ACTIONS and parameters', () => {
  it('maps the seven trail action names and DescribeRegions', async () => {
    expect(Object.keys(TRAIL_ACTIONS).sort()).toEqual(
      ['CreateTrail', 'DeleteTrail', 'DescribeRegions', 'DescribeTrails', 'GetTrailStatus', 'StartLogging', 'StopLogging', 'UpdateTrail'].sort(),
    );
    const create = TRAIL_ACTIONS['CreateTrail'];
    const describe = TRAIL_ACTIONS['DescribeTrails'];
    if (!create || !describe) throw new Error('missing actions');
    await create({ Action: 'CreateTrail', Name: 'rpc-trail', OssBucketName: 'audit-log' }, caller(), ports);
    expect(await describe({ Action: 'DescribeTrails' }, caller(), ports)).toMatchObject({ TrailList: [{ Name: 'rpc-trail' }] });
  });

  it('parses NameList into names and booleans case-insensitively', () => {
    expect(parseParams(describeTrailsParams, { NameList: ' trail-a , trail-b ', IncludeShadowTrails: 'True' })).toEqual({
      nameList: ['trail-a', 'trail-b'],
      includeShadowTrails: true,
      includeOrganizationTrail: false,
    });
  });

  it('formats times as YYYY-MM-DDThh:mm:ssZ (UTC, whole seconds)', () => {
    expect(formatTime(Date.parse('2020-11-02T09:40:11.999Z'))).toBe('2020-11-02T09:40:11Z');
    expect(formatTime(0)).toBe('1970-01-01T00:00:00Z');
  });
});

describe('bucket tenancy (docs/design.md §3.5)', () => {
  const onBucket = (name: string, bucket: string, extra: Record<string, string> = {}) => ({ Name: name, OssBucketName: bucket, ...extra });

  it("refuses another account's trail on a held bucket (InsufficientBucketPolicyException, 403) and stores nothing", async () => {
    await create(onBucket('a-trail', 'audit-log', { OssKeyPrefix: 'team-a' }));
    expect(await claims.holders('audit-log')).toEqual([MANAGEMENT]);
    for (const params of [onBucket('c-trail', 'audit-log', { OssKeyPrefix: 'team-a' }), onBucket('c-trail', 'audit-log'), onBucket('c-trail', 'audit-log', { OssKeyPrefix: 'elsewhere' })]) {
      const error = await refused(create(params, caller(SINGLE)), 'InsufficientBucketPolicyException', 403, 'OssBucketName');
      expect(error.message).not.toContain(MANAGEMENT);
    }
    expect(await store.list(SINGLE)).toEqual([]);
    expect(await claims.holders('audit-log')).toEqual([MANAGEMENT]);
  });

  it("refuses the deployment's own staging bucket to every account, on create and update, and stores nothing", async () => {
    buckets.add('trailkeeper-staging');
    ports = { ...ports, reservedBuckets: ['trailkeeper-staging'] };
    for (const who of [caller(), caller(SINGLE)]) {
      const error = await refused(create(onBucket('stage-trail', 'trailkeeper-staging', { OssKeyPrefix: 'backfill' }), who), 'InsufficientBucketPolicyException', 403, 'OssBucketName');
      expect(error.message).toContain('staging bucket');
    }
    await create(onBucket('own-trail', 'other-log'), caller(SINGLE));
    await refused(updateTrail({ Name: 'own-trail', OssBucketName: 'trailkeeper-staging' }, caller(SINGLE), ports), 'InsufficientBucketPolicyException', 403, 'OssBucketName');
    expect((await store.get(SINGLE, 'own-trail'))?.ossBucketName).toBe('other-log');
    expect(await store.list(MANAGEMENT)).toEqual([]);
    expect(await claims.holders('trailkeeper-staging')).toEqual([]);
  });

  it('refuses UpdateTrail onto a held bucket and leaves the trail as it was', async () => {
    await create(onBucket('a-trail', 'audit-log'));
    await create(onBucket('c-trail', 'other-log'), caller(SINGLE));
    await refused(updateTrail({ Name: 'c-trail', OssBucketName: 'audit-log' }, caller(SINGLE), ports), 'InsufficientBucketPolicyException', 403);
    expect((await store.get(SINGLE, 'c-trail'))?.ossBucketName).toBe('other-log');
    expect(await claims.holders('other-log')).toEqual([SINGLE]);
  });

  it("frees a bucket with its holder's last trail on it (deleted or moved), and not before", async () => {
    await create(onBucket('a-first', 'audit-log'));
    await create(onBucket('a-second', 'audit-log', { OssKeyPrefix: 'second' }));
    await deleteTrail({ Name: 'a-first' }, caller(), ports);
    await refused(create(onBucket('c-trail', 'audit-log'), caller(SINGLE)), 'InsufficientBucketPolicyException', 403);
    await updateTrail({ Name: 'a-second', OssBucketName: 'other-log' }, caller(), ports);
    expect(await claims.holders('audit-log')).toEqual([]);
    expect(await claims.holders('other-log')).toEqual([MANAGEMENT]);
    expect(await create(onBucket('c-trail', 'audit-log'), caller(SINGLE))).toMatchObject({ OssBucketName: 'audit-log' });
    expect(await claims.holders('audit-log')).toEqual([SINGLE]);
  });

  it('keeps the claim when a trail moves only its prefix, and frees the old prefix folder', async () => {
    await create(onBucket('a-trail', 'audit-log', { OssKeyPrefix: 'first-prefix' }));
    await updateTrail({ Name: 'a-trail', OssKeyPrefix: 'second-prefix' }, caller(), ports);
    expect(await claims.holders('audit-log')).toEqual([MANAGEMENT]);
    // The account's own second trail may now take the first prefix.
    expect(await create(onBucket('a-again', 'audit-log', { OssKeyPrefix: 'first-prefix' }))).toMatchObject({ OssKeyPrefix: 'first-prefix' });
  });

  it("lets an organization's accounts share the bucket its organization trail delivers to, one account per prefix folder", async () => {
    await create(onBucket('org-trail', 'audit-log', { IsOrganizationTrail: 'true' }));
    await create(onBucket('mgmt-trail', 'audit-log', { OssKeyPrefix: 'management' }));
    expect(await create(onBucket('member-trail', 'audit-log', { OssKeyPrefix: 'member-own' }), caller(MEMBER))).toMatchObject({ OssBucketName: 'audit-log' });
    await refused(create(onBucket('member-two', 'audit-log', { OssKeyPrefix: 'management' }), caller(MEMBER)), 'InsufficientBucketPolicyException', 403);
    await refused(create(onBucket('stranger', 'audit-log', { OssKeyPrefix: 'stranger' }), caller(SINGLE)), 'InsufficientBucketPolicyException', 403);
    expect(await claims.holders('audit-log')).toEqual([MANAGEMENT, MEMBER]);
  });

  it("refuses a member on the management account's bucket where no organization trail delivers", async () => {
    await create(onBucket('mgmt-trail', 'audit-log'));
    await refused(create(onBucket('member-trail', 'audit-log', { OssKeyPrefix: 'member-own' }), caller(MEMBER)), 'InsufficientBucketPolicyException', 403);
  });

  it('claims nothing for a Log Service only trail, and a failed create leaves no claim', async () => {
    await create({ Name: 'sls-only', SlsProjectArn: SLS_PROJECT });
    buckets.add('fresh-log');
    await create(onBucket('a-trail', 'fresh-log'));
    await refused(create(onBucket('a-trail', 'other-log')), 'TrailAlreadyExistsException', 400);
    expect(await claims.holders('other-log')).toEqual([]);
    expect(await claims.holders('fresh-log')).toEqual([MANAGEMENT]);
  });
});

describe('the 2020-07-06 API as it is today', () => {
  const OSS_ROLE = `acs:ram::${MANAGEMENT}:role/oss-writer`;

  it('keeps OssWriteRoleArn and returns it from CreateTrail, UpdateTrail and DescribeTrails', async () => {
    expect(await create({ Name: 'role-trail', OssBucketName: 'audit-log', OssWriteRoleArn: OSS_ROLE })).toMatchObject({ OssWriteRoleArn: OSS_ROLE });
    expect((await describeTrails({}, caller(), ports))['TrailList']).toEqual([expect.objectContaining({ Name: 'role-trail', OssWriteRoleArn: OSS_ROLE })]);
    const other = `acs:ram::${MANAGEMENT}:role/other-writer`;
    expect(await updateTrail({ Name: 'role-trail', OssWriteRoleArn: other }, caller(), ports)).toMatchObject({ OssWriteRoleArn: other });
    // Unchanged when not sent; gone with the bucket.
    expect(await updateTrail({ Name: 'role-trail', EventRW: 'Read' }, caller(), ports)).toMatchObject({ OssWriteRoleArn: other });
    const cleared = await updateTrail({ Name: 'role-trail', OssBucketName: '', SlsProjectArn: SLS_PROJECT }, caller(), ports);
    expect(cleared['OssWriteRoleArn']).toBeUndefined();
    await refused(create({ Name: 'bad-role', OssBucketName: 'other-log', OssWriteRoleArn: 'writer' }), 'InvalidQueryParameter', 400, 'OssWriteRoleArn');
  });

  it("reports DescribeTrails' OssBucketLocation when the bucket's region is known", async () => {
    await create({ Name: 'located', OssBucketName: 'audit-log' });
    expect((await describeTrails({}, caller(), ports))['TrailList']).toEqual([expect.not.objectContaining({ OssBucketLocation: expect.anything() })]);
    ports.bucketLocation = async (bucket) => (bucket === 'audit-log' ? 'cn-shanghai' : undefined);
    expect((await describeTrails({}, caller(), ports))['TrailList']).toEqual([expect.objectContaining({ OssBucketLocation: 'cn-shanghai' })]);
  });

  it('DescribeRegions lists the regions with their endpoint, in the language asked for', async () => {
    const action = TRAIL_ACTIONS['DescribeRegions'];
    if (!action) throw new Error('missing DescribeRegions');
    const zh = (await action({}, caller(), ports)) as { Regions: { Region: { RegionId: string; LocalName: string; RegionEndpoint: string }[] } };
    expect(zh.Regions.Region).toEqual(expect.arrayContaining([{ RegionId: 'cn-hangzhou', LocalName: '华东1（杭州）', RegionEndpoint: 'actiontrail.cn-hangzhou.aliyuncs.com' }]));
    const en = (await action({ AcceptLanguage: 'en-US' }, caller(), ports)) as typeof zh;
    expect(en.Regions.Region.find((r) => r.RegionId === 'ap-southeast-1')).toEqual({ RegionId: 'ap-southeast-1', LocalName: 'Singapore', RegionEndpoint: 'actiontrail.ap-southeast-1.aliyuncs.com' });
    expect(new Set(en.Regions.Region.map((r) => r.RegionId)).size).toBe(en.Regions.Region.length);
    await refused(action({ AcceptLanguage: 'fr-FR' }, caller(), ports), 'InvalidQueryParameter', 400, 'AcceptLanguage');
  });
});


describe('a trail write racing UpdateTrail', () => {
  it('a StartLogging that read the trail before UpdateTrail moved it does not put it back on the bucket UpdateTrail released (which another account could then claim)', async () => {
    const a = caller(SINGLE);
    await create({ Name: 'trail-a', OssBucketName: 'audit-log' }, a);
    const realGet = store.get.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let first = true;
    // StartLogging reads the trail, then waits while UpdateTrail moves it to another bucket
    store.get = async (accountId, name) => {
      const trail = await realGet(accountId, name);
      if (first) {
        first = false;
        await gate;
      }
      return trail;
    };
    const start = startLogging({ Name: 'trail-a' }, a, ports);
    await updateTrail({ Name: 'trail-a', OssBucketName: 'other-log' }, a, ports);
    open();
    await refused(start, 'ConcurrentModification', 409);
    store.get = realGet;
    expect((await store.get(SINGLE, 'trail-a'))?.ossBucketName).toBe('other-log');
    expect(await claims.holders('audit-log')).toEqual([]);
    // the bucket is free and trail-a no longer delivers there, so another account may take it
    await create({ Name: 'trail-b', OssBucketName: 'audit-log' }, caller(MANAGEMENT));
    const onAuditLog = [...(await store.list(SINGLE)), ...(await store.list(MANAGEMENT))].filter((t) => t.ossBucketName === 'audit-log');
    expect(onAuditLog.map((t) => t.accountId)).toEqual([MANAGEMENT]);
  });
});
