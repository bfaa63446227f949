import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../shared/events/schema.ts';
import { classifyEvent, type ClassifiedEvent } from '../../shared/classify/classify.ts';
import {
  MAX_ORGANIZATION_TRAILS,
  MAX_TRAILS_PER_REGION,
  TRAIL_NAME_PATTERN,
  trailSchema,
  validateTrailName,
  type Trail,
  type TrailInput,
} from '../../shared/trails/model.ts';
import { trailsForEvent, type OrganizationDirectory } from '../../shared/trails/routing.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const raw = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;

const MANAGEMENT = '1234567890123456';
const MEMBER = '2234567890123456';
const OUTSIDER = '3234567890123456';

const org: OrganizationDirectory = {
  managementAccountOf: (accountId) => (accountId === MEMBER ? MANAGEMENT : undefined),
};

function classified(name: string, overrides: Record<string, unknown> = {}): ClassifiedEvent {
  const parsed = parseEvent({ ...raw(name), ...overrides });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const result = classifyEvent(parsed.event);
  if (!result.kept) throw new Error(`dropped by ${result.reason}`);
  return result.event;
}

const T0 = Date.parse('2020-01-01T00:00:00Z');

function trail(fields: Partial<TrailInput> = {}): Trail {
  return trailSchema.parse({
    name: 'audit-trail',
    accountId: MANAGEMENT,
    homeRegion: 'cn-hangzhou',
    createdAtMs: T0,
    updatedAtMs: T0,
    status: 'Enable',
    startLoggingTimeMs: T0,
    ...fields,
  });
}

const names = (trails: Trail[]) => trails.map((t) => t.name);

describe('trailsForEvent', () => {
  const write = classified('ecs-stopinstance-both-resources'); // Write, cn-hangzhou, management account
  const read = classified('ecs-describeinstances-read'); // Read, cn-beijing

  it('Write-only and Read-only trails get only their kind; All gets both', () => {
    const trails = [
      trail({ name: 'writes-only', eventRW: 'Write' }),
      trail({ name: 'reads-only', eventRW: 'Read' }),
      trail({ name: 'everything', eventRW: 'All' }),
    ];
    expect(names(trailsForEvent(write, trails, org))).toEqual(['writes-only', 'everything']);
    expect(names(trailsForEvent(read, trails, org))).toEqual(['reads-only', 'everything']);
  });

  it('a Write trail stops receiving KMS Decrypt after its reclassification to Read', () => {
    const writes = [trail({ name: 'writes-only', eventRW: 'Write' })];
    expect(names(trailsForEvent(classified('kms-decrypt-before-reclass'), writes, org))).toEqual(['writes-only']);
    expect(trailsForEvent(classified('kms-decrypt-after-reclass'), writes, org)).toEqual([]);
  });

  it('a one-region trail gets only that region; All gets every region', () => {
    const trails = [
      trail({ name: 'hangzhou-only', trailRegion: 'cn-hangzhou', eventRW: 'All' }),
      trail({ name: 'beijing-only', trailRegion: 'cn-beijing', eventRW: 'All' }),
      trail({ name: 'all-regions', trailRegion: 'All', eventRW: 'All' }),
    ];
    expect(names(trailsForEvent(write, trails, org))).toEqual(['hangzhou-only', 'all-regions']);
    expect(names(trailsForEvent(read, trails, org))).toEqual(['beijing-only', 'all-regions']);
  });

  it('global events go to every trail of the account, whatever its region', () => {
    const trails = [
      trail({ name: 'beijing-only', trailRegion: 'cn-beijing' }),
      trail({ name: 'shanghai-only', trailRegion: 'cn-shanghai' }),
    ];
    const global = classified('ram-createaccesskey');
    expect(names(trailsForEvent(global, trails, org))).toEqual(['beijing-only', 'shanghai-only']);
  });

  it('an organization trail of the management account receives its members\' events', () => {
    const memberEvent = classified('member-ecs-startinstance');
    const trails = [
      trail({ name: 'org-trail', isOrganizationTrail: true, organizationId: 'rd-abc123' }),
      trail({ name: 'mgmt-single' }),
      trail({ name: 'member-own', accountId: MEMBER }),
      trail({ name: 'outsider-org', accountId: OUTSIDER, isOrganizationTrail: true }),
    ];
    expect(names(trailsForEvent(memberEvent, trails, org))).toEqual(['org-trail', 'member-own']);
    expect(names(trailsForEvent(write, trails, org))).toEqual(['org-trail', 'mgmt-single']);
  });

  it('never delivers another account\'s events to a single-account trail', () => {
    const outsiderEvent = classified('ecs-stopinstance-both-resources', {
      userIdentity: { ...(raw('ecs-stopinstance-both-resources').userIdentity as object), accountId: OUTSIDER },
    });
    const trails = [trail({ name: 'org-trail', isOrganizationTrail: true }), trail({ name: 'mgmt-single' })];
    expect(trailsForEvent(outsiderEvent, trails, org)).toEqual([]);
  });

  it('Fresh and stopped trails receive nothing', () => {
    const trails = [
      trail({ name: 'fresh-trail', status: 'Fresh', startLoggingTimeMs: undefined }),
      trail({ name: 'stopped-trail', status: 'Disable', stopLoggingTimeMs: Date.parse('2020-10-01T00:00:00Z') }),
    ];
    expect(trailsForEvent(write, trails, org)).toEqual([]);
    expect(trailsForEvent(read, trails, org)).toEqual([]);
  });

  it('events from before the latest StartLogging (e.g. while stopped) are not delivered', () => {
    const restarted = trail({
      name: 'restarted',
      eventRW: 'All',
      stopLoggingTimeMs: Date.parse('2020-10-01T00:00:00Z'),
      startLoggingTimeMs: Date.parse('2020-12-01T00:00:00Z'),
    });
    expect(trailsForEvent(write, [restarted], org)).toEqual([]); // 2020-11-02, while stopped
    expect(names(trailsForEvent(read, [restarted], org))).toEqual(['restarted']); // 2021-02-14
  });
});

