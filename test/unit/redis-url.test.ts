/** TK_REDIS_URL: one server or a cluster, and what the environment schema accepts. */
import { describe, expect, it } from 'vitest';
import { EnvError, readEnv } from '../../adapters/env.ts';
import { clusterUrlOf, parseRedisUrl, RedisUrlError } from '../../adapters/redis-url.ts';

const base = { TK_S3_ENDPOINT: 'http://127.0.0.1:8701', TK_S3_ACCESS_KEY_ID: 'k', TK_S3_SECRET_ACCESS_KEY: 's', TK_STAGING_BUCKET: 'bucket', TK_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64') };

describe('parseRedisUrl', () => {
  it('keeps one-server URLs as they are', () => {
    for (const url of ['redis://127.0.0.1:8702', 'rediss://:secret@r-bp1.redis.rds.aliyuncs.com:6380/2', 'redis://user:p%40ss@host', 'redis://host:6379?family=6']) {
      expect(parseRedisUrl(url)).toEqual({ kind: 'standalone', url });
    }
  });

  it('reads redis-cluster:// and several hosts as a cluster, with credentials and TLS', () => {
    expect(parseRedisUrl('redis-cluster://127.0.0.1:7001,127.0.0.1:7002')).toEqual({
      kind: 'cluster',
      tls: false,
      nodes: [
        { host: '127.0.0.1', port: 7001 },
        { host: '127.0.0.1', port: 7002 },
      ],
    });
    expect(parseRedisUrl('redis-cluster://r-bp1.redis.rds.aliyuncs.com')).toMatchObject({ kind: 'cluster', nodes: [{ host: 'r-bp1.redis.rds.aliyuncs.com', port: 6379 }] });
    expect(parseRedisUrl('rediss-cluster://tk:p%40ss%3Aword@[::1]:7001,10.0.0.2:7002/0')).toEqual({
      kind: 'cluster',
      tls: true,
      username: 'tk',
      password: 'p@ss:word',
      nodes: [
        { host: '::1', port: 7001 },
        { host: '10.0.0.2', port: 7002 },
      ],
    });
    expect(parseRedisUrl('redis://:secret@a:1,b:2')).toEqual({ kind: 'cluster', tls: false, password: 'secret', nodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] });
    expect(parseRedisUrl(clusterUrlOf([{ host: '::1', port: 7001 }, { host: 'h', port: 7002 }], { tls: true }))).toMatchObject({ kind: 'cluster', tls: true, nodes: [{ host: '::1', port: 7001 }, { host: 'h', port: 7002 }] });
  });

  it('refuses what is not a Redis URL, a cluster database other than 0, and never echoes a password', () => {
    for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://', 'redis-cluster://h:99999', 'redis-cluster://h:7001/3', 'redis-cluster://h:7001?tls=1', 'redis-cluster://:%zz@h:1']) {
      expect(() => parseRedisUrl(url), url).toThrow(RedisUrlError);
    }
    const error = (() => {
      try {
        return parseRedisUrl('redis-cluster://:hunter2@h:7001/3');
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(RedisUrlError);
    expect(String(error)).not.toContain('hunter2');
    // a password with an unescaped '/' ends the host list early: what is left of it is no node address
    for (const url of ['redis://:hunter2/x@h:1', 'redis-cluster://user:pw@h:1,:hunter2/@h2:2']) {
      expect(() => parseRedisUrl(url), url).toThrow(RedisUrlError);
      expect(() => parseRedisUrl(url), url).not.toThrow(/hunter2/);
    }
  });
});

describe('TK_REDIS_URL in the function environment', () => {
  it('accepts redis://, rediss:// and cluster URLs', () => {
    for (const url of ['redis://127.0.0.1:8702', 'rediss://h:6380', 'redis-cluster://127.0.0.1:7001,127.0.0.1:7002', 'rediss-cluster://h:7001']) {
      expect(readEnv({ ...base, TK_REDIS_URL: url }).TK_REDIS_URL).toBe(url);
    }
  });

  it('names the variable when the URL is wrong', () => {
    expect(() => readEnv({ ...base, TK_REDIS_URL: 'http://h:1' })).toThrow(EnvError);
    expect(() => readEnv({ ...base, TK_REDIS_URL: 'redis-cluster://h:1/2' })).toThrow(/TK_REDIS_URL.*database 0/);
  });
});
