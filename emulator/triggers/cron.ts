/**
 * Schedules for Function Compute timer triggers (`cronExpression` in a fc3 timer trigger).
 *
 * Two forms are accepted, as in FC:
 *
 * - `@every <duration>` — e.g. `@every 1m`, `@every 5m30s`, `@every 1.5h` (units h, m, s).
 *   FC itself requires at least one minute; locally any whole number of seconds ≥ 1s is accepted.
 *   Fire times are `anchor + k * interval` (anchor defaults to the Unix epoch).
 * - A six-field cron expression `Seconds Minutes Hours Day-of-month Month Day-of-week`, evaluated in
 *   UTC unless prefixed with `CRON_TZ=<IANA zone> ` (`TZ=` is accepted as an alias).
 *   Fields accept `*`, `?` (day fields only), lists `a,b`, ranges `a-b`, steps `*\/n`, `a-b/n` and
 *   `a/n` (= `a-max/n`), month names JAN–DEC and weekday names SUN–SAT (case-insensitive);
 *   weekdays are 0–6 with 0 = Sunday, and 7 is also Sunday. When both day fields are restricted
 *   (neither is exactly `*` or `?`), a day matches if either of them matches.
 *
 * Time zones: a cron schedule fires at every instant whose wall-clock time in the zone matches
 * the fields (the same model as robfig/cron, whose syntax FC uses). So on a spring-forward day a
 * wall time inside the skipped hour does not fire that day, and on a fall-back day a wall time in
 * the repeated hour fires twice (once per offset). Only `Intl.DateTimeFormat` is used for zones.
 */

export class CronSyntaxError extends Error {
  override name = 'CronSyntaxError';
  /** The part of the expression at fault, e.g. `hours`, `CRON_TZ`, `@every`, `expression`. */
  readonly field: string;

  constructor(message: string, field: string) {
    super(message);
    this.field = field;
  }
}

export interface Schedule {
  readonly source: string;
  /** First fire time strictly after `after`, always on a whole second. */
  next(after: Date): Date;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How far `next` searches before giving up. Must exceed the longest possible gap between two fire
 * times of a satisfiable schedule: `0 0 0 29 2 *` after 2096-02-29 next fires on 2104-02-29
 * (2100 is not a leap year), so ~5 years would wrongly reject it. Schedules that can never fire
 * because of their day-of-month/month combination are detected up front, without searching.
 */
const SEARCH_LIMIT_MS = 9 * 366 * DAY;

export function parseSchedule(expression: string, anchor?: Date): Schedule {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new CronSyntaxError('cron expression is empty', 'expression');
  }
  let rest = expression.trim();
  let zone: Zone = UTC_ZONE;

  const tz = /^(CRON_TZ|TZ)=(\S*)(?:\s+|$)/.exec(rest);
  if (tz) {
    const label = tz[1] ?? 'CRON_TZ';
    zone = resolveZone(tz[2] ?? '', label);
    rest = rest.slice(tz[0].length);
    if (rest === '') {
      throw new CronSyntaxError(`${label}=${tz[2] ?? ''} must be followed by a cron expression`, 'expression');
    }
  }

  if (rest.startsWith('@')) {
    const every = /^@every(?:\s+(.*))?$/i.exec(rest);
    if (!every) {
      const word = rest.split(/\s+/)[0] ?? rest;
      throw new CronSyntaxError(
        `unsupported cron descriptor "${word}" (only "@every <duration>" is supported)`,
        '@every',
      );
    }
    const intervalMs = parseDuration((every[1] ?? '').trim());
    let anchorMs = 0;
    if (anchor !== undefined) {
      const a = anchor.getTime();
      if (!Number.isFinite(a)) throw new TypeError('parseSchedule: anchor is an invalid Date');
      anchorMs = Math.floor(a / SECOND) * SECOND;
    }
    return new EverySchedule(expression, intervalMs, anchorMs);
  }

  const parts = rest.split(/\s+/);
  if (parts.length !== 6) {
    const hint =
      parts.length === 5
        ? ' (5-field minute-based cron is not supported: add a leading seconds field, e.g. "0 ' + rest + '")'
        : '';
    throw new CronSyntaxError(
      `cron expression must have 6 fields (seconds minutes hours day-of-month month day-of-week), ` +
        `got ${parts.length} in "${expression}"${hint}`,
      'expression',
    );
  }
  const [sec, min, hour, dom, mon, dow] = parts as [string, string, string, string, string, string];
  return new CronSchedule(expression, zone, {
    seconds: parseField(sec, FIELDS.seconds),
    minutes: parseField(min, FIELDS.minutes),
    hours: parseField(hour, FIELDS.hours),
    dayOfMonth: parseField(dom, FIELDS.dayOfMonth),
    month: parseField(mon, FIELDS.month),
    dayOfWeek: parseField(dow, FIELDS.dayOfWeek),
  });
}

