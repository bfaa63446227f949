/**
 * Event history: LookupEvents for the query, one page at a time (NextToken), rows that expand
 * to the event's details, open its JSON and copy a link to it. Only the current page is in the
 * DOM; pages already seen are kept, and the next one is fetched while the current one is read,
 * so paging forward through thousands of events does not wait on the network. A link to one
 * event shows that event alone (GetEvent), expanded, with a way back to the list.
 */
import { ApiError, isJsonObject, type JsonObject } from './api.ts';
import type { ConsoleContext, Query } from './context.ts';
import { byId, h, isAbort, showState, timeElement } from './dom.ts';
import { toggleEventRow } from './event-row.ts';
import { describeError, eventResources, eventTimeMs, eventUser, formatLocal, text, zoneLabel } from './format.ts';
import { describeQuery, lookupParams, widerPreset, PRESETS } from './query.ts';

interface Page {
  events: JsonObject[];
  nextToken?: string;
}

export interface EventsView {
  load(query: Query): void;
  /** The query on screen, if any (none while one event is shown). */
  readonly query: Query | undefined;
  /** Shows one event by its id (GetEvent) instead of a list. */
  showEvent(eventId: string): void;
  /** The id of the event shown alone, if one is. */
  readonly event: string | undefined;
  clear(): void;
}

