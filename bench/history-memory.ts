/**
 * History memory and lookup-latency benchmark (docs/design.md §5: ≤ 1 KiB of Redis memory per event
 * held, LookupEvents p99 ≤ 25 ms with 1 M events held).
 *
 *   npx tsx bench/history-memory.ts [--events 200000] [--queries 300] [--seed 1]
 *
 * Starts a private redis-server (free port, temp dir, the settings the store documents),
 * loads N synthetic but realistic events into one account through `RedisHistoryStore.put`
 * (the real parse → classify → historyRecordOf path), reports
 * `(used_memory after − used_memory before) / N`, then times LookupEvents pages of 50 for each
 * condition kind, rare and common values, wide (90 d) and narrow (1 h) ranges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { HISTORY_SERVER_CONFIG, RedisHistoryStore } from '../adapters/redis/history-store.ts';
import { classifyEvent, resourceNamesOf, resourceTypesOf } from '../shared/classify/classify.ts';
import { eventTimeMs, parseEvent } from '../shared/events/schema.ts';
import {
  HISTORY_RETENTION_MS,
  historyRecordOf,
  type HistoryQuery,
  type HistoryRecord,
  type LookupKey,
} from '../shared/history/history-store.ts';
import { freePort, startRedis } from '../emulator/stack/processes.ts';
import { memoryByFamily, usedMemory } from './lib/memory-families.ts';
import { redisCpu } from './lib/process-cpu.ts';

// ---- synthetic events ----------------------------------------------------------------

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const MIXED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789ABCDEF';
function chars(r: Rand, alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(r() * alphabet.length)];
  return out;
}
function uuid(r: Rand, upper = false): string {
  const h = chars(r, HEX, 32);
  const s = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89AB'[Math.floor(r() * 4)]}${h.slice(17, 20)}-${h.slice(20)}`;
  return upper ? s : s.toLowerCase();
}

interface Service {
  serviceName: string;
  eventSource: string;
  apiVersion?: string;
  isGlobal?: boolean;
}
interface Api {
  service: Service;
  name: string;
  rw: 'Read' | 'Write';
  weight: number;
  /** legacy resource key and id maker, for APIs that name a resource */
  resource?: { type: string; id: (r: Rand) => string };
  params: (r: Rand, resourceId: string | undefined, region: string) => Record<string, unknown>;
  response?: (r: Rand, resourceId: string | undefined) => unknown;
  eventType?: 'ConsoleSignin' | 'ConsoleSignout';
}

const ECS: Service = { serviceName: 'Ecs', eventSource: 'ecs.aliyuncs.com', apiVersion: '2014-05-26' };
const RDS: Service = { serviceName: 'Rds', eventSource: 'rds.aliyuncs.com', apiVersion: '2014-08-15' };
const SLB: Service = { serviceName: 'Slb', eventSource: 'slb.aliyuncs.com', apiVersion: '2014-05-15' };
const OSS: Service = { serviceName: 'Oss', eventSource: 'oss-cn-hangzhou.aliyuncs.com' };
const RAM: Service = { serviceName: 'Ram', eventSource: 'ram.aliyuncs.com', apiVersion: '2015-05-01', isGlobal: true };
const VPC: Service = { serviceName: 'Vpc', eventSource: 'vpc.aliyuncs.com', apiVersion: '2016-04-28' };
const KMS: Service = { serviceName: 'Kms', eventSource: 'kms.cn-hangzhou.aliyuncs.com', apiVersion: '2016-01-20' };
const STS: Service = { serviceName: 'Sts', eventSource: 'sts.aliyuncs.com', apiVersion: '2015-04-01', isGlobal: true };
const SLS: Service = { serviceName: 'Sls', eventSource: 'cn-hangzhou.log.aliyuncs.com', apiVersion: '0.6.0' };
const SIGNIN: Service = { serviceName: 'AasSub', eventSource: 'signin.aliyun.com', isGlobal: true };

const id = (prefix: string, n: number) => (r: Rand) => `${prefix}${chars(r, ALNUM, n)}`;
const page = (r: Rand, region: string) => ({ RegionId: region, PageSize: pick(r, [10, 50, 100]), PageNumber: 1 });

