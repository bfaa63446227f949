/**
 * Which trails receive an insight event (docs/design.md §3.9). Pure. A trail receives it when
 * all hold:
 * - its InsightSelectors include the event's insightType;
 * - it is logging (status Enable) when the event is delivered — insight events are made at
 *   evaluation, so a trail's start-of-logging time is not compared with the insight's first minute;
 * - its trailRegion is All or the event's acsRegion;
 * - the event's account (recipientAccountId) is the trail's own, or — for an organization trail
 *   of a management account — a member whose management account is the trail's account, as
 *   shared/trails/routing.ts routes members' events to organization trails.
 * eventRW does not apply: an insight event is neither a read nor a write.
 */
import type { Trail } from '../trails/model.ts';
import type { InsightEvent } from './detector.ts';

export function trailReceivesInsight(trail: Trail, event: InsightEvent, managementAccountId: string | undefined): boolean {
  if (trail.status !== 'Enable') return false;
  if (!(trail.insightSelectors ?? []).includes(event.insightDetails.insightType)) return false;
  if (trail.trailRegion !== 'All' && trail.trailRegion !== event.acsRegion) return false;
  const account = event.recipientAccountId;
  if (trail.accountId === account) return true;
  return trail.isOrganizationTrail && managementAccountId !== undefined && managementAccountId === trail.accountId;
}

/**
 * The trails that may receive an account's insight events: the account's own, and the
 * organization trails of its management account. Each trail once.
 */
export function candidateInsightTrails(own: readonly Trail[], managementTrails: readonly Trail[]): Trail[] {
  const out = new Map<string, Trail>();
  for (const t of own) out.set(`${t.accountId}/${t.name}`, t);
  for (const t of managementTrails) if (t.isOrganizationTrail) out.set(`${t.accountId}/${t.name}`, t);
  return [...out.values()];
}

/** Each receiving trail with the events it receives (trails receiving none left out). */
export function routeInsightEvents(events: readonly InsightEvent[], trails: readonly Trail[], managementAccountId: string | undefined): { trail: Trail; events: InsightEvent[] }[] {
  const out: { trail: Trail; events: InsightEvent[] }[] = [];
  for (const trail of trails) {
    const received = events.filter((e) => trailReceivesInsight(trail, e, managementAccountId));
    if (received.length > 0) out.push({ trail, events: received });
  }
  return out;
}