// ---------------------------------------------------------------------------------------------
// @every

const DURATION_UNITS: Readonly<Record<string, number>> = { h: HOUR, m: MINUTE, s: SECOND };

function parseDuration(text: string): number {
  const bad = (why: string): CronSyntaxError =>
    new CronSyntaxError(`@every duration "${text}" ${why} (expected e.g. 30s, 1m, 5m30s, 1h, 1.5h)`, '@every');
  if (text === '') throw bad('is missing');
  if (!/^(?:\d+(?:\.\d+)?[hms])+$/i.test(text)) throw bad('is not a valid duration');
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)([hms])/gi)) {
    total += Number(m[1]) * (DURATION_UNITS[(m[2] ?? '').toLowerCase()] ?? Number.NaN);
  }
  total = Math.round(total * 1000) / 1000; // absorb floating-point noise from fractions
  if (!Number.isFinite(total) || total < SECOND) throw bad('must be at least 1s');
  if (total % SECOND !== 0) throw bad('must be a whole number of seconds');
  return total;
}

class EverySchedule implements Schedule {
  constructor(
    readonly source: string,
    private readonly intervalMs: number,
    private readonly anchorMs: number,
  ) {}

  next(after: Date): Date {
    const t = checkDate(after);
    const k = Math.floor((t - this.anchorMs) / this.intervalMs) + 1;
    return new Date(this.anchorMs + k * this.intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Largest value accepted in the text (7 for day-of-week, normalised to 0). */
  readonly inputMax: number;
  readonly names?: readonly string[];
  readonly allowQuestion: boolean;
}

const FIELDS = {
  seconds: { name: 'seconds', min: 0, max: 59, inputMax: 59, allowQuestion: false },
  minutes: { name: 'minutes', min: 0, max: 59, inputMax: 59, allowQuestion: false },
  hours: { name: 'hours', min: 0, max: 23, inputMax: 23, allowQuestion: false },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31, inputMax: 31, allowQuestion: true },
  month: {
    name: 'month',
    min: 1,
    max: 12,
    inputMax: 12,
    // index = value - min
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
    allowQuestion: false,
  },
  dayOfWeek: {
    name: 'day-of-week',
    min: 0,
    max: 6,
    inputMax: 7,
    names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
    allowQuestion: true,
  },
} as const satisfies Record<string, FieldSpec>;

interface Field {
  /** allowed[v] is true when value v is allowed. */
  readonly allowed: readonly boolean[];
  /** Sorted allowed values. */
  readonly values: readonly number[];
  /** False when the field is exactly `*` or `?` (matters for the day-of-month/day-of-week rule). */
  readonly restricted: boolean;
}

function parseField(text: string, spec: FieldSpec): Field {
  const fail = (msg: string): CronSyntaxError => new CronSyntaxError(`cron field "${spec.name}" ${msg}`, spec.name);
  const allowed: boolean[] = new Array<boolean>(spec.max + 1).fill(false);

  for (const item of text.split(',')) {
    if (item === '') throw fail(`"${text}" has an empty list item`);
    const slash = item.split('/');
    if (slash.length > 2) throw fail(`"${item}" has more than one "/"`);
    const [rangeText = '', stepText] = slash;

    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) throw fail(`step "${stepText}" in "${item}" is not a positive integer`);
      step = Number(stepText);
      if (step < 1) throw fail(`step in "${item}" must be at least 1`);
    }

    let lo: number;
    let hi: number;
    if (rangeText === '*' || rangeText === '?') {
      if (rangeText === '?') {
        if (!spec.allowQuestion) throw fail(`does not accept "?" (only day-of-month and day-of-week do)`);
        if (text !== '?') throw fail(`"?" must be used alone, got "${text}"`);
      }
      lo = spec.min;
      hi = spec.max;
    } else {
      const dash = rangeText.split('-');
      if (dash.length > 2) throw fail(`range "${rangeText}" is malformed`);
      lo = parseValue(dash[0] ?? '', spec, fail);
      if (dash.length === 2) {
        hi = parseValue(dash[1] ?? '', spec, fail);
        // Allow weekday ranges that wrap to Sunday written by name, e.g. FRI-SUN.
        if (spec === FIELDS.dayOfWeek && hi === 0 && lo > 0) hi = 7;
        if (lo > hi) throw fail(`range "${rangeText}" is reversed (${lo} > ${hi})`);
      } else {
        hi = stepText === undefined ? lo : spec.max; // `a/n` means `a-max/n`
      }
    }