export function createEventsView(ctx: ConsoleContext): EventsView {
  const panel = byId('panel-events', HTMLElement);
  const table = byId('events-table', HTMLTableElement);
  const stateBox = byId('events-state', HTMLDivElement);
  const caption = byId('events-caption', HTMLParagraphElement);
  const prev = byId('page-prev', HTMLButtonElement);
  const next = byId('page-next', HTMLButtonElement);
  const pageLabel = byId('page-label', HTMLSpanElement);
  const pager = byId('events-pager', HTMLElement);
  const back = byId('events-back', HTMLButtonElement);
  byId('events-zone', HTMLSpanElement).textContent = `(${zoneLabel(Date.now())})`;

  let query: Query | undefined;
  let controller: AbortController | undefined;
  /** Pages of the current query, fetched or being fetched. */
  let pages: (Promise<Page> | undefined)[] = [];
  /** Events on each page fetched (the numbering of later pages sums them). */
  let lengths: number[] = [];
  let index = 0;
  /** The event shown alone (a link to it), instead of the query's list. */
  let single: string | undefined;
  const eventOf = new WeakMap<Element, JsonObject>();

  function fetchPage(i: number, q: Query, signal: AbortSignal): Promise<Page> {
    const cached = pages[i];
    if (cached) return cached;
    const page = (async (): Promise<Page> => {
      const before = i === 0 ? undefined : await fetchPage(i - 1, q, signal);
      // Past the last page there is nothing: never a request without NextToken, which is page 1 again.
      if (i > 0 && !before?.nextToken) return { events: [] };
      const params: Record<string, string> = { ...lookupParams(q.state, q.window), MaxResults: String(q.state.pageSize) };
      if (before?.nextToken) params['NextToken'] = before.nextToken;
      const answer = await ctx.api().call('LookupEvents', params, signal);
      const events = Array.isArray(answer['Events']) ? answer['Events'].filter(isJsonObject) : [];
      if (query === q) lengths[i] = events.length;
      const token = answer['NextToken'];
      return typeof token === 'string' && token !== '' ? { events, nextToken: token } : { events };
    })();
    pages[i] = page;
    // A failed page is fetched again on the next attempt.
    page.catch(() => {
      if (pages[i] === page) pages[i] = undefined;
    });
    return page;
  }

  function setBusy(busy: boolean): void {
    panel.setAttribute('aria-busy', String(busy));
    prev.disabled = busy || index === 0;
    if (busy) next.disabled = true;
  }

  async function show(i: number): Promise<void> {
    const q = query;
    const signal = controller?.signal;
    if (!q || !signal || i < 0) return;
    setBusy(true);
    if (table.tBodies.length === 0) showState(stateBox, { kind: 'loading', message: 'Loading events…' });
    try {
      const page = await fetchPage(i, q, signal);
      if (query !== q) return;
      index = i;
      render(q, page);
      // Read ahead: the next page is usually what the reader asks for next.
      if (page.nextToken) fetchPage(i + 1, q, signal).catch(() => undefined);
    } catch (error) {
      if (isAbort(error) || query !== q) return;
      const problem = describeError(error);
      showState(stateBox, {
        kind: 'error',
        message: problem.message,
        detail: problem.detail,
        actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => void show(i) }],
      });
      next.disabled = true;
    } finally {
      if (query === q) {
        panel.setAttribute('aria-busy', 'false');
        prev.disabled = index === 0;
      }
    }
  }

  function render(q: Query, page: Page): void {
    for (const body of [...table.tBodies]) body.remove();
    const rows = document.createDocumentFragment();
    page.events.forEach((event, n) => rows.append(eventBody(event, n)));
    table.append(rows);
    table.hidden = page.events.length === 0;
    pageLabel.textContent = `Page ${index + 1}`;
    next.disabled = !page.nextToken;
    // Pages may be shorter than the page size: count what the earlier ones really held.
    const first = lengths.slice(0, index).reduce((sum, n) => sum + n, 0) + 1;
    const where = describeQuery(q.state, formatLocal);
    if (page.events.length > 0) {
      showState(stateBox, undefined);
      const count = page.events.length;
      caption.textContent =
        index === 0 && !page.nextToken
          ? `${count} event${count === 1 ? '' : 's'} ${where}, newest first.`
          : `Events ${first}–${first + count - 1} ${where}${page.nextToken ? '' : ' (the last page)'}, newest first.`;
    } else if (index > 0) {
      caption.textContent = '';
      showState(stateBox, { kind: 'empty', message: 'No more events: the previous page was the last.', actions: [{ label: 'Previous page', run: () => void show(index - 1) }] });
    } else {
      caption.textContent = '';
      const wider = widerPreset(q.state.range);
      const actions = [];
      if (wider) actions.push({ label: `Search ${PRESETS[wider].text}`, run: () => ctx.search({ range: wider }) });
      if (q.state.filterKey) actions.push({ label: 'Clear the filter', run: () => ctx.search({ filterKey: undefined, filterValue: undefined }) });
      showState(stateBox, { kind: 'empty', message: `No events ${where}. Widen the time range or change the filter.`, actions });
    }
  }

  /** One event by id, expanded; not found says why that may be. */
  async function showSingle(eventId: string, signal: AbortSignal): Promise<void> {
    panel.setAttribute('aria-busy', 'true');
    showState(stateBox, { kind: 'loading', message: `Loading event ${eventId}…` });
    const backAction = { label: 'Back to the event list', run: () => ctx.backToList() };
    try {
      const answer = await ctx.api().call('GetEvent', { EventId: eventId }, signal);
      if (single !== eventId) return;
      const event = answer['Event'];
      if (!isJsonObject(event)) throw new Error('GetEvent answered without an Event');
      for (const body of [...table.tBodies]) body.remove();
      const body = eventBody(event, 0);
      table.append(body);
      table.hidden = false;
      toggle(body, event);
      showState(stateBox, undefined);
    } catch (error) {
      if (isAbort(error) || single !== eventId) return;
      if (error instanceof ApiError && error.code === 'EventNotFound') {
        showState(stateBox, {
          kind: 'error',
          message: `Event ${eventId} was not found: it does not exist, is older than 90 days, or belongs to another account.`,
          detail: error.requestId ? `RequestId ${error.requestId}` : undefined,
          actions: [backAction],
        });
        return;
      }
      const problem = describeError(error);
      showState(stateBox, {
        kind: 'error',
        message: problem.message,
        detail: problem.detail,
        actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => void showSingle(eventId, signal) }, backAction],
      });
    } finally {
      if (single === eventId) panel.setAttribute('aria-busy', 'false');
    }
  }

  /** The list's controls, or the one event's (its caption and the way back). */
  function setMode(eventId: string | undefined): void {
    single = eventId;
    back.hidden = eventId === undefined;
    pager.hidden = eventId !== undefined;
  }

  async function copyLink(button: HTMLButtonElement): Promise<void> {
    const link = button.dataset['link'] ?? '';
    const status = button.parentElement?.querySelector('.copy-link-status');
    const copied = await ctx.copy(link);
    if (status) status.textContent = copied ? 'Link copied to the clipboard.' : `Copying is blocked here: select the link and press Ctrl+C. ${link}`;
  }

  function eventBody(event: JsonObject, n: number): HTMLTableSectionElement {
    const ms = eventTimeMs(event);
    const { types, names } = eventResources(event);
    const eventName = text(event, 'eventName') ?? '—';
    const detailId = `event-detail-${n}`;
    const toggle = h(
      'button',
      { type: 'button', class: 'expand', 'aria-expanded': 'false', 'aria-controls': detailId, 'aria-label': `Details of ${eventName}, ${Number.isNaN(ms) ? '' : formatLocal(ms)}` },
      h('span', { class: 'chevron', 'aria-hidden': 'true' }),
      timeElement(ms),
    );
    // Explicit roles: the phone layout makes the table's parts display:block, which drops them.
    const body = h(
      'tbody',
      { class: 'event', role: 'rowgroup' },
      h(
        'tr',
        { class: 'event-row', role: 'row' },
        h('td', { role: 'cell', 'data-label': 'Event Time' }, toggle),
        h('td', { role: 'cell', 'data-label': 'Username' }, eventUser(event)),
        h('td', { role: 'cell', 'data-label': 'Event Name' }, eventName),
        h('td', { role: 'cell', 'data-label': 'Resource Type' }, types.join(', ') || '—'),
        h('td', { role: 'cell', 'data-label': 'Resource Name', class: 'wrap' }, names.join(', ') || '—'),
      ),
      h('tr', { class: 'event-detail', role: 'row', id: detailId, hidden: true }, h('td', { role: 'cell', colspan: 5 })),
    );
    eventOf.set(body, event);
    return body;
  }

  function toggle(body: Element, event: JsonObject): void {
    toggleEventRow(body, event, () => {
      const eventId = text(event, 'eventId');
      return [
        h('button', { type: 'button', class: 'secondary', 'data-action': 'view' }, 'View event'),
        // The link is made when the row opens: the search on screen, to go back to from it.
        eventId !== undefined && h('button', { type: 'button', class: 'secondary', 'data-action': 'copy-link', 'data-link': ctx.eventLink(eventId), 'aria-label': `Copy link to event ${eventId}` }, 'Copy link'),
        eventId !== undefined && h('span', { class: 'copy-link-status muted small', 'aria-live': 'polite' }),
      ];
    });
  }


  table.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    const body = e.target.closest('tbody.event');
    const event = body ? eventOf.get(body) : undefined;
    if (!body || !event) return;
    const copy = e.target.closest('[data-action="copy-link"]');
    if (e.target.closest('[data-action="view"]')) {
      ctx.openEvent(event);
    } else if (copy instanceof HTMLButtonElement) {
      void copyLink(copy);
    } else if (e.target.closest('button.expand')) {
      toggle(body, event);
    } else if (e.target.closest('tr.event-row') && !window.getSelection()?.toString()) {
      toggle(body, event);
    }
  });
  back.addEventListener('click', () => ctx.backToList());
  prev.addEventListener('click', () => void show(index - 1));
  next.addEventListener('click', () => void show(index + 1));

  return {
    get query() {
      return query;
    },
    get event() {
      return single;
    },
    showEvent(eventId) {
      controller?.abort();
      controller = new AbortController();
      query = undefined;
      pages = [];
      lengths = [];
      index = 0;
      setMode(eventId);
      caption.textContent = `Event ${eventId}`;
      for (const body of [...table.tBodies]) body.remove();
      table.hidden = true;
      void showSingle(eventId, controller.signal);
    },
    load(q) {
      controller?.abort();
      controller = new AbortController();
      setMode(undefined);
      query = q;
      pages = [];
      lengths = [];
      index = 0;
      caption.textContent = '';
      for (const body of [...table.tBodies]) body.remove();
      table.hidden = true;
      void show(0);
    },
    clear() {
      controller?.abort();
      setMode(undefined);
      query = undefined;
      pages = [];
      lengths = [];
      for (const body of [...table.tBodies]) body.remove();
      table.hidden = true;
      caption.textContent = '';
      showState(stateBox, undefined);
    },
  };
}