const APIS: Api[] = [
  { service: ECS, name: 'DescribeInstances', rw: 'Read', weight: 12, params: (r, _id, g) => ({ ...page(r, g), Status: pick(r, ['Running', 'Stopped', undefined]) }) },
  { service: ECS, name: 'DescribeDisks', rw: 'Read', weight: 5, params: (r, _id, g) => page(r, g) },
  { service: ECS, name: 'DescribeSecurityGroups', rw: 'Read', weight: 4, params: (r, _id, g) => page(r, g) },
  { service: ECS, name: 'DescribeImages', rw: 'Read', weight: 3, params: (r, _id, g) => ({ ...page(r, g), ImageOwnerAlias: 'system' }) },
  { service: ECS, name: 'DescribeInstanceStatus', rw: 'Read', weight: 4, params: (r, _id, g) => page(r, g) },
  { service: ECS, name: 'StartInstance', rw: 'Write', weight: 3, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (_r, i) => ({ InstanceId: i }) },
  { service: ECS, name: 'StopInstance', rw: 'Write', weight: 3, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (r, i) => ({ InstanceId: i, ForceStop: pick(r, ['true', 'false']) }) },
  { service: ECS, name: 'RebootInstance', rw: 'Write', weight: 2, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (_r, i) => ({ InstanceId: i }) },
  { service: ECS, name: 'RunInstances', rw: 'Write', weight: 2, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (r, _i, g) => ({ RegionId: g, ImageId: 'aliyun_3_x64_20G_alibase_20240528.vhd', InstanceType: pick(r, ['ecs.g7.large', 'ecs.c7.xlarge', 'ecs.r7.2xlarge']), SecurityGroupId: id('sg-bp1', 17)(r), VSwitchId: id('vsw-bp1', 17)(r), Amount: 1 }), response: (_r, i) => ({ InstanceIdSets: { InstanceIdSet: [i] } }) },
  { service: ECS, name: 'DeleteInstance', rw: 'Write', weight: 1, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (r, i) => ({ InstanceId: i, Force: pick(r, ['true', 'false']) }) },
  { service: ECS, name: 'ModifyInstanceAttribute', rw: 'Write', weight: 2, resource: { type: 'Instance', id: id('i-bp1', 17) }, params: (r, i) => ({ InstanceId: i, InstanceName: `web-${chars(r, ALNUM, 6)}` }) },
  { service: ECS, name: 'CreateSnapshot', rw: 'Write', weight: 1, resource: { type: 'Disk', id: id('d-bp1', 17) }, params: (r, d) => ({ DiskId: d, SnapshotName: `daily-${chars(r, ALNUM, 8)}` }) },
  { service: ECS, name: 'AuthorizeSecurityGroup', rw: 'Write', weight: 1, resource: { type: 'SecurityGroup', id: id('sg-bp1', 17) }, params: (r, sg, g) => ({ RegionId: g, SecurityGroupId: sg, IpProtocol: 'tcp', PortRange: pick(r, ['22/22', '443/443', '80/80', '3306/3306']), SourceCidrIp: '0.0.0.0/0' }) },
  { service: RDS, name: 'DescribeDBInstances', rw: 'Read', weight: 5, params: (r, _i, g) => page(r, g) },
  { service: RDS, name: 'DescribeBackups', rw: 'Read', weight: 2, params: (r, _i, g) => ({ ...page(r, g), DBInstanceId: id('rm-bp1', 17)(r) }) },
  { service: RDS, name: 'CreateDBInstance', rw: 'Write', weight: 1, resource: { type: 'DBInstance', id: id('rm-bp1', 17) }, params: (r, _i, g) => ({ RegionId: g, Engine: pick(r, ['MySQL', 'PostgreSQL']), EngineVersion: '8.0', DBInstanceClass: 'rds.mysql.s2.large', DBInstanceStorage: 100, PayType: 'Postpaid' }) },
  { service: RDS, name: 'ModifyDBInstanceSpec', rw: 'Write', weight: 1, resource: { type: 'DBInstance', id: id('rm-bp1', 17) }, params: (_r, i) => ({ DBInstanceId: i, DBInstanceClass: 'rds.mysql.m1.medium' }) },
  { service: SLB, name: 'DescribeLoadBalancers', rw: 'Read', weight: 4, params: (r, _i, g) => page(r, g) },
  { service: SLB, name: 'DescribeHealthStatus', rw: 'Read', weight: 3, params: (r, _i, g) => ({ RegionId: g, LoadBalancerId: id('lb-bp1', 21)(r) }) },
  { service: SLB, name: 'CreateLoadBalancer', rw: 'Write', weight: 1, resource: { type: 'LoadBalancer', id: id('lb-bp1', 21) }, params: (r, _i, g) => ({ RegionId: g, AddressType: pick(r, ['internet', 'intranet']), LoadBalancerSpec: 'slb.s1.small' }) },
  { service: SLB, name: 'SetLoadBalancerStatus', rw: 'Write', weight: 1, resource: { type: 'LoadBalancer', id: id('lb-bp1', 21) }, params: (r, i) => ({ LoadBalancerId: i, LoadBalancerStatus: pick(r, ['active', 'inactive']) }) },
  { service: OSS, name: 'GetBucketInfo', rw: 'Read', weight: 3, params: (r) => ({ BucketName: `app-${chars(r, ALNUM, 6)}` }) },
  { service: OSS, name: 'PutBucket', rw: 'Write', weight: 1, resource: { type: 'Bucket', id: id('data-', 12) }, params: (_r, b) => ({ BucketName: b, StorageClass: 'Standard' }) },
  { service: OSS, name: 'PutBucketAcl', rw: 'Write', weight: 1, resource: { type: 'Bucket', id: id('data-', 12) }, params: (r, b) => ({ BucketName: b, 'x-oss-acl': pick(r, ['private', 'public-read']) }) },
  { service: OSS, name: 'DeleteBucket', rw: 'Write', weight: 1, resource: { type: 'Bucket', id: id('data-', 12) }, params: (_r, b) => ({ BucketName: b }) },
  { service: RAM, name: 'ListUsers', rw: 'Read', weight: 2, params: (r) => ({ MaxItems: pick(r, [100, 1000]) }) },
  { service: RAM, name: 'GetUser', rw: 'Read', weight: 2, params: (r) => ({ UserName: `user-${chars(r, ALNUM, 5)}` }) },
  { service: RAM, name: 'CreateUser', rw: 'Write', weight: 1, resource: { type: 'User', id: id('svc-', 8) }, params: (r, u) => ({ UserName: u, DisplayName: `Service ${chars(r, ALNUM, 4)}` }) },
  { service: RAM, name: 'CreateAccessKey', rw: 'Write', weight: 1, resource: { type: 'User', id: id('svc-', 8) }, params: (_r, u) => ({ UserName: u }), response: (r) => ({ AccessKey: { AccessKeyId: `LTAI5t${chars(r, MIXED, 18)}`, Status: 'Active' } }) },
  { service: RAM, name: 'AttachPolicyToUser', rw: 'Write', weight: 1, resource: { type: 'User', id: id('svc-', 8) }, params: (r, u) => ({ UserName: u, PolicyType: 'System', PolicyName: pick(r, ['AliyunECSFullAccess', 'AliyunOSSReadOnlyAccess', 'AliyunRDSFullAccess']) }) },
  { service: RAM, name: 'DeleteAccessKey', rw: 'Write', weight: 1, resource: { type: 'AccessKey', id: (r) => `LTAI5t${chars(r, MIXED, 18)}` }, params: (_r, k) => ({ UserAccessKeyId: k }) },
  { service: VPC, name: 'DescribeVpcs', rw: 'Read', weight: 3, params: (r, _i, g) => page(r, g) },
  { service: VPC, name: 'DescribeVSwitches', rw: 'Read', weight: 3, params: (r, _i, g) => page(r, g) },
  { service: VPC, name: 'DescribeEipAddresses', rw: 'Read', weight: 2, params: (r, _i, g) => page(r, g) },
  { service: VPC, name: 'CreateVSwitch', rw: 'Write', weight: 1, resource: { type: 'VSwitch', id: id('vsw-bp1', 17) }, params: (r, _i, g) => ({ RegionId: g, VpcId: id('vpc-bp1', 17)(r), CidrBlock: `172.16.${Math.floor(r() * 255)}.0/24`, ZoneId: `${g}-h` }) },
  { service: VPC, name: 'AllocateEipAddress', rw: 'Write', weight: 1, resource: { type: 'EipAddress', id: id('eip-bp1', 17) }, params: (r, _i, g) => ({ RegionId: g, Bandwidth: pick(r, ['5', '10', '100']), InternetChargeType: 'PayByTraffic' }) },
  { service: KMS, name: 'Decrypt', rw: 'Read', weight: 6, params: (r) => ({ CiphertextBlob: chars(r, MIXED, 40) }) },
  { service: KMS, name: 'Encrypt', rw: 'Read', weight: 3, params: (r) => ({ KeyId: `key-hzz${chars(r, ALNUM, 17)}` }) },
  { service: KMS, name: 'GenerateDataKey', rw: 'Read', weight: 2, params: (r) => ({ KeyId: `key-hzz${chars(r, ALNUM, 17)}`, KeySpec: 'AES_256' }) },
  { service: KMS, name: 'CreateKey', rw: 'Write', weight: 1, resource: { type: 'Key', id: id('key-hzz', 17) }, params: (r) => ({ KeySpec: 'Aliyun_AES_256', Description: `key for ${chars(r, ALNUM, 6)}` }) },
  { service: STS, name: 'AssumeRole', rw: 'Read', weight: 5, params: (r) => ({ RoleArn: `acs:ram::1234567890123456:role/${pick(r, ['ops-admin', 'deployer', 'readonly', 'ci-runner'])}`, RoleSessionName: chars(r, ALNUM, 8), DurationSeconds: 3600 }) },
  { service: STS, name: 'GetCallerIdentity', rw: 'Read', weight: 2, params: () => ({}) },
  { service: SLS, name: 'ListProject', rw: 'Read', weight: 2, params: (r) => ({ offset: 0, size: pick(r, [100, 500]) }) },
  { service: SLS, name: 'GetLogStoreLogs', rw: 'Read', weight: 3, params: (r) => ({ ProjectName: `proj-${chars(r, ALNUM, 5)}`, LogstoreName: pick(r, ['nginx-access', 'app-log', 'audit']), query: '* | select count(1)' }) },
  { service: SLS, name: 'CreateProject', rw: 'Write', weight: 1, resource: { type: 'Project', id: id('proj-', 10) }, params: (r, p) => ({ projectName: p, description: `project ${chars(r, ALNUM, 5)}` }) },
  { service: SLS, name: 'CreateLogStore', rw: 'Write', weight: 1, resource: { type: 'LogStore', id: id('store-', 10) }, params: (r, s) => ({ logstoreName: s, ttl: pick(r, [30, 90, 180]), shardCount: 2 }) },
  { service: SIGNIN, name: 'ConsoleSignin', rw: 'Write', weight: 2, eventType: 'ConsoleSignin', params: () => ({}) },
  { service: SIGNIN, name: 'ConsoleSignout', rw: 'Write', weight: 1, eventType: 'ConsoleSignout', params: () => ({}) },
];