    for (let v = lo; v <= hi; v += step) allowed[spec === FIELDS.dayOfWeek && v === 7 ? 0 : v] = true;
  }

  const values: number[] = [];
  allowed.forEach((ok, v) => {
    if (ok) values.push(v);
  });
  return { allowed, values, restricted: text !== '*' && text !== '?' };
}

function parseValue(token: string, spec: FieldSpec, fail: (msg: string) => CronSyntaxError): number {
  if (/^\d+$/.test(token)) {
    const v = Number(token);
    if (v < spec.min || v > spec.inputMax) {
      const sunday = spec.inputMax !== spec.max ? ` (or ${spec.inputMax} for Sunday)` : '';
      throw fail(`value ${v} is out of range ${spec.min}-${spec.max}${sunday}`);
    }
    return v;
  }
  if (spec.names) {
    const idx = spec.names.indexOf(token.toUpperCase());
    if (idx >= 0) return idx + spec.min;
    const first = spec.names[0] ?? '';
    const last = spec.names[spec.names.length - 1] ?? '';
    throw fail(`has unknown name "${token}" (expected ${spec.min}-${spec.max} or ${first}-${last})`);
  }
  throw fail(token === '' ? 'has an empty value' : `has invalid value "${token}" (expected ${spec.min}-${spec.max})`);
}

// ---------------------------------------------------------------------------------------------
// Time zones

interface LocalTime {
  readonly year: number;
  /** 1-12 */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday */
  readonly weekday: number;
}

interface Zone {
  readonly name: string;
  /** Wall-clock fields at instant `ms` (whole seconds). */
  local(ms: number): LocalTime;
  /** UTC offset in ms at instant `ms`: wall clock = ms + offset. */
  offset(ms: number): number;
}

const UTC_ZONE: Zone = {
  name: 'UTC',
  local(ms) {
    const d = new Date(ms);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      weekday: d.getUTCDay(),
    };
  },
  offset: () => 0,
};

const zoneCache = new Map<string, Zone>();

function resolveZone(name: string, label: string): Zone {
  if (name === '') throw new CronSyntaxError(`${label} is missing a time zone name, e.g. ${label}=Asia/Shanghai`, label);
  const cached = zoneCache.get(name);
  if (cached) return cached;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new CronSyntaxError(`${label} time zone "${name}" is not a known IANA time zone`, label);
  }
  const zone = intlZone(name, format);
  zoneCache.set(name, zone);
  return zone;
}

function intlZone(name: string, format: Intl.DateTimeFormat): Zone {
  const wall = (ms: number): LocalTime => {
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const p of format.formatToParts(ms)) {
      switch (p.type) {
        case 'year': year = Number(p.value); break;
        case 'month': month = Number(p.value); break;
        case 'day': day = Number(p.value); break;
        case 'hour': hour = Number(p.value) % 24; break;
        case 'minute': minute = Number(p.value); break;
        case 'second': second = Number(p.value); break;
        default: break;
      }
    }
    const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
    return { year, month, day, hour, minute, second, weekday };
  };
  return {
    name,
    local: wall,
    offset(ms) {
      const whole = Math.floor(ms / SECOND) * SECOND;
      const l = wall(whole);
      return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - whole;
    },
  };
}

/**
 * The earliest instant whose wall-clock time in `zone` is at or after the wall-clock time `wallMs`
 * (expressed as if it were UTC). For an ambiguous wall time (fall back) that is its first
 * occurrence; for a non-existent one (spring forward) it is the end of the gap.
 */
