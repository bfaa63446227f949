import { describe, expect, it } from 'vitest';
import {
  ARCHIVE_FILE_TYPE,
  archiveDayPrefix,
  archiveFileKey,
  archiveHourPrefix,
  archiveRootPrefix,
  archiveScopePrefix,
  daysOverlapping,
  digestDayPrefix,
  digestIsDue,
  digestKey,
  digestRootPrefix,
  digestScopePrefix,
  digestTrailDayPrefix,
  hourStartOf,
  hoursOverlapping,
  parseArchiveFileKey,
  parseDigestKey,
} from '../../shared/archive/layout.ts';

const MD5 = '0123456789abcdef0123456789abcdef';
const at = new Date('2024-03-05T07:08:09.500Z');

describe('archive file keys (docs/design.md §3.5)', () => {
  it('names a single-account file exactly', () => {
    expect(archiveFileKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', deliveredAt: at, eventCount: 12, fileSize: 3456, md5: MD5 })).toBe(
      `audit/AliyunLogs/Actiontrail/cn-hangzhou/2024/03/05/Actiontrail_cn-hangzhou_20240305070809_1002_12_3456_${MD5}.gz`,
    );
    expect(ARCHIVE_FILE_TYPE).toBe('1002');
  });

  it('has no leading slash without a prefix, and trims the prefix slashes', () => {
    const bare = archiveFileKey({ region: 'cn-shanghai', deliveredAt: at, eventCount: 1, fileSize: 20, md5: MD5 });
    expect(bare).toBe(`AliyunLogs/Actiontrail/cn-shanghai/2024/03/05/Actiontrail_cn-shanghai_20240305070809_1002_1_20_${MD5}.gz`);
    expect(archiveFileKey({ ossKeyPrefix: '', region: 'cn-shanghai', deliveredAt: at, eventCount: 1, fileSize: 20, md5: MD5 })).toBe(bare);
    expect(archiveFileKey({ ossKeyPrefix: '/a/b/', region: 'cn-shanghai', deliveredAt: at, eventCount: 1, fileSize: 20, md5: MD5 })).toBe(`a/b/${bare}`);
  });

  it('inserts <orgId>/<accountId>/ before the region for organization trails', () => {
    expect(
      archiveFileKey({
        ossKeyPrefix: 'org',
        region: 'cn-beijing',
        organization: { orgId: 'rd-abc123', accountId: '1234567890123456' },
        deliveredAt: at,
        eventCount: 5,
        fileSize: 99,
        md5: MD5.toUpperCase(),
      }),
    ).toBe(`org/AliyunLogs/Actiontrail/rd-abc123/1234567890123456/cn-beijing/2024/03/05/Actiontrail_cn-beijing_20240305070809_1002_5_99_${MD5}.gz`);
  });

  it('uses UTC for folder and stamp (a late-evening delivery is the next UTC day only when it is)', () => {
    const key = archiveFileKey({ region: 'cn-hangzhou', deliveredAt: new Date('2023-12-31T23:59:59Z'), eventCount: 1, fileSize: 1, md5: MD5 });
    expect(key).toContain('/2023/12/31/Actiontrail_cn-hangzhou_20231231235959_1002_');
  });

  it('parses what it names, and rejects anything else', () => {
    const organization = { orgId: 'rd-abc123', accountId: '1234567890123456' };
    const key = archiveFileKey({ ossKeyPrefix: 'x/y', region: 'ap-southeast-1', organization, deliveredAt: at, eventCount: 7, fileSize: 70, md5: MD5 });
    expect(parseArchiveFileKey(key)).toEqual({
      key,
      ossKeyPrefix: 'x/y',
      organization,
      region: 'ap-southeast-1',
      deliveredAt: new Date('2024-03-05T07:08:09Z'),
      hourStart: new Date('2024-03-05T07:00:00Z'),
      eventCount: 7,
      fileSize: 70,
      md5: MD5,
    });
    const plain = archiveFileKey({ region: 'cn-hangzhou', deliveredAt: at, eventCount: 1, fileSize: 2, md5: MD5 });
    expect(parseArchiveFileKey(plain)).toMatchObject({ ossKeyPrefix: '', region: 'cn-hangzhou' });
    expect(parseArchiveFileKey(plain)?.organization).toBeUndefined();
    for (const bad of [
      plain.replace('_1002_', '_1001_'),
      plain.replace('/05/Actiontrail', '/06/Actiontrail'), // folder day differs from the stamp
      plain.replace('Actiontrail_cn-hangzhou', 'Actiontrail_cn-shanghai'), // region differs from the folder
      plain.replace('.gz', '.json'),
      plain.replace('20240305070809', '20240305250809'),
      plain.replace('AliyunLogs/Actiontrail/', 'AliyunLogs/Actiontrail-Digest/'),
      `/${plain}`,
      'AliyunLogs/Actiontrail/cn-hangzhou/2024/03/05/',
      'random.txt',
    ]) {
      expect(parseArchiveFileKey(bad), bad).toBeUndefined();
    }
  });

  it('refuses parts that would make a name unparseable', () => {
    expect(() => archiveFileKey({ region: 'cn_hangzhou', deliveredAt: at, eventCount: 1, fileSize: 1, md5: MD5 })).toThrow(RangeError);
    expect(() => archiveFileKey({ region: 'cn-hangzhou', deliveredAt: at, eventCount: -1, fileSize: 1, md5: MD5 })).toThrow(RangeError);
    expect(() => archiveFileKey({ region: 'cn-hangzhou', deliveredAt: at, eventCount: 1, fileSize: 1, md5: 'xyz' })).toThrow(RangeError);
    expect(() => archiveFileKey({ region: 'cn-hangzhou', deliveredAt: new Date(Number.NaN), eventCount: 1, fileSize: 1, md5: MD5 })).toThrow(RangeError);
    expect(() =>
      archiveFileKey({ region: 'cn-hangzhou', organization: { orgId: 'rd/x', accountId: '1' }, deliveredAt: at, eventCount: 1, fileSize: 1, md5: MD5 }),
    ).toThrow(RangeError);
  });
});

