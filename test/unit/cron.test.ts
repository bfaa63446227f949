import { describe, expect, it } from 'vitest';
import { CronSyntaxError, parseSchedule, type Schedule } from '../../emulator/triggers/cron.ts';

const at = (iso: string): Date => new Date(iso);
const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z');

/** The next `count` fire times after `from`, as ISO strings without milliseconds. */
function fires(schedule: Schedule | string, from: string, count: number): string[] {
  const s = typeof schedule === 'string' ? parseSchedule(schedule) : schedule;
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < count; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  return out;
}

function syntaxError(fn: () => unknown): CronSyntaxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CronSyntaxError);
    return err as CronSyntaxError;
  }
  throw new Error('expected a CronSyntaxError');
}

describe('six-field cron in UTC', () => {
  it('fires every minute at second 0', () => {
    expect(fires('0 * * * * *', '2024-01-01T00:00:00Z', 3)).toEqual([
      '2024-01-01T00:01:00Z',
      '2024-01-01T00:02:00Z',
      '2024-01-01T00:03:00Z',
    ]);
    expect(iso(parseSchedule('0 * * * * *').next(at('2024-01-01T00:00:30.500Z')))).toBe('2024-01-01T00:01:00Z');
  });

  it('fires every 15 seconds and is strictly after `after`, on whole seconds', () => {
    expect(fires('*/15 * * * * *', '2024-01-01T23:59:30Z', 4)).toEqual([
      '2024-01-01T23:59:45Z',
      '2024-01-02T00:00:00Z',
      '2024-01-02T00:00:15Z',
      '2024-01-02T00:00:30Z',
    ]);
    expect(iso(parseSchedule('*/15 * * * * *').next(at('2024-01-01T00:00:14.999Z')))).toBe('2024-01-01T00:00:15Z');
    expect(iso(parseSchedule('* * * * * *').next(at('2024-01-01T00:00:00.001Z')))).toBe('2024-01-01T00:00:01Z');
  });

  it('fires daily at 04:00 UTC (the FC example)', () => {
    expect(fires('0 0 4 * * *', '2024-05-01T03:00:00Z', 2)).toEqual(['2024-05-01T04:00:00Z', '2024-05-02T04:00:00Z']);
    expect(fires('0 0 4 * * *', '2024-05-01T04:00:00Z', 1)).toEqual(['2024-05-02T04:00:00Z']);
  });

  it('supports lists, ranges and range steps', () => {
    expect(fires('10,40 5-6 1-10/4 * * *', '2024-01-01T00:00:00Z', 5)).toEqual([
      '2024-01-01T01:05:10Z',
      '2024-01-01T01:05:40Z',
      '2024-01-01T01:06:10Z',
      '2024-01-01T01:06:40Z',
      '2024-01-01T05:05:10Z',
    ]);
    // `a/n` means from a to the field maximum
    expect(fires('0 50/5 0 * * *', '2024-01-01T00:00:00Z', 3)).toEqual([
      '2024-01-01T00:50:00Z',
      '2024-01-01T00:55:00Z',
      '2024-01-02T00:50:00Z',
    ]);
  });

  it('accepts month names, case-insensitively', () => {
    expect(fires('0 0 12 1 jan,Jul *', '2024-02-01T00:00:00Z', 2)).toEqual([
      '2024-07-01T12:00:00Z',
      '2025-01-01T12:00:00Z',
    ]);
    expect(fires('0 0 0 1 MAR-MAY/2 *', '2024-01-01T00:00:00Z', 2)).toEqual([
      '2024-03-01T00:00:00Z',
      '2024-05-01T00:00:00Z',
    ]);
  });
});

