/** Realistic ActionTrail events for demos, seeding and benchmarks (identifiers are made up). */
import { randomUUID } from 'node:crypto';

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing', 'ap-southeast-1'];
const CALLS: { serviceName: string; eventName: string; apiVersion: string; source: string; rw: 'Read' | 'Write'; resource?: [string, string] }[] = [
  { serviceName: 'Ecs', eventName: 'StopInstance', apiVersion: '2014-05-26', source: 'ecs.aliyuncs.com', rw: 'Write', resource: ['ACS::ECS::Instance', 'i-bp1'] },
  { serviceName: 'Ecs', eventName: 'StartInstance', apiVersion: '2014-05-26', source: 'ecs.aliyuncs.com', rw: 'Write', resource: ['ACS::ECS::Instance', 'i-bp1'] },
  { serviceName: 'Ecs', eventName: 'DescribeInstances', apiVersion: '2014-05-26', source: 'ecs.aliyuncs.com', rw: 'Read' },
  { serviceName: 'Ecs', eventName: 'DeleteSecurityGroup', apiVersion: '2014-05-26', source: 'ecs.aliyuncs.com', rw: 'Write', resource: ['ACS::ECS::SecurityGroup', 'sg-bp1'] },
  { serviceName: 'Rds', eventName: 'ModifyDBInstanceSpec', apiVersion: '2014-08-15', source: 'rds.aliyuncs.com', rw: 'Write', resource: ['ACS::RDS::DBInstance', 'rm-bp1'] },
  { serviceName: 'Ram', eventName: 'CreateAccessKey', apiVersion: '2015-05-01', source: 'ram.aliyuncs.com', rw: 'Write', resource: ['ACS::RAM::User', 'user-'] },
  { serviceName: 'Oss', eventName: 'PutBucketAcl', apiVersion: '2019-05-17', source: 'oss.aliyuncs.com', rw: 'Write', resource: ['ACS::OSS::Bucket', 'bucket-'] },
  { serviceName: 'Kms', eventName: 'CreateKey', apiVersion: '2016-01-20', source: 'kms.aliyuncs.com', rw: 'Write', resource: ['ACS::KMS::Key', 'key-'] },
  { serviceName: 'Vpc', eventName: 'DescribeVpcs', apiVersion: '2016-04-28', source: 'vpc.aliyuncs.com', rw: 'Read' },
  { serviceName: 'Slb', eventName: 'CreateLoadBalancer', apiVersion: '2014-05-15', source: 'slb-pop.aliyuncs.com', rw: 'Write', resource: ['ACS::SLB::LoadBalancer', 'lb-bp1'] },
];

function pick<T>(items: readonly T[], n: number): T {
  return items[n % items.length] as T;
}

/** The n-th sample event of an account, at `time`. */
export function sampleEvent(accountId: string, n: number, time: Date = new Date()): Record<string, unknown> {
  const call = pick(CALLS, n);
  const user = pick(USERS, n * 7 + 3);
  const eventId = randomUUID();
  const resourceId = call.resource ? `${call.resource[1]}${(n % 97).toString(36).padStart(4, '0')}` : undefined;
  return {
    eventVersion: 1,
    eventCategory: 'Management',
    eventId,
    requestId: eventId.toUpperCase(),
    eventTime: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: call.source,
    eventName: call.eventName,
    eventType: 'ApiCall',
    serviceName: call.serviceName,
    apiVersion: call.apiVersion,
    eventRW: call.rw,
    sourceIpAddress: `42.120.${(n * 13) % 256}.${(n * 29) % 256}`,
    userAgent: 'AlibabaCloud (linux; amd64) Go/1.21 Core/1.62.0',
    acsRegion: pick(REGIONS, n * 3),
    ...(call.resource && resourceId ? { referencedResources: { [call.resource[0]]: [resourceId] } } : {}),
    requestParameters: resourceId ? { ResourceId: resourceId, RegionId: pick(REGIONS, n * 3) } : { RegionId: pick(REGIONS, n * 3) },
    userIdentity: {
      type: 'ram-user',
      principalId: `2873451234567${String(n % 200).padStart(5, '0')}`,
      accountId,
      accessKeyId: `LTAI5t${user}${String(n % 11).padStart(4, '0')}`,
      userName: user,
    },
  };
}

export function sampleEvents(accountId: string, count: number, time: Date = new Date()): Record<string, unknown>[] {
  return Array.from({ length: count }, (_v, n) => sampleEvent(accountId, n, time));
}
