/**
 * Classification: turns a parsed ActionTrail record into the history record that is
 * stored and delivered, by applying the rules of `rules.ts` at the event's eventTime.
 *
 * Order: drop rules → eventType → eventRW → referencedResources (add ACS keys, then
 * empty them for read events). Decisions:
 * - a `setRW` rule overrides the record's own eventRW (that is what the announcement
 *   changes); otherwise the record's eventRW stands; otherwise the API name decides;
 * - ConsoleSignin / ConsoleSignout carry no eventRW in ActionTrail's samples; we
 *   classify them Write so the default (Write) trails receive logons;
 * - eventType: the record's own; else rule 5 (SLB console shape); else ConsoleSignin /
 *   ConsoleSignout by eventName; else AliyunServiceEvent for a `system` identity or the
 *   service-event shape (userAgent = sourceIpAddress = a *.aliyuncs.com host); else ApiCall.
 */
import { eventTimeMs, type ActionTrailEvent, type EventRW, type EventType } from '../events/schema.ts';
import { acsTypeFor, normaliseResources, type ResourceMap } from './resource-types.ts';
import { findRule, READ_API_PREFIXES, type RuleSubject } from './rules.ts';

export type ClassifiedEvent = ActionTrailEvent & {
  eventRW: EventRW;
  eventType: EventType;
  referencedResources: ResourceMap;
};

export type ClassifyResult =
  | { kept: false; reason: string }
  | { kept: true; event: ClassifiedEvent };

const WRITE_BY_NAME: readonly string[] = ['ConsoleSignin', 'ConsoleSignout'];
const EVENT_TYPE_BY_NAME: Readonly<Record<string, EventType>> = {
  ConsoleSignin: 'ConsoleSignin',
  ConsoleSignout: 'ConsoleSignout',
};
const READ_NAME = new RegExp(`^(?:${READ_API_PREFIXES.join('|')})(?:[A-Z0-9]|$)`);
const SERVICE_HOST = /\.aliyuncs\.com$/;

/** Rule 6: Read/Write from the API name alone. */
export function inferRW(eventName: string): EventRW {
  if (WRITE_BY_NAME.includes(eventName)) return 'Write';
  return READ_NAME.test(eventName) ? 'Read' : 'Write';
}

function decideEventType(event: ActionTrailEvent, atMs: number): EventType {
  if (event.eventType) return event.eventType;
  const rule = findRule('setEventType', event, atMs);
  if (rule) return rule.effect.eventType;
  // own entries only: an event named `constructor` or `toString` is not an Object.prototype member
  const byName = Object.hasOwn(EVENT_TYPE_BY_NAME, event.eventName) ? EVENT_TYPE_BY_NAME[event.eventName] : undefined;
  if (byName) return byName;
  const agent = event.userAgent ?? '';
  const serviceShape = agent !== '' && agent === event.sourceIpAddress && SERVICE_HOST.test(agent);
  if (event.userIdentity.type === 'system' || serviceShape) return 'AliyunServiceEvent';
  return 'ApiCall';
}

function decideRW(event: ActionTrailEvent, atMs: number): EventRW {
  return findRule('setRW', event, atMs)?.effect.rw ?? event.eventRW ?? inferRW(event.eventName);
}

function decideResources(event: ActionTrailEvent, rw: EventRW, atMs: number): ResourceMap {
  const subject: RuleSubject = { ...event, eventRW: rw };
  if (findRule('clearReadResources', subject, atMs)) return {};
  if (!findRule('addAcsResources', subject, atMs)) {
    return Object.fromEntries(Object.entries(event.referencedResources ?? {}).map(([k, ids]) => [k, [...ids]]));
  }
  const { legacy, acs } = normaliseResources(event);
  return { ...legacy, ...acs };
}

export function classifyEvent(event: ActionTrailEvent): ClassifyResult {
  const atMs = eventTimeMs(event);
  const dropped = findRule('drop', event, atMs);
  if (dropped) return { kept: false, reason: dropped.id };
  const eventRW = decideRW(event, atMs);
  return {
    kept: true,
    event: {
      ...event,
      eventType: decideEventType(event, atMs),
      eventRW,
      referencedResources: decideResources(event, eventRW, atMs),
    },
  };
}

/** Resource types for indexing: ACS types (legacy keys mapped), plus legacy keys with no mapping. */
export function resourceTypesOf(classified: ClassifiedEvent): string[] {
  const { legacy, acs } = normaliseResources(classified);
  const unmapped = Object.keys(legacy).filter((key) => !acsTypeFor(classified.serviceName, key));
  return [...new Set([...Object.keys(acs), ...unmapped])].sort();
}

/** Every resource id named by the event, once each. */
export function resourceNamesOf(classified: ClassifiedEvent): string[] {
  return [...new Set(Object.values(classified.referencedResources).flat())].sort();
}