describe('day of week', () => {
  // 2024-05-03 is a Friday.
  it('fires on weekdays with MON-FRI, mon-fri and 1-5 alike', () => {
    const expected = ['2024-05-06T09:30:00Z', '2024-05-07T09:30:00Z'];
    for (const expr of ['0 30 9 * * MON-FRI', '0 30 9 ? * mon-fri', '0 30 9 * * 1-5']) {
      expect(fires(expr, '2024-05-03T10:00:00Z', 2), expr).toEqual(expected);
    }
    expect(fires('0 30 9 * * MON-FRI', '2024-05-03T09:00:00Z', 1)).toEqual(['2024-05-03T09:30:00Z']);
  });

  it('treats both 0 and 7 as Sunday, and FRI-SUN as a range up to Sunday', () => {
    expect(fires('0 0 0 * * 0', '2024-05-01T00:00:00Z', 1)).toEqual(['2024-05-05T00:00:00Z']);
    expect(fires('0 0 0 * * 7', '2024-05-01T00:00:00Z', 1)).toEqual(['2024-05-05T00:00:00Z']);
    expect(fires('0 0 0 * * FRI-SUN', '2024-05-01T00:00:00Z', 4)).toEqual([
      '2024-05-03T00:00:00Z',
      '2024-05-04T00:00:00Z',
      '2024-05-05T00:00:00Z',
      '2024-05-10T00:00:00Z',
    ]);
  });

  it('matches a day when EITHER day-of-month or day-of-week matches if both are restricted', () => {
    // 2024-09-01 is a Sunday: Fridays are 6, 13, 20, 27; October 4, 11, 18; October 13 is a Sunday.
    expect(fires('0 0 0 13 * FRI', '2024-09-01T00:00:00Z', 8)).toEqual([
      '2024-09-06T00:00:00Z',
      '2024-09-13T00:00:00Z',
      '2024-09-20T00:00:00Z',
      '2024-09-27T00:00:00Z',
      '2024-10-04T00:00:00Z',
      '2024-10-11T00:00:00Z',
      '2024-10-13T00:00:00Z',
      '2024-10-18T00:00:00Z',
    ]);
    // With `?` (or `*`) in one day field only the other one applies.
    expect(fires('0 0 0 13 * ?', '2024-09-01T00:00:00Z', 2)).toEqual(['2024-09-13T00:00:00Z', '2024-10-13T00:00:00Z']);
    expect(fires('0 0 0 ? * FRI', '2024-09-01T00:00:00Z', 2)).toEqual(['2024-09-06T00:00:00Z', '2024-09-13T00:00:00Z']);
    expect(fires('0 0 0 * * FRI', '2024-09-01T00:00:00Z', 1)).toEqual(['2024-09-06T00:00:00Z']);
  });
});

describe('month boundaries and leap years', () => {
  it('rolls over month and year ends', () => {
    expect(fires('0 0 0 1 * *', '2024-01-31T12:00:00Z', 2)).toEqual(['2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z']);
    expect(fires('59 59 23 31 12 *', '2024-06-01T00:00:00Z', 2)).toEqual([
      '2024-12-31T23:59:59Z',
      '2025-12-31T23:59:59Z',
    ]);
  });

  it('skips months that do not have the day', () => {
    expect(fires('0 0 0 31 * *', '2024-01-31T00:00:00Z', 3)).toEqual([
      '2024-03-31T00:00:00Z',
      '2024-05-31T00:00:00Z',
      '2024-07-31T00:00:00Z',
    ]);
  });

  it('fires on Feb 29 only in leap years', () => {
    expect(fires('0 0 0 29 2 *', '2023-01-01T00:00:00Z', 3)).toEqual([
      '2024-02-29T00:00:00Z',
      '2028-02-29T00:00:00Z',
      '2032-02-29T00:00:00Z',
    ]);
    // 2100 is not a leap year: the gap is 8 years, longer than a naive 5-year search window.
    expect(fires('0 0 0 29 2 *', '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00Z']);
  });

  it('throws CronSyntaxError for schedules that can never fire, without hanging', () => {
    for (const expr of ['0 0 0 31 2 *', '0 0 0 30 FEB ?', '0 0 0 31 4,6,9,11 *']) {
      const s = parseSchedule(expr);
      const started = Date.now();
      const err = syntaxError(() => s.next(at('2024-01-01T00:00:00Z')));
      expect(err.message).toContain('never fires');
      expect(Date.now() - started).toBeLessThan(1000);
    }
    // Not impossible: with the OR rule any Monday in February fires.
    expect(fires('0 0 0 31 2 MON', '2024-01-01T00:00:00Z', 1)).toEqual(['2024-02-05T00:00:00Z']);
  });
});

describe('CRON_TZ', () => {
  it('evaluates in the given zone: 04:00 in Asia/Shanghai is 20:00 UTC the day before', () => {
    expect(fires('CRON_TZ=Asia/Shanghai 0 0 4 * * *', '2024-05-01T00:00:00Z', 2)).toEqual([
      '2024-05-01T20:00:00Z',
      '2024-05-02T20:00:00Z',
    ]);
    // FC docs example: 04:00 on the 1st of every month, UTC+8.
    expect(fires('CRON_TZ=Asia/Shanghai 0 0 4 1 * *', '2024-05-01T00:00:00Z', 1)).toEqual(['2024-05-31T20:00:00Z']);
  });

  it('uses the local weekday and date, not the UTC ones', () => {
    // Monday 2024-05-06 09:30 in Shanghai is Monday 01:30 UTC; Friday 2024-05-03 09:30 is 01:30 UTC.
    expect(fires('CRON_TZ=Asia/Shanghai 0 30 9 * * MON-FRI', '2024-05-03T02:00:00Z', 1)).toEqual([
      '2024-05-06T01:30:00Z',
    ]);
  });

  it('handles half-hour offsets', () => {
    expect(fires('CRON_TZ=Asia/Kolkata 0 0 0 * * *', '2024-05-01T00:00:00Z', 1)).toEqual(['2024-05-01T18:30:00Z']);
  });

  it('accepts TZ= as an alias', () => {
    expect(fires('TZ=Asia/Shanghai 0 0 4 * * *', '2024-05-01T00:00:00Z', 1)).toEqual(['2024-05-01T20:00:00Z']);
  });
});