const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'cn-shenzhen', 'cn-hongkong', 'ap-southeast-1', 'us-west-1', 'eu-central-1'];
const AGENTS = [
  'AliyunConsole',
  'aliyun-cli/3.0.204',
  'Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-alicloud/1.219.0',
  'AlibabaCloud (linux; x64) Node.js/v20.11.1 Core/1.1.0 TeaDSL/1',
  'AlibabaCloud (darwin; arm64) Python/3.11.6 Core/0.3.13 TeaDSL/1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'aliyun-sdk-java/2.0.0 (Linux/5.10.134-16.al8.x86_64/amd64;11.0.22)/aliyun-java-sdk-core/4.6.4',
];

export interface SyntheticOptions {
  accountId: string;
  count: number;
  endMs: number;
  spanMs?: number;
  seed?: number;
}

/** `count` realistic ActionTrail events of one account, in eventTime order, spread over `spanMs`. */
export function* syntheticEvents(options: SyntheticOptions): Generator<Record<string, unknown>> {
  const r = rng(options.seed ?? 1);
  const span = options.spanMs ?? HISTORY_RETENTION_MS - 3_600_000;
  const accountId = options.accountId;
  const ips = Array.from({ length: 1000 }, () =>
    r() < 0.15 ? `10.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}` : `${pick(r, [42, 47, 58, 100, 106, 115, 139, 203])}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`,
  );
  const users = Array.from({ length: 200 }, (_, i) => {
    const kind = i < 2 ? 'root-account' : i < 150 ? 'ram-user' : 'assumed-role';
    const name = kind === 'root-account' ? 'root' : kind === 'ram-user' ? `${pick(r, ['dev', 'ops', 'ci', 'data', 'sec', 'app'])}-${chars(r, ALNUM, 5)}` : `${pick(r, ['ops-admin', 'deployer', 'readonly'])}:${chars(r, ALNUM, 8)}`;
    // user agents with per-user versions, as real SDKs and browsers vary
    const agent = pick(r, AGENTS).replace(/\d+\.\d+(\.\d+)?/g, (v) => v.replace(/\d+$/, String(Math.floor(r() * 30))));
    return { kind, name, principalId: kind === 'root-account' ? accountId : `2${chars(r, '0123456789', 17)}`, agent };
  });
  const aks = Array.from({ length: 300 }, (_, i) => {
    const user = users[i % users.length]!;
    return { user, accessKeyId: user.kind === 'assumed-role' ? `STS.N${chars(r, MIXED, 23)}` : `LTAI5t${chars(r, MIXED, 18)}` };
  });
  // reads and writes about half each (EventRW=Read matches half of the events)
  const weightOf = (a: Api) => (a.rw === 'Write' ? a.weight * 2.35 : a.weight);
  const totalWeight = APIS.reduce((s, a) => s + weightOf(a), 0);
  // a few hundred resources are touched again and again; most ids are new
  const recent: string[] = [];
  const times: number[] = Array.from({ length: options.count }, () => options.endMs - Math.floor(r() * span / 1000) * 1000);
  times.sort((a, b) => a - b);
  for (const t of times) {
    let w = r() * totalWeight;
    let api = APIS[0]!;
    for (const a of APIS) {
      w -= weightOf(a);
      if (w < 0) {
        api = a;
        break;
      }
    }
    const ak = pick(r, aks);
    const user = api.eventType ? pick(r, users.filter((u) => u.kind !== 'assumed-role')) : ak.user;
    const region = pick(r, REGIONS);
    let resourceId: string | undefined;
    if (api.resource) {
      if (recent.length > 0 && r() < 0.2) resourceId = pick(r, recent);
      else {
        resourceId = api.resource.id(r);
        if (recent.length < 300) recent.push(resourceId);
        else recent[Math.floor(r() * 300)] = resourceId;
      }
    }
    const failed = r() < 0.04;
    const event: Record<string, unknown> = {
      eventVersion: 1,
      eventCategory: 'Management',
      eventId: uuid(r),
      requestId: uuid(r, true),
      eventTime: new Date(t).toISOString().replace('.000Z', 'Z'),
      eventSource: api.service.eventSource,
      eventName: api.name,
      serviceName: api.service.serviceName,
      ...(api.eventType ? { eventType: api.eventType } : { eventType: 'ApiCall', eventRW: api.rw, apiVersion: api.service.apiVersion }),
      sourceIpAddress: pick(r, ips),
      userAgent: api.eventType ? AGENTS[5] : user.agent,
      acsRegion: api.service.isGlobal ? 'cn-hangzhou' : region,
      ...(api.service.isGlobal ? { isGlobal: true } : {}),
      ...(api.eventType ? {} : { requestParameters: { ...api.params(r, resourceId, region), AcsHost: api.service.eventSource, AccessKeyId: ak.accessKeyId } }),
      ...(api.response && !failed ? { responseElements: api.response(r, resourceId) } : {}),
      ...(failed ? { errorCode: pick(r, ['Forbidden.RAM', 'InvalidParameter', 'Throttling.User']), errorMessage: 'User not authorized to operate on the specified resource, or this API does not support RAM.' } : {}),
      ...(api.eventType ? { additionalEventData: { loginAccount: `${user.name}@${accountId}.onaliyun.com`, mfaChecked: pick(r, ['true', 'false']), callbackUrl: 'https://homenew.console.aliyun.com/' } } : {}),
      ...(resourceId && api.resource ? { referencedResources: { [api.resource.type]: [resourceId] } } : {}),
      userIdentity: {
        type: user.kind,
        principalId: user.principalId,
        accountId,
        ...(api.eventType ? {} : { accessKeyId: ak.accessKeyId }),
        userName: user.name,
        ...(user.kind === 'assumed-role'
          ? { sessionContext: { attributes: { mfaAuthenticated: 'false', creationDate: new Date(t - 600_000).toISOString().replace('.000Z', 'Z') } } }
          : {}),
      },
    };
    yield event;
  }
}

