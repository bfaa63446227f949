/**
 * Resource types: legacy bare keys of `referencedResources` (`Instance`) and their
 * `ACS::<Service>::<Type>` form (`ACS::ECS::Instance`), per service.
 *
 * ACS names follow Alibaba Cloud's resource-type catalogue (Resource Center / Cloud
 * Config), which ActionTrail's `ACS::` keys use. Where a record's serviceName groups
 * several products (EIP events come from `Vpc`), the mapped type may name another
 * product (`ACS::EIP::EipAddress`).
 */
import type { ActionTrailEvent } from '../events/schema.ts';
import { ruleById } from './rules.ts';

export type ResourceMap = Record<string, string[]>;

interface ServiceTypes {
  /** serviceName spellings seen in records, compared case-insensitively. */
  serviceNames: readonly string[];
  /** legacy key → ACS type */
  types: Readonly<Record<string, string>>;
}

/** Same-named types of one service: ['Instance'] → { Instance: 'ACS::ECS::Instance' }. */
function named(service: string, types: readonly string[]): Record<string, string> {
  return Object.fromEntries(types.map((t) => [t, `ACS::${service}::${t}`]));
}

export const RESOURCE_TYPE_TABLE: readonly ServiceTypes[] = [
  {
    serviceNames: ['Ecs'],
    types: named('ECS', [
      'Instance', 'Disk', 'SecurityGroup', 'Snapshot', 'Image', 'NetworkInterface', 'KeyPair',
      'AutoSnapshotPolicy', 'DedicatedHost', 'LaunchTemplate', 'DeploymentSet',
    ]),
  },
  { serviceNames: ['Rds'], types: named('RDS', ['DBInstance']) },
  {
    serviceNames: ['Slb'],
    types: named('SLB', ['LoadBalancer', 'VServerGroup', 'AccessControlList', 'ServerCertificate', 'CACertificate']),
  },
  { serviceNames: ['Oss'], types: named('OSS', ['Bucket']) },
  { serviceNames: ['Ram'], types: named('RAM', ['User', 'Role', 'Group', 'Policy', 'AccessKey']) },
  {
    serviceNames: ['Vpc'],
    types: {
      ...named('VPC', ['VPC', 'VSwitch', 'RouteTable', 'NetworkAcl', 'HaVip']),
      Vpc: 'ACS::VPC::VPC',
      EipAddress: 'ACS::EIP::EipAddress',
      EIP: 'ACS::EIP::EipAddress',
      Eip: 'ACS::EIP::EipAddress',
      NatGateway: 'ACS::NAT::NatGateway',
    },
  },
  { serviceNames: ['Eip'], types: { EipAddress: 'ACS::EIP::EipAddress', EIP: 'ACS::EIP::EipAddress' } },
  { serviceNames: ['Kms'], types: named('KMS', ['Key', 'Secret', 'Alias']) },
  {
    serviceNames: ['Sls', 'Log'],
    types: { Project: 'ACS::SLS::Project', LogStore: 'ACS::SLS::LogStore', Logstore: 'ACS::SLS::LogStore' },
  },
];

// lower-case serviceName → lower-case legacy key → ACS type
const INDEX = new Map<string, Map<string, string>>();
for (const row of RESOURCE_TYPE_TABLE) {
  const types = new Map(Object.entries(row.types).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of row.serviceNames) {
    const merged = INDEX.get(name.toLowerCase()) ?? new Map<string, string>();
    for (const [k, v] of types) merged.set(k, v);
    INDEX.set(name.toLowerCase(), merged);
  }
}

export const isAcsType = (key: string): boolean => key.startsWith('ACS::');

/** The ACS type of a legacy key of this service, or undefined when unknown. */
export function acsTypeFor(serviceName: string | null | undefined, legacyType: string): string | undefined {
  if (!serviceName) return undefined;
  return INDEX.get(serviceName.toLowerCase())?.get(legacyType.toLowerCase());
}

/** The ids already in each list of a map being built, so each id is added once in linear time. */
type SeenIds = Map<string, Set<string>>;

function addAll(map: ResourceMap, seenIds: SeenIds, key: string, ids: readonly string[]): void {
  // own entries only, defined (not assigned), so `constructor` or `__proto__` is a plain resource type
  let list = Object.hasOwn(map, key) ? map[key] : undefined;
  if (!list) {
    list = [];
    Object.defineProperty(map, key, { value: list, enumerable: true, writable: true, configurable: true });
  }
  // a Set, not list.includes: an event naming n resources cost n² comparisons (200,000 names: a minute of classify)
  let seen = seenIds.get(key);
  if (!seen) seenIds.set(key, (seen = new Set(list)));
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    list.push(id);
  }
}

/**
 * Splits a record's resources into its legacy keys and its ACS keys; every legacy key
 * with a known mapping also contributes its ids to the mapped ACS key. ACS keys already
 * present are kept; legacy keys without a mapping stay legacy only.
 */
export function normaliseResources(
  event: Pick<ActionTrailEvent, 'serviceName' | 'referencedResources'>,
): { legacy: ResourceMap; acs: ResourceMap } {
  const legacy: ResourceMap = {};
  const acs: ResourceMap = {};
  const legacySeen: SeenIds = new Map();
  const acsSeen: SeenIds = new Map();
  for (const [key, ids] of Object.entries(event.referencedResources ?? {})) {
    if (isAcsType(key)) {
      addAll(acs, acsSeen, key, ids);
      continue;
    }
    addAll(legacy, legacySeen, key, ids);
    const mapped = acsTypeFor(event.serviceName, key);
    if (mapped) addAll(acs, acsSeen, mapped, ids);
  }
  return { legacy, acs };
}

const ACS_ONLY_TRAILS = ruleById('acs-only-for-new-trails');

/**
 * The referencedResources a trail receives (rule 2): trails created from 2020-12-01
 * 00:00 (UTC+8) get only the ACS:: keys; older trails get the stored map as it is.
 */
export function resourcesForTrail(storedResources: ResourceMap, trailCreatedAtMs: number): ResourceMap {
  if (trailCreatedAtMs < ACS_ONLY_TRAILS.effectiveFrom) return { ...storedResources };
  return Object.fromEntries(Object.entries(storedResources).filter(([key]) => isAcsType(key)));
}

/** Whether a trail receives the stored map unchanged (resourcesForTrail would keep every key, in order). */
export function trailReceivesStoredResources(storedResources: ResourceMap, trailCreatedAtMs: number): boolean {
  if (trailCreatedAtMs < ACS_ONLY_TRAILS.effectiveFrom) return true;
  for (const key in storedResources) if (Object.hasOwn(storedResources, key) && !isAcsType(key)) return false;
  return true;
}
