/**
 * Insights: LookupInsightEvents for the query's range (pages of 50, a few at once, "Load more"
 * for the rest) and GetInsightsEventsCount for each type's count. A timeline (SVG, one lane per
 * insight type, a bar from start to end, an open insight reaching now) and a list; an insight
 * expands to its statistics and attributions and links to Event history on its window, filtered
 * on its object (ApiCallRate/ApiErrorRate → Event Name, Ak → AccessKey ID, Ip → Source IP).
 */
import { isJsonObject, type JsonObject } from './api.ts';
import type { ConsoleContext, Query } from './context.ts';
import { byId, h, isAbort, s, showState, timeElement } from './dom.ts';
import { at, describeError, formatLocal, formatLocalMinute, text, zoneLabel } from './format.ts';
import { attributions, formatMinutes, formatRate, INSIGHT_TYPES, insightFilter, insightRange, insightTypeLabel, pairInsights, type Insight } from './insight-format.ts';
import { describeRange, formatHash, PRESETS, widerPreset } from './query.ts';

const PAGE_SIZE = 50;
const PAGES_PER_LOAD = 4;
const LANE_HEIGHT = 30;
const LABEL_WIDTH = 190;
const AXIS_HEIGHT = 26;
const MIN_BAR = 4;

const ATTRIBUTIONS = [
  ['users', 'Top users'],
  ['accessKeys', 'Top AccessKeys'],
  ['ips', 'Top source IPs'],
  ['events', 'Top events'],
  ['errorCodes', 'Top error codes'],
] as const;

export interface InsightsView {
  load(query: Query): void;
  readonly query: Query | undefined;
  clear(): void;
}

