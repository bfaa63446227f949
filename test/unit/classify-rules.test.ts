/** Every rule of docs/design.md §3.3, one second before and one second after its effective time. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEvent, type ActionTrailEvent } from '../../shared/events/schema.ts';
import { classifyEvent, type ClassifiedEvent } from '../../shared/classify/classify.ts';
import { resourcesForTrail } from '../../shared/classify/resource-types.ts';
import { ALWAYS, RULES, ruleById, utc8 } from '../../shared/classify/rules.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.resolve(repoRoot, 'test/fixtures/events');
const raw = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;

const SECOND = 1000;
const isoUtc = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function fixtureAt(name: string, ms: number, overrides: Record<string, unknown> = {}): ActionTrailEvent {
  const result = parseEvent({ ...raw(name), ...overrides, eventTime: isoUtc(ms) });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.event;
}

function kept(event: ActionTrailEvent): ClassifiedEvent {
  const result = classifyEvent(event);
  if (!result.kept) throw new Error(`dropped by ${result.reason}`);
  return result.event;
}

/** [one second before, one second after] the rule's effective time */
const around = (id: string): [number, number] => {
  const from = ruleById(id).effectiveFrom;
  return [from - SECOND, from + SECOND];
};

describe('catalogue', () => {
  it('computes effective times from the UTC+8 dates as written', () => {
    expect(utc8('2020-12-20 00:00:00')).toBe(Date.parse('2020-12-19T16:00:00Z'));
    expect(ruleById('green-scan-is-read').effectiveFrom).toBe(Date.parse('2020-12-19T16:00:00Z'));
    expect(ruleById('kms-crypto-is-read').effectiveFrom).toBe(Date.parse('2020-12-19T16:00:00Z'));
    expect(ruleById('sts-assumerole-is-read').effectiveFrom).toBe(Date.parse('2020-12-19T16:00:00Z'));
    expect(ruleById('acs-resource-types').effectiveFrom).toBe(Date.parse('2020-08-25T16:00:00Z'));
    expect(ruleById('acs-only-for-new-trails').effectiveFrom).toBe(Date.parse('2020-11-30T16:00:00Z'));
    expect(ruleById('read-events-without-resources').effectiveFrom).toBe(Date.parse('2020-08-28T15:59:59Z'));
    expect(ruleById('oss-getbucket-hidden').effectiveFrom).toBe(Date.parse('2020-03-24T15:59:59Z'));
    expect(ruleById('slb-console-operation').effectiveFrom).toBe(ALWAYS);
  });

  it('has unique ids and a description for every rule', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const rule of RULES) expect(rule.description.length).toBeGreaterThan(20);
    expect(() => ruleById('nope')).toThrow();
    expect(() => utc8('2020-12-20T00:00:00')).toThrow();
  });
});

describe('rule 1: reclassified to Read from 2020-12-20 00:00 UTC+8', () => {
  const [before, after] = around('green-scan-is-read');

  const greenApis = [
    'TextScan', 'ImageSyncScan', 'ImageAsyncScan', 'ImageAsyncScanResults', 'VideoAsyncScanResults',
    'VoiceAsyncScan', 'VoiceAsyncScanResults', 'ImageDetection', 'ImageResults',
  ];
  const greenVersions = ['2016-12-16', '2017-01-12', '2017-08-25', '2018-05-09'];
  const greenCases = greenApis.flatMap((eventName) => greenVersions.map((apiVersion) => ({ eventName, apiVersion })));

  it.each(greenCases)('Green $eventName ($apiVersion): Write before, Read after', (fields) => {
    expect(kept(fixtureAt('green-textscan', before, fields)).eventRW).toBe('Write');
    expect(kept(fixtureAt('green-textscan', after, fields)).eventRW).toBe('Read');
  });

  it('leaves other Green APIs and other API versions alone', () => {
    expect(kept(fixtureAt('green-textscan', after, { apiVersion: '2022-03-02' })).eventRW).toBe('Write');
    expect(kept(fixtureAt('green-textscan', after, { eventName: 'AddGroups' })).eventRW).toBe('Write');
  });

  it.each(['Decrypt', 'Encrypt', 'GenerateDataKey'])('KMS %s: Write before, Read after', (eventName) => {
    expect(kept(fixtureAt('kms-decrypt-before-reclass', before, { eventName })).eventRW).toBe('Write');
    expect(kept(fixtureAt('kms-decrypt-before-reclass', after, { eventName })).eventRW).toBe('Read');
  });

  it('KMS matches serviceName case-insensitively but not other KMS APIs', () => {
    expect(kept(fixtureAt('kms-decrypt-before-reclass', after, { serviceName: 'kms' })).eventRW).toBe('Read');
    expect(kept(fixtureAt('kms-decrypt-before-reclass', after, { eventName: 'CreateKey' })).eventRW).toBe('Write');
  });

  it('STS AssumeRole: Write before (inferred), Read after', () => {
    const [b, a] = around('sts-assumerole-is-read');
    expect(kept(fixtureAt('sts-assumerole', b)).eventRW).toBe('Write');
    expect(kept(fixtureAt('sts-assumerole', a)).eventRW).toBe('Read');
    expect(kept(fixtureAt('sts-assumerole', a, { apiVersion: '2099-01-01' })).eventRW).toBe('Write');
  });
});

