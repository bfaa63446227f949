/** Analysis rows for the AccessKey audit's tests (shared/analysis/analysis-row.ts), overridable per case. */
import type { AnalysisRow } from '../../shared/analysis/analysis-row.ts';

let seq = 0;

export function analysisRow(overrides: Partial<AnalysisRow> & Pick<AnalysisRow, 'accountId'>): AnalysisRow {
  seq += 1;
  return {
    eventId: `ev-${String(seq).padStart(6, '0')}`,
    eventTimeMs: Date.now() - 60_000,
    eventName: 'DescribeInstances',
    serviceName: 'Ecs',
    eventType: 'ApiCall',
    eventRW: 'Read',
    acsRegion: 'cn-hangzhou',
    sourceIpAddress: '192.0.2.10',
    userAgent: 'test',
    errorCode: '',
    identityType: 'ram-user',
    userName: 'alice',
    principalId: '245494290036250',
    accessKeyId: 'LTAI5tAuditKeyAAAAAAAAAAA',
    sensitive: false,
    resources: [{ type: 'ACS::ECS::Instance', name: 'i-audit-1' }],
    ...overrides,
  };
}
