import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mfaOf, parseEvent, type ActionTrailEvent } from '../../shared/events/schema.ts';
import {
  classifyEvent,
  inferRW,
  resourceNamesOf,
  resourceTypesOf,
  type ClassifiedEvent,
} from '../../shared/classify/classify.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const raw = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;

function event(input: Record<string, unknown>): ActionTrailEvent {
  const result = parseEvent(input);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.event;
}
const fixture = (name: string, overrides: Record<string, unknown> = {}) => event({ ...raw(name), ...overrides });

function kept(e: ActionTrailEvent): ClassifiedEvent {
  const result = classifyEvent(e);
  if (!result.kept) throw new Error(`dropped by ${result.reason}`);
  return result.event;
}

function without(name: string, ...keys: string[]): Record<string, unknown> {
  const copy = raw(name);
  for (const key of keys) delete copy[key];
  return copy;
}

describe('classifyEvent', () => {
  it('keeps every original field, unknown ones included, and does not mutate its input', () => {
    const input = fixture('ram-createaccesskey', { extend: 'USER', custom: { a: [1, 2] } });
    const snapshot = structuredClone(input);
    const out = kept(input);
    expect(out).toMatchObject({ ...snapshot, referencedResources: snapshot.referencedResources });
    expect(out.custom).toEqual({ a: [1, 2] });
    expect(input).toEqual(snapshot);
    expect(out.referencedResources).not.toBe(input.referencedResources);
  });

  it('SLB console event: ConsoleOperation, Write, legacy + ACS resources are not added before 2020-08-26', () => {
    const out = kept(fixture('slb-console-create'));
    expect(out).toMatchObject({ eventType: 'ConsoleOperation', eventRW: 'Write', serviceName: 'Slb' });
    expect(out.referencedResources).toEqual({ LoadBalancer: ['lb-bp15t2g9omw99scxa0001'] });
    expect(kept(event(without('slb-console-create', 'eventType'))).eventType).toBe('ConsoleOperation');
  });

  it('SLB API twin: ApiCall, Write', () => {
    expect(kept(fixture('slb-api-create'))).toMatchObject({ eventType: 'ApiCall', eventRW: 'Write' });
    expect(kept(event(without('slb-api-create', 'eventType', 'eventRW')))).toMatchObject({
      eventType: 'ApiCall',
      eventRW: 'Write',
    });
  });

  it('the console shape needs every condition (API twin fields break it)', () => {
    const base = without('slb-console-create', 'eventType');
    expect(kept(event({ ...base, apiVersion: '2014-05-15' })).eventType).toBe('ApiCall');
    expect(kept(event({ ...base, eventSource: 'slb-pop.aliyuncs.com' })).eventType).toBe('ApiCall');
    expect(kept(event({ ...base, userAgent: 'Java/1.8.0_152' })).eventType).toBe('ApiCall');
    expect(kept(event({ ...base, eventName: 'CreateLoadBalancer' })).eventType).toBe('ApiCall');
  });

  it('ConsoleSignin of the root account (isMFAChecked) and of a RAM user (mfaChecked)', () => {
    const root = kept(fixture('console-signin-root'));
    expect(root).toMatchObject({ eventType: 'ConsoleSignin', eventRW: 'Write', isGlobal: true });
    expect(mfaOf(root)).toBe(false);
    const ram = kept(fixture('console-signin-ramuser'));
    expect(ram).toMatchObject({ eventType: 'ConsoleSignin', eventRW: 'Write' });
    expect(mfaOf(ram)).toBe(true);
    expect(kept(event(without('console-signin-root', 'eventType'))).eventType).toBe('ConsoleSignin');
  });

  it('ConsoleSignout is a Write ConsoleSignout', () => {
    expect(kept(fixture('console-signout-root'))).toMatchObject({ eventType: 'ConsoleSignout', eventRW: 'Write' });
    expect(kept(event(without('console-signout-root', 'eventType'))).eventType).toBe('ConsoleSignout');
  });

  it('KMS Decrypt: Write just before the reclassification, Read just after', () => {
    expect(kept(fixture('kms-decrypt-before-reclass'))).toMatchObject({
      eventRW: 'Write',
      referencedResources: { Key: ['key-shh5f3a9b2c0003'], 'ACS::KMS::Key': ['key-shh5f3a9b2c0003'] },
    });
    expect(kept(fixture('kms-decrypt-after-reclass'))).toMatchObject({ eventRW: 'Read', referencedResources: {} });
  });

  it('OSS GetBucket: dropped after the cut-over, kept before', () => {
    expect(classifyEvent(fixture('oss-getbucket'))).toEqual({ kept: false, reason: 'oss-getbucket-hidden' });
    expect(kept(fixture('oss-getbucket', { eventTime: '2020-03-01T00:00:00Z' }))).toMatchObject({
      eventRW: 'Read',
      eventName: 'GetBucket',
    });
  });

  it('service events: kept as recorded; inferred from a system identity or the service shape', () => {
    expect(kept(fixture('ecs-service-event')).eventType).toBe('AliyunServiceEvent');
    expect(kept(event(without('ecs-service-event', 'eventType'))).eventType).toBe('AliyunServiceEvent');
    const shapeOnly = without('ecs-service-event', 'eventType');
    shapeOnly.userIdentity = { ...(shapeOnly.userIdentity as object), type: 'assumed-role' };
    expect(kept(event(shapeOnly)).eventType).toBe('AliyunServiceEvent');
  });

  it('keeps the recorded eventType and eventRW when no rule applies', () => {
    expect(kept(fixture('ecs-describeinstances-read'))).toMatchObject({ eventType: 'ApiCall', eventRW: 'Read' });
    expect(kept(fixture('ecs-describeinstances-read', { eventRW: 'Write' })).eventRW).toBe('Write');
  });

  it('infers eventRW from the API name when absent', () => {
    expect(kept(event(without('ecs-describeinstances-read', 'eventRW'))).eventRW).toBe('Read');
    expect(kept(event(without('ecs-stopinstance-both-resources', 'eventRW'))).eventRW).toBe('Write');
  });

  it('keeps the resources of a sensitive RAM write event', () => {
    const out = kept(fixture('ram-createaccesskey'));
    expect(out.referencedResources).toEqual({ 'ACS::RAM::User': ['ci-bot'], 'ACS::RAM::AccessKey': ['LTAI5tNew0013'] });
    expect(out.eventAttributes).toEqual({ SensitiveAction: 'true' });
  });

  it('gives an event with no referencedResources an empty map', () => {
    expect(kept(fixture('sts-assumerole', { eventTime: '2020-01-01T00:00:00Z' })).referencedResources).toEqual({});
  });
});