describe('DST in America/New_York', () => {
  const ny = (fields: string): string => `CRON_TZ=America/New_York ${fields}`;

  // 2024-03-10: 02:00 EST (07:00Z) jumps to 03:00 EDT.
  it('spring forward: keeps the local time of day and skips wall times that do not exist', () => {
    expect(fires(ny('0 0 4 * * *'), '2024-03-09T00:00:00Z', 3)).toEqual([
      '2024-03-09T09:00:00Z', // 04:00 EST
      '2024-03-10T08:00:00Z', // 04:00 EDT
      '2024-03-11T08:00:00Z',
    ]);
    expect(fires(ny('0 0 * * * *'), '2024-03-10T05:30:00Z', 3)).toEqual([
      '2024-03-10T06:00:00Z', // 01:00 EST
      '2024-03-10T07:00:00Z', // 03:00 EDT (02:00 never happens)
      '2024-03-10T08:00:00Z', // 04:00 EDT
    ]);
    // 02:30 does not exist on 2024-03-10, so the daily 02:30 run is skipped that day.
    expect(fires(ny('0 30 2 * * *'), '2024-03-09T12:00:00Z', 2)).toEqual([
      '2024-03-11T06:30:00Z',
      '2024-03-12T06:30:00Z',
    ]);
    // Midnight-based daily schedule around the change.
    expect(fires(ny('0 0 0 * * *'), '2024-03-09T12:00:00Z', 2)).toEqual([
      '2024-03-10T05:00:00Z',
      '2024-03-11T04:00:00Z',
    ]);
  });

  // 2024-11-03: 02:00 EDT (06:00Z) falls back to 01:00 EST.
  it('fall back: a wall time in the repeated hour fires once per offset', () => {
    expect(fires(ny('0 30 1 * * *'), '2024-11-03T04:00:00Z', 3)).toEqual([
      '2024-11-03T05:30:00Z', // 01:30 EDT
      '2024-11-03T06:30:00Z', // 01:30 EST
      '2024-11-04T06:30:00Z',
    ]);
    expect(fires(ny('0 0 * * * *'), '2024-11-03T04:30:00Z', 4)).toEqual([
      '2024-11-03T05:00:00Z', // 01:00 EDT
      '2024-11-03T06:00:00Z', // 01:00 EST
      '2024-11-03T07:00:00Z', // 02:00 EST
      '2024-11-03T08:00:00Z',
    ]);
    expect(fires(ny('0 0 4 * * *'), '2024-11-02T00:00:00Z', 2)).toEqual([
      '2024-11-02T08:00:00Z', // 04:00 EDT
      '2024-11-03T09:00:00Z', // 04:00 EST
    ]);
  });
});

/**
 * Cross-check against a brute-force scan of every minute in the zone, using an independent
 * Intl formatter, over DST transitions (including Lord Howe's 30-minute shift).
 */