describe('trail model', () => {
  it('exports the limits', () => {
    expect(MAX_TRAILS_PER_REGION).toBe(5);
    expect(MAX_ORGANIZATION_TRAILS).toBe(1);
  });

  it('applies ActionTrail defaults: EventRW Write, TrailRegion All, single-account, Fresh', () => {
    const t = trailSchema.parse({
      name: 'default-trail',
      accountId: MANAGEMENT,
      homeRegion: 'cn-hangzhou',
      createdAtMs: T0,
      updatedAtMs: T0,
    });
    expect(t).toMatchObject({ eventRW: 'Write', trailRegion: 'All', isOrganizationTrail: false, status: 'Fresh' });
  });

  it.each(['trail1', 'a-b_c-', 'audit_trail-2020', 'a'.repeat(36)])('accepts the name %s', (name) => {
    expect(validateTrailName(name)).toEqual({ ok: true, name });
    expect(TRAIL_NAME_PATTERN.test(name)).toBe(true);
  });

  it.each([
    ['', /required/],
    ['trail', /6 to 36/],
    ['a'.repeat(37), /6 to 36/],
    ['1trail', /start with a lowercase letter/],
    ['-trail', /start with a lowercase letter/],
    ['Trail01', /start with a lowercase letter/],
    ['trAil01', /only lowercase letters/],
    ['../../etc', /start with a lowercase letter/],
    ['trail/../x', /only lowercase letters/],
    ['trail.name', /only lowercase letters/],
  ])('rejects the name %j', (name, message) => {
    const check = validateTrailName(name);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.code).toBe('InvalidTrailNameException');
      expect(check.message).toMatch(message);
    }
  });

  it('rejects a non-string name and bad fields', () => {
    expect(validateTrailName(42).ok).toBe(false);
    const base = { name: 'good-trail', accountId: MANAGEMENT, homeRegion: 'cn-hangzhou', createdAtMs: T0, updatedAtMs: T0 };
    expect(trailSchema.safeParse({ ...base, eventRW: 'Both' }).success).toBe(false);
    expect(trailSchema.safeParse({ ...base, trailRegion: 'mars' }).success).toBe(false);
    expect(trailSchema.safeParse({ ...base, status: 'Running' }).success).toBe(false);
    expect(trailSchema.safeParse({ ...base, name: 'Bad' }).success).toBe(false);
    expect(trailSchema.safeParse({ ...base, accountId: 1234 }).success).toBe(false);
    expect(
      trailSchema.safeParse({
        ...base,
        ossBucketName: 'audit-log',
        ossKeyPrefix: 'at/prefix',
        slsProjectArn: 'acs:log:cn-hangzhou:1234567890123456:project/audit-project',
        slsWriteRoleArn: 'acs:ram::1234567890123456:role/aliyunserviceroleforactiontrail',
      }).success,
    ).toBe(true);
    expect(trailSchema.safeParse({ ...base, slsProjectArn: 'project/x' }).success).toBe(false);
  });
});
