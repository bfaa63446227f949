/** A plain analysis row (shared/analysis/analysis-row.ts) for tests that vary one field at a time: a RAM user's read from one IP. */
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';

let seq = 0;

export function analysisRow(accountId: string, eventTimeMs: number, over: Partial<AnalysisRow> = {}): AnalysisRow {
  seq += 1;
  return {
    eventId: `row-${seq}`,
    accountId,
    eventTimeMs,
    eventName: 'DescribeInstances',
    serviceName: 'Ecs',
    eventType: 'ApiCall',
    eventRW: 'Read',
    acsRegion: 'cn-hangzhou',
    sourceIpAddress: '10.0.0.1',
    userAgent: 'sdk',
    errorCode: '',
    identityType: 'ram-user',
    userName: 'alice',
    principalId: 'p-alice',
    accessKeyId: 'AK1',
    sensitive: false,
    resources: [],
    ...over,
  };
}