describe('rule 2: ACS resource types from 2020-08-26 00:00 UTC+8', () => {
  const [before, after] = around('acs-resource-types');

  it('before: only what the record had; after: legacy and ACS keys side by side', () => {
    expect(kept(fixtureAt('ecs-stopinstance-legacy-resources', before)).referencedResources).toEqual({
      Instance: ['i-bp1fadfadf0006'],
    });
    expect(kept(fixtureAt('ecs-stopinstance-legacy-resources', after)).referencedResources).toEqual({
      Instance: ['i-bp1fadfadf0006'],
      'ACS::ECS::Instance': ['i-bp1fadfadf0006'],
    });
  });

  it('trails created from 2020-12-01 00:00 UTC+8 receive only ACS keys', () => {
    const [oldTrail, newTrail] = around('acs-only-for-new-trails');
    const stored = kept(fixtureAt('ecs-stopinstance-both-resources', Date.parse('2020-11-02T09:40:11Z'))).referencedResources;
    expect(resourcesForTrail(stored, oldTrail)).toEqual({
      Instance: ['i-bp1fadfadf0007'],
      'ACS::ECS::Instance': ['i-bp1fadfadf0007'],
    });
    expect(resourcesForTrail(stored, newTrail)).toEqual({ 'ACS::ECS::Instance': ['i-bp1fadfadf0007'] });
    expect(resourcesForTrail({ Instance: ['i-1'] }, newTrail)).toEqual({});
  });
});

describe('rule 3: read events lose their resources from 2020-08-28 23:59:59 UTC+8', () => {
  const [before, after] = around('read-events-without-resources');

  it('a read event keeps its resources before and carries {} after', () => {
    expect(kept(fixtureAt('ecs-describeinstances-read', before)).referencedResources).toEqual({
      'ACS::ECS::Instance': ['i-2ze0008a', 'i-2ze0008b'],
    });
    expect(kept(fixtureAt('ecs-describeinstances-read', after)).referencedResources).toEqual({});
  });

  it('applies to the decided Read/Write, not the recorded one', () => {
    const { eventRW: _drop, ...noRW } = raw('ecs-describeinstances-read');
    const r = parseEvent({ ...noRW, eventTime: isoUtc(after) });
    if (!r.ok) throw new Error('fixture');
    expect(kept(r.event)).toMatchObject({ eventRW: 'Read', referencedResources: {} });
    const kms = kept(fixtureAt('kms-decrypt-after-reclass', ruleById('kms-crypto-is-read').effectiveFrom + SECOND));
    expect(kms).toMatchObject({ eventRW: 'Read', referencedResources: {} });
  });

  it('write events keep their resources', () => {
    expect(kept(fixtureAt('ecs-stopinstance-both-resources', after)).referencedResources).toHaveProperty(
      'ACS::ECS::Instance',
    );
  });
});

describe('rule 4: OSS GetBucket hidden from 2020-03-24 23:59:59 UTC+8', () => {
  const [before, after] = around('oss-getbucket-hidden');

  it('kept before, dropped after', () => {
    expect(classifyEvent(fixtureAt('oss-getbucket', before)).kept).toBe(true);
    expect(classifyEvent(fixtureAt('oss-getbucket', after))).toEqual({ kept: false, reason: 'oss-getbucket-hidden' });
    expect(classifyEvent(fixtureAt('oss-getbucket', after, { serviceName: 'oss' })).kept).toBe(false);
  });

  it('other OSS events are kept', () => {
    expect(classifyEvent(fixtureAt('oss-getbucket', after, { eventName: 'PutBucket', eventRW: 'Write' })).kept).toBe(true);
  });
});

describe('rule 5: SLB console operations (any date)', () => {
  const { eventType: _drop, ...untyped } = raw('slb-console-create');

  it.each([Date.parse('2015-01-01T00:00:00Z'), Date.parse('2020-02-23T07:27:49Z'), Date.parse('2030-01-01T00:00:00Z')])(
    'an untyped console Create at %i is a ConsoleOperation',
    (ms) => {
      const r = parseEvent({ ...untyped, eventTime: isoUtc(ms) });
      if (!r.ok) throw new Error('fixture');
      expect(kept(r.event)).toMatchObject({ eventType: 'ConsoleOperation', eventRW: 'Write' });
    },
  );
});
