/** bench/lib/aof-families.ts: an AOF's bytes by command and key family (hot-path --aof). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aofFamilies, keyFamily } from '../../bench/lib/aof-families.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tk-aof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A command as Redis writes it to the AOF (RESP array of bulk strings). */
const resp = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

describe('aofFamilies', () => {
  it('names a key by its family: account, numbers and eventIds taken out', () => {
    expect(keyFamily('{tk:1234567890123456}:outbox:bench-trail:data')).toBe('{tk:A}:outbox:bench-trail:data');
    expect(keyFamily('tk:{1234567890123456}:b:42')).toBe('tk:{A}:b:N');
    expect(keyFamily('{tk:1}:sumq:f895b3d5-069c-4d19-8c08-0ca58e88785e')).toBe('{tk:A}:sumq:ID');
  });

  it('sums each family’s commands and bytes over the incremental files, largest first, skipping annotations', () => {
    const big = resp('HSET', '{tk:1234567890123456}:outbox:t:data', 'e1', 'x'.repeat(500));
    const small = resp('ZADD', '{tk:1234567890123456}:outbox:t:oss', '1', 'e1');
    const multi = resp('MULTI');
    writeFileSync(path.join(dir, 'appendonly.aof.1.incr.aof'), `#TS:1764800000\r\n${multi}${big}${small}`);
    writeFileSync(path.join(dir, 'appendonly.aof.2.incr.aof'), big);
    writeFileSync(path.join(dir, 'appendonly.aof.1.base.rdb'), 'REDIS0011 not read');
    const aof = aofFamilies(dir);
    expect(aof.commands).toBe(4);
    expect(aof.bytes).toBe(Buffer.byteLength(multi + big + small + big));
    expect(aof.families).toEqual([
      { family: 'HSET {tk:A}:outbox:t:data', commands: 2, bytes: 2 * Buffer.byteLength(big) },
      { family: 'ZADD {tk:A}:outbox:t:oss', commands: 1, bytes: Buffer.byteLength(small) },
      { family: 'MULTI', commands: 1, bytes: Buffer.byteLength(multi) },
    ]);
  });
});