describe('agrees with a brute-force minute scan', () => {
  interface Wall {
    month: number;
    day: number;
    hour: number;
    minute: number;
    weekday: number;
  }
  const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  function wallOf(zone: string): (ms: number) => Wall {
    const fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    return (ms) => {
      const p = Object.fromEntries(fmt.formatToParts(ms).map((x) => [x.type, x.value]));
      return {
        month: Number(p.month),
        day: Number(p.day),
        hour: Number(p.hour) % 24,
        minute: Number(p.minute),
        weekday: WEEKDAYS.indexOf(p.weekday ?? ''),
      };
    };
  }

  const cases: Array<{
    zone: string;
    fields: string;
    from: string;
    hours: number;
    match: (w: Wall) => boolean;
    /** Scan granularity in minutes (default 1); only coarser when the schedule fires on whole hours. */
    step?: number;
  }> = [
    {
      zone: 'America/New_York',
      fields: '0 */20 1-3 * * *',
      from: '2024-03-09T00:00:00Z',
      hours: 72,
      match: (w) => w.minute % 20 === 0 && w.hour >= 1 && w.hour <= 3,
    },
    {
      zone: 'America/New_York',
      fields: '0 15,45 0-2 * * SUN',
      from: '2024-11-01T00:00:00Z',
      hours: 96,
      match: (w) => (w.minute === 15 || w.minute === 45) && w.hour <= 2 && w.weekday === 0,
    },
    {
      zone: 'Australia/Lord_Howe', // 2024-10-06 02:00 -> 02:30; 2024-04-07 02:00 -> 01:30
      fields: '0 0,10,40 1-2 * * *',
      from: '2024-10-04T12:00:00Z',
      hours: 72,
      match: (w) => [0, 10, 40].includes(w.minute) && (w.hour === 1 || w.hour === 2),
    },
    {
      zone: 'Australia/Lord_Howe',
      fields: '0 */5 1 6,7 4 *',
      from: '2024-04-05T00:00:00Z',
      hours: 72,
      match: (w) => w.minute % 5 === 0 && w.hour === 1 && w.month === 4 && (w.day === 6 || w.day === 7),
    },
    {
      zone: 'Europe/London',
      fields: '0 30 0-1 * * *',
      from: '2024-03-29T00:00:00Z',
      hours: 96,
      match: (w) => w.minute === 30 && w.hour <= 1,
    },
    {
      zone: 'America/New_York',
      fields: '0 0 12 1,15,31 * *',
      from: '2024-01-01T00:00:00Z',
      hours: 24 * 366,
      step: 60,
      match: (w) => w.minute === 0 && w.hour === 12 && [1, 15, 31].includes(w.day),
    },
    {
      zone: 'America/New_York',
      fields: '0 0 0 * FEB-APR,NOV TUE,SAT',
      from: '2024-01-01T00:00:00Z',
      hours: 24 * 366,
      step: 60,
      match: (w) => w.minute === 0 && w.hour === 0 && [2, 3, 4, 11].includes(w.month) && [2, 6].includes(w.weekday),
    },
    {
      zone: 'Asia/Shanghai',
      fields: '0 0 6 10-12 * MON',
      from: '2024-01-01T00:00:00Z',
      hours: 24 * 366,
      step: 60,
      match: (w) => w.minute === 0 && w.hour === 6 && (w.weekday === 1 || (w.day >= 10 && w.day <= 12)),
    },
  ];

  for (const c of cases) {
    it(`${c.zone} ${c.fields}`, () => {
      const wall = wallOf(c.zone);
      const start = at(c.from).getTime();
      const end = start + c.hours * 3_600_000;
      const expected: string[] = [];
      const stepMs = (c.step ?? 1) * 60_000;
      for (let t = start + stepMs; t < end; t += stepMs) {
        if (c.match(wall(t))) expected.push(iso(new Date(t)));
      }
      expect(expected.length).toBeGreaterThan(0);
      const s = parseSchedule(`CRON_TZ=${c.zone} ${c.fields}`);
      const actual: string[] = [];
      for (let t = s.next(at(c.from)); t.getTime() < end; t = s.next(t)) actual.push(iso(t));
      expect(actual).toEqual(expected);
    });
  }
});

describe('@every', () => {
  it('fires at anchor + k * interval', () => {
    const s = parseSchedule('@every 5m30s', at('2024-01-01T00:00:00Z'));
    expect(fires(s, '2024-01-01T00:00:00Z', 3)).toEqual([
      '2024-01-01T00:05:30Z',
      '2024-01-01T00:11:00Z',
      '2024-01-01T00:16:30Z',
    ]);
    expect(iso(s.next(at('2024-01-01T00:20:00Z')))).toBe('2024-01-01T00:22:00Z');
    // Before the anchor the series extends backwards; the anchor itself is a fire time.
    expect(iso(s.next(at('2023-12-31T23:59:00Z')))).toBe('2024-01-01T00:00:00Z');
  });

  it('anchors at the epoch by default, and truncates a sub-second anchor', () => {
    expect(iso(parseSchedule('@every 1h').next(at('2024-01-01T00:30:00Z')))).toBe('2024-01-01T01:00:00Z');
    expect(iso(parseSchedule('@every 1m').next(at('2024-01-01T00:00:00Z')))).toBe('2024-01-01T00:01:00Z');
    const s = parseSchedule('@every 30s', at('2024-01-01T00:00:10.750Z'));
    expect(iso(s.next(at('2024-01-01T00:00:11Z')))).toBe('2024-01-01T00:00:40Z');
  });

  it('accepts h/m/s combinations and fractions that are whole seconds', () => {
    const anchor = at('2024-01-01T00:00:00Z');
    expect(iso(parseSchedule('@every 1h30m', anchor).next(anchor))).toBe('2024-01-01T01:30:00Z');
    expect(iso(parseSchedule('@every 1.5h', anchor).next(anchor))).toBe('2024-01-01T01:30:00Z');
    expect(iso(parseSchedule('@every 90s', anchor).next(anchor))).toBe('2024-01-01T00:01:30Z');
  });

  it('rejects bad durations naming @every', () => {
    for (const expr of ['@every', '@every 0s', '@every 5x', '@every 1.2s', '@every 5 m', '@every -1m', '@daily']) {
      expect(syntaxError(() => parseSchedule(expr)).field, expr).toBe('@every');
    }
  });
});

