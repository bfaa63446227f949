/** The analysis row's queued form (shared/analysis/analysis-row-codec.ts, docs/design.md §3.9). */
import { describe, expect, it } from 'vitest';
import { ANALYSIS_ROW_MAX_RESOURCES } from '../../shared/analysis/analysis-row.ts';
import { decodeAnalysisRow, encodeAnalysisRow } from '../../shared/analysis/analysis-row-codec.ts';
import { analysisRow } from '../helpers/analysis-row.ts';

const A = '1234567890123456';

describe('analysis row wire form', () => {
  it('round-trips every field, the MFA flag in its three states and request parameters', () => {
    const rows = [
      analysisRow(A, 1_700_000_000_000),
      analysisRow(A, 1_700_000_000_001, { sensitive: true, mfa: true, errorCode: 'Forbidden.RAM', resources: [{ type: 'ACS::ECS::Instance', name: 'i-1' }, { type: 'ACS::ECS::Disk', name: 'd-1' }] }),
      analysisRow(A, 1_700_000_000_002, { mfa: false, serviceName: 'Actiontrail', requestParameters: { Name: 'home', EventRW: 'Read' } }),
      analysisRow(A, 0, { userAgent: 'a "quoted" \\ agent \u2028 ✓', userName: '' }),
    ];
    for (const row of rows) expect(decodeAnalysisRow(encodeAnalysisRow(row), A)).toEqual(row);
  });

  it('carries no account id: the queue it was read from decides', () => {
    const text = encodeAnalysisRow(analysisRow(A, 1));
    expect(text).not.toContain(A);
    expect(decodeAnalysisRow(text, '999')?.accountId).toBe('999');
  });

  it('is smaller than the object form', () => {
    const row = analysisRow(A, 1_700_000_000_000, { resources: [{ type: 'ACS::ECS::Instance', name: 'i-1' }] });
    expect(encodeAnalysisRow(row).length).toBeLessThan(JSON.stringify(row).length * 0.75);
  });

  it('still reads the object form queued by the previous version, under the queue account', () => {
    const row = analysisRow('111', 5, { mfa: true, requestParameters: { Name: 'x' } });
    expect(decodeAnalysisRow(JSON.stringify(row), A)).toEqual({ ...row, accountId: A });
  });

  it('refuses what is not a row, field by field', () => {
    const good = JSON.parse(encodeAnalysisRow(analysisRow(A, 7, { resources: [{ type: 't', name: 'n' }] }))) as unknown[];
    const variants: unknown[] = [
      'not json',
      '{"eventId":1}',
      '[]',
      [2, ...good.slice(1)],
      good.map((v, i) => (i === 1 ? '' : v)),
      good.map((v, i) => (i === 2 ? -1 : v)),
      good.map((v, i) => (i === 2 ? 1.5 : v)),
      good.map((v, i) => (i === 5 ? 5 : v)),
      good.map((v, i) => (i === 15 ? 6 : v)),
      good.map((v, i) => (i === 15 ? 8 : v)),
      good.map((v, i) => (i === 16 ? { Name: 1 } : v)),
      good.map((v, i) => (i === 16 ? [] : v)),
      [...good, 'odd'],
      [...good, ...Array.from({ length: ANALYSIS_ROW_MAX_RESOURCES * 2 }, () => 'x')],
      good.map((v, i) => (i === 18 ? null : v)),
    ];
    for (const v of variants) expect(decodeAnalysisRow(typeof v === 'string' ? v : JSON.stringify(v), A), JSON.stringify(v)).toBeUndefined();
  });
});
