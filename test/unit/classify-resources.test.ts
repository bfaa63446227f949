import { describe, expect, it } from 'vitest';
import {
  acsTypeFor,
  isAcsType,
  normaliseResources,
  resourcesForTrail,
  trailReceivesStoredResources,
} from '../../shared/classify/resource-types.ts';
import { utc8 } from '../../shared/classify/rules.ts';

const norm = (serviceName: string, referencedResources: Record<string, string[]>) =>
  normaliseResources({ serviceName, referencedResources });

describe('normaliseResources', () => {
  it.each([
    ['Ecs', 'Instance', 'ACS::ECS::Instance'],
    ['Ecs', 'Disk', 'ACS::ECS::Disk'],
    ['ecs', 'SecurityGroup', 'ACS::ECS::SecurityGroup'],
    ['Ecs', 'Snapshot', 'ACS::ECS::Snapshot'],
    ['Ecs', 'Image', 'ACS::ECS::Image'],
    ['Ecs', 'NetworkInterface', 'ACS::ECS::NetworkInterface'],
    ['Ecs', 'KeyPair', 'ACS::ECS::KeyPair'],
    ['Rds', 'DBInstance', 'ACS::RDS::DBInstance'],
    ['rds', 'DBInstance', 'ACS::RDS::DBInstance'],
    ['Slb', 'LoadBalancer', 'ACS::SLB::LoadBalancer'],
    ['Slb', 'VServerGroup', 'ACS::SLB::VServerGroup'],
    ['Oss', 'Bucket', 'ACS::OSS::Bucket'],
    ['oss', 'Bucket', 'ACS::OSS::Bucket'],
    ['Ram', 'User', 'ACS::RAM::User'],
    ['Ram', 'Role', 'ACS::RAM::Role'],
    ['Ram', 'Group', 'ACS::RAM::Group'],
    ['Ram', 'Policy', 'ACS::RAM::Policy'],
    ['Ram', 'AccessKey', 'ACS::RAM::AccessKey'],
    ['Vpc', 'VPC', 'ACS::VPC::VPC'],
    ['Vpc', 'VSwitch', 'ACS::VPC::VSwitch'],
    ['vpc', 'RouteTable', 'ACS::VPC::RouteTable'],
    ['Vpc', 'EipAddress', 'ACS::EIP::EipAddress'],
    ['Vpc', 'EIP', 'ACS::EIP::EipAddress'],
    ['Kms', 'Key', 'ACS::KMS::Key'],
    ['Kms', 'Secret', 'ACS::KMS::Secret'],
    ['kms', 'Alias', 'ACS::KMS::Alias'],
    ['Sls', 'Project', 'ACS::SLS::Project'],
    ['Sls', 'Logstore', 'ACS::SLS::LogStore'],
    ['Log', 'Project', 'ACS::SLS::Project'],
    ['log', 'LogStore', 'ACS::SLS::LogStore'],
  ])('%s %s → %s', (service, legacy, acs) => {
    expect(acsTypeFor(service, legacy)).toBe(acs);
    expect(norm(service, { [legacy]: ['id-1', 'id-2'] })).toEqual({
      legacy: { [legacy]: ['id-1', 'id-2'] },
      acs: { [acs]: ['id-1', 'id-2'] },
    });
  });

  it('keeps ACS keys already present and merges mapped ids into them without duplicates', () => {
    expect(
      norm('Ecs', { Instance: ['i-1', 'i-2'], 'ACS::ECS::Instance': ['i-1'], 'ACS::VPC::VPC': ['vpc-1'] }),
    ).toEqual({
      legacy: { Instance: ['i-1', 'i-2'] },
      acs: { 'ACS::ECS::Instance': ['i-1', 'i-2'], 'ACS::VPC::VPC': ['vpc-1'] },
    });
  });

  it('takes linear time: 100,000 names under a legacy key and its ACS key (duplicates included) in well under a second', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `i-${i}`);
    const started = process.hrtime.bigint();
    const { legacy, acs } = norm('Ecs', { 'ACS::ECS::Instance': names.slice(0, 1000), Instance: [...names, ...names.slice(0, 10)] });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(legacy['Instance']).toHaveLength(100_000);
    expect(acs['ACS::ECS::Instance']).toEqual(names);
    // a list.includes per name took minutes here (n² comparisons)
    expect(ms).toBeLessThan(1000);
  });

  it('leaves legacy keys without a mapping legacy-only', () => {
    expect(norm('Ecs', { Gizmo: ['g-1'] })).toEqual({ legacy: { Gizmo: ['g-1'] }, acs: {} });
    expect(norm('UnknownService', { Instance: ['i-1'] })).toEqual({ legacy: { Instance: ['i-1'] }, acs: {} });
    expect(normaliseResources({ referencedResources: { Instance: ['i-1'] } })).toEqual({
      legacy: { Instance: ['i-1'] },
      acs: {},
    });
  });

  it('handles absent resources', () => {
    expect(normaliseResources({ serviceName: 'Ecs' })).toEqual({ legacy: {}, acs: {} });
    expect(normaliseResources({ serviceName: 'Ecs', referencedResources: null })).toEqual({ legacy: {}, acs: {} });
  });

  it('isAcsType', () => {
    expect(isAcsType('ACS::ECS::Instance')).toBe(true);
    expect(isAcsType('Instance')).toBe(false);
  });
});

describe('resourcesForTrail', () => {
  const stored = { LoadBalancer: ['lb-1'], 'ACS::SLB::LoadBalancer': ['lb-1'] };
  const cutover = utc8('2020-12-01 00:00:00');

  it('the cut-over is 2020-12-01 00:00 UTC+8 = 2020-11-30T16:00:00Z', () => {
    expect(cutover).toBe(Date.parse('2020-11-30T16:00:00Z'));
  });

  it('a trail created one second before the cut-over receives both forms', () => {
    expect(resourcesForTrail(stored, cutover - 1000)).toEqual(stored);
  });

  it('a trail created one second after (or at) the cut-over receives only ACS keys', () => {
    expect(resourcesForTrail(stored, cutover + 1000)).toEqual({ 'ACS::SLB::LoadBalancer': ['lb-1'] });
    expect(resourcesForTrail(stored, cutover)).toEqual({ 'ACS::SLB::LoadBalancer': ['lb-1'] });
  });

  it('does not mutate the stored map', () => {
    const copy = structuredClone(stored);
    resourcesForTrail(stored, cutover + 1000);
    resourcesForTrail(stored, cutover - 1000).extra = ['x'];
    expect(stored).toEqual(copy);
  });

  it("trailReceivesStoredResources says exactly when the trail's JSON of the map is the stored map's", () => {
    const maps: Record<string, string[]>[] = [stored, { 'ACS::SLB::LoadBalancer': ['lb-1'], 'ACS::ECS::Instance': ['i-1'] }, {}, { Instance: ['i-1'] }, { 'ACS::ECS::Instance': ['i-1'], Instance: ['i-1'] }];
    for (const map of maps) {
      for (const at of [cutover - 1000, cutover, cutover + 1000]) {
        expect(trailReceivesStoredResources(map, at), `${JSON.stringify(map)} at ${at}`).toBe(JSON.stringify(resourcesForTrail(map, at)) === JSON.stringify(map));
      }
    }
  });
});