function wallToInstant(zone: Zone, wallMs: number): number {
  // Fast path: a valid wall time with no offset change in the preceding 3 hours cannot be ambiguous.
  const guessOffset = zone.offset(wallMs - zone.offset(wallMs));
  const guess = wallMs - guessOffset;
  if (zone.offset(guess) === guessOffset && zone.offset(guess - 3 * HOUR) === guessOffset) return guess;

  const offsets = new Set<number>([
    zone.offset(wallMs - DAY),
    zone.offset(wallMs),
    zone.offset(wallMs + DAY),
  ]);
  offsets.add(zone.offset(wallMs - zone.offset(wallMs)));
  let best = Number.POSITIVE_INFINITY;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const off of offsets) {
    const candidate = wallMs - off;
    lo = Math.min(lo, candidate);
    hi = Math.max(hi, candidate);
    if (zone.offset(candidate) === off && candidate < best) best = candidate;
  }
  if (best !== Number.POSITIVE_INFINITY) return best;
  // In a gap: binary-search the transition (first second with the post-transition offset).
  const before = zone.offset(lo);
  while (hi - lo > SECOND) {
    const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND;
    if (zone.offset(mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------
// Cron schedule

interface CronFields {
  readonly seconds: Field;
  readonly minutes: Field;
  readonly hours: Field;
  readonly dayOfMonth: Field;
  readonly month: Field;
  readonly dayOfWeek: Field;
}

/** Longest length of each month (February counts 29). Index = month - 1. */
const MAX_MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

class CronSchedule implements Schedule {
  private readonly never: string | undefined;

  constructor(
    readonly source: string,
    private readonly zone: Zone,
    private readonly f: CronFields,
  ) {
    this.never = impossibility(f);
  }

  next(after: Date): Date {
    const start = Math.floor(checkDate(after) / SECOND) * SECOND + SECOND;
    if (this.never !== undefined) {
      throw new CronSyntaxError(`cron expression "${this.source}" never fires: ${this.never}`, 'day-of-month');
    }
    const { zone, f } = this;
    const limit = start + SEARCH_LIMIT_MS;
    let t = start;
    // Each step moves t forward to the earliest instant that could still match, so no fire time
    // is skipped; the loop re-checks every field after each jump.
    while (t <= limit) {
      const l = zone.local(t);
      if (!f.month.allowed[l.month]) {
        // Midnight on the 1st of the next allowed month.
        const m = nextValue(f.month, l.month);
        const wall = m === undefined
          ? Date.UTC(l.year + 1, (f.month.values[0] ?? 1) - 1, 1)
          : Date.UTC(l.year, m - 1, 1);
        t = forward(t, wallToInstant(zone, wall));
        continue;
      }
      if (!this.dayMatches(l)) {
        t = forward(t, wallToInstant(zone, Date.UTC(l.year, l.month - 1, this.nextDay(l))));
        continue;
      }
      if (!f.hours.allowed[l.hour]) {
        // Absolute hour steps: a skipped (spring-forward) hour is never visited, a repeated
        // (fall-back) hour is visited twice.
        t = t - (l.minute * MINUTE + l.second * SECOND) + HOUR;
        continue;
      }
      if (!f.minutes.allowed[l.minute]) {
        const m = nextValue(f.minutes, l.minute);
        t = m === undefined
          ? t - (l.minute * MINUTE + l.second * SECOND) + HOUR
          : t - l.second * SECOND + (m - l.minute) * MINUTE;
        continue;
      }
      if (!f.seconds.allowed[l.second]) {
        const s = nextValue(f.seconds, l.second);
        t = s === undefined ? t - l.second * SECOND + MINUTE : t + (s - l.second) * SECOND;
        continue;
      }
      return new Date(t);
    }
    throw new CronSyntaxError(
      `cron expression "${this.source}" has no fire time within ${Math.round(SEARCH_LIMIT_MS / (365.25 * DAY))} ` +
        `years after ${new Date(start - SECOND).toISOString()}`,
      'expression',
    );
  }

  /** Day of the month (may overflow into the next month) of the next day that could match. */
  private nextDay(l: LocalTime): number {
    const { dayOfMonth: dom, dayOfWeek: dow } = this.f;
    if (dom.restricted && !dow.restricted) {
      const d = nextValue(dom, l.day);
      const monthLength = new Date(Date.UTC(l.year, l.month, 0)).getUTCDate();
      return d === undefined || d > monthLength ? monthLength + 1 : d;
    }
    if (dow.restricted && !dom.restricted) {
      let ahead = 7;
      for (const w of dow.values) ahead = Math.min(ahead, (w - l.weekday + 7) % 7 || 7);
      return l.day + ahead;
    }
    return l.day + 1;
  }

  private dayMatches(l: LocalTime): boolean {
    const { dayOfMonth: dom, dayOfWeek: dow } = this.f;
    const domOk = dom.allowed[l.day] === true;
    const dowOk = dow.allowed[l.weekday] === true;
    if (dom.restricted && dow.restricted) return domOk || dowOk;
    return domOk && dowOk;
  }
}

/** Why the day-of-month/month combination can never occur, or undefined if it can. */
function impossibility(f: CronFields): string | undefined {
  if (f.dayOfWeek.restricted && f.dayOfMonth.restricted) return undefined; // OR rule: weekdays occur every month
  const firstDay = f.dayOfMonth.values[0] ?? 32;
  if (f.month.values.some((m) => firstDay <= (MAX_MONTH_DAYS[m - 1] ?? 0))) return undefined;
  return `day-of-month ${f.dayOfMonth.values.join(',')} does not occur in month ${f.month.values.join(',')}`;
}

function nextValue(field: Field, after: number): number | undefined {
  return field.values.find((v) => v > after);
}

/** Guarantees progress even if a zone computation misbehaves. */
function forward(current: number, target: number): number {
  return target > current ? target : current + SECOND;
}

function checkDate(d: Date): number {
  const t = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isFinite(t)) throw new TypeError('Schedule.next: `after` must be a valid Date');
  return t;
}
