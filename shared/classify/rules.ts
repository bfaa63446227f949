/**
 * The classification catalogue of docs/design.md §3.3, as data. Each rule has an effective time
 * (epoch ms, computed from the UTC+8 wall-clock date written in the announcement) and
 * applies to events whose `eventTime` is at or after it — or, for `appliesTo: 'trail'`,
 * to trails created at or after it. `classify.ts` interprets the effects.
 */
import type { EventRW, EventType } from '../events/schema.ts';

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Epoch ms of a wall-clock time written in UTC+8, "YYYY-MM-DD hh:mm:ss". */
export function utc8(wallClock: string): number {
  const m = WALL_CLOCK.exec(wallClock);
  if (!m) throw new RangeError(`expected "YYYY-MM-DD hh:mm:ss", got ${wallClock}`);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s) - 8 * 3_600_000;
}

/** For rules without a date: they hold for every event, however old (e.g. backfill). */
export const ALWAYS = Number.NEGATIVE_INFINITY;

/** Every listed condition must hold. serviceNames compare case-insensitively, the rest exactly. */
export interface RuleMatch {
  serviceNames?: readonly string[];
  eventNames?: readonly string[];
  apiVersions?: readonly string[];
  eventSources?: readonly string[];
  userAgents?: readonly string[];
  /** The Read/Write decided for the event (after the setRW rules and inference). */
  eventRW?: EventRW;
  /** true: the record has no apiVersion (console operations). */
  apiVersionAbsent?: boolean;
}

export type RuleEffect =
  /** Override the record's eventRW. */
  | { kind: 'setRW'; rw: EventRW }
  /** Neither store nor deliver the event. */
  | { kind: 'drop' }
  /** Store and deliver the event with `referencedResources: {}`. */
  | { kind: 'clearReadResources' }
  /** Add `ACS::<Service>::<Type>` keys next to the legacy ones. */
  | { kind: 'addAcsResources' }
  /** Trail-side: deliver only the `ACS::` keys of referencedResources. */
  | { kind: 'acsResourcesOnly' }
  /** Set eventType when the record has none. */
  | { kind: 'setEventType'; eventType: EventType };

export interface ClassificationRule {
  id: string;
  /** The fact, as announced (dates are UTC+8). */
  description: string;
  effectiveFrom: number;
  appliesTo: 'event' | 'trail';
  match: RuleMatch;
  effect: RuleEffect;
}

const GREEN_API_VERSIONS = ['2016-12-16', '2017-01-12', '2017-08-25', '2018-05-09'] as const;
const GREEN_READ_APIS = [
  'TextScan',
  'ImageSyncScan',
  'ImageAsyncScan',
  'ImageAsyncScanResults',
  'VideoAsyncScanResults',
  'VoiceAsyncScan',
  'VoiceAsyncScanResults',
  'ImageDetection',
  'ImageResults',
] as const;

const RECLASSIFIED_TO_READ = utc8('2020-12-20 00:00:00');