describe('digest keys', () => {
  it('are hourly per trail and region under Actiontrail-Digest', () => {
    expect(digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', trailName: 'default-trail', hourStart: at })).toBe(
      'audit/AliyunLogs/Actiontrail-Digest/cn-hangzhou/2024/03/05/Actiontrail-Digest_default-trail_cn-hangzhou_2024030507.json',
    );
    expect(
      digestKey({ region: 'cn-hangzhou', organization: { orgId: 'rd-abc123', accountId: '1234567890123456' }, trailName: 'org_trail', hourStart: at }),
    ).toBe('AliyunLogs/Actiontrail-Digest/rd-abc123/1234567890123456/cn-hangzhou/2024/03/05/Actiontrail-Digest_org_trail_cn-hangzhou_2024030507.json');
  });

  it('parse back, even for trail names that contain _ and a region', () => {
    const tricky = 'abc_cn-hangzhou';
    const key = digestKey({ ossKeyPrefix: 'p', region: 'cn-hangzhou', trailName: tricky, hourStart: at });
    expect(parseDigestKey(key)).toEqual({ key, ossKeyPrefix: 'p', region: 'cn-hangzhou', trailName: tricky, hourStart: new Date('2024-03-05T07:00:00Z') });
    const org = { orgId: 'rd-abc123', accountId: '1234567890123456' };
    const orgKey = digestKey({ region: 'eu-central-1', organization: org, trailName: 'my-trail', hourStart: at });
    expect(parseDigestKey(orgKey)).toMatchObject({ organization: org, region: 'eu-central-1', trailName: 'my-trail', ossKeyPrefix: '' });
    expect(parseDigestKey(key.replace('2024030507', '2024030607'))).toBeUndefined(); // folder day differs
    expect(parseDigestKey(key.replace('Actiontrail-Digest/', 'Actiontrail/'))).toBeUndefined();
    expect(parseArchiveFileKey(key)).toBeUndefined();
  });
});

