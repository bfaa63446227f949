/** The analysis row (shared/analysis/analysis-row.ts) of the n-th sample event, for benchmarks that feed rows straight to a consumer. */
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';
import { sampleEvent } from '../../scripts/lib/sample-events.ts';

export function sampleAnalysisRow(accountId: string, n: number, timeMs: number, over: Partial<AnalysisRow> = {}): AnalysisRow {
  const e = sampleEvent(accountId, n) as Record<string, unknown> & { userIdentity: Record<string, string>; referencedResources?: Record<string, string[]> };
  const resources = Object.entries(e.referencedResources ?? {}).flatMap(([type, names]) => names.map((name) => ({ type, name })));
  const str = (k: string) => String(e[k] ?? '');
  return {
    eventId: str('eventId'),
    accountId,
    eventTimeMs: timeMs,
    eventName: str('eventName'),
    serviceName: str('serviceName'),
    eventType: str('eventType'),
    eventRW: str('eventRW'),
    acsRegion: str('acsRegion'),
    sourceIpAddress: str('sourceIpAddress'),
    userAgent: str('userAgent'),
    errorCode: '',
    identityType: e.userIdentity['type'] ?? '',
    userName: e.userIdentity['userName'] ?? '',
    principalId: e.userIdentity['principalId'] ?? '',
    accessKeyId: e.userIdentity['accessKeyId'] ?? '',
    sensitive: false,
    resources,
    ...over,
  };
}
