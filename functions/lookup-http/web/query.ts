/**
 * What the console asks: the tab, the time range (a preset or a custom range), one filter
 * condition, the page size and optionally one event to show — kept in the URL hash so a link
 * can be shared (it never holds the key) — and how that becomes LookupEvents /
 * LookupEventSummaries parameters.
 */

export const TABS = ['events', 'summaries', 'insights', 'accesskeys', 'trails', 'query', 'compliance', 'alerts'] as const;
export type Tab = (typeof TABS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const PRESETS = {
  '30m': { label: '30m', ms: 30 * MINUTE, text: 'the last 30 minutes' },
  '1h': { label: '1h', ms: HOUR, text: 'the last hour' },
  '3h': { label: '3h', ms: 3 * HOUR, text: 'the last 3 hours' },
  '12h': { label: '12h', ms: 12 * HOUR, text: 'the last 12 hours' },
  '1d': { label: '1d', ms: DAY, text: 'the last day' },
  '3d': { label: '3d', ms: 3 * DAY, text: 'the last 3 days' },
  '7d': { label: '7d', ms: 7 * DAY, text: 'the last 7 days' },
  '30d': { label: '30d', ms: 30 * DAY, text: 'the last 30 days' },
} as const;
export type Preset = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as Preset[];
export type Range = Preset | 'custom';

export const DEFAULT_PRESET: Preset = '1d';
export const PAGE_SIZES = [20, 50] as const;
export type PageSize = (typeof PAGE_SIZES)[number];

/** LookupAttribute keys the console offers, as ActionTrail's console names them. */
export const FILTERS = [
  { key: 'EventRW', label: 'Read/Write type', choices: ['Write', 'Read'] },
  { key: 'User', label: 'Username', placeholder: 'e.g. alice' },
  { key: 'EventName', label: 'Event Name', placeholder: 'e.g. StopInstance' },
  { key: 'ResourceType', label: 'Resource Type', placeholder: 'e.g. ACS::ECS::Instance' },
  { key: 'ResourceName', label: 'Resource Name', placeholder: 'e.g. i-bp1fadfadf0007' },
  { key: 'ServiceName', label: 'Service Name', placeholder: 'e.g. Ecs' },
  { key: 'EventAccessKeyId', label: 'AccessKey ID', placeholder: 'e.g. LTAI5t…' },
  { key: 'EventType', label: 'Event Type', choices: ['ApiCall', 'ConsoleOperation', 'ConsoleSignin', 'ConsoleSignout', 'AliyunServiceEvent'] },
  { key: 'SourceIpAddress', label: 'Source IP', placeholder: 'e.g. 203.0.113.7' },
  { key: 'RoleName', label: 'Role Name', placeholder: 'e.g. AliyunServiceRoleForActionTrail' },
  { key: 'SensitiveAction', label: 'Sensitive Operation', choices: ['true'] },
  { key: 'EventId', label: 'Event ID', placeholder: 'an event id' },
] as const satisfies readonly { key: string; label: string; choices?: readonly string[]; placeholder?: string }[];
export type FilterKey = (typeof FILTERS)[number]['key'];
export type FilterSpec = (typeof FILTERS)[number];

/** Keys LookupEventSummaries cannot filter on (they are not summary dimensions). */
export const NOT_SUMMARY_DIMENSIONS: ReadonlySet<FilterKey> = new Set<FilterKey>(['EventType', 'EventId', 'RoleName', 'SensitiveAction']);

export function filterSpec(key: string): FilterSpec | undefined {
  return FILTERS.find((f) => f.key === key);
}

export interface ViewState {
  tab: Tab;
  range: Range;
  /** Custom range bounds, UTC `YYYY-MM-DDThh:mm:ssZ` (a shared link means the same instants everywhere). */
  from?: string;
  to?: string;
  filterKey?: FilterKey;
  filterValue?: string;
  pageSize: PageSize;
  /** One event to show (GetEvent) instead of the list, on the events tab only; the rest is the list to go back to. */
  event?: string;
}

export const DEFAULT_STATE: ViewState = { tab: 'events', range: DEFAULT_PRESET, pageSize: 20 };

const UTC_SECOND = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** GetEvent refuses longer ids. */
const MAX_EVENT_ID = 2048;
/** A summary window: 2 hours (UTC). */
const WINDOW_MS = 2 * HOUR;

/** `YYYY-MM-DDThh:mm:ssZ`, as the API wants times. */
export function utcSecond(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function isPreset(value: string): value is Preset {
  return Object.hasOwn(PRESETS, value);
}

/**
 * Reads the hash (`#tab=events&range=1h&key=EventName&value=StopInstance`, plus `&event=<id>`
 * for one event); unknown parts fall back to defaults.
 */
export function parseHash(hash: string): ViewState {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const state: ViewState = { ...DEFAULT_STATE };
  const tab = p.get('tab');
  if (tab && (TABS as readonly string[]).includes(tab)) state.tab = tab as Tab;
  const range = p.get('range') ?? '';
  const from = p.get('from') ?? '';
  const to = p.get('to') ?? '';
  if (isPreset(range)) state.range = range;
  else if (range === 'custom' && UTC_SECOND.test(from) && UTC_SECOND.test(to)) Object.assign(state, { range: 'custom', from, to });
  const spec = filterSpec(p.get('key') ?? '');
  const value = p.get('value') ?? '';
  if (spec && value !== '') Object.assign(state, { filterKey: spec.key, filterValue: value });
  const size = Number(p.get('size'));
  if ((PAGE_SIZES as readonly number[]).includes(size)) state.pageSize = size as PageSize;
  const event = p.get('event') ?? '';
  if (state.tab === 'events' && event.trim() !== '' && event.length <= MAX_EVENT_ID) state.event = event;
  return state;
}

export function formatHash(state: ViewState): string {
  const p = new URLSearchParams({ tab: state.tab });
  // The event first, so a link to one reads `#tab=events&event=<id>&…`.
  if (state.tab === 'events' && state.event) p.set('event', state.event);
  p.set('range', state.range);
  if (state.range === 'custom' && state.from && state.to) {
    p.set('from', state.from);
    p.set('to', state.to);
  }
  if (state.filterKey && state.filterValue) {
    p.set('key', state.filterKey);
    p.set('value', state.filterValue);
  }
  if (state.pageSize !== DEFAULT_STATE.pageSize) p.set('size', String(state.pageSize));
  return `#${p.toString()}`;
}

export interface TimeWindow {
  startMs: number;
  endMs: number;
  StartTime: string;
  EndTime: string;
}

/** The instants a state asks for, at `nowMs` for a preset; undefined for an incomplete custom range. */
export function timeWindowOf(state: Pick<ViewState, 'range' | 'from' | 'to'>, nowMs: number): TimeWindow | undefined {
  let startMs: number;
  let endMs: number;
  if (state.range === 'custom') {
    startMs = Date.parse(state.from ?? '');
    endMs = Date.parse(state.to ?? '');
    if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs) return undefined;
  } else {
    endMs = nowMs;
    startMs = nowMs - PRESETS[state.range].ms;
  }
  return { startMs, endMs, StartTime: utcSecond(startMs), EndTime: utcSecond(endMs) };
}

/**
 * The custom range (UTC seconds) that shows the events of the 2-hour window starting at
 * `windowStartMs`, clamped to `within` (the summaries' range: its first and last windows may
 * reach past it). LookupEvents' EndTime covers its whole second, so the window ends a second
 * before the next one starts. Undefined when nothing of the window is inside `within`.
 */
export function windowRange(windowStartMs: number, within: Pick<TimeWindow, 'startMs' | 'endMs'>): { from: string; to: string } | undefined {
  const from = utcSecond(Math.max(windowStartMs, within.startMs));
  const to = utcSecond(Math.min(windowStartMs + WINDOW_MS - 1000, within.endMs));
  return Date.parse(to) > Date.parse(from) ? { from, to } : undefined;
}

/** StartTime, EndTime and the filter as LookupAttribute.1, for either lookup action. */
export function lookupParams(state: ViewState, window: TimeWindow): Record<string, string> {
  const params: Record<string, string> = { StartTime: window.StartTime, EndTime: window.EndTime };
  if (state.filterKey && state.filterValue) {
    params['LookupAttribute.1.Key'] = state.filterKey;
    params['LookupAttribute.1.Value'] = state.filterValue;
  }
  return params;
}

/** " with Event Name StopInstance", or '' without a filter. */
export function describeFilter(state: ViewState): string {
  const spec = state.filterKey ? filterSpec(state.filterKey) : undefined;
  return spec && state.filterValue ? ` with ${spec.label} ${state.filterValue}` : '';
}

/** "the last hour", or "2026-11-22 18:00:00 to 2026-11-22 19:00:00" for a custom range. */
export function describeRange(state: ViewState, formatTime: (ms: number) => string): string {
  return state.range === 'custom' ? `${formatTime(Date.parse(state.from ?? ''))} to ${formatTime(Date.parse(state.to ?? ''))}` : PRESETS[state.range].text;
}

/** "in the last hour with Event Name StopInstance" — for headings and empty states. */
export function describeQuery(state: ViewState, formatTime: (ms: number) => string): string {
  const when =
    state.range === 'custom'
      ? `between ${formatTime(Date.parse(state.from ?? ''))} and ${formatTime(Date.parse(state.to ?? ''))}`
      : `in ${PRESETS[state.range].text}`;
  return `${when}${describeFilter(state)}`;
}

/** The next wider preset, to offer when a search finds nothing. */
export function widerPreset(range: Range): Preset | undefined {
  if (range === 'custom') return undefined;
  return PRESET_NAMES[PRESET_NAMES.indexOf(range) + 1];
}

/** `<input type="datetime-local">` value (browser zone) → UTC second; undefined when empty or invalid. */
export function localInputToUtc(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return undefined;
  const ms = new Date(value).getTime(); // no offset: read in the browser's zone
  return Number.isNaN(ms) ? undefined : utcSecond(ms);
}

/** UTC time → `<input type="datetime-local">` value in the browser zone (to the minute, or second when set). */
export function utcToLocalInput(utc: string): string {
  const d = new Date(utc);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getSeconds() === 0 ? base : `${base}:${pad(d.getSeconds())}`;
}
