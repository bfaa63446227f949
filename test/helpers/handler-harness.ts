/**
 * Calling a function's handler directly (no emulator): the sample trigger payloads in events/
 * cloned and overridden per test (a base event, then what the case changes), an FC context,
 * and the servers behind the ports — a real Redis and the embedded S3 server on free ports,
 * their addresses and secrets set in process.env for adapters/wiring.ts to read.
 *
 * Import a handler only after `startHandlerServers` (adapters/env.ts reads the environment
 * once): `const { handler } = await import('../../functions/<name>/index.ts')` in beforeAll.
 * Each vitest file runs in its own process (pool: forks), so the environment is the file's own.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HISTORY_SERVER_CONFIG } from '../../adapters/redis/history-store.ts';
import type { FcContext } from '../../adapters/fc/context.ts';
import type { FcHttpResponse } from '../../adapters/fc/http.ts';
import { generateS3Credentials } from '../../emulator/s3/embedded.ts';
import { freePort, generateRedisPassword, startRedis, startS3, type StartedProcess } from '../../emulator/stack/processes.ts';
import { repoRoot } from './stack.ts';
import { testSecretsEnv } from './secrets.ts';

export const EVENTS_DIR = path.join(repoRoot, 'events');
/** The staging bucket the sample OSS events name. */
export const STAGING_BUCKET = 'trailkeeper-staging';
/** The management account of the samples (events/, test/fixtures/events/). */
export const SAMPLE_ACCOUNT = '1234567890123456';

type Json = Record<string, unknown>;

/** Deep partial of an event, for overrides: objects merge, anything else (arrays too) replaces. */
export type Override<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? Override<T[K]> : T[K] } & Json;

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** `base` with `override` merged in (a fresh object; `base` is never changed). */
export function merge<T>(base: T, override: Override<T> | Json = {}): T {
  const out = structuredClone(base) as Json;
  for (const [key, value] of Object.entries(override)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? merge(out[key], value) : structuredClone(value);
  }
  return out as T;
}

/** A sample payload of events/ (`name` without `.json`), cloned, with `override` merged in. */
export function sampleEvent<T = Json>(name: string, override: Override<T> | Json = {}): T {
  const base = JSON.parse(readFileSync(path.join(EVENTS_DIR, `${name}.json`), 'utf8')) as T;
  return merge(base, override);
}

/** What FC hands a handler: the event as bytes. */
export function eventBuffer(event: unknown): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

/** An FC context for `functionName`, with `override` merged in. */
export function fcContext(functionName: string, override: Override<FcContext> | Json = {}): FcContext {
  const base: FcContext = {
    requestId: `req-${functionName}-${Math.random().toString(16).slice(2, 10)}`,
    credentials: { accessKeyId: 'LTAITestHandlerKey', accessKeySecret: 'test-handler-secret', securityToken: '' },
    function: { name: `trailkeeper-${functionName}`, handler: 'index.handler', memory: 1024, timeout: 60 },
    region: 'cn-hangzhou',
    accountId: SAMPLE_ACCOUNT,
  };
  return merge(base, override);
}

/** The parts of an FC HTTP event a test varies. */
export interface HttpCase {
  method?: string;
  path?: string;
  /** Replace the sample's headers whole (FC's header names, any case). */
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  requestId?: string;
}

type FcHttpEventJson = {
  rawPath: string;
  body: string;
  isBase64Encoded: boolean;
  headers: Record<string, string>;
  queryParameters: Record<string, string>;
  requestContext: { requestId: string; http: { method: string; path: string } };
} & Json;

/** An HTTP sample of events/ with the case's method, path, headers, query and body. */
export function httpEvent(name: string, c: HttpCase = {}): FcHttpEventJson {
  const event = sampleEvent<FcHttpEventJson>(name);
  if (c.path !== undefined) {
    event.rawPath = c.path;
    event.requestContext.http.path = c.path;
  }
  if (c.method !== undefined) event.requestContext.http.method = c.method;
  if (c.headers !== undefined) event.headers = { ...c.headers };
  if (c.query !== undefined) event.queryParameters = { ...c.query };
  if (c.body !== undefined) {
    event.body = c.body;
    event.isBase64Encoded = c.isBase64Encoded ?? false;
  }
  if (c.requestId !== undefined) event.requestContext.requestId = c.requestId;
  return event;
}