export const RULES: readonly ClassificationRule[] = [
  {
    id: 'green-scan-is-read',
    description:
      'From 2020-12-20 00:00 (UTC+8) Content Moderation (Green) TextScan, ImageSyncScan, ImageAsyncScan, ' +
      'ImageAsyncScanResults, VideoAsyncScanResults, VoiceAsyncScan, VoiceAsyncScanResults, ImageDetection, ' +
      'ImageResults (API versions 2016-12-16, 2017-01-12, 2017-08-25, 2018-05-09) are Read, not Write.',
    effectiveFrom: RECLASSIFIED_TO_READ,
    appliesTo: 'event',
    match: { serviceNames: ['Green'], eventNames: GREEN_READ_APIS, apiVersions: GREEN_API_VERSIONS },
    effect: { kind: 'setRW', rw: 'Read' },
  },
  {
    id: 'kms-crypto-is-read',
    description:
      'From 2020-12-20 00:00 (UTC+8) KMS (2016-01-20) Decrypt, Encrypt and GenerateDataKey are Read, not Write.',
    effectiveFrom: RECLASSIFIED_TO_READ,
    appliesTo: 'event',
    match: { serviceNames: ['Kms'], eventNames: ['Decrypt', 'Encrypt', 'GenerateDataKey'], apiVersions: ['2016-01-20'] },
    effect: { kind: 'setRW', rw: 'Read' },
  },
  {
    id: 'sts-assumerole-is-read',
    description: 'From 2020-12-20 00:00 (UTC+8) STS (2015-04-01) AssumeRole is Read, not Write.',
    effectiveFrom: RECLASSIFIED_TO_READ,
    appliesTo: 'event',
    match: { serviceNames: ['Sts'], eventNames: ['AssumeRole'], apiVersions: ['2015-04-01'] },
    effect: { kind: 'setRW', rw: 'Read' },
  },
  {
    id: 'acs-resource-types',
    description:
      'From 2020-08-26 00:00 (UTC+8) referencedResources also carries ACS::<Service>::<Type> keys next to the legacy ones.',
    effectiveFrom: utc8('2020-08-26 00:00:00'),
    appliesTo: 'event',
    match: {},
    effect: { kind: 'addAcsResources' },
  },
  {
    id: 'acs-only-for-new-trails',
    description:
      'Trails created from 2020-12-01 00:00 (UTC+8) receive only the ACS:: keys of referencedResources; ' +
      'older trails keep receiving both forms.',
    effectiveFrom: utc8('2020-12-01 00:00:00'),
    appliesTo: 'trail',
    match: {},
    effect: { kind: 'acsResourcesOnly' },
  },
  {
    id: 'read-events-without-resources',
    description:
      'From 2020-08-28 23:59:59 (UTC+8) read events carry no associated resources (empty referencedResources) ' +
      'in history and in deliveries.',
    effectiveFrom: utc8('2020-08-28 23:59:59'),
    appliesTo: 'event',
    match: { eventRW: 'Read' },
    effect: { kind: 'clearReadResources' },
  },
  {
    id: 'oss-getbucket-hidden',
    description:
      'From 2020-03-24 23:59:59 (UTC+8) OSS GetBucket (ListObjects) events are neither shown nor delivered.',
    effectiveFrom: utc8('2020-03-24 23:59:59'),
    appliesTo: 'event',
    match: { serviceNames: ['Oss'], eventNames: ['GetBucket', 'ListObjects'] },
    effect: { kind: 'drop' },
  },
  {
    id: 'slb-console-operation',
    description:
      'SLB console operations are eventType=ConsoleOperation, serviceName=Slb, eventName Create/Modify/Renew, ' +
      'eventSource=slb.aliyuncs.com, userAgent=AliyunConsole, no apiVersion (their API twins, e.g. ' +
      'CreateLoadBalancer from slb-pop.aliyuncs.com, are ApiCall). Holds for events of any date (backfill).',
    effectiveFrom: ALWAYS,
    appliesTo: 'event',
    match: {
      serviceNames: ['Slb'],
      eventNames: ['Create', 'Modify', 'Renew'],
      eventSources: ['slb.aliyuncs.com'],
      userAgents: ['AliyunConsole'],
      apiVersionAbsent: true,
    },
    effect: { kind: 'setEventType', eventType: 'ConsoleOperation' },
  },
];

/**
 * Rule 6: with no rule and no recorded eventRW, an API whose name starts with one of
 * these verbs (followed by an upper-case letter, a digit or nothing) is Read; any other is Write.
 */
export const READ_API_PREFIXES: readonly string[] = [
  'Describe',
  'List',
  'Get',
  'Query',
  'Check',
  'Lookup',
  'Search',
  'Preview',
  'Verify',
  'Head',
];

/** The fields of an event the matchers look at. */
export interface RuleSubject {
  serviceName?: string | null;
  eventName: string;
  apiVersion?: string | null;
  eventSource?: string | null;
  userAgent?: string | null;
  eventRW?: EventRW | null;
}

const within = (list: readonly string[] | undefined, value: string | null | undefined) =>
  list === undefined || (value != null && list.includes(value));

export function matches(match: RuleMatch, subject: RuleSubject): boolean {
  const service = subject.serviceName?.toLowerCase();
  return (
    within(match.serviceNames?.map((s) => s.toLowerCase()), service) &&
    within(match.eventNames, subject.eventName) &&
    within(match.apiVersions, subject.apiVersion) &&
    within(match.eventSources, subject.eventSource) &&
    within(match.userAgents, subject.userAgent) &&
    (match.eventRW === undefined || match.eventRW === subject.eventRW) &&
    (match.apiVersionAbsent !== true || !subject.apiVersion)
  );
}

/** The first rule with an effect of this kind that is effective at `atMs` and matches the subject. */
export function findRule<K extends RuleEffect['kind']>(
  kind: K,
  subject: RuleSubject,
  atMs: number,
): (ClassificationRule & { effect: Extract<RuleEffect, { kind: K }> }) | undefined {
  return RULES.find(
    (r): r is ClassificationRule & { effect: Extract<RuleEffect, { kind: K }> } =>
      r.effect.kind === kind && atMs >= r.effectiveFrom && matches(r.match, subject),
  );
}

export function ruleById(id: string): ClassificationRule {
  const rule = RULES.find((r) => r.id === id);
  if (!rule) throw new Error(`unknown classification rule ${id}`);
  return rule;
}
