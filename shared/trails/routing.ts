/**
 * Which trails receive an event. A trail receives it when all hold:
 * - it is logging (status Enable) and the event happened at or after its latest
 *   StartLogging: events recorded while a trail was Fresh or stopped are not delivered,
 *   and a trail does not replay history from before it started logging;
 * - its eventRW is All or equals the event's;
 * - its trailRegion is All or the event's acsRegion — global events (isGlobal) go to
 *   every trail whatever its region, as ActionTrail delivers global-service events to
 *   any trail (recorded with the trail's home-region events);
 * - the event's account is the trail's own, or — for an organization trail of a
 *   management account — a member whose management account is the trail's account.
 */
import { accountOf, eventTimeMs, isGlobalOf } from '../events/schema.ts';
import type { ClassifiedEvent } from '../classify/classify.ts';
import type { Trail } from './model.ts';

/** A pure lookup of the resource directory: a member's management account. */
export interface OrganizationDirectory {
  managementAccountOf(accountId: string): string | undefined;
}

function isLogging(trail: Trail, atMs: number): boolean {
  if (trail.status !== 'Enable') return false;
  return trail.startLoggingTimeMs === undefined || atMs >= trail.startLoggingTimeMs;
}

function wantsRW(trail: Trail, event: ClassifiedEvent): boolean {
  return trail.eventRW === 'All' || trail.eventRW === event.eventRW;
}

function coversRegion(trail: Trail, event: ClassifiedEvent): boolean {
  return trail.trailRegion === 'All' || isGlobalOf(event) || trail.trailRegion === event.acsRegion;
}

function coversAccount(trail: Trail, account: string, org: OrganizationDirectory): boolean {
  if (trail.accountId === account) return true;
  return trail.isOrganizationTrail && org.managementAccountOf(account) === trail.accountId;
}

export interface RoutingOptions {
  /**
   * Backfilled events are archived by the trails logging now, whenever they happened
   * (so the start-of-logging time does not apply to them).
   */
  backfill?: boolean;
}

/**
 * Whether a trail's selection (eventRW, region, account) takes an event, whatever its logging
 * state: what a history delivery job (shared/history-jobs/) replays for it.
 */
export function selectsEvent(trail: Trail, event: ClassifiedEvent, org: OrganizationDirectory): boolean {
  return wantsRW(trail, event) && coversRegion(trail, event) && coversAccount(trail, accountOf(event), org);
}

export function trailsForEvent(event: ClassifiedEvent, trails: Trail[], org: OrganizationDirectory, options: RoutingOptions = {}): Trail[] {
  const atMs = options.backfill ? Number.POSITIVE_INFINITY : eventTimeMs(event);
  const account = accountOf(event);
  return trails.filter(
    (t) => isLogging(t, atMs) && wantsRW(t, event) && coversRegion(t, event) && coversAccount(t, account, org),
  );
}