/** Parses, classifies and builds the history record of a raw event (undefined when dropped). */
export function recordOf(raw: Record<string, unknown>, accountId: string): HistoryRecord | undefined {
  const parsed = parseEvent(raw);
  if (!parsed.ok) throw new Error(`synthetic event does not parse: ${JSON.stringify(parsed.issues)}`);
  const classified = classifyEvent(parsed.event);
  if (!classified.kept) return undefined;
  const event = classified.event;
  const eventId = event.eventId;
  if (!eventId) throw new Error('synthetic event without eventId');
  return historyRecordOf({ ...event, eventId }, accountId, eventTimeMs(event), {
    types: resourceTypesOf(event),
    names: resourceNamesOf(event),
  });
}

// ---- benchmark -------------------------------------------------------------------------

interface Options {
  events: number;
  queries: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { events: 200_000, queries: 300, seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if ((name === 'events' || name === 'queries' || name === 'seed') && Number.isFinite(value)) options[name] = value;
    else throw new Error(`usage: npx tsx bench/history-memory.ts [--events N] [--queries N] [--seed N] (bad ${argv[i]})`);
  }
  return options;
}


function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);


/** Calls and server time of the store's scripts since the last CONFIG RESETSTAT. */
async function scriptMicros(redis: Redis): Promise<{ calls: number; micros: number }> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let micros = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(match[1]);
    micros += Number(match[2]);
  }
  return { calls, micros };
}

