/**
 * The TrailKeeper console (served by lookup-http at /console): sign-in with an AccessKey pair
 * (kept in session storage only), then event history, summaries, insights, AccessKeys and trails
 * over the signed API.
 * The query (tab, range, filter, page size, and one event to show) lives in the URL hash, so
 * links can be shared.
 */
import { createAccessKeysView } from './accesskeys-view.ts';
import { createComplianceView } from './compliance-view.ts';
import { createAlertsView } from './alerts-view.ts';
import { createApiClient, isJsonObject, type ApiClient, type Clock, type JsonObject } from './api.ts';
import type { ConsoleContext, Query } from './context.ts';
import { byId, h, showState } from './dom.ts';
import { createEventsView } from './events-view.ts';
import { describeError, text } from './format.ts';
import { createInsightsView } from './insights-view.ts';
import { createQueryView } from './query-view.ts';
import {
  FILTERS,
  PAGE_SIZES,
  PRESET_NAMES,
  PRESETS,
  TABS,
  filterSpec,
  formatHash,
  localInputToUtc,
  parseHash,
  timeWindowOf,
  utcSecond,
  utcToLocalInput,
  type FilterKey,
  type PageSize,
  type Range,
  type Tab,
  type ViewState,
} from './query.ts';
import { chooseHmacSha1, type Credentials } from './sign.ts';
import { createSummariesView } from './summaries-view.ts';
import { createTrailsView } from './trails-view.ts';

const SESSION_KEY = 'trailkeeper.console.session';

interface Session extends Credentials {
  accountId: string;
}

// lookup-http's API answers at the root of the console's own origin.
const endpoint = new URL('/', location.href).toString();
// WebCrypto only in secure contexts (HTTPS, localhost); the plain-TypeScript HMAC elsewhere.
const hmac = chooseHmacSha1<CryptoKey>(window.isSecureContext && typeof crypto.subtle?.importKey === 'function' ? crypto.subtle : undefined);

/** The server's clock as the page knows it: one for every client, so the skew learnt at sign-in holds. */
const clock: Clock = { skewMs: 0 };
/** Preset windows older than this are recomputed when their tab is shown. */
const STALE_PRESET_MS = 60_000;

function clientFor(credentials: Credentials): ApiClient {
  return createApiClient({
    endpoint,
    credentials,
    hmac,
    clock,
    randomBytes: (bytes) => crypto.getRandomValues(bytes),
    fetch: (url, init) => fetch(url, init),
  });
}

/** The server's time (the local clock corrected by the skew learnt from its answers). */
function serverNow(): number {
  return api ? api.now() : Date.now() + clock.skewMs;
}

function readSession(): Session | undefined {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (!isJsonObject(value)) return undefined;
    const { accessKeyId, accessKeySecret, accountId } = value;
    if (typeof accessKeyId !== 'string' || typeof accessKeySecret !== 'string' || typeof accountId !== 'string') return undefined;
    return { accessKeyId, accessKeySecret, accountId };
  } catch {
    return undefined;
  }
}

// ── elements ────────────────────────────────────────────────────────────────────────────

