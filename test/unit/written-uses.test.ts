/** What an AccessKey audit instance knows it wrote (shared/accesskeys/written-uses.ts, docs/design.md §3.10 "Freshness"). */
import { describe, expect, it } from 'vitest';
import { ACCESS_KEY_AUDIT_REFRESH_MS } from '../../shared/accesskeys/accesskey-audit.ts';
import { WRITTEN_USES_MAX_ENTRIES, WRITTEN_USES_TRUST_MS, WrittenUses } from '../../shared/accesskeys/written-uses.ts';

const A = '1234567890123456';
const K = 'LTAI5tAAAAAAAA';
const M = '["Ecs","192.0.2.1"]';

describe('WrittenUses', () => {
  it('leaves out a use less than the window newer than a written one, never a later or unknown one', () => {
    const w = new WrittenUses();
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000, 0)).toBe(true);
    w.note(A, K, 'ips', M, 1_000_000, 0);
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000, 1)).toBe(false);
    expect(w.needsWrite(A, K, 'ips', M, 999_000, 1)).toBe(false);
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000 + ACCESS_KEY_AUDIT_REFRESH_MS - 1, 1)).toBe(false);
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000 + ACCESS_KEY_AUDIT_REFRESH_MS, 1)).toBe(true);
    // other lists, members, keys and accounts are their own
    expect(w.needsWrite(A, K, 'events', M, 1_000_000, 1)).toBe(true);
    expect(w.needsWrite(A, K, 'ips', '["Ecs","192.0.2.2"]', 1_000_000, 1)).toBe(true);
    expect(w.needsWrite(A, 'LTAI5tBBBBBBBB', 'ips', M, 1_000_000, 1)).toBe(true);
    expect(w.needsWrite('999', K, 'ips', M, 1_000_000, 1)).toBe(true);
  });

  it('keeps the newest written use; an older note does not move it back', () => {
    const w = new WrittenUses();
    w.note(A, K, 'last', '', 5_000_000, 0);
    w.note(A, K, 'last', '', 1_000_000, 1);
    expect(w.needsWrite(A, K, 'last', '', 5_000_000 + ACCESS_KEY_AUDIT_REFRESH_MS - 1, 2)).toBe(false);
    expect(w.size).toBe(1);
  });

  it('trusts a write for a while only, and writes everything with a window of 0', () => {
    const w = new WrittenUses();
    w.note(A, K, 'ips', M, 1_000_000, 0);
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000, WRITTEN_USES_TRUST_MS - 1)).toBe(false);
    expect(w.needsWrite(A, K, 'ips', M, 1_000_000, WRITTEN_USES_TRUST_MS)).toBe(true);
    const exact = new WrittenUses(0);
    exact.note(A, K, 'ips', M, 1_000_000, 0);
    expect(exact.needsWrite(A, K, 'ips', M, 1_000_001, 1)).toBe(true);
  });

  it('stays bounded', () => {
    const w = new WrittenUses();
    for (let i = 0; i <= WRITTEN_USES_MAX_ENTRIES; i++) w.note(A, K, 'ips', `m${i}`, 1, 0);
    expect(w.size).toBeLessThanOrEqual(WRITTEN_USES_MAX_ENTRIES);
    expect(w.needsWrite(A, K, 'ips', `m${WRITTEN_USES_MAX_ENTRIES}`, 1, 1)).toBe(false);
  });
});
