/**
 * Analysis rows: what classify queues, for each event new to history, for the analysis that
 * runs beside recording — Insights' per-minute counters (docs/design.md §3.9) and the AccessKey
 * last-used audit (§3.10). One compact row per event, with only what those consumers read, so
 * the analysis never parses an event body again and never scans history. Pure.
 *
 * Rows are counted at the event's own time (`eventTimeMs`), not at arrival: history that arrives
 * late (a backfill, a producer catching up) builds its baseline at once.
 */
import type { ClassifiedEvent } from '../classify/classify.ts';
import { resourceNamesOf, resourceTypesOf } from '../classify/classify.ts';
import { mfaOf } from '../events/schema.ts';
import { isSensitiveAction } from '../history/history-store.ts';

/** Most resources an analysis row carries (the AccessKey audit's "resources" list). */
export const ANALYSIS_ROW_MAX_RESOURCES = 10;

export interface AnalysisResource {
  type: string;
  name: string;
}

export interface AnalysisRow {
  eventId: string;
  /** The account whose history holds the event (the identity's account). */
  accountId: string;
  eventTimeMs: number;
  eventName: string;
  serviceName: string;
  eventType: string;
  eventRW: string;
  acsRegion: string;
  sourceIpAddress: string;
  userAgent: string;
  /** '' when the call succeeded. */
  errorCode: string;
  identityType: string;
  userName: string;
  principalId: string;
  accessKeyId: string;
  /** `eventAttributes.SensitiveAction` is true. */
  sensitive: boolean;
  /** Logon events: whether MFA was used (`additionalEventData.isMFAChecked` / `mfaChecked`); undefined when not said. */
  mfa?: boolean | undefined;
  /** Trail API calls that narrow or stop recording read their parameters (TrailConcealmentInsight). */
  requestParameters?: Record<string, string> | undefined;
  resources: AnalysisResource[];
}

/** A consumer of analysis rows (the Insights counters, the AccessKey audit). */
export interface AnalysisConsumer {
  /** Takes rows of one account. Must be safe to call twice with the same rows. */
  consume(accountId: string, rows: readonly AnalysisRow[]): Promise<void>;
}

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));

/** The services whose request parameters an analysis reads (trail settings); others carry none. */
const PARAMETER_SERVICES = new Set(['actiontrail']);
/** Longest request-parameter value kept in a row. */
const MAX_PARAMETER_CHARS = 256;

function parametersOf(event: ClassifiedEvent): Record<string, string> | undefined {
  if (!PARAMETER_SERVICES.has(str(event.serviceName).toLowerCase())) return undefined;
  const params = event.requestParameters;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
    if (value === null || typeof value === 'object') continue;
    kept[name] = str(value).slice(0, MAX_PARAMETER_CHARS);
  }
  return kept;
}

/** `known`: the event's resource types and names when the caller has them already (classify does). */
export function analysisRowOf(event: ClassifiedEvent & { eventId: string }, accountId: string, eventTimeMs: number, known?: { types: readonly string[]; names: readonly string[] }): AnalysisRow {
  const identity = event.userIdentity;
  const types = known?.types ?? resourceTypesOf(event);
  const names = known?.names ?? resourceNamesOf(event);
  const resources: AnalysisResource[] = [];
  for (let i = 0; i < names.length && resources.length < ANALYSIS_ROW_MAX_RESOURCES; i++) {
    resources.push({ type: types[Math.min(i, types.length - 1)] ?? '', name: names[i] ?? '' });
  }
  const mfa = mfaOf(event);
  const parameters = parametersOf(event);
  return {
    eventId: event.eventId,
    accountId,
    eventTimeMs,
    eventName: event.eventName,
    serviceName: str(event.serviceName),
    eventType: str(event.eventType),
    eventRW: str(event.eventRW),
    acsRegion: str(event.acsRegion),
    sourceIpAddress: str(event.sourceIpAddress),
    userAgent: str(event.userAgent),
    errorCode: str(event.errorCode),
    identityType: str(identity.type),
    userName: str(identity.userName),
    principalId: str(identity.principalId),
    accessKeyId: str(identity.accessKeyId),
    sensitive: isSensitiveAction(event),
    ...(mfa !== undefined ? { mfa } : {}),
    ...(parameters !== undefined ? { requestParameters: parameters } : {}),
    resources,
  };
}