describe('invalid expressions', () => {
  it('rejects the wrong number of fields', () => {
    const five = syntaxError(() => parseSchedule('*/5 * * * *'));
    expect(five.message).toMatch(/must have 6 fields \(seconds minutes hours day-of-month month day-of-week\), got 5/);
    expect(five.message).toContain('add a leading seconds field');
    expect(syntaxError(() => parseSchedule('0 0 4 * * * 2024')).message).toContain('got 7');
    expect(syntaxError(() => parseSchedule('   ')).field).toBe('expression');
  });

  it('names the field that is out of range', () => {
    expect(syntaxError(() => parseSchedule('0 0 25 * * *')).message).toBe(
      'cron field "hours" value 25 is out of range 0-23',
    );
    const e61 = syntaxError(() => parseSchedule('0 61 * * * *'));
    expect(e61.field).toBe('minutes');
    expect(e61.message).toBe('cron field "minutes" value 61 is out of range 0-59');
    expect(syntaxError(() => parseSchedule('61 * * * * *')).field).toBe('seconds');
    expect(syntaxError(() => parseSchedule('0 0 0 0 * *')).message).toContain('"day-of-month" value 0');
    expect(syntaxError(() => parseSchedule('0 0 0 * 13 *')).message).toContain('"month" value 13 is out of range 1-12');
    expect(syntaxError(() => parseSchedule('0 0 0 * * 8')).message).toContain('"day-of-week" value 8');
  });

  it('rejects unknown names', () => {
    const month = syntaxError(() => parseSchedule('0 0 0 1 FOO *'));
    expect(month.field).toBe('month');
    expect(month.message).toContain('unknown name "FOO"');
    const dow = syntaxError(() => parseSchedule('0 0 0 * * FUNDAY'));
    expect(dow.message).toContain('cron field "day-of-week" has unknown name "FUNDAY"');
    expect(syntaxError(() => parseSchedule('0 0 MON * * *')).message).toContain('cron field "hours" has invalid value "MON"');
  });

  it('rejects malformed syntax', () => {
    const cases: Array<[string, string]> = [
      ['0 0 ? * * *', 'hours'],
      ['0 */0 * * * *', 'minutes'],
      ['0 0 5-3 * * *', 'hours'],
      ['0 1,,2 * * * *', 'minutes'],
      ['0 1-2-3 * * * *', 'minutes'],
      ['0 */x * * * *', 'minutes'],
      ['0 0 0 ?,1 * *', 'day-of-month'],
      ['0 0 0 * * MON-', 'day-of-week'],
    ];
    for (const [expr, field] of cases) expect(syntaxError(() => parseSchedule(expr)).field, expr).toBe(field);
  });

  it('rejects an unknown or missing time zone', () => {
    const bad = syntaxError(() => parseSchedule('CRON_TZ=Mars/Olympus 0 0 4 * * *'));
    expect(bad.field).toBe('CRON_TZ');
    expect(bad.message).toContain('"Mars/Olympus"');
    expect(syntaxError(() => parseSchedule('CRON_TZ= 0 0 4 * * *')).field).toBe('CRON_TZ');
    expect(syntaxError(() => parseSchedule('CRON_TZ=Asia/Shanghai')).field).toBe('expression');
  });

  it('rejects an invalid `after` date', () => {
    expect(() => parseSchedule('0 * * * * *').next(new Date(Number.NaN))).toThrow(TypeError);
  });
});

it('keeps the source expression', () => {
  expect(parseSchedule('CRON_TZ=Asia/Shanghai 0 0 4 * * *').source).toBe('CRON_TZ=Asia/Shanghai 0 0 4 * * *');
  expect(parseSchedule('@every 1m').source).toBe('@every 1m');
});
