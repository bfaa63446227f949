/**
 * The Query tab: advanced query (RunAdvancedQuery, docs/design.md §3.13) over the time range of
 * the query form. An editor with examples and templates (built-in and saved) one click away; an
 * invalid query's error shown under the position it points at; a search's events in rows that
 * expand like Event history's, more pages on demand; a select's Columns and Rows in a table, with
 * a bar chart when the first column is a time bucket; save as template; the query history; export
 * of the whole result to NDJSON or CSV, fetched page by page.
 */
import { ApiError, isJsonObject, type Json, type JsonObject } from './api.ts';
import type { ConsoleContext, Query } from './context.ts';
import { byId, h, isAbort, s, showState, timeElement } from './dom.ts';
import { describeError, eventTimeMs, eventUser, niceMax, text } from './format.ts';
import { toggleEventRow } from './event-row.ts';
import { csvLine, EVENT_COLUMNS, eventRow, rowObject } from '../../../shared/query/export-format.ts';

export interface QueryView {
  /** The time range to query (the form's); a query already run runs again over it. */
  load(query: Query): void;
  readonly query: Query | undefined;
  clear(): void;
}

const EXAMPLES: readonly [label: string, sql: string][] = [
  ['Failed calls by AccessKey from outside 10.*', 'event.errorCode: Forbidden* and not event.sourceIpAddress: 10.* | select event.userIdentity.accessKeyId, count(*) as n group by 1 order by n desc'],
  ['Root account usage', 'event.userIdentity.type: "root-account" | select count(1)'],
  ['RAM user creation', '(event.serviceName: Ram or event.serviceName: Ims) and event.eventName: CreateUser'],
  ['Calls per hour', "* | select date_trunc('hour', event.eventTime) as hour, count(*) as calls group by hour order by hour"],
];
/** Events asked for per page on screen and while exporting. */
const PAGE = 50;
const EXPORT_PAGE = 100;
const TIME_BUCKET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const POSITION = /\(at position (\d+)\)$/;

