/**
 * Summaries: LookupEventSummaries for the query — the 2-hour windows of who did what to which
 * resource from where, with counts — as a table and a bar chart of events per window. Pages of
 * summaries are read newest window first, a few at once; each window's Total is complete as
 * soon as the window appears, so the chart is exact for every window loaded. A bar, or a row's
 * time window, opens the Event history of that window (within the range) with the same filter.
 */
import { isJsonObject, type JsonObject } from './api.ts';
import { barChart, type Bar } from './chart.ts';
import type { ConsoleContext, Query } from './context.ts';
import { byId, h, isAbort, showState } from './dom.ts';
import { describeError, formatLocal, formatUser, formatUtc, formatWindow, text, WINDOW_MS, windowsBetween } from './format.ts';
import { describeFilter, describeQuery, describeRange, filterSpec, lookupParams, NOT_SUMMARY_DIMENSIONS, PRESETS, widerPreset, windowRange } from './query.ts';

/** Summaries per request (the API's maximum) and requests per load. */
const PAGE_SIZE = 100;
const PAGES_PER_LOAD = 5;

interface Row {
  windowStartMs: number;
  summary: JsonObject;
}

export interface SummariesView {
  load(query: Query): void;
  readonly query: Query | undefined;
  clear(): void;
}

export function createSummariesView(ctx: ConsoleContext): SummariesView {
  const panel = byId('panel-summaries', HTMLElement);
  const stateBox = byId('summaries-state', HTMLDivElement);
  const caption = byId('summaries-caption', HTMLParagraphElement);
  const figure = byId('summaries-chart', HTMLElement);
  const chartArea = byId('chart-area', HTMLDivElement);
  const table = byId('summaries-table', HTMLTableElement);
  const tbody = byId('summaries-body', HTMLTableSectionElement);
  const more = byId('summaries-more', HTMLButtonElement);

  let query: Query | undefined;
  let controller: AbortController | undefined;
  let rows: Row[] = [];
  let totals = new Map<number, number>();
  let nextToken: string | undefined;
  let bars: Bar[] = [];
  let drawnWidth = 0;

  async function fetchMore(q: Query, signal: AbortSignal): Promise<void> {
    for (let n = 0; n < PAGES_PER_LOAD; n += 1) {
      const params: Record<string, string> = { ...lookupParams(q.state, q.window), MaxResults: String(PAGE_SIZE) };
      if (nextToken) params['NextToken'] = nextToken;
      const answer = await ctx.api().call('LookupEventSummaries', params, signal);
      if (query !== q) return;
      for (const w of Array.isArray(answer['Windows']) ? answer['Windows'].filter(isJsonObject) : []) {
        const ws = Date.parse(text(w, 'WindowStart') ?? '');
        if (Number.isNaN(ws)) continue;
        const total = w['Total'];
        if (typeof total === 'number') totals.set(ws, total);
        for (const summary of Array.isArray(w['Summaries']) ? w['Summaries'].filter(isJsonObject) : []) rows.push({ windowStartMs: ws, summary });
      }
      const token = answer['NextToken'];
      nextToken = typeof token === 'string' && token !== '' ? token : undefined;
      if (!nextToken) return;
    }
  }

  async function run(q: Query): Promise<void> {
    const signal = controller?.signal;
    if (!signal) return;
    panel.setAttribute('aria-busy', 'true');
    more.disabled = true;
    if (rows.length === 0) showState(stateBox, { kind: 'loading', message: 'Loading summaries…' });
    try {
      await fetchMore(q, signal);
      if (query === q) render(q);
    } catch (error) {
      if (isAbort(error) || query !== q) return;
      const problem = describeError(error);
      showState(stateBox, {
        kind: 'error',
        message: problem.message,
        detail: problem.detail,
        actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => void run(q) }],
      });
    } finally {
      if (query === q) {
        panel.setAttribute('aria-busy', 'false');
        more.disabled = false;
      }
    }
  }

  function drawChart(): void {
    const width = Math.max(chartArea.clientWidth, 280);
    drawnWidth = width;
    // Redrawn (resized) under the keyboard's focus: the same window keeps it.
    const focused = chartArea.contains(document.activeElement) ? document.activeElement?.getAttribute('data-window-start') : undefined;
    chartArea.replaceChildren(barChart(bars, width));
    if (focused) {
      const again = chartArea.querySelector(`.bar-group[data-window-start="${CSS.escape(focused)}"]`);
      if (again instanceof SVGGElement) {
        moveFocus(again);
      }
    }
  }

  /** The bar that is in the tab order (the roving tabindex), focused. */
  function moveFocus(to: SVGGElement): void {
    for (const bar of chartArea.querySelectorAll<SVGGElement>('.bar-group')) bar.setAttribute('tabindex', bar === to ? '0' : '-1');
    to.focus();
  }

  /** Event history for the window starting at `ws`, clamped to the range, with the same filter. */
  function showWindow(ws: number): void {
    const q = query;
    const range = q ? windowRange(ws, q.window) : undefined;
    if (!q || !range) return;
    // Only the summaries' own filter: a row's other dimensions would be a second condition.
    ctx.search({ tab: 'events', range: 'custom', from: range.from, to: range.to, filterKey: q.state.filterKey, filterValue: q.state.filterValue, event: undefined });
  }

  function windowOf(target: EventTarget | null): number | undefined {
    const el = target instanceof Element ? target.closest('[data-window-start]') : null;
    const ws = Number(el?.getAttribute('data-window-start') ?? Number.NaN);
    return Number.isNaN(ws) ? undefined : ws;
  }

  chartArea.addEventListener('click', (e) => {
    const ws = windowOf(e.target);
    if (ws !== undefined) showWindow(ws);
  });
  chartArea.addEventListener('keydown', (e) => {
    const current = e.target instanceof Element ? e.target.closest('.bar-group') : null;
    if (!(current instanceof SVGGElement)) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      const ws = windowOf(current);
      if (ws !== undefined) showWindow(ws);
      return;
    }
    const all = [...chartArea.querySelectorAll<SVGGElement>('.bar-group')];
    const at = all.indexOf(current);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[e.key];
    const next = to === undefined ? undefined : all[Math.min(Math.max(to, 0), all.length - 1)];
    if (!next) return;
    e.preventDefault();
    moveFocus(next);
  });
  tbody.addEventListener('click', (e) => {
    if (!(e.target instanceof Element) || !e.target.closest('button.window-link')) return;
    const ws = windowOf(e.target);
    if (ws !== undefined) showWindow(ws);
  });

  function render(q: Query): void {
    const where = describeQuery(q.state, formatLocal);
    more.hidden = !nextToken;
    if (rows.length === 0 && nextToken) {
      // Nothing in the newest windows, but older ones remain: not "no summaries".
      figure.hidden = true;
      table.hidden = true;
      caption.textContent = '';
      more.hidden = true; // the state's own button loads them
      showState(stateBox, {
        kind: 'empty',
        message: `No summaries yet ${where}: none in the windows loaded so far, and older windows remain. Load more to look further back.`,
        actions: [{ label: 'Load more summaries', run: () => void run(q) }],
      });
      return;
    }
    if (rows.length === 0) {
      figure.hidden = true;
      table.hidden = true;
      caption.textContent = '';
      const wider = widerPreset(q.state.range);
      const actions = [];
      if (wider) actions.push({ label: `Search ${PRESETS[wider].text}`, run: () => ctx.search({ range: wider }) });
      if (q.state.filterKey) actions.push({ label: 'Clear the filter', run: () => ctx.search({ filterKey: undefined, filterValue: undefined }) });
      showState(stateBox, {
        kind: 'empty',
        message: `No summaries ${where}. Summaries are counted every minute, so the newest events may take a minute to appear. Widen the time range or change the filter.`,
        actions,
      });
      return;
    }
    showState(stateBox, undefined);
    // Windows older than the oldest one loaded are unknown while more summaries remain.
    // (None loaded yet — rows without a window total — means every window is unknown.)
    let oldestLoaded = Number.POSITIVE_INFINITY;
    for (const ws of totals.keys()) oldestLoaded = Math.min(oldestLoaded, ws);
    bars = windowsBetween(q.window.startMs, q.window.endMs).map((ws) => ({
      startMs: ws,
      count: totals.get(ws) ?? (nextToken && ws < oldestLoaded ? undefined : 0),
    }));
    const events = [...totals.values()].reduce((a, b) => a + b, 0);
    // Summaries count whole 2-hour UTC windows, so they may hold events just outside the range.
    const windows = bars.length;
    const known = bars.filter((b) => b.count !== undefined).length;
    const span = `2-hour window${windows === 1 ? '' : 's'} overlapping ${describeRange(q.state, formatLocal)}${describeFilter(q.state)}`;
    caption.textContent = nextToken
      ? `${events} event${events === 1 ? '' : 's'} in the newest ${known} of the ${windows} ${span}; older windows remain to load.`
      : `${events} event${events === 1 ? '' : 's'} in the ${windows === 1 ? '' : `${windows} `}${span}.`;
    figure.hidden = false;
    drawChart();
    const body = document.createDocumentFragment();
    for (const { windowStartMs: ws, summary: s } of rows) {
      const resource = [text(s, 'ResourceType'), text(s, 'ResourceName')].filter(Boolean).join(' ');
      body.append(
        h(
          'tr',
          { role: 'row' },
          h(
            'td',
            { role: 'cell', 'data-label': 'Time window' },
            h(
              'button',
              { type: 'button', class: 'window-link', 'data-window-start': ws, 'aria-label': `Show the events of ${formatWindow(ws)}${describeFilter(q.state)}` },
              h('time', { datetime: formatUtc(ws), title: `${formatUtc(ws)} – ${formatUtc(ws + WINDOW_MS)} (UTC)` }, formatWindow(ws)),
            ),
          ),
          h('td', { role: 'cell', 'data-label': 'Username' }, formatUser(text(s, 'UserName'), text(s, 'IdentityType'))),
          h('td', { role: 'cell', 'data-label': 'Service' }, text(s, 'ServiceName') ?? '—'),
          h('td', { role: 'cell', 'data-label': 'Event Name' }, text(s, 'EventName') ?? '—'),
          h('td', { role: 'cell', 'data-label': 'Resource', class: 'wrap' }, resource || '—'),
          h('td', { role: 'cell', 'data-label': 'Source IP' }, text(s, 'SourceIpAddress') ?? '—'),
          h('td', { role: 'cell', 'data-label': 'Count', class: 'num' }, text(s, 'Count') ?? '0'),
        ),
      );
    }
    tbody.replaceChildren(body);
    table.hidden = false;
  }

  more.addEventListener('click', () => {
    if (query) void run(query);
  });
  new ResizeObserver(() => {
    if (!figure.hidden && bars.length > 0 && Math.abs(chartArea.clientWidth - drawnWidth) > 8) drawChart();
  }).observe(chartArea);

  function reset(): void {
    controller?.abort();
    rows = [];
    totals = new Map();
    nextToken = undefined;
    bars = [];
    tbody.replaceChildren();
    chartArea.replaceChildren();
    table.hidden = true;
    figure.hidden = true;
    more.hidden = true;
    caption.textContent = '';
  }

  return {
    get query() {
      return query;
    },
    load(q) {
      reset();
      query = q;
      const key = q.state.filterKey;
      if (key && NOT_SUMMARY_DIMENSIONS.has(key)) {
        showState(stateBox, {
          kind: 'error',
          message: `Summaries count who, what, which resource and where: they cannot be filtered by ${filterSpec(key)?.label ?? key}. Choose another filter, or clear it.`,
          actions: [{ label: 'Clear the filter', run: () => ctx.search({ filterKey: undefined, filterValue: undefined }) }],
        });
        return;
      }
      controller = new AbortController();
      void run(q);
    },
    clear() {
      reset();
      query = undefined;
      showState(stateBox, undefined);
    },
  };
}