const signinSection = byId('signin', HTMLElement);
const signinForm = byId('signin-form', HTMLFormElement);
const signinId = byId('signin-id', HTMLInputElement);
const signinSecret = byId('signin-secret', HTMLInputElement);
const signinError = byId('signin-error', HTMLDivElement);
const signinSubmit = byId('signin-submit', HTMLButtonElement);
const appSection = byId('app', HTMLElement);
const sessionBox = byId('session', HTMLDivElement);
const queryForm = byId('query', HTMLFormElement);
const presetList = byId('preset-list', HTMLDivElement);
const customRange = byId('custom-range', HTMLDivElement);
const rangeFrom = byId('range-from', HTMLInputElement);
const rangeTo = byId('range-to', HTMLInputElement);
const filterBox = byId('filter', HTMLDivElement);
const filterKey = byId('filter-key', HTMLSelectElement);
const filterValue = byId('filter-value', HTMLInputElement);
const filterChoice = byId('filter-choice', HTMLSelectElement);
const queryError = byId('query-error', HTMLDivElement);
const pageSize = byId('page-size', HTMLSelectElement);
const statusBox = byId('status', HTMLDivElement);
const dialog = byId('event-dialog', HTMLDialogElement);
const dialogTitle = byId('event-dialog-title', HTMLHeadingElement);
const eventJson = byId('event-json', HTMLPreElement);
const copyStatus = byId('copy-status', HTMLSpanElement);
const tabs = new Map<Tab, HTMLButtonElement>(TABS.map((tab) => [tab, byId(`tab-${tab}`, HTMLButtonElement)]));
const panels = new Map<Tab, HTMLElement>(TABS.map((tab) => [tab, byId(`panel-${tab}`, HTMLElement)]));

// ── state ───────────────────────────────────────────────────────────────────────────────

let session: Session | undefined;
let api: ApiClient | undefined;
let state: ViewState = parseHash(location.hash);
let query: Query | undefined;
let appliedHash = '';
let statusTimer: ReturnType<typeof setTimeout> | undefined;
let announceTimer: ReturnType<typeof setTimeout> | undefined;

const ctx: ConsoleContext = {
  api() {
    if (!api) throw new Error('not signed in');
    return api;
  },
  announce(message) {
    // Emptied first and filled a moment later, so a message identical to the last is said again.
    statusBox.textContent = '';
    clearTimeout(announceTimer);
    clearTimeout(statusTimer);
    announceTimer = setTimeout(() => {
      statusBox.textContent = message;
      statusBox.classList.add('visible');
      statusTimer = setTimeout(() => statusBox.classList.remove('visible'), 6000);
    }, 100);
  },
  signOut: () => signOut(),
  openEvent: (event) => openEvent(event),
  search(change) {
    state = { ...state, ...change };
    applyToForm(state);
    // Another tab (a summaries window's events): shown, with the focus on its tab.
    if (change.tab) selectTab(change.tab, { focus: true });
    search('push');
  },
  eventLink(eventId) {
    // Origin and path only (no query string), the hash of the search shown plus the event.
    const hash = formatHash({ ...(query?.state ?? state), tab: 'events', event: eventId });
    return `${location.origin}${location.pathname}${hash}`;
  },
  copy: (value) => copyText(value),
  backToList() {
    state = { ...state, event: undefined };
    writeHash('push');
    showTabContent();
    tabs.get('events')?.focus();
  },
};

const eventsView = createEventsView(ctx);
const summariesView = createSummariesView(ctx);
const trailsView = createTrailsView(ctx);
const insightsView = createInsightsView(ctx);
const accessKeysView = createAccessKeysView(ctx);
const queryView = createQueryView(ctx);
const complianceView = createComplianceView(ctx);
const alertsView = createAlertsView(ctx);

// ── the query form ──────────────────────────────────────────────────────────────────────

for (const name of [...PRESET_NAMES, 'custom' as const]) {
  // The accessible name starts with the visible label ("1h (last hour)", "Custom range").
  presetList.append(
    h(
      'label',
      { class: 'segment' },
      h('input', { type: 'radio', name: 'range', value: name }),
      h('span', {}, name === 'custom' ? 'Custom' : PRESETS[name].label, h('span', { class: 'sr-only' }, name === 'custom' ? ' range' : ` (${PRESETS[name].text.replace(/^the /, '')})`)),
    ),
  );
}
for (const spec of FILTERS) filterKey.append(h('option', { value: spec.key }, spec.label));

function checkedRange(): Range {
  const checked = presetList.querySelector<HTMLInputElement>('input[name="range"]:checked');
  const value = checked?.value ?? state.range;
  return value === 'custom' || Object.hasOwn(PRESETS, value) ? (value as Range) : state.range;
}