function cellText(value: Json | undefined): string {
  if (value === null || value === undefined) return '∅';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Bars of a time-bucket select: first column the bucket, the first numeric column the height. */
function bucketChart(columns: readonly string[], rows: readonly (readonly Json[])[], width: number): SVGSVGElement | undefined {
  const valueColumn = columns.findIndex((_, i) => i > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  if (valueColumn < 0 || rows.length < 2 || !rows.every((r) => typeof r[0] === 'string' && TIME_BUCKET.test(r[0]))) return undefined;
  const height = 180;
  const margin = { left: 44, right: 8, top: 10, bottom: 24 };
  const plotWidth = Math.max(width - margin.left - margin.right, 40);
  const plotHeight = height - margin.top - margin.bottom;
  const values = rows.map((r) => (typeof r[valueColumn] === 'number' ? (r[valueColumn] as number) : 0));
  const max = niceMax(Math.max(0, ...values));
  const step = plotWidth / rows.length;
  const svg = s('svg', { class: 'bar-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${columns[valueColumn]} per ${columns[0]}, ${rows.length} buckets, highest ${Math.max(...values)}` });
  for (const v of [0, max]) {
    const y = margin.top + plotHeight - (v / max) * plotHeight;
    svg.append(s('line', { class: 'grid', x1: margin.left, x2: margin.left + plotWidth, y1: y, y2: y }), s('text', { class: 'axis', x: margin.left - 6, y: y + 4, 'text-anchor': 'end' }, String(v)));
  }
  rows.forEach((row, i) => {
    const v = values[i] ?? 0;
    const top = margin.top + plotHeight - (v / max) * plotHeight;
    svg.append(s('rect', { class: 'bar', x: margin.left + i * step + 1, y: top, width: Math.max(step - 2, 1), height: margin.top + plotHeight - top }, s('title', {}, `${String(row[0])}: ${v}`)));
  });
  const every = Math.max(1, Math.ceil(110 / step));
  for (let i = 0; i < rows.length; i += every) svg.append(s('text', { class: 'axis', x: margin.left + i * step, y: height - 6 }, String(rows[i]?.[0]).slice(5, 16).replace('T', ' ')));
  return svg;
}

export function createQueryView(ctx: ConsoleContext): QueryView {
  const panel = byId('panel-query', HTMLElement);
  const editor = byId('aq-editor', HTMLTextAreaElement);
  const form = byId('aq-form', HTMLFormElement);
  const errorBox = byId('aq-error', HTMLDivElement);
  const templates = byId('aq-template', HTMLSelectElement);
  const examples = byId('aq-examples', HTMLDivElement);
  const stateBox = byId('aq-state', HTMLDivElement);
  const caption = byId('aq-caption', HTMLParagraphElement);
  const chart = byId('aq-chart', HTMLElement);
  const table = byId('aq-table', HTMLTableElement);
  const more = byId('aq-more', HTMLButtonElement);
  const saveName = byId('aq-save-name', HTMLInputElement);
  const saveButton = byId('aq-save', HTMLButtonElement);
  const saveStatus = byId('aq-save-status', HTMLSpanElement);
  const historyList = byId('aq-history', HTMLOListElement);
  const historyBox = byId('aq-history-box', HTMLDetailsElement);

  let query: Query | undefined;
  let ran: string | undefined;
  let controller: AbortController | undefined;
  let nextToken: string | undefined;
  let shown = 0;
  const eventOf = new WeakMap<Element, JsonObject>();

  for (const [label, sql] of EXAMPLES) {
    const button = h('button', { type: 'button', class: 'secondary', title: sql }, label);
    button.addEventListener('click', () => {
      editor.value = sql;
      run();
    });
    examples.append(button);
  }

  function params(extra: Record<string, string> = {}): Record<string, string> {
    const q = query;
    return { QuerySql: editor.value.trim(), ...(q ? { StartTime: q.window.StartTime, EndTime: q.window.EndTime } : {}), ...extra };
  }

  function showQueryError(error: ApiError): void {
    const position = Number(POSITION.exec(error.message)?.[1] ?? NaN);
    const message = error.message.replace(POSITION, '').trim();
    errorBox.replaceChildren(h('p', {}, `${error.code}: ${message}`));
    if (Number.isInteger(position)) {
      // the line of the query holding the position, a caret under it
      const sql = ran ?? editor.value;
      const lineStart = sql.lastIndexOf('\n', position - 1) + 1;
      const lineEnd = sql.indexOf('\n', position);
      const line = sql.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
      errorBox.append(h('pre', { class: 'caret' }, `${line}\n${' '.repeat(Math.max(0, position - lineStart))}^`));
      editor.focus();
      editor.setSelectionRange(position, Math.min(position + 1, sql.length));
    }
    errorBox.hidden = false;
  }

  function clearResults(): void {
    for (const body of [...table.tBodies]) body.remove();
    table.tHead?.replaceChildren();
    table.hidden = true;
    chart.hidden = true;
    chart.replaceChildren();
    more.hidden = true;
    caption.textContent = '';
    shown = 0;
  }

  function eventBody(event: JsonObject, n: number): HTMLTableSectionElement {
    const ms = eventTimeMs(event);
    const eventName = text(event, 'eventName') ?? '—';
    const detailId = `aq-detail-${n}`;
    const body = h(
      'tbody',
      { class: 'event', role: 'rowgroup' },
      h(
        'tr',
        { class: 'event-row', role: 'row' },
        h('td', { role: 'cell', 'data-label': 'Event Time' }, h('button', { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId, 'aria-label': `Details of ${eventName}` }, h('span', { class: 'chevron', 'aria-hidden': 'true' }), timeElement(ms))),
        h('td', { role: 'cell', 'data-label': 'Username' }, eventUser(event)),
        h('td', { role: 'cell', 'data-label': 'Event Name' }, eventName),
        h('td', { role: 'cell', 'data-label': 'Source IP' }, text(event, 'sourceIpAddress') ?? '—'),
        h('td', { role: 'cell', 'data-label': 'Error Code' }, text(event, 'errorCode') ?? '—'),
      ),
      h('tr', { class: 'event-detail', role: 'row', id: detailId, hidden: true }, h('td', { role: 'cell', colspan: 5 })),
    );
    eventOf.set(body, event);
    return body;
  }

  function toggle(body: Element, event: JsonObject): void {
    toggleEventRow(body, event, () => [h('button', { type: 'button', class: 'secondary', 'data-action': 'view' }, 'View event')]);
  }


  function renderEvents(events: JsonObject[], append: boolean): void {
    if (!append) {
      table.tHead?.replaceChildren(h('tr', { role: 'row' }, ...['Event Time', 'Username', 'Event Name', 'Source IP', 'Error Code'].map((c) => h('th', { scope: 'col', role: 'columnheader' }, c))));
    }
    const rows = document.createDocumentFragment();
    events.forEach((event, i) => rows.append(eventBody(event, shown + i)));
    table.append(rows);
    shown += events.length;
    table.hidden = shown === 0;
    more.hidden = !nextToken;
    caption.textContent = shown === 0 ? '' : `${shown} event${shown === 1 ? '' : 's'}${nextToken ? ' so far' : ''}, newest first.`;
    if (shown === 0) showState(stateBox, { kind: nextToken ? 'loading' : 'empty', message: nextToken ? 'Nothing yet in the events read so far: Load more reads on.' : 'No events match this query in the time range.' });
    if (shown === 0 && nextToken) more.hidden = false;
  }

  function renderRows(columns: string[], rows: Json[][]): void {
    table.tHead?.replaceChildren(h('tr', { role: 'row' }, ...columns.map((c) => h('th', { scope: 'col', role: 'columnheader' }, c))));
    const body = h('tbody', { role: 'rowgroup' });
    for (const row of rows) body.append(h('tr', { role: 'row' }, ...columns.map((c, i) => h('td', { role: 'cell', 'data-label': c, class: typeof row[i] === 'number' ? 'num' : '' }, cellText(row[i])))));
    table.append(body);
    table.hidden = false;
    caption.textContent = `${rows.length} row${rows.length === 1 ? '' : 's'}.`;
    const svg = bucketChart(columns, rows, Math.max(320, panel.clientWidth - 32));
    if (svg) {
      chart.replaceChildren(h('figcaption', {}, `${columns.find((_, i) => i > 0) ?? ''} per ${columns[0] ?? ''}`), svg);
      chart.hidden = false;
    }
  }

  async function fetchPage(append: boolean): Promise<void> {
    const signal = controller?.signal;
    if (!signal) return;
    panel.setAttribute('aria-busy', 'true');
    if (!append) showState(stateBox, { kind: 'loading', message: 'Running the query…' });
    try {
      const answer = await ctx.api().call('RunAdvancedQuery', params({ MaxResults: String(PAGE), ...(append && nextToken ? { NextToken: nextToken } : {}) }), signal);
      if (signal.aborted) return;
      showState(stateBox, undefined);
      const token = answer['NextToken'];
      nextToken = typeof token === 'string' && token !== '' ? token : undefined;
      if (Array.isArray(answer['Columns'])) {
        const columns = answer['Columns'].map((c) => String(c));
        const rows = Array.isArray(answer['Rows']) ? answer['Rows'].filter((r): r is Json[] => Array.isArray(r)) : [];
        renderRows(columns, rows);
      } else {
        renderEvents(Array.isArray(answer['Events']) ? answer['Events'].filter(isJsonObject) : [], append);
      }
    } catch (error) {
      if (isAbort(error)) return;
      showState(stateBox, undefined);
      if (error instanceof ApiError && (error.code === 'InvalidQuery' || error.code === 'QueryTooLarge' || error.code === 'ArchiveQueryNotAvailable')) {
        showQueryError(error);
        return;
      }
      const problem = describeError(error);
      showState(stateBox, { kind: 'error', message: problem.message, detail: problem.detail, actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => run() }] });
    } finally {
      panel.setAttribute('aria-busy', 'false');
    }
  }

  function run(): void {
    const sql = editor.value.trim();
    errorBox.hidden = true;
    if (sql === '') {
      errorBox.replaceChildren(h('p', {}, 'Type a query, or pick an example or a template.'));
      errorBox.hidden = false;
      return;
    }
    controller?.abort();
    controller = new AbortController();
    ran = sql;
    nextToken = undefined;
    clearResults();
    void fetchPage(false).then(() => {
      // a query that ran is kept in the history (the newest first)
      if (errorBox.hidden) void ctx.api().call('CreateAdvancedQueryHistory', { QuerySql: sql }).then(() => (historyBox.open ? loadHistory() : undefined)).catch(() => undefined);
    });
  }

  async function loadTemplates(): Promise<void> {
    try {
      const answer = await ctx.api().call('DescribeAdvancedQueryTemplate');
      const list = Array.isArray(answer['QueryTemplates']) ? answer['QueryTemplates'].filter(isJsonObject) : [];
      const groups = new Map<string, HTMLOptGroupElement>([
        ['BuiltIn', h('optgroup', { label: 'Built-in' })],
        ['Custom', h('optgroup', { label: 'Saved' })],
      ]);
      for (const t of list) {
        groups.get(text(t, 'TemplateType') === 'BuiltIn' ? 'BuiltIn' : 'Custom')?.append(h('option', { value: text(t, 'TemplateSql') ?? '', title: text(t, 'TemplateSql') ?? '' }, text(t, 'TemplateName') || (text(t, 'TemplateId') ?? '')));
      }
      templates.replaceChildren(h('option', { value: '' }, 'Templates…'), ...[...groups.values()].filter((g) => g.childElementCount > 0));
    } catch {
      // the templates are a convenience: the editor works without them
    }
  }

  async function loadHistory(): Promise<void> {
    try {
      const answer = await ctx.api().call('DescribeAdvancedQueryHistory');
      const list = Array.isArray(answer['QueryHistoryList']) ? answer['QueryHistoryList'].filter(isJsonObject) : [];
      historyList.replaceChildren(
        ...list.map((entry) => {
          const sql = text(entry, 'QuerySql') ?? '';
          const use = h('button', { type: 'button', class: 'link', title: 'Put this query in the editor' }, sql);
          use.addEventListener('click', () => {
            editor.value = sql;
            editor.focus();
          });
          const remove = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Delete from the history: ${sql}` }, 'Delete');
          remove.addEventListener('click', () => void ctx.api().call('DeleteAdvancedQueryHistory', { QueryId: text(entry, 'QueryId') ?? '' }).then(() => loadHistory()));
          return h('li', {}, use, ' ', remove);
        }),
      );
      if (list.length === 0) historyList.append(h('li', { class: 'muted' }, 'No queries yet.'));
    } catch (error) {
      historyList.replaceChildren(h('li', { class: 'muted' }, describeError(error).message));
    }
  }

  /** Every page of the result, as NDJSON or CSV parts, then a download. */
  async function exportAs(kind: 'ndjson' | 'csv', button: HTMLButtonElement): Promise<void> {
    if (!ran) return;
    button.disabled = true;
    const parts: string[] = [];
    let token: string | undefined;
    let count = 0;
    try {
      do {
        const answer = await ctx.api().call('RunAdvancedQuery', { ...params({ MaxResults: String(EXPORT_PAGE) }), QuerySql: ran, ...(token ? { NextToken: token } : {}) });
        if (Array.isArray(answer['Columns'])) {
          const columns = answer['Columns'].map((c) => String(c));
          const rows = Array.isArray(answer['Rows']) ? answer['Rows'].filter((r): r is Json[] => Array.isArray(r)) : [];
          if (kind === 'csv') parts.push(csvLine(columns));
          for (const row of rows) parts.push(kind === 'csv' ? csvLine(row) : `${JSON.stringify(rowObject(columns, row))}\n`);
          count += rows.length;
          break;
        }
        if (kind === 'csv' && count === 0 && parts.length === 0) parts.push(csvLine(EVENT_COLUMNS.map(([name]) => name)));
        const events = Array.isArray(answer['Events']) ? answer['Events'].filter(isJsonObject) : [];
        for (const event of events) parts.push(kind === 'csv' ? csvLine(eventRow(event)) : `${JSON.stringify(event)}\n`);
        count += events.length;
        const next = answer['NextToken'];
        token = typeof next === 'string' && next !== '' ? next : undefined;
        button.textContent = `Exporting… ${count}`;
      } while (token);
      const url = URL.createObjectURL(new Blob(parts, { type: kind === 'csv' ? 'text/csv' : 'application/x-ndjson' }));
      const link = h('a', { href: url, download: `query-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.${kind}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      ctx.announce(`Exported ${count} ${kind === 'csv' ? 'rows' : 'lines'} to ${kind.toUpperCase()}.`);
    } catch (error) {
      ctx.announce(`Export failed: ${describeError(error).message}`);
    } finally {
      button.disabled = false;
      button.textContent = kind === 'csv' ? 'Export CSV' : 'Export NDJSON';
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  templates.addEventListener('change', () => {
    if (templates.value) {
      editor.value = templates.value;
      templates.value = '';
      editor.focus();
    }
  });
  more.addEventListener('click', () => void fetchPage(true));
  table.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    const body = e.target.closest('tbody.event');
    const event = body ? eventOf.get(body) : undefined;
    if (!body || !event) return;
    if (e.target.closest('[data-action="view"]')) ctx.openEvent(event);
    else if (e.target.closest('button.expand') || (e.target.closest('tr.event-row') && !window.getSelection()?.toString())) toggle(body, event);
  });
  saveButton.addEventListener('click', async () => {
    const sql = editor.value.trim();
    if (sql === '') return;
    try {
      await ctx.api().call('CreateAdvancedQueryTemplate', { TemplateSql: sql, TemplateName: saveName.value.trim().slice(0, 64) || sql.slice(0, 64) });
      saveStatus.textContent = 'Saved as a template.';
      saveName.value = '';
      void loadTemplates();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'InvalidQuery') showQueryError(error);
      saveStatus.textContent = `Not saved: ${describeError(error).message}`;
    }
  });
  historyBox.addEventListener('toggle', () => {
    if (historyBox.open) void loadHistory();
  });
  byId('aq-export-ndjson', HTMLButtonElement).addEventListener('click', (e) => void exportAs('ndjson', e.currentTarget as HTMLButtonElement));
  byId('aq-export-csv', HTMLButtonElement).addEventListener('click', (e) => void exportAs('csv', e.currentTarget as HTMLButtonElement));

  let templatesLoaded = false;
  return {
    get query() {
      return query;
    },
    load(q) {
      query = q;
      if (!templatesLoaded) {
        templatesLoaded = true;
        void loadTemplates();
      }
      if (ran !== undefined) run();
    },
    clear() {
      controller?.abort();
      query = undefined;
      ran = undefined;
      templatesLoaded = false;
      clearResults();
      errorBox.hidden = true;
      showState(stateBox, undefined);
      historyList.replaceChildren();
    },
  };
}
