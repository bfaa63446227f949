/** parseUtcTime (shared/events/schema.ts): read by hand, it must agree with Date's calendar on every input. */
import { describe, expect, it } from 'vitest';
import { parseUtcTime } from '../../shared/events/schema.ts';

/** The reference: a regular expression and Date's own calendar. */
function reference(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // setUTCFullYear with the month and day: Date.UTC would read years 0–99 as 1900–1999 (and so
  // refuse Feb 29 of year 0, a leap year of the proleptic calendar, as the earlier parser did)
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day ? d.getTime() : undefined;
}

describe('parseUtcTime', () => {
  it('reads the forms ActionTrail writes', () => {
    expect(parseUtcTime('2026-12-04T03:21:58Z')).toBe(Date.UTC(2026, 11, 4, 3, 21, 58));
    expect(parseUtcTime('2026-12-04T03:21:58.1Z')).toBe(Date.UTC(2026, 11, 4, 3, 21, 58, 100));
    expect(parseUtcTime('2026-12-04T03:21:58.12Z')).toBe(Date.UTC(2026, 11, 4, 3, 21, 58, 120));
    expect(parseUtcTime('2026-12-04T03:21:58.123456789Z')).toBe(Date.UTC(2026, 11, 4, 3, 21, 58, 123));
  });

  it('refuses malformed and impossible times', () => {
    for (const bad of [
      '', '2026-12-04T03:21:58', '2026-12-04 03:21:58Z', '2026-12-04T03:21:58+08:00', '2026-12-04T03:21:58.Z',
      '2026-12-04T03:21:58.1234567890Z', '2026-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z', '2026-00-01T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z',
      '2026-01-01T00:60:00Z', '2026-01-01T00:00:60Z', '２026-01-01T00:00:00Z', '2026-1-01T00:00:00Z', '+2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00.1a3Z', '2026-01-01T00:00:00,123Z', '2026-01-01T00:00:00z',
    ]) {
      expect(parseUtcTime(bad), bad).toBeUndefined();
      expect(reference(bad), bad).toBeUndefined();
    }
    expect(parseUtcTime('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseUtcTime('2000-02-29T23:59:59.999Z')).toBe(Date.UTC(2000, 1, 29, 23, 59, 59, 999));
  });

  it('agrees with the Date calendar over years 0000–9999, every month end and random fields', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pad = (v: number, w: number) => String(v).padStart(w, '0');
    const samples: string[] = [];
    for (const year of [0, 1, 4, 99, 100, 399, 400, 1582, 1899, 1900, 1969, 1970, 2000, 2024, 2100, 9999]) {
      for (let month = 1; month <= 12; month++) for (const day of [1, 28, 29, 30, 31]) samples.push(`${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T23:59:59Z`);
    }
    for (let i = 0; i < 20_000; i++) {
      const fraction = rand(11) - 1; // -1: none, 0: a bare dot, 1–9 digits
      const tail = fraction < 0 ? '' : '.' + Array.from({ length: fraction }, () => rand(10)).join('');
      samples.push(`${pad(rand(10_000), 4)}-${pad(rand(14), 2)}-${pad(rand(33), 2)}T${pad(rand(26), 2)}:${pad(rand(62), 2)}:${pad(rand(62), 2)}${tail}Z`);
    }
    for (const text of samples) expect(parseUtcTime(text), text).toBe(reference(text));
  });
});