function showFilterControl(key: FilterKey | undefined, value: string): void {
  const spec = key ? filterSpec(key) : undefined;
  const choices: readonly string[] | undefined = spec && 'choices' in spec ? spec.choices : undefined;
  filterChoice.hidden = !choices;
  filterValue.hidden = Boolean(choices);
  if (choices) {
    filterChoice.replaceChildren(...choices.map((c) => h('option', { value: c }, c)));
    filterChoice.value = choices.includes(value) ? value : (choices[0] ?? '');
    filterValue.value = '';
  } else {
    filterValue.disabled = !spec;
    filterValue.placeholder = spec && 'placeholder' in spec ? spec.placeholder : 'Pick a filter first';
    filterValue.value = spec ? value : '';
  }
}

function applyToForm(s: ViewState): void {
  for (const input of presetList.querySelectorAll<HTMLInputElement>('input[name="range"]')) input.checked = input.value === s.range;
  customRange.hidden = s.range !== 'custom';
  if (s.range === 'custom' && s.from && s.to) {
    rangeFrom.value = utcToLocalInput(s.from);
    rangeTo.value = utcToLocalInput(s.to);
  }
  filterKey.value = s.filterKey ?? '';
  showFilterControl(s.filterKey, s.filterValue ?? '');
  pageSize.value = String(s.pageSize);
  showState(queryError, undefined);
}

/** The form as a state, or what to fix. */
function readForm(): ViewState | string {
  const next: ViewState = { tab: state.tab, range: checkedRange(), pageSize: (PAGE_SIZES as readonly number[]).includes(Number(pageSize.value)) ? (Number(pageSize.value) as PageSize) : 20 };
  if (next.range === 'custom') {
    const from = localInputToUtc(rangeFrom.value);
    const to = localInputToUtc(rangeTo.value);
    if (!from || !to) return 'Pick both ends of the custom range (From and To).';
    if (Date.parse(to) <= Date.parse(from)) return 'The end of the custom range must be after its start.';
    next.from = from;
    next.to = to;
  }
  const spec = filterSpec(filterKey.value);
  if (spec) {
    const value = ('choices' in spec ? filterChoice.value : filterValue.value).trim();
    if (value === '') return `Type the ${spec.label} to filter by, or choose No filter.`;
    next.filterKey = spec.key;
    next.filterValue = value;
  }
  return next;
}