/** A JSON answer's body. */
export function jsonBody<T = Json>(response: FcHttpResponse): T {
  return JSON.parse(response.isBase64Encoded ? Buffer.from(response.body, 'base64').toString('utf8') : response.body) as T;
}

export interface HandlerServers {
  redisUrl: string;
  s3Url: string;
  /** The S3 server's process id (benchmarks read its CPU). */
  s3Pid: number | undefined;
  /** Redis's data dir (its AOF is `appendonlydir/`), removed by stop. */
  redisDataDir: string;
  /** An S3 client of the test's own (path-style, the server's key). */
  s3: S3Client;
  /** The environment set in process.env. */
  env: Readonly<Record<string, string>>;
  put(bucket: string, key: string, body: string | Buffer): Promise<{ eTag: string }>;
  get(bucket: string, key: string): Promise<Buffer | undefined>;
  list(bucket: string, prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Redis (with a password) and the embedded S3 server (with a generated key pair, `buckets`
 * created) on free ports, and process.env set as s.yaml sets the functions' environment.
 * TK_FC_ENDPOINT points at a closed local port, so an invocation the test did not expect fails
 * at once instead of leaving the machine.
 */
export async function startHandlerServers(options: { buckets: string[]; env?: Record<string, string> }): Promise<HandlerServers> {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tk-handler-'));
  const credentials = generateS3Credentials();
  const [redisPort, s3Port, closedPort] = [await freePort(), await freePort(), await freePort()];
  let redis: StartedProcess | undefined;
  let s3Server: StartedProcess | undefined;
  try {
    [redis, s3Server] = await Promise.all([
      startRedis({ port: redisPort, dir: path.join(dataDir, 'redis'), config: HISTORY_SERVER_CONFIG, password: generateRedisPassword() }),
      startS3({ port: s3Port, dir: path.join(dataDir, 's3'), buckets: options.buckets, credentials }),
    ]);
  } catch (error) {
    await Promise.all([redis?.stop(), s3Server?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const env: Record<string, string> = {
    TK_REGION: 'cn-hangzhou',
    TK_REDIS_URL: redis.url,
    TK_S3_ENDPOINT: s3Server.url,
    TK_S3_REGION: 'cn-hangzhou',
    TK_S3_ACCESS_KEY_ID: credentials.accessKeyId,
    TK_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    TK_S3_FORCE_PATH_STYLE: 'true',
    TK_STAGING_BUCKET: STAGING_BUCKET,
    TK_FC_ENDPOINT: `http://127.0.0.1:${closedPort}`,
    TK_LOGSTORE: 'redis',
    TK_LOG_LEVEL: process.env['TK_LOG_LEVEL'] ?? 'silent',
    ...testSecretsEnv(),
    ...options.env,
  };
  Object.assign(process.env, env);
  const s3 = new S3Client({
    endpoint: s3Server.url,
    region: 'cn-hangzhou',
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const started = { redis, s3Server };
  return {
    redisUrl: redis.url,
    s3Url: s3Server.url,
    s3Pid: s3Server.pid,
    redisDataDir: path.join(dataDir, 'redis'),
    s3,
    env,
    put: async (bucket, key, body) => {
      const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return { eTag: (res.ETag ?? '').replace(/"/g, '') };
    },
    get: async (bucket, key) => {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    list: async (bucket, prefix) => {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key as string);
    },
    stop: async () => {
      s3.destroy();
      await Promise.all([started.s3Server.stop(), started.redis.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A gzip JSON body (archive files, staging objects) as JSON. */
export function gunzipJson<T = unknown>(body: Buffer): T {
  return JSON.parse(gunzipSync(body).toString('utf8')) as T;
}

