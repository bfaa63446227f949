/**
 * Which groups of a rule fire (docs/design.md §3.12): pure. A group fires when some window of
 * `windowMinutes` (by eventTime) holds at least `threshold` of its matches, one of them pending
 * (matched since the last evaluation). Matches already evaluated still count toward a later
 * window, so an event arriving late (within ALERT_LATENESS_MS) completes a threshold with the
 * events it happened next to.
 */
import { createHash } from 'node:crypto';
import type { MatchedEvent } from './model.ts';

export interface StoredMatch {
  group: string;
  event: MatchedEvent;
  pending: boolean;
}

export interface FiringGroup {
  group: string;
  /** The matches in the firing window, oldest first (at least `threshold`). */
  events: MatchedEvent[];
}

/** The groups that fire, each with the events of its first firing window. */
export function firingGroups(matches: readonly StoredMatch[], threshold: number, windowMs: number): FiringGroup[] {
  const byGroup = new Map<string, StoredMatch[]>();
  for (const m of matches) {
    let list = byGroup.get(m.group);
    if (!list) byGroup.set(m.group, (list = []));
    list.push(m);
  }
  const out: FiringGroup[] = [];
  for (const [group, list] of byGroup) {
    if (!list.some((m) => m.pending)) continue;
    list.sort((a, b) => a.event.eventTimeMs - b.event.eventTimeMs || (a.event.eventId < b.event.eventId ? -1 : 1));
    // sliding window [i, j]: times within windowMs; fire on the first window with enough events and a pending one
    let pendingInWindow = 0;
    let i = 0;
    for (let j = 0; j < list.length; j++) {
      if ((list[j] as StoredMatch).pending) pendingInWindow += 1;
      while ((list[j] as StoredMatch).event.eventTimeMs - (list[i] as StoredMatch).event.eventTimeMs >= windowMs) {
        if ((list[i] as StoredMatch).pending) pendingInWindow -= 1;
        i += 1;
      }
      if (j - i + 1 >= threshold && pendingInWindow > 0) {
        out.push({ group, events: list.slice(i, j + 1).map((m) => m.event) });
        break;
      }
    }
  }
  return out;
}

/** A short stable id for a group value (hash-safe in keys and ids). */
export function groupKey(group: string): string {
  return createHash('sha256').update(group).digest('hex').slice(0, 16);
}

/** The id of the notification a claim creates: derived from what it is (rule, group, claim time). */
export function notificationIdOf(ruleId: string, group: string, claimedAtMs: number): string {
  return `an-${createHash('sha256').update(`${ruleId}\u0000${group}\u0000${claimedAtMs}`).digest('hex').slice(0, 20)}`;
}

/** Retry delays after each failed attempt (the last entry repeats no more: then it gives up). */
export const ALERT_RETRY_DELAYS_MS = [10_000, 30_000, 60_000, 120_000, 300_000, 600_000] as const;
/** Attempts of one delivery before it gives up (the first, then one per retry delay). */
export const ALERT_MAX_ATTEMPTS = ALERT_RETRY_DELAYS_MS.length + 1;

/** When to try again after `attempts` failed attempts, or undefined: give up. */
export function retryDelayMs(attempts: number): number | undefined {
  return attempts >= ALERT_MAX_ATTEMPTS ? undefined : ALERT_RETRY_DELAYS_MS[attempts - 1];
}