function writeHash(mode: 'push' | 'replace'): void {
  const hash = formatHash(state);
  appliedHash = hash;
  if (hash === location.hash) return;
  if (mode === 'push') history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

/**
 * Runs the form's query on the tab shown (the other tab catches up when shown). A new search
 * leaves the one-event view; `keepEvent` (the state read from the URL) stays in it.
 */
function search(mode: 'push' | 'replace' | 'none', keepEvent = false): void {
  const read = readForm();
  if (typeof read === 'string') {
    showState(queryError, { kind: 'error', message: read });
    return;
  }
  showState(queryError, undefined);
  const event = keepEvent && read.tab === 'events' ? state.event : undefined;
  state = event ? { ...read, event } : read;
  if (mode !== 'none') writeHash(mode);
  else appliedHash = location.hash;
  const madeAt = serverNow();
  const covered = timeWindowOf(state, madeAt);
  if (!covered) return;
  query = { state, window: covered, madeAt };
  showTabContent();
}

function showTabContent(): void {
  if (!api) return;
  if (state.tab === 'trails') {
    if (!trailsView.loaded) trailsView.load();
    return;
  }
  if (state.tab === 'accesskeys') {
    if (!accessKeysView.loaded) accessKeysView.load();
    return;
  }
  if (state.tab === 'compliance') {
    if (!complianceView.loaded) complianceView.load();
    return;
  }
  if (state.tab === 'alerts') {
    if (!alertsView.loaded) alertsView.load();
    return;
  }
  // A preset ("the last hour") searched a while ago on the other tab means the last hour now.
  const nowMs = serverNow();
  if (query && query.state.range !== 'custom' && nowMs - query.madeAt > STALE_PRESET_MS) {
    const covered = timeWindowOf(query.state, nowMs);
    if (covered) query = { state: query.state, window: covered, madeAt: nowMs };
  }
  if (state.tab === 'events' && state.event) {
    if (eventsView.event !== state.event) eventsView.showEvent(state.event);
    return;
  }
  if (state.tab === 'query') {
    if (query && queryView.query !== query) queryView.load(query);
    return;
  }
  const view = state.tab === 'events' ? eventsView : state.tab === 'insights' ? insightsView : summariesView;
  if (query && view.query !== query) view.load(query);
}

queryForm.addEventListener('submit', (e) => {
  e.preventDefault();
  search('push');
});
presetList.addEventListener('change', () => {
  const range = checkedRange();
  customRange.hidden = range !== 'custom';
  if (range !== 'custom') {
    search('push');
    return;
  }
  // A custom range starts as the window shown, to the second, in the browser's zone.
  const shown = query?.window ?? timeWindowOf({ ...state, range: '1d' }, serverNow());
  if (shown && !rangeFrom.value) rangeFrom.value = utcToLocalInput(utcSecond(shown.startMs));
  if (shown && !rangeTo.value) rangeTo.value = utcToLocalInput(utcSecond(shown.endMs));
  rangeFrom.focus();
});
filterKey.addEventListener('change', () => {
  const spec = filterSpec(filterKey.value);
  showFilterControl(spec?.key, '');
});
byId('clear-filter', HTMLButtonElement).addEventListener('click', () => {
  filterKey.value = '';
  showFilterControl(undefined, '');
  search('push');
});
pageSize.addEventListener('change', () => search('push'));

// ── tabs ────────────────────────────────────────────────────────────────────────────────

function selectTab(tab: Tab, options: { focus?: boolean } = {}): void {
  // One event is shown on the events tab only: another tab leaves it.
  state = tab === 'events' ? { ...state, tab } : { ...state, tab, event: undefined };
  for (const [name, button] of tabs) {
    const selected = name === tab;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    (panels.get(name) as HTMLElement).hidden = !selected;
  }
  // Trails, AccessKeys and Compliance take no range; Insights take the range only (their own objects, not the filter).
  queryForm.hidden = tab === 'trails' || tab === 'accesskeys' || tab === 'compliance' || tab === 'alerts';
  filterBox.hidden = tab === 'insights' || tab === 'query';
  if (options.focus) tabs.get(tab)?.focus();
}

for (const [tab, button] of tabs) {
  button.addEventListener('click', () => {
    selectTab(tab);
    writeHash('push');
    showTabContent();
  });
  button.addEventListener('keydown', (e) => {
    const at = TABS.indexOf(tab);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = TABS[(to + TABS.length) % TABS.length] as Tab;
    selectTab(next, { focus: true });
    writeHash('replace');
    showTabContent();
  });
}

function onHistory(): void {
  if (location.hash === appliedHash) return;
  // Read even when signed out: a link pasted before signing in is what to show after.
  state = parseHash(location.hash);
  if (!session) return;
  applyToForm(state);
  selectTab(state.tab);
  search('none', true);
}
window.addEventListener('popstate', onHistory);
window.addEventListener('hashchange', onHistory);

// "/" jumps to the filter, as in many consoles.
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || !session || state.tab === 'trails' || state.tab === 'accesskeys' || state.tab === 'insights' || state.tab === 'query' || state.tab === 'compliance' || state.tab === 'alerts' || dialog.open) return;
  const target = e.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
  e.preventDefault();
  (filterValue.disabled || filterValue.hidden ? filterKey : filterValue).focus();
});

// ── the event dialog ────────────────────────────────────────────────────────────────────