export function createInsightsView(ctx: ConsoleContext): InsightsView {
  const panel = byId('panel-insights', HTMLElement);
  const stateBox = byId('insights-state', HTMLDivElement);
  const caption = byId('insights-caption', HTMLParagraphElement);
  const figure = byId('insights-timeline', HTMLElement);
  const area = byId('timeline-area', HTMLDivElement);
  const table = byId('insights-table', HTMLTableElement);
  const more = byId('insights-more', HTMLButtonElement);
  byId('insights-zone', HTMLSpanElement).textContent = `(${zoneLabel(Date.now())})`;

  let query: Query | undefined;
  let controller: AbortController | undefined;
  let events: JsonObject[] = [];
  let counts = new Map<string, number>();
  let nextToken: string | undefined;
  let insights: Insight[] = [];
  /** When the insights were read (server time): where open insights end. */
  let readAt = 0;
  let drawnWidth = 0;

  async function fetchMore(q: Query, signal: AbortSignal): Promise<void> {
    for (let n = 0; n < PAGES_PER_LOAD; n += 1) {
      const params: Record<string, string> = { StartTime: q.window.StartTime, EndTime: q.window.EndTime, MaxResults: String(PAGE_SIZE) };
      if (nextToken) params['NextToken'] = nextToken;
      const answer = await ctx.api().call('LookupInsightEvents', params, signal);
      if (query !== q) return;
      events.push(...(Array.isArray(answer['Events']) ? answer['Events'].filter(isJsonObject) : []));
      const token = answer['NextToken'];
      nextToken = typeof token === 'string' && token !== '' ? token : undefined;
      if (!nextToken) return;
    }
  }

  async function fetchCounts(q: Query, signal: AbortSignal): Promise<void> {
    const answer = await ctx.api().call('GetInsightsEventsCount', { StartTime: q.window.StartTime, EndTime: q.window.EndTime }, signal);
    if (query !== q) return;
    counts = new Map();
    for (const d of Array.isArray(answer['Data']) ? answer['Data'].filter(isJsonObject) : []) {
      const type = text(d, 'InsightType');
      if (type) counts.set(type, (counts.get(type) ?? 0) + Number(d['Count'] ?? 0));
    }
  }

  async function run(q: Query, first: boolean): Promise<void> {
    const signal = controller?.signal;
    if (!signal) return;
    panel.setAttribute('aria-busy', 'true');
    more.disabled = true;
    if (events.length === 0) showState(stateBox, { kind: 'loading', message: 'Loading insights…' });
    try {
      await Promise.all([fetchMore(q, signal), first ? fetchCounts(q, signal) : Promise.resolve()]);
      if (query !== q) return;
      readAt = ctx.api().now();
      render(q);
    } catch (error) {
      if (isAbort(error) || query !== q) return;
      const problem = describeError(error);
      showState(stateBox, {
        kind: 'error',
        message: problem.message,
        detail: problem.detail,
        actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => void run(q, first) }],
      });
    } finally {
      if (query === q) {
        panel.setAttribute('aria-busy', 'false');
        more.disabled = false;
      }
    }
  }

  function render(q: Query): void {
    insights = pairInsights(events);
    const open = insights.filter((i) => i.endMs === undefined).length;
    const where = `in ${describeRange(q.state, formatLocal)}`;
    more.hidden = !nextToken;
    for (const body of [...table.tBodies]) body.remove();
    if (insights.length === 0) {
      caption.textContent = '';
      figure.hidden = true;
      table.hidden = true;
      const wider = widerPreset(q.state.range);
      showState(stateBox, {
        kind: 'empty',
        message: `No insights ${where}. Insights open when calls are far above their baseline or come from somewhere new; each type must be enabled (EnableInsight) and needs 24 hours of history first.`,
        actions: wider ? [{ label: `Search ${PRESETS[wider].text}`, run: () => ctx.search({ range: wider }) }] : [],
      });
      return;
    }
    showState(stateBox, undefined);
    caption.textContent = `${insights.length} insight${insights.length === 1 ? '' : 's'} ${where}${open ? `, ${open} still open` : ''}${nextToken ? ' (more to load)' : ''}, newest first.`;
    figure.hidden = false;
    drawTimeline(q);
    table.append(...insights.map((insight, n) => insightBody(insight, n)));
    table.hidden = false;
  }

  // ── the timeline ──────────────────────────────────────────────────────────────────────

  function drawTimeline(q: Query): void {
    const width = Math.max(area.clientWidth, 300);
    drawnWidth = width;
    const startMs = q.window.startMs;
    const endMs = Math.max(q.window.endMs, readAt);
    const labelWidth = width < 480 ? 120 : LABEL_WIDTH;
    const plot = Math.max(width - labelWidth - 12, 60);
    const x = (ms: number): number => labelWidth + ((Math.min(Math.max(ms, startMs), endMs) - startMs) / Math.max(endMs - startMs, 1)) * plot;
    const height = INSIGHT_TYPES.length * LANE_HEIGHT + AXIS_HEIGHT;
    const svg = s('svg', {
      class: 'timeline',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'group',
      'aria-label': `Timeline of ${insights.length} insight${insights.length === 1 ? '' : 's'} from ${formatLocalMinute(startMs)} to ${formatLocalMinute(endMs)}, one lane per type`,
    });
    INSIGHT_TYPES.forEach(({ type, label, sentence }, lane) => {
      const y = lane * LANE_HEIGHT;
      const count = counts.get(type) ?? 0;
      const laneGroup = s('g', { class: 'lane', 'data-type': type });
      laneGroup.append(
        s('rect', { class: lane % 2 === 0 ? 'lane-bg even' : 'lane-bg', x: 0, y, width, height: LANE_HEIGHT }),
        s('text', { class: 'lane-label', x: 6, y: y + LANE_HEIGHT / 2 + 4 }, s('title', {}, `${type}: ${sentence}`), `${label} (${count})`),
      );
      for (const insight of insights.filter((i) => i.type === type)) {
        const x1 = x(insight.startMs);
        const x2 = Math.max(x(insight.endMs ?? readAt), x1 + MIN_BAR);
        const name = `${insight.type} ${insight.object}, ${formatLocal(insight.startMs)} to ${insight.endMs === undefined ? 'now (open)' : formatLocal(insight.endMs)}`;
        const bar = s(
          'g',
          { class: insight.endMs === undefined ? 'insight-bar open' : 'insight-bar', role: 'button', tabindex: 0, 'aria-label': `Show ${name}`, 'data-insight': insight.id },
          s('title', {}, name),
          s('rect', { x: x1, y: y + 6, width: x2 - x1, height: LANE_HEIGHT - 12, rx: 3 }),
        );
        laneGroup.append(bar);
      }
      svg.append(laneGroup);
    });
    // the axis: the range's ends
    const axisY = INSIGHT_TYPES.length * LANE_HEIGHT;
    svg.append(
      s('line', { class: 'grid', x1: labelWidth, x2: labelWidth + plot, y1: axisY, y2: axisY }),
      s('text', { class: 'axis', x: labelWidth, y: axisY + 16 }, formatLocalMinute(startMs)),
      s('text', { class: 'axis', x: labelWidth + plot, y: axisY + 16, 'text-anchor': 'end' }, formatLocalMinute(endMs)),
    );
    area.replaceChildren(svg);
  }

  function openFromBar(bar: Element): void {
    const id = bar.getAttribute('data-insight');
    const body = [...table.tBodies].find((b) => b.dataset['insight'] === id);
    if (!body) return;
    const button = body.querySelector<HTMLButtonElement>('button.expand');
    if (button?.getAttribute('aria-expanded') !== 'true') toggle(body);
    body.scrollIntoView({ block: 'nearest' });
    button?.focus();
  }

  area.addEventListener('click', (e) => {
    const bar = e.target instanceof Element ? e.target.closest('.insight-bar') : null;
    if (bar) openFromBar(bar);
  });
  area.addEventListener('keydown', (e) => {
    const bar = e.target instanceof Element ? e.target.closest('.insight-bar') : null;
    if (!bar || (e.key !== 'Enter' && e.key !== ' ')) return;
    e.preventDefault();
    openFromBar(bar);
  });
  new ResizeObserver(() => {
    if (query && !figure.hidden && Math.abs(area.clientWidth - drawnWidth) > 8) drawTimeline(query);
  }).observe(area);

  // ── the list ──────────────────────────────────────────────────────────────────────────

  function stateText(insight: Insight): string {
    if (insight.endMs === undefined) return 'Open';
    return `Closed after ${formatMinutes(Math.round((insight.endMs - insight.startMs) / 60_000))}`;
  }

  function insightBody(insight: Insight, n: number): HTMLTableSectionElement {
    const detailId = `insight-detail-${n}`;
    const count = at(insight.context, 'statistics', 'insightCount');
    const toggleButton = h(
      'button',
      { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId, 'aria-label': `Details of ${insight.type} ${insight.object}, ${formatLocal(insight.startMs)}` },
      h('span', { class: 'chevron', 'aria-hidden': 'true' }),
      timeElement(insight.startMs),
    );
    const body = h(
      'tbody',
      { class: 'insight', role: 'rowgroup', 'data-insight': insight.id },
      h(
        'tr',
        { class: 'insight-row', role: 'row' },
        h('td', { role: 'cell', 'data-label': 'Start' }, toggleButton),
        h('td', { role: 'cell', 'data-label': 'Type' }, insightTypeLabel(insight.type), h('div', { class: 'muted small' }, insight.type)),
        h('td', { role: 'cell', 'data-label': 'Object', class: 'wrap' }, insight.object || '—'),
        h('td', { role: 'cell', 'data-label': 'State' }, h('span', { class: insight.endMs === undefined ? 'badge status-disable' : 'badge status-fresh' }, stateText(insight))),
        h('td', { role: 'cell', 'data-label': 'Calls', class: 'num' }, typeof count === 'number' ? String(count) : '—'),
      ),
      h('tr', { class: 'insight-detail', role: 'row', id: detailId, hidden: true }, h('td', { role: 'cell', colspan: 5 })),
    );
    return body;
  }

  function details(insight: Insight): HTMLElement {
    const stats = at(insight.context, 'statistics');
    const minutes = (key: string): string => {
      const v = at(stats, key);
      return typeof v === 'number' ? formatMinutes(v) : '—';
    };
    const count = at(stats, 'insightCount');
    const statistics: [string, string | Node][] = [
      ['Insight value', formatRate(at(stats, 'insight'))],
      ['Baseline', formatRate(at(stats, 'baseline'))],
      ['Insight duration', minutes('insightDuration')],
      ['Baseline duration', minutes('baselineDuration')],
      ['Calls in the insight', typeof count === 'number' ? String(count) : '—'],
      ['Start', timeElement(insight.startMs)],
      ['End', insight.endMs === undefined ? 'still open' : timeElement(insight.endMs)],
      ['Region', insight.region || '—'],
    ];
    const groups = ATTRIBUTIONS.map(([dimension, label]) => {
      const list = attributions(insight.context, dimension);
      return h(
        'div',
        { class: 'attribution', 'data-dimension': dimension },
        h('h4', {}, label),
        list.length === 0
          ? h('p', { class: 'muted small' }, 'none')
          : h('ol', {}, ...list.map(([value, n]) => h('li', {}, h('span', { class: 'wrap' }, value), ' ', h('span', { class: 'muted' }, `× ${n}`)))),
      );
    });
    const filter = insightFilter(insight.type, insight.object);
    const range = insightRange(insight, readAt || ctx.api().now());
    const change = { tab: 'events' as const, range: 'custom' as const, from: range.from, to: range.to, filterKey: filter?.filterKey, filterValue: filter?.filterValue, event: undefined };
    const base = query?.state;
    const link = h(
      'a',
      { class: 'button-link', href: formatHash({ pageSize: base?.pageSize ?? 20, ...change }) },
      filter ? `Show events (${filter.filterKey === 'EventName' ? 'Event Name' : filter.filterKey === 'EventAccessKeyId' ? 'AccessKey ID' : 'Source IP'} ${filter.filterValue})` : 'Show events of its window',
    );
    link.addEventListener('click', (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab or window: the href does it
      e.preventDefault();
      ctx.search(change);
    });
    return h(
      'div',
      { class: 'insight-details' },
      h('p', { class: 'muted small' }, INSIGHT_TYPES.find((t) => t.type === insight.type)?.sentence ?? ''),
      h('h4', {}, 'Statistics'),
      h('dl', { class: 'details' }, ...statistics.map(([dt, dd]) => h('div', {}, h('dt', {}, dt), h('dd', {}, dd)))),
      h('div', { class: 'attributions' }, ...groups),
      h('div', { class: 'actions' }, link),
    );
  }

  function toggle(body: HTMLTableSectionElement): void {
    const button = body.querySelector('button.expand');
    const detail = body.querySelector('tr.insight-detail');
    const cell = detail?.firstElementChild;
    const insight = insights.find((i) => i.id === body.dataset['insight']);
    if (!button || !(detail instanceof HTMLElement) || !cell || !insight) return;
    const open = button.getAttribute('aria-expanded') !== 'true';
    button.setAttribute('aria-expanded', String(open));
    body.classList.toggle('open', open);
    if (open && cell.childElementCount === 0) cell.append(details(insight));
    detail.hidden = !open;
  }

  table.addEventListener('click', (e) => {
    if (!(e.target instanceof Element) || e.target.closest('a, .insight-detail')) return;
    const body = e.target.closest('tbody.insight');
    if (body instanceof HTMLTableSectionElement && (e.target.closest('button.expand') || e.target.closest('tr.insight-row'))) toggle(body);
  });

  more.addEventListener('click', () => {
    if (query) void run(query, false);
  });

  return {
    get query() {
      return query;
    },
    load(q: Query) {
      controller?.abort();
      controller = new AbortController();
      query = q;
      events = [];
      counts = new Map();
      nextToken = undefined;
      insights = [];
      void run(q, true);
    },
    clear() {
      controller?.abort();
      controller = undefined;
      query = undefined;
      events = [];
      insights = [];
      for (const body of [...table.tBodies]) body.remove();
      table.hidden = true;
      figure.hidden = true;
      area.replaceChildren();
      caption.textContent = '';
      more.hidden = true;
      showState(stateBox, undefined);
    },
  };
}
