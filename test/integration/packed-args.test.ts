/**
 * Script arguments packed into one MessagePack argument (adapters/redis/packed-args.ts), read by
 * Redis's own cmsgpack on a real server, standalone and the three-master cluster: every value
 * arrives as the same string ARGV would have carried — empty, non-ASCII, binary-looking, long, and
 * lists longer than MessagePack's 16-bit array length.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../adapters/redis.ts';
import { PackedArgs, UNPACK_ARGS_LUA } from '../../adapters/redis/packed-args.ts';
import { REDIS_BACKENDS, useRedisBackends } from '../helpers/redis-backends.ts';

const backends = useRedisBackends();
/** Returns the unpacked table as the list of strings it holds, with their count first. */
const ECHO = `local A = ${UNPACK_ARGS_LUA}(ARGV[1])\nlocal out = {tostring(#A)}\nfor i = 1, #A do out[#out + 1] = A[i] end\nreturn out`;
/** Returns the sum of the numbers it is given as strings (the scripts' tonumber reads). */
const SUM = `local A = ${UNPACK_ARGS_LUA}(ARGV[1])\nlocal s = 0\nfor i = 1, #A do s = s + tonumber(A[i]) end\nreturn string.format('%d', s)`;

describe.each(REDIS_BACKENDS)('packed script arguments (%s)', (backendName) => {
  let redis: RedisClient;
  beforeAll(() => {
    redis = backends.get(backendName).client();
  });
  afterAll(() => redis?.disconnect());

  const echo = async (values: readonly (string | number)[]): Promise<string[]> => {
    const packed = new PackedArgs(16).pushAll(values).toBuffer();
    return (await redis.eval(ECHO, 1, '{tk:packed}:x', packed)) as string[];
  };

  it('carries every value as the string ARGV would hold', async () => {
    const values = ['', 'a', 'ünïcödé ✓ 雪', '\x00\x1f\r\n$3\r\n', '😀'.repeat(1000), 'x'.repeat(70_000), 0, -0, -1, 9, 10, 99, 100, 1_733_212_800_000, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, 12.5];
    const out = await echo(values);
    expect(out[0]).toBe(String(values.length));
    expect(out.slice(1)).toEqual(values.map(String));
  });

  it('takes lists past 65,535 values, and numbers the scripts read with tonumber', async () => {
    const values = Array.from({ length: 70_001 }, (_v, i) => i);
    const out = await echo(values);
    expect(out.length).toBe(70_002);
    expect(out[70_001]).toBe('70000');
    const packed = new PackedArgs().pushAll(values).toBuffer();
    expect(await redis.eval(SUM, 1, '{tk:packed}:x', packed)).toBe(String((70_000 * 70_001) / 2));
  });

  it('grows from a small buffer without losing what was written', async () => {
    const values = Array.from({ length: 500 }, (_v, i) => `value-${i}-${'é'.repeat(i % 17)}`);
    expect((await echo(values)).slice(1)).toEqual(values);
  });
});
