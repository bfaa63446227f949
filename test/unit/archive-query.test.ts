/**
 * The pure parts of queries over the archive (docs/design.md §3.13 "Over the archive"): which day
 * folders a range reads, when a manifest still describes its folder, compaction's days and payload,
 * field paths and LIKE patterns built by construction; and the local object cache's bounds
 * (content addressing by ETag, the size cap, least recently used first, leased files kept).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { S3ObjectCache } from '../../adapters/archive/object-cache.ts';
import { DELIVERY_LAG_MS, foldersToRead } from '../../shared/archive-query/archive-query.ts';
import { compactedDayPrefix, manifestMatchesFolder, type CompactionManifest } from '../../shared/archive-query/compacted-layout.ts';
import { compactionRangeOf } from '../../shared/archive-query/compaction-request.ts';
import { COMPACTION_CLOSE_DELAY_MS, COMPACTION_LOOKBACK_DAYS, compactionDays } from '../../shared/archive-query/compaction.ts';
import { likeLiteral, pathLiteral } from '../../shared/archive-query/compile.ts';
import { fieldAccess, jsonPathLiteral } from '../../shared/archive-query/event-columns.ts';
import { DAY_MS } from '../../shared/archive/layout.ts';

const day = (text: string) => Date.parse(`${text}T00:00:00Z`);

describe('foldersToRead', () => {
  const trail = { createdAtMs: day('2026-01-10') };
  const now = Date.parse('2026-12-03T12:00:00Z');

  it('reads from the range start (less the allowed clock skew) to one day past its end', () => {
    const days = foldersToRead(trail, Date.parse('2026-11-01T00:05:00Z'), day('2026-11-03'), now);
    expect(days.map((d) => new Date(d).toISOString().slice(0, 10))).toEqual(['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']);
    expect(DELIVERY_LAG_MS).toBe(DAY_MS);
  });

  it('never before the trail was created nor after today, so the whole span is from 1970 to now', () => {
    const days = foldersToRead(trail, 0, now, now);
    expect(new Date(days[0] as number).toISOString().slice(0, 10)).toBe('2026-01-10');
    expect(new Date(days[days.length - 1] as number).toISOString().slice(0, 10)).toBe('2026-12-03');
  });
});

describe('manifestMatchesFolder', () => {
  const manifest = {
    sources: [{ key: 'a.gz', eTag: '"1"' }],
    excluded: [{ key: 'b.gz', eTag: '"2"', reason: 'modified' }],
  } as unknown as CompactionManifest;

  it('matches the same keys and ETags, compacted or excluded', () => {
    expect(manifestMatchesFolder(manifest, [{ key: 'b.gz', eTag: '"2"' }, { key: 'a.gz', eTag: '"1"' }])).toBe(true);
  });

  it('is stale when a file arrived, was replaced or was deleted', () => {
    expect(manifestMatchesFolder(manifest, [{ key: 'a.gz', eTag: '"1"' }, { key: 'b.gz', eTag: '"2"' }, { key: 'c.gz', eTag: '"3"' }])).toBe(false);
    expect(manifestMatchesFolder(manifest, [{ key: 'a.gz', eTag: '"9"' }, { key: 'b.gz', eTag: '"2"' }])).toBe(false);
    expect(manifestMatchesFolder(manifest, [{ key: 'a.gz', eTag: '"1"' }])).toBe(false);
  });
});

describe('compaction days and payload', () => {
  it('a run looks at the closed days of the lookback, newest first; a day closes COMPACTION_CLOSE_DELAY_MS after midnight', () => {
    const justAfter = day('2026-12-03') + COMPACTION_CLOSE_DELAY_MS + 1;
    const days = compactionDays(justAfter);
    expect(days).toHaveLength(COMPACTION_LOOKBACK_DAYS);
    expect(new Date(days[0] as number).toISOString().slice(0, 10)).toBe('2026-12-02');
    expect(new Date(compactionDays(day('2026-12-03') + 60_000)[0] as number).toISOString().slice(0, 10)).toBe('2026-12-01');
  });

  it('a range never reaches an open day', () => {
    const days = compactionDays(day('2026-12-03') + 3_600_000, { fromDayMs: day('2026-11-30'), toDayMs: day('2026-12-10') });
    expect(days.map((d) => new Date(d).toISOString().slice(0, 10))).toEqual(['2026-12-02', '2026-12-01', '2026-11-30']);
  });

  it('reads {fromDay, toDay}, ignores the periodic payload, and refuses anything else naming the field', () => {
    expect(compactionRangeOf('{"reason":"compact"}')).toBeUndefined();
    expect(compactionRangeOf('')).toBeUndefined();
    expect(compactionRangeOf('{"fromDay":"2026-06-01","toDay":"2026-06-30"}')).toEqual({ fromDayMs: day('2026-06-01'), toDayMs: day('2026-06-30') });
    expect(() => compactionRangeOf('{"fromDay":"2026-06-31","toDay":"2026-07-01"}')).toThrow(expect.objectContaining({ code: 'InvalidParameter', field: 'fromDay' }));
    expect(() => compactionRangeOf('{"fromDay":"2026-07-01","toDay":"2026-06-01"}')).toThrow(expect.objectContaining({ field: 'fromDay' }));
    expect(() => compactionRangeOf(`{"x":"${'a'.repeat(2000)}"}`)).toThrow(expect.objectContaining({ field: 'payload' }));
  });
});

describe('SQL built by construction', () => {
  it('field paths become JSON-path literals only from safe segments', () => {
    expect(jsonPathLiteral(['requestParameters', 'InstanceId'])).toBe(`'$."requestParameters"."InstanceId"'`);
    for (const bad of [["a'b"], ['a"b'], ['a.b'], ['a b'], [''], []]) expect(() => jsonPathLiteral(bad)).toThrow(RangeError);
    expect(fieldAccess(['userIdentity', 'accessKeyId'])).toEqual({ kind: 'column', sql: '"userIdentity.accessKeyId"' });
    expect(fieldAccess(['isGlobal']).kind).toBe('json');
  });

  it('LIKE patterns escape the wildcard characters of literal parts', () => {
    expect(likeLiteral('100%_sure\\')).toBe('100\\%\\_sure\\\\');
  });

  it('local paths given to the engine are checked', () => {
    expect(pathLiteral('/tmp/cache/objects/ab.gz')).toBe(`'/tmp/cache/objects/ab.gz'`);
    expect(() => pathLiteral("/tmp/x'); DROP")).toThrow(RangeError);
  });

  it('compacted files live beside the archive and digest trees, per trail', () => {
    expect(compactedDayPrefix({ accountId: '1234567890123456', name: 'my-trail', ossKeyPrefix: '/logs/' }, { region: 'cn-hangzhou' }, new Date(day('2026-12-01')))).toBe(
      'logs/AliyunLogs/Actiontrail-Compacted/1234567890123456/my-trail/cn-hangzhou/2026/12/01/',
    );
  });
});

describe('S3ObjectCache', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A stand-in S3 client serving bodies by key, counting GetObject calls. */
  function fakeS3(objects: Record<string, { body: string; eTag: string }>) {
    const gets: string[] = [];
    const client = {
      send: async (command: { input: { Key: string } }) => {
        const o = objects[command.input.Key];
        if (!o) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
        gets.push(command.input.Key);
        return { ETag: o.eTag, Body: Readable.from([Buffer.from(o.body)]) };
      },
    };
    return { client: client as unknown as S3Client, gets };
  }

  it('downloads once per (key, ETag), fetches again when the ETag changes, and refuses a body with another ETag', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tk-cache-'));
    const objects = { 'a.gz': { body: 'aaaa', eTag: '"e1"' } };
    const { client, gets } = fakeS3(objects);
    const cache = new S3ObjectCache(client, dir, 1024 * 1024);
    const first = await cache.acquire('b', [{ key: 'a.gz', size: 4, eTag: '"e1"' }]);
    expect(readFileSync(first.paths[0] as string, 'utf8')).toBe('aaaa');
    expect(first.fetchedBytes).toBe(4);
    first.release();
    const second = await cache.acquire('b', [{ key: 'a.gz', size: 4, eTag: '"e1"' }]);
    expect(second.fetchedBytes).toBe(0);
    second.release();
    expect(gets).toEqual(['a.gz']);
    objects['a.gz'] = { body: 'bbbb', eTag: '"e2"' };
    const third = await cache.acquire('b', [{ key: 'a.gz', size: 4, eTag: '"e2"' }]);
    expect(readFileSync(third.paths[0] as string, 'utf8')).toBe('bbbb');
    third.release();
    // A listing that is already out of date (the server now holds e2): the download is refused, never filed under e3.
    await expect(cache.acquire('b', [{ key: 'a.gz', size: 4, eTag: '"e3"' }])).rejects.toMatchObject({ code: 'ServiceUnavailable' });
  });

  it('keeps the folder under its cap, least recently used first, never removing leased files; refuses a lease over the cap', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tk-cache-'));
    const objects = Object.fromEntries(['1', '2', '3', '4'].map((k) => [`${k}.gz`, { body: k.repeat(100), eTag: `"${k}"` }]));
    const { client } = fakeS3(objects);
    const cache = new S3ObjectCache(client, dir, 250);
    const o = (k: string) => ({ key: `${k}.gz`, size: 100, eTag: `"${k}"` });
    const held = await cache.acquire('b', [o('1')]);
    (await cache.acquire('b', [o('2')])).release();
    (await cache.acquire('b', [o('3')])).release();
    // 1 is leased, 2 was used least recently: 2 goes.
    const files = () => readdirSync(path.join(dir as string, 'objects')).length;
    await new Promise((r) => setTimeout(r, 20));
    expect(files()).toBe(2);
    expect(readFileSync(held.paths[0] as string, 'utf8')).toBe('1'.repeat(100));
    held.release();
    await expect(cache.acquire('b', [o('1'), o('2'), o('3')])).rejects.toMatchObject({ code: 'ArchiveRangeTooLarge' });
  });
});