function openEvent(event: JsonObject): void {
  dialogTitle.textContent = `${text(event, 'eventName') ?? 'Event'} · ${text(event, 'eventId') ?? ''}`;
  eventJson.textContent = JSON.stringify(event, null, 2);
  copyStatus.textContent = '';
  dialog.showModal();
  eventJson.scrollTop = 0;
}

async function copyText(value: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(value);
      return true;
    } catch {
      // fall through to the selection copy (e.g. permission refused)
    }
  }
  // Plain-http pages have no async clipboard: copy a selection (inside the dialog when it is open: it is modal).
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  area.value = value;
  const active = document.activeElement;
  (dialog.open ? dialog : document.body).append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  if (active instanceof HTMLElement && !dialog.open) active.focus();
  return copied;
}

byId('event-dialog-close', HTMLButtonElement).addEventListener('click', () => dialog.close());
dialog.addEventListener('click', (e) => {
  if (e.target === dialog) dialog.close(); // a click on the backdrop
});
byId('event-copy', HTMLButtonElement).addEventListener('click', async () => {
  const copied = await copyText(eventJson.textContent ?? '');
  copyStatus.textContent = copied ? 'Copied to the clipboard.' : 'Copying is blocked here: select the text and press Ctrl+C.';
});

// ── signing in and out ──────────────────────────────────────────────────────────────────

function enter(s: Session, client: ApiClient = clientFor(s)): void {
  // The URL says what to show (a link opened or pasted while signed out included).
  state = parseHash(location.hash);
  session = s;
  api = client;
  byId('session-account', HTMLElement).textContent = s.accountId;
  byId('session-key', HTMLElement).textContent = s.accessKeyId;
  sessionBox.hidden = false;
  signinSection.hidden = true;
  appSection.hidden = false;
  applyToForm(state);
  selectTab(state.tab);
  search('replace', true);
}

function signOut(): void {
  sessionStorage.removeItem(SESSION_KEY);
  session = undefined;
  api = undefined;
  query = undefined;
  eventsView.clear();
  summariesView.clear();
  trailsView.clear();
  insightsView.clear();
  accessKeysView.clear();
  queryView.clear();
  complianceView.clear();
  alertsView.clear();
  if (dialog.open) dialog.close();
  sessionBox.hidden = true;
  appSection.hidden = true;
  signinSection.hidden = false;
  signinSecret.value = '';
  showState(signinError, undefined);
  signinId.focus();
}

signinForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const credentials = { accessKeyId: signinId.value.trim(), accessKeySecret: signinSecret.value.trim() };
  if (!credentials.accessKeyId || !credentials.accessKeySecret) {
    showState(signinError, { kind: 'error', message: 'Enter both the AccessKey ID and the AccessKey secret.' });
    (credentials.accessKeyId ? signinSecret : signinId).focus();
    return;
  }
  signinSubmit.disabled = true;
  signinSubmit.textContent = 'Signing in…';
  showState(signinError, undefined);
  try {
    // A cheap signed call proves the pair: whose key is it?
    // (Its Date header also sets the page's clock, if this computer's is off.)
    const client = clientFor(credentials);
    const identity = await client.call('GetCallerIdentity');
    const s: Session = { ...credentials, accountId: text(identity, 'AccountId') ?? '' };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    signinSecret.value = '';
    enter(s, client);
    tabs.get(state.tab)?.focus();
  } catch (error) {
    const problem = describeError(error);
    showState(signinError, { kind: 'error', message: problem.message, detail: problem.detail });
  } finally {
    signinSubmit.disabled = false;
    signinSubmit.textContent = 'Sign in';
  }
});
byId('sign-out', HTMLButtonElement).addEventListener('click', () => {
  signOut();
  ctx.announce('Signed out. The AccessKey pair was removed from this tab.');
});

const saved = readSession();
if (saved) {
  enter(saved);
} else {
  signinSection.hidden = false;
  signinId.focus();
}