const KIND_NAMES: Record<string, string> = {
  b: 'bodies (b:)',
  B: 'big bodies (B:)',
  i: 'eventId map (i:)',
  x: 'day tables (x:)',
  z: 'day posting chunks (z:)',
  h: 'hour posting chunks (h:)',
  f: '5-min posting chunks (f:)',
  d: 'day state (d:)',
  n: 'counter',
  days: 'days',
};

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const accountId = '1234567890123456';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'history-bench-'));
  const port = await freePort();
  const server = await startRedis({ port, dir, config: { ...HISTORY_SERVER_CONFIG, appendonly: 'no' } });
  const redis = new Redis(server.url, { enableAutoPipelining: true });
  try {
    const store = new RedisHistoryStore(redis);
    const endMs = Date.now() - 60_000;
    console.log(`redis-server on ${server.url}; config ${JSON.stringify(HISTORY_SERVER_CONFIG)}`);
    console.log(`loading ${options.events.toLocaleString()} synthetic events over 90 days into account ${accountId} …`);

    const before = await usedMemory(redis);
    await redis.config('RESETSTAT');
    let batch: HistoryRecord[] = [];
    let held = 0;
    let jsonBytes = 0;
    let putMs = 0;
    const ids: string[] = [];
    const names: string[] = [];
    const r = rng(options.seed + 1);
    const flush = async () => {
      const t0 = performance.now();
      const { added } = await store.put(batch);
      putMs += performance.now() - t0;
      held += added;
      batch = [];
    };
    for (const raw of syntheticEvents({ accountId, count: options.events, endMs, seed: options.seed })) {
      const record = recordOf(raw, accountId);
      if (!record) continue;
      jsonBytes += Buffer.byteLength(record.json);
      if (r() < 0.002) ids.push(record.eventId);
      const name = record.attributes.ResourceName?.[0];
      if (name && r() < 0.01) names.push(name);
      batch.push(record);
      if (batch.length === 500) await flush();
    }
    await flush();
    const after = await usedMemory(redis);
    const perEvent = (after - before) / held;
    const putServer = await scriptMicros(redis);
    console.log(`held ${held.toLocaleString()} events, JSON ${fmt(jsonBytes / held, 0)} B/event on average`);
    console.log(`put: ${fmt(held / (putMs / 1000), 0)} events/s from one caller (client compression included); Redis time ${fmt(putServer.micros / held, 1)} µs/event`);
    console.log(`\nused_memory ${before.toLocaleString()} → ${after.toLocaleString()} B: ${fmt(perEvent, 1)} B per event (goal ≤ 1024)\n`);

    // by kind: the letter after the account prefix (`tk:{A}:x:…` → x)
    const kinds = await memoryByFamily(redis, `tk:{${accountId}}:*`);
    const total = [...kinds.values()].reduce((s, k) => s + k.bytes, 0);
    console.log('MEMORY USAGE by key kind (sums of per-key estimates)');
    console.log(`${'kind'.padEnd(26)}${'keys'.padStart(9)}${'B/event'.padStart(10)}${'share'.padStart(8)}`);
    for (const [kind, { keys, bytes }] of [...kinds].sort((a, b) => b[1].bytes - a[1].bytes)) {
      console.log(`${(KIND_NAMES[kind] ?? kind).padEnd(26)}${String(keys).padStart(9)}${fmt(bytes / held, 1).padStart(10)}${`${fmt((100 * bytes) / total, 1)}%`.padStart(8)}`);
    }

    // ---- lookup latency ----
    const wide = { startMs: endMs - HISTORY_RETENTION_MS, endMs };
    const q = (condition: HistoryQuery['condition'], range: { startMs: number; endMs: number }, direction: HistoryQuery['direction'] = 'BACKWARD'): HistoryQuery => ({
      accountIds: [accountId],
      ...range,
      direction,
      limit: 50,
      ...(condition ? { condition } : {}),
    });
    const narrow = () => {
      const start = wide.startMs + Math.floor(r() * (HISTORY_RETENTION_MS - 3_600_000));
      return { startMs: start, endMs: start + 3_600_000 };
    };
    const users: string[] = [];
    const aks: string[] = [];
    const ips: string[] = [];
    for (const raw of syntheticEvents({ accountId, count: 2000, endMs, seed: options.seed })) {
      const record = recordOf(raw, accountId);
      if (!record) continue;
      users.push(record.attributes.User?.[0] ?? '');
      aks.push(record.attributes.EventAccessKeyId?.[0] ?? '');
      ips.push(record.attributes.SourceIpAddress?.[0] ?? '');
    }
    const cond = (key: LookupKey, value: string) => ({ key, value });
    const kindsOfQuery: [string, () => HistoryQuery][] = [
      ['no condition, 90 d', () => q(undefined, wide)],
      ['no condition, 90 d, FORWARD', () => q(undefined, wide, 'FORWARD')],
      ['no condition, 1 h', () => q(undefined, narrow())],
      ['EventRW=Read, 90 d', () => q(cond('EventRW', 'Read'), wide)],
      ['EventRW=Write, 1 h', () => q(cond('EventRW', 'Write'), narrow())],
      ['EventType=ApiCall, 90 d', () => q(cond('EventType', 'ApiCall'), wide)],
      ['EventType=ConsoleSignout, 90 d', () => q(cond('EventType', 'ConsoleSignout'), wide, r() < 0.5 ? 'BACKWARD' : 'FORWARD')],
      ['ServiceName=Ecs, 90 d', () => q(cond('ServiceName', 'Ecs'), wide)],
      ['ServiceName=Sls, 1 h', () => q(cond('ServiceName', 'Sls'), narrow())],
      ['EventName (any of 50), 90 d', () => q(cond('EventName', pick(r, APIS).name), wide)],
      ['EventName, 1 h', () => q(cond('EventName', pick(r, APIS).name), narrow())],
      ['User (1 of 200), 90 d', () => q(cond('User', pick(r, users)), wide)],
      ['EventAccessKeyId (1 of 300), 90 d', () => q(cond('EventAccessKeyId', pick(r, aks)), wide)],
      ['SourceIpAddress (1 of 1000), 90 d', () => q(cond('SourceIpAddress', pick(r, ips)), wide)],
      ['SourceIpAddress, 1 h', () => q(cond('SourceIpAddress', pick(r, ips)), narrow())],
      ['ResourceType=ACS::ECS::Instance, 90 d', () => q(cond('ResourceType', 'ACS::ECS::Instance'), wide)],
      ['ResourceName (1 in N), 90 d', () => q(cond('ResourceName', pick(r, names)), wide, r() < 0.5 ? 'BACKWARD' : 'FORWARD')],
      ['EventId, 90 d', () => q(cond('EventId', pick(r, ids)), wide)],
      ['value held by no event, 90 d', () => q(cond('User', `nobody-${Math.floor(r() * 1e9)}`), wide)],
    ];
    await redis.config('RESETSTAT');
    console.log(`\nLookupEvents latency, ${options.queries} pages of 50 per kind (client → Redis → client, JSON decoded)`);
    console.log(`${'query'.padEnd(40)}${'events/page'.padStart(12)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}`);
    const all: number[] = [];
    for (const [name, make] of kindsOfQuery) {
      const times: number[] = [];
      let events = 0;
      for (let i = 0; i < options.queries; i++) {
        const query = make();
        const t0 = performance.now();
        const page = await store.lookup(query);
        // every other query also fetches the next page (cursor path)
        if (i % 2 === 1 && page.next) {
          times.push(performance.now() - t0);
          const t1 = performance.now();
          const second = await store.lookup({ ...query, after: page.next });
          times.push(performance.now() - t1);
          events += second.events.length;
        } else times.push(performance.now() - t0);
        events += page.events.length;
      }
      times.sort((a, b) => a - b);
      all.push(...times);
      console.log(`${name.padEnd(40)}${fmt(events / times.length, 1).padStart(12)}${fmt(percentile(times, 50)).padStart(9)}${fmt(percentile(times, 99)).padStart(9)}${fmt(times[times.length - 1] ?? NaN).padStart(9)}`);
    }
    all.sort((a, b) => a - b);
    console.log(`${'all kinds'.padEnd(40)}${''.padStart(12)}${fmt(percentile(all, 50)).padStart(9)}${fmt(percentile(all, 99)).padStart(9)}${fmt(all[all.length - 1] ?? NaN).padStart(9)}`);

    const lookupServer = await scriptMicros(redis);
    console.log(`Redis time per lookup script call: ${fmt(lookupServer.micros / lookupServer.calls, 0)} µs on average (one call per account per page)`);

    // throughput: 8 concurrent callers in this one process, mixed kinds, 5 s; Redis's own CPU
    // per page tells what one Redis core could serve to more (and faster) clients
    const cpu0 = await redisCpu(redis);
    const deadline = performance.now() + 5_000;
    let calls = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < deadline) {
          await store.lookup(pick(r, kindsOfQuery)[1]());
          calls++;
        }
      }),
    );
    const cpuPerCall = (await redisCpu(redis)) - cpu0;
    console.log(`\nthroughput, 8 concurrent callers in one client process, mixed kinds: ${fmt(calls / 5, 0)} calls/s`);
    console.log(`Redis CPU per call: ${fmt((cpuPerCall / calls) * 1000, 3)} ms → one Redis core ≈ ${fmt(calls / cpuPerCall, 0)} calls/s`);
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
