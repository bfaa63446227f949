/**
 * The Log Service writer without the cloud: the pure PutLogs request building, the writer's
 * routing/credentials/error mapping through a fake client, and the official SDK's actual wire
 * request (protobuf LogGroup, LOG signature) captured by a loopback HTTP server.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientConfig, PostLogStoreLogsData, RequestOptions } from '@alicloud/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SLS_MAX_LOGS_PER_PUT,
  SLS_MAX_PUT_BYTES,
  SlsLogstore,
  SlsWriteError,
  buildPutLogsRequests,
  parseSlsProjectArn,
  slsEndpointOf,
  type SlsClient,
  type SlsLogstoreOptions,
} from '../../adapters/sls/logstore.ts';
import { RetryableError, ValidationError } from '../../shared/errors.ts';
import { LOGSTORE_TOPIC, type LogEntryInput } from '../../shared/logstore/logstore.ts';

const ACCOUNT = '1234567890123456';
const TRAIL = { name: 'audit-trail', slsProjectArn: `acs:log:cn-hangzhou:${ACCOUNT}:project/trailkeeper-audit` };
const T = Date.parse('2024-05-06T07:08:09Z');

function entry(n: number, fields: Partial<LogEntryInput> = {}): LogEntryInput {
  const eventId = `evt-${String(n).padStart(6, '0')}`;
  return {
    eventId,
    eventTimeMs: T + n * 1000 + 999,
    json: JSON.stringify({ eventId, eventName: 'StopInstance', note: 'résumé ✓ 中文' }),
    ...fields,
  };
}

describe('parseSlsProjectArn', () => {
  it('reads region, account and project from acs:log:<region>:<account>:project/<name>', () => {
    expect(parseSlsProjectArn(TRAIL.slsProjectArn)).toEqual({ region: 'cn-hangzhou', accountId: ACCOUNT, project: 'trailkeeper-audit' });
  });

  it.each(['acs:oss:cn-hangzhou:1:project/x1y', 'acs:log:cn-hangzhou:1:logstore/abc', 'acs:log:cn-hangzhou:1:project/../etc'])('rejects %s', (arn) => {
    expect(() => parseSlsProjectArn(arn)).toThrow(ValidationError);
  });

  it('public and intranet endpoints', () => {
    expect(slsEndpointOf('cn-shanghai')).toBe('cn-shanghai.log.aliyuncs.com');
    expect(slsEndpointOf('cn-shanghai', 'intranet')).toBe('cn-shanghai-intranet.log.aliyuncs.com');
  });
});

describe('buildPutLogsRequests', () => {
  it('one log per event: __time__ in seconds, topic, event JSON unchanged and eventId', () => {
    const entries = [entry(1), entry(2)];
    const plan = buildPutLogsRequests(TRAIL, entries);
    expect(plan).toEqual({
      logs: 2,
      duplicates: 0,
      requests: [
        {
          projectName: 'trailkeeper-audit',
          logstoreName: 'actiontrail_audit-trail',
          region: 'cn-hangzhou',
          data: {
            topic: 'actiontrail_audit_event',
            logs: entries.map((e) => ({ timestamp: Math.floor(e.eventTimeMs / 1000), content: { eventId: e.eventId, event: e.json } })),
          },
        },
      ],
    });
    expect(plan.requests[0]?.data.logs[0]?.timestamp).toBe(T / 1000 + 1);
  });

  it('collapses repeated eventIds of one batch, first occurrence wins', () => {
    const plan = buildPutLogsRequests(TRAIL, [entry(1), entry(2), entry(1, { json: '{"other":true}' }), entry(2)]);
    expect(plan.logs).toBe(2);
    expect(plan.duplicates).toBe(2);
    expect(plan.requests[0]?.data.logs.map((l) => l.content['event'])).toEqual([entry(1).json, entry(2).json]);
  });

  it(`splits at ${SLS_MAX_LOGS_PER_PUT} logs per LogGroup, keeping order`, () => {
    const entries = Array.from({ length: SLS_MAX_LOGS_PER_PUT * 2 + 5 }, (_, i) => entry(i));
    const plan = buildPutLogsRequests(TRAIL, entries);
    expect(plan.requests.map((r) => r.data.logs.length)).toEqual([SLS_MAX_LOGS_PER_PUT, SLS_MAX_LOGS_PER_PUT, 5]);
    expect(plan.requests.flatMap((r) => r.data.logs.map((l) => l.content['eventId']))).toEqual(entries.map((e) => e.eventId));
  });

  it('splits by raw size so each LogGroup stays under 5 MiB', () => {
    const big = 'x'.repeat(1024 * 1024);
    const entries = Array.from({ length: 11 }, (_, i) => entry(i, { json: JSON.stringify({ big }) }));
    const plan = buildPutLogsRequests(TRAIL, entries);
    expect(plan.requests.length).toBeGreaterThan(2);
    for (const request of plan.requests) {
      const raw = request.data.logs.reduce((n, l) => n + Buffer.byteLength(l.content['event'] ?? '') + Buffer.byteLength(l.content['eventId'] ?? ''), 0);
      expect(raw).toBeLessThan(SLS_MAX_PUT_BYTES);
    }
    expect(plan.requests.reduce((n, r) => n + r.data.logs.length, 0)).toBe(11);
  });

  it('rejects a single event larger than a LogGroup', () => {
    expect(() => buildPutLogsRequests(TRAIL, [entry(1, { json: 'x'.repeat(SLS_MAX_PUT_BYTES) })])).toThrow(/LogGroup holds at most/);
  });

  it('rejects a trail without slsProjectArn, a path-like trail name and malformed entries', () => {
    expect(() => buildPutLogsRequests({ name: 'audit-trail' }, [entry(1)])).toThrow(ValidationError);
    expect(() => buildPutLogsRequests({ ...TRAIL, name: '../etc/passwd' }, [entry(1)])).toThrow(ValidationError);
    expect(() => buildPutLogsRequests(TRAIL, [entry(1, { eventId: '' })])).toThrow(ValidationError);
    expect(() => buildPutLogsRequests(TRAIL, [entry(1, { eventTimeMs: Number.NaN })])).toThrow(ValidationError);
  });

  it('builds nothing for no entries', () => {
    expect(buildPutLogsRequests(TRAIL, [])).toEqual({ requests: [], logs: 0, duplicates: 0 });
  });
});

interface Call {
  config: ClientConfig;
  projectName: string;
  logstoreName: string;
  data: PostLogStoreLogsData;
  options: RequestOptions | undefined;
}

function fakeSls(fail?: (call: Call) => Error | undefined): { calls: Call[]; options: Pick<SlsLogstoreOptions, 'clientFactory' | 'trails'> } {
  const calls: Call[] = [];
  return {
    calls,
    options: {
      trails: { get: async (accountId, name) => (accountId === ACCOUNT && name === TRAIL.name ? TRAIL : undefined) },
      clientFactory: (config): SlsClient => ({
        async postLogStoreLogs(projectName, logstoreName, data, options) {
          const call = { config, projectName, logstoreName, data, options };
          calls.push(call);
          const error = fail?.(call);
          if (error) throw error;
          return '';
        },
      }),
    },
  };
}

const STS = { accessKeyId: 'STS.NTestKeyId', accessKeySecret: 'test-secret-value', securityToken: 'test-security-token' };

describe('SlsLogstore', () => {
  it("writes to the trail's project and logstore with the FC credentials over HTTPS", async () => {
    const sls = fakeSls();
    const store = new SlsLogstore({ ...sls.options, credentials: STS });
    expect(await store.write(ACCOUNT, TRAIL.name, [entry(1), entry(2), entry(1)])).toEqual({ written: 2, duplicates: 1 });
    expect(sls.calls).toHaveLength(1);
    const [call] = sls.calls;
    expect(call?.config).toEqual({ region: 'cn-hangzhou', endpoint: 'https://cn-hangzhou.log.aliyuncs.com', ...STS });
    expect(call?.projectName).toBe('trailkeeper-audit');
    expect(call?.logstoreName).toBe('actiontrail_audit-trail');
    expect(call?.data.topic).toBe(LOGSTORE_TOPIC);
    expect(call?.options?.timeout).toBeGreaterThan(0);
  });

  it('takes an endpoint override, the intranet endpoint and a credentials provider', async () => {
    const a = fakeSls();
    await new SlsLogstore({ ...a.options, credentials: () => STS, endpoint: 'http://sls.internal:8080' }).write(ACCOUNT, TRAIL.name, [entry(1)]);
    expect(a.calls[0]?.config.endpoint).toBe('http://sls.internal:8080');
    const b = fakeSls();
    await new SlsLogstore({ ...b.options, credentials: async () => STS, net: 'intranet' }).write(ACCOUNT, TRAIL.name, [entry(1)]);
    expect(b.calls[0]?.config.endpoint).toBe('https://cn-hangzhou-intranet.log.aliyuncs.com');
    const c = fakeSls();
    await new SlsLogstore({ ...c.options, credentials: STS, endpoint: (region) => `https://${region}.example.test` }).write(ACCOUNT, TRAIL.name, [entry(1)]);
    expect(c.calls[0]?.config.endpoint).toBe('https://cn-hangzhou.example.test');
  });

  it('maps throttling and transport failures to RetryableError, the rest to SlsWriteError', async () => {
    const coded = (code: string) => Object.assign(new Error(`boom ${code}`), { code });
    for (const [code, kind] of [
      ['WriteQuotaExceed', RetryableError],
      ['ECONNRESET', RetryableError],
      ['LogStoreNotExist', SlsWriteError],
      ['Unauthorized', SlsWriteError],
    ] as const) {
      const sls = fakeSls(() => coded(code));
      const write = new SlsLogstore({ ...sls.options, credentials: STS }).write(ACCOUNT, TRAIL.name, [entry(1)]);
      await expect(write).rejects.toBeInstanceOf(kind);
      await expect(write).rejects.not.toThrow(STS.accessKeySecret);
    }
  });

  it('rejects an unknown trail and sends nothing for no entries', async () => {
    const sls = fakeSls();
    const store = new SlsLogstore({ ...sls.options, credentials: STS });
    await expect(store.write(ACCOUNT, 'missing-trail', [entry(1)])).rejects.toThrow(/does not exist/);
    expect(await store.write(ACCOUNT, TRAIL.name, [])).toEqual({ written: 0, duplicates: 0 });
    expect(sls.calls).toHaveLength(0);
  });
});

// ---- The official SDK's wire request, captured on loopback ----

type ProtoField = { field: number; wire: number; value: bigint | Buffer };

/** Just enough protobuf decoding to read a LogGroup back. */
function decodeProto(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) {
      const length = Number(varint());
      out.push({ field, wire, value: buf.subarray(pos, pos + length) });
      pos += length;
    } else if (wire === 5) {
      out.push({ field, wire, value: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

const bytes = (f: ProtoField): Buffer => (Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0));

/** LogGroup { repeated Log Logs = 1; optional string Topic = 3 }, Log { uint32 Time = 1; repeated Content Contents = 2 }. */
function decodeLogGroup(buf: Buffer): { topic?: string; logs: { time: number; contents: Record<string, string> }[] } {
  const group = decodeProto(buf);
  const topic = group.find((f) => f.field === 3);
  return {
    ...(topic ? { topic: bytes(topic).toString('utf8') } : {}),
    logs: group
      .filter((f) => f.field === 1)
      .map((log) => {
        const fields = decodeProto(bytes(log));
        const contents: Record<string, string> = {};
        for (const content of fields.filter((f) => f.field === 2)) {
          const kv = decodeProto(bytes(content));
          const key = kv.find((f) => f.field === 1);
          const value = kv.find((f) => f.field === 2);
          if (key && value) contents[bytes(key).toString('utf8')] = bytes(value).toString('utf8');
        }
        const time = fields.find((f) => f.field === 1);
        return { time: Number(time?.value ?? -1), contents };
      }),
  };
}

/** Log Service request signature, computed from the API reference independently of the SDK. */
function expectedAuthorization(method: string, path: string, headers: http.IncomingHttpHeaders, secret: string, keyId: string): string {
  const h = (name: string) => String(headers[name] ?? '');
  const canonicalHeaders = Object.keys(headers)
    .filter((k) => k.startsWith('x-log-') || k.startsWith('x-acs-'))
    .sort()
    .map((k) => `${k}:${h(k).trim()}\n`)
    .join('');
  const stringToSign = `${method}\n${h('content-md5')}\n${h('content-type')}\n${h('date')}\n${canonicalHeaders}${path}`;
  return `LOG ${keyId}:${createHmac('sha1', secret).update(stringToSign).digest('base64')}`;
}

interface Captured {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe('SlsLogstore with the official SDK (@alicloud/log)', () => {
  let server: http.Server;
  let port: number;
  const captured: Captured[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'x-log-requestid': 'test-request' });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends a signed protobuf LogGroup to /logstores/actiontrail_<trail>/shards/lb of the project host', async () => {
    const store = new SlsLogstore({
      trails: { get: async () => TRAIL },
      credentials: STS,
      endpoint: 'http://cn-hangzhou.log.aliyuncs.com',
      // Route the SDK's connection to the loopback server; keep the Host the SDK chose.
      requestOptions: { beforeRequest: (o) => ({ ...o, headers: { ...o.headers, host: o.host }, host: '127.0.0.1', port }) },
    });
    const entries = [entry(1), entry(2)];
    expect(await store.write(ACCOUNT, TRAIL.name, entries)).toEqual({ written: 2, duplicates: 0 });

    expect(captured).toHaveLength(1);
    const [request] = captured;
    if (!request) throw new Error('no request captured');
    expect(request.method).toBe('POST');
    // The SDK appends '?' even without query parameters.
    expect(request.url.replace(/\?$/, '')).toBe('/logstores/actiontrail_audit-trail/shards/lb');
    expect(request.headers.host).toBe('trailkeeper-audit.cn-hangzhou.log.aliyuncs.com');
    expect(request.headers['content-type']).toBe('application/x-protobuf');
    expect(request.headers['x-log-apiversion']).toBe('0.6.0');
    expect(request.headers['x-log-bodyrawsize']).toBe(String(request.body.length));
    expect(request.headers['content-md5']).toBe(createHash('md5').update(request.body).digest('hex').toUpperCase());
    expect(request.headers['x-acs-security-token']).toBe(STS.securityToken);
    expect(request.headers.authorization).toBe(
      expectedAuthorization('POST', '/logstores/actiontrail_audit-trail/shards/lb', request.headers, STS.accessKeySecret, STS.accessKeyId),
    );

    expect(decodeLogGroup(request.body)).toEqual({
      topic: LOGSTORE_TOPIC,
      logs: entries.map((e) => ({ time: Math.floor(e.eventTimeMs / 1000), contents: { eventId: e.eventId, event: e.json } })),
    });
  });
});