describe('classifyEvent on every fixture', () => {
  const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

  it.each(names)('%s: classifying twice gives the same record (safe to re-run)', (name) => {
    const once = classifyEvent(fixture(name));
    if (!once.kept) return expect(once.reason).toBe('oss-getbucket-hidden');
    const twice = classifyEvent(event(once.event));
    expect(twice).toEqual(once);
  });
});

describe('inferRW (rule 6)', () => {
  it.each([
    'DescribeInstances', 'ListUsers', 'GetBucket', 'QueryAccountBalance', 'CheckOssConfig', 'LookupEvents',
    'SearchResources', 'PreviewStack', 'VerifyCode', 'HeadObject', 'Describe', 'Get2Things',
  ])('%s is Read', (name) => expect(inferRW(name)).toBe('Read'));

  it.each([
    'StopInstance', 'CreateLoadBalancer', 'Getaway', 'Listen', 'Create', 'Modify', 'Renew', 'ConsoleSignin',
    'ConsoleSignout', 'AssumeRole', 'Decrypt', 'PutBucket', 'describeInstances',
  ])('%s is Write', (name) => expect(inferRW(name)).toBe('Write'));
});

describe('index helpers', () => {
  it('resourceTypesOf lists normalised ACS types, mapping legacy keys and keeping unmapped ones', () => {
    expect(resourceTypesOf(kept(fixture('ecs-stopinstance-legacy-resources')))).toEqual(['ACS::ECS::Instance']);
    expect(resourceTypesOf(kept(fixture('slb-console-create')))).toEqual(['ACS::SLB::LoadBalancer']);
    expect(resourceTypesOf(kept(fixture('ram-createaccesskey')))).toEqual(['ACS::RAM::AccessKey', 'ACS::RAM::User']);
    const odd = kept(fixture('ecs-stopinstance-legacy-resources', { referencedResources: { Widget: ['w-1'] } }));
    expect(resourceTypesOf(odd)).toEqual(['Widget']);
    expect(resourceTypesOf(kept(fixture('kms-decrypt-after-reclass')))).toEqual([]);
  });

  it('resourceNamesOf lists every id once', () => {
    expect(resourceNamesOf(kept(fixture('ecs-stopinstance-both-resources')))).toEqual(['i-bp1fadfadf0007']);
    expect(resourceNamesOf(kept(fixture('ram-createaccesskey')))).toEqual(['LTAI5tNew0013', 'ci-bot']);
    expect(resourceNamesOf(kept(fixture('sts-assumerole')))).toEqual([]);
  });
});