describe('digest keys with the account folder (single-account trails)', () => {
  const ACCOUNT = '1234567890123456';
  const OTHER = '2234567890123456';
  it('put single-account digests under <accountId>/<region>/, so two accounts never share a key', () => {
    const key = digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', accountId: ACCOUNT, trailName: 'default-trail', hourStart: at });
    expect(key).toBe(`audit/AliyunLogs/Actiontrail-Digest/${ACCOUNT}/cn-hangzhou/2024/03/05/Actiontrail-Digest_default-trail_cn-hangzhou_2024030507.json`);
    expect(digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', accountId: OTHER, trailName: 'default-trail', hourStart: at })).not.toBe(key);
    expect(parseDigestKey(key)).toEqual({
      key,
      ossKeyPrefix: 'audit',
      accountId: ACCOUNT,
      region: 'cn-hangzhou',
      trailName: 'default-trail',
      hourStart: new Date('2024-03-05T07:00:00Z'),
    });
    expect(key.startsWith(digestDayPrefix({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', accountId: ACCOUNT }, at))).toBe(true);
    expect(key.startsWith(digestTrailDayPrefix({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', accountId: ACCOUNT, trailName: 'default-trail' }, at))).toBe(true);
  });

  it('keep the chain identity of the legacy layout, and leave organization keys as they were', () => {
    const parsed = parseDigestKey(digestKey({ ossKeyPrefix: 'audit', region: 'cn-hangzhou', accountId: ACCOUNT, trailName: 'default-trail', hourStart: at }));
    expect(parsed && digestScopePrefix(parsed)).toBe('audit/AliyunLogs/Actiontrail-Digest/cn-hangzhou/');
    const org = { orgId: 'rd-abc123', accountId: OTHER };
    expect(digestKey({ region: 'cn-hangzhou', organization: org, accountId: ACCOUNT, trailName: 'org_trail', hourStart: at })).toBe(
      digestKey({ region: 'cn-hangzhou', organization: org, trailName: 'org_trail', hourStart: at }),
    );
    expect(() => digestKey({ region: 'cn-hangzhou', accountId: 'cn-hangzhou', trailName: 'default-trail', hourStart: at })).toThrow(RangeError);
  });
});

describe('prefixes', () => {
  const scope = { ossKeyPrefix: 'audit/', region: 'cn-hangzhou' };

  it('list one hour of files and nothing of the next hour', () => {
    const hour = new Date('2024-03-05T07:00:00Z');
    const prefix = archiveHourPrefix(scope, hour);
    expect(prefix).toBe('audit/AliyunLogs/Actiontrail/cn-hangzhou/2024/03/05/Actiontrail_cn-hangzhou_2024030507');
    const inHour = archiveFileKey({ ...scope, deliveredAt: new Date('2024-03-05T07:59:59Z'), eventCount: 1, fileSize: 1, md5: MD5 });
    const nextHour = archiveFileKey({ ...scope, deliveredAt: new Date('2024-03-05T08:00:00Z'), eventCount: 1, fileSize: 1, md5: MD5 });
    expect(inHour.startsWith(prefix)).toBe(true);
    expect(nextHour.startsWith(prefix)).toBe(false);
    expect(inHour.startsWith(archiveDayPrefix(scope, hour))).toBe(true);
    expect(inHour.startsWith(archiveScopePrefix(scope))).toBe(true);
    expect(inHour.startsWith(archiveRootPrefix('audit'))).toBe(true);
  });

  it('list one day of digests', () => {
    const key = digestKey({ ...scope, trailName: 'default-trail', hourStart: at });
    expect(key.startsWith(digestDayPrefix(scope, at))).toBe(true);
    expect(key.startsWith(digestTrailDayPrefix({ ...scope, trailName: 'default-trail' }, at))).toBe(true);
    expect(key.startsWith(digestTrailDayPrefix({ ...scope, trailName: 'default' }, at))).toBe(false);
    expect(key.startsWith(digestRootPrefix('audit'))).toBe(true);
    expect(digestRootPrefix()).toBe('AliyunLogs/Actiontrail-Digest/');
  });

  it('enumerate hours and days of a range, and say when a digest is due', () => {
    const hours = hoursOverlapping(new Date('2024-03-05T22:30:00Z'), new Date('2024-03-06T01:00:00Z'));
    expect(hours.map((h) => h.toISOString())).toEqual(['2024-03-05T22:00:00.000Z', '2024-03-05T23:00:00.000Z', '2024-03-06T00:00:00.000Z']);
    expect(daysOverlapping(new Date('2024-03-05T22:30:00Z'), new Date('2024-03-06T01:00:00Z')).length).toBe(2);
    expect(hourStartOf(at).toISOString()).toBe('2024-03-05T07:00:00.000Z');
    expect(digestIsDue(new Date('2024-03-05T07:00:00Z'), new Date('2024-03-05T08:00:30Z'))).toBe(false);
    expect(digestIsDue(new Date('2024-03-05T07:00:00Z'), new Date('2024-03-05T08:05:00Z'))).toBe(true);
  });
});
