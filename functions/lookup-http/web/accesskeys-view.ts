/**
 * AccessKeys: the account's keys with their last use (ListAccessKeyLastUsed, flagging keys unused
 * for 90 days and root keys) to pick from, or a pasted AccessKey ID; a key shows its last use
 * (GetAccessKeyLastUsedInfo) and the products, events, source IPs and resources it was used for
 * (GetAccessKeyLastUsedProducts/Events/Ips/Resources, the paged ones with "Load more"). A key
 * with no recorded use in this account says so plainly.
 */
import { ApiError, isJsonObject, type JsonObject } from './api.ts';
import type { ConsoleContext, LazyView } from './context.ts';
import { byId, h, isAbort, showState, timeElement } from './dom.ts';
import { describeError, formatUser, text } from './format.ts';
import { useDetail } from './insight-format.ts';

/** Rows per page of the paged lists (the API allows 1–100). */
const LIST_PAGE_SIZE = 20;
const MAX_KEY_CHARS = 128;

interface ListSpec {
  action: string;
  field: string;
  title: string;
  columns: [heading: string, cell: (entry: JsonObject) => string | Node][];
  paged: boolean;
}

const usedCell = (entry: JsonObject): Node | string => {
  const ms = Number(entry['UsedTimestamp']);
  return Number.isFinite(ms) && ms > 0 ? timeElement(ms) : '—';
};

const LISTS: ListSpec[] = [
  { action: 'GetAccessKeyLastUsedProducts', field: 'Products', title: 'Products', paged: false, columns: [['Service', (e) => text(e, 'ServiceName') ?? '—'], ['Last used', usedCell]] },
  {
    action: 'GetAccessKeyLastUsedEvents',
    field: 'Events',
    title: 'Events',
    paged: true,
    columns: [['Event Name', (e) => text(e, 'EventName') ?? '—'], ['Service', (e) => text(e, 'ServiceName') ?? '—'], ['Last used', usedCell]],
  },
  {
    action: 'GetAccessKeyLastUsedIps',
    field: 'Ips',
    title: 'Source IPs',
    paged: true,
    columns: [['Source IP', (e) => text(e, 'Ip') ?? '—'], ['Service', (e) => text(e, 'ServiceName') ?? '—'], ['Last used', usedCell]],
  },
  {
    action: 'GetAccessKeyLastUsedResources',
    field: 'Resources',
    title: 'Resources',
    paged: true,
    columns: [['Resource Type', (e) => text(e, 'ResourceType') ?? '—'], ['Resource Name', (e) => text(e, 'ResourceName') ?? '—'], ['Service', (e) => text(e, 'ServiceName') ?? '—'], ['Last used', usedCell]],
  },
];

export type AccessKeysView = LazyView;

export function createAccessKeysView(ctx: ConsoleContext): AccessKeysView {
  const panel = byId('panel-accesskeys', HTMLElement);
  const stateBox = byId('accesskeys-state', HTMLDivElement);
  const table = byId('accesskeys-table', HTMLTableElement);
  const tbody = byId('accesskeys-body', HTMLTableSectionElement);
  const form = byId('ak-form', HTMLFormElement);
  const input = byId('ak-input', HTMLInputElement);
  const detail = byId('ak-detail', HTMLElement);
  const detailTitle = byId('ak-detail-title', HTMLHeadingElement);
  const detailState = byId('ak-state', HTMLDivElement);
  const detailBody = byId('ak-body', HTMLDivElement);

  let loaded = false;
  /** The key list's requests. */
  let listController: AbortController | undefined;
  /** The shown key's requests: a new key (or signing out) aborts them. */
  let keyController: AbortController | undefined;
  let shown: string | undefined;

  const signInOrRetry = (problem: ReturnType<typeof describeError>, retry: () => void) => [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: retry }];

  // ── the account's keys ────────────────────────────────────────────────────────────────

  function keyRow(k: JsonObject): HTMLTableRowElement {
    const id = text(k, 'AccessKeyId') ?? '';
    const used = Number(k['UsedTimestamp']);
    const notes: Node[] = [];
    if (k['RootAccessKey'] === true) notes.push(h('span', { class: 'badge status-disable' }, 'Root key'));
    if (k['UnusedFor90Days'] === true) notes.push(h('span', { class: 'badge warn' }, Number.isFinite(used) ? 'Unused for 90+ days' : 'Never used'));
    const status = text(k, 'Status') ?? '—';
    return h(
      'tr',
      { role: 'row', 'data-key': id },
      h(
        'th',
        { role: 'rowheader', scope: 'row', 'data-label': 'AccessKey ID' },
        h('button', { type: 'button', class: 'window-link', 'data-key': id, 'aria-label': `Show the use of ${id}` }, id),
      ),
      h('td', { role: 'cell', 'data-label': 'Status' }, h('span', { class: `badge status-${status === 'Active' ? 'enable' : 'fresh'}` }, status)),
      h('td', { role: 'cell', 'data-label': 'Last used' }, Number.isFinite(used) && used > 0 ? timeElement(used) : h('span', { class: 'muted' }, 'never')),
      h('td', { role: 'cell', 'data-label': 'Service' }, text(k, 'ServiceName') ?? '—'),
      h('td', { role: 'cell', 'data-label': 'User', class: 'wrap' }, text(k, 'UserName') ? formatUser(text(k, 'UserName'), text(k, 'AccountType')) : '—'),
      h('td', { role: 'cell', 'data-label': 'Notes' }, notes.length ? h('div', { class: 'actions tight' }, ...notes) : '—'),
    );
  }

  async function loadKeys(): Promise<void> {
    listController?.abort();
    const c = new AbortController();
    listController = c;
    panel.setAttribute('aria-busy', 'true');
    if (tbody.childElementCount === 0) showState(stateBox, { kind: 'loading', message: 'Loading the account’s AccessKeys…' });
    try {
      const answer = await ctx.api().call('ListAccessKeyLastUsed', {}, c.signal);
      if (listController !== c) return;
      loaded = true;
      const keys = Array.isArray(answer['AccessKeys']) ? answer['AccessKeys'].filter(isJsonObject) : [];
      tbody.replaceChildren(...keys.map(keyRow));
      table.hidden = keys.length === 0;
      showState(stateBox, keys.length === 0 ? { kind: 'empty', message: 'This account has no AccessKeys in the account store. Paste a key id above to see its recorded use.' } : undefined);
    } catch (error) {
      if (isAbort(error) || listController !== c) return;
      const problem = describeError(error);
      showState(stateBox, { kind: 'error', message: problem.message, detail: problem.detail, actions: signInOrRetry(problem, () => void loadKeys()) });
    } finally {
      if (listController === c) panel.setAttribute('aria-busy', 'false');
    }
  }

  // ── one key ───────────────────────────────────────────────────────────────────────────

  function infoList(info: JsonObject): HTMLElement {
    const d = useDetail(info['Detail']);
    const used = Number(info['UsedTimestamp']);
    const rows: [string, string | Node][] = [
      ['Last used', Number.isFinite(used) ? timeElement(used) : '—'],
      ['User', formatUser(text(info, 'UserName'), text(info, 'AccountType'))],
      ['Account type', text(info, 'AccountType') ?? '—'],
      ['Owner ID', text(info, 'OwnerId') ?? '—'],
      ['Account', text(info, 'AccountId') ?? '—'],
      ['Service', text(info, 'ServiceName') ?? '—'],
      ['Event Name', text(d, 'eventName') ?? '—'],
      ['Source IP', text(d, 'sourceIpAddress') ?? '—'],
      ['Region', text(d, 'acsRegion') ?? '—'],
      ['Event ID', text(d, 'eventId') ?? '—'],
      ['Source', text(info, 'Source') ?? '—'],
    ];
    return h('dl', { class: 'details ak-info' }, ...rows.map(([dt, dd]) => h('div', {}, h('dt', {}, dt), h('dd', {}, dd))));
  }

  function listSection(spec: ListSpec, accessKey: string, signal: AbortSignal): HTMLElement {
    const titleId = `ak-list-${spec.field.toLowerCase()}`;
    const body = h('tbody', { role: 'rowgroup' });
    const list = h(
      'table',
      { class: 'ak-list', role: 'table', 'aria-labelledby': titleId, 'data-list': spec.field, hidden: true },
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, ...spec.columns.map(([heading]) => h('th', { scope: 'col', role: 'columnheader' }, heading)))),
      body,
    );
    const state = h('div', { class: 'state', role: 'status', hidden: true });
    const more = h('button', { type: 'button', class: 'secondary', hidden: true }, `Load more ${spec.title.toLowerCase()}`);
    const section = h('section', { class: 'ak-section', 'aria-labelledby': titleId }, h('h4', { id: titleId }, spec.title), state, h('div', { class: 'table-wrap' }, list), h('div', { class: 'pager' }, more));
    let token: string | undefined;
    let rows = 0;
    const fetchPage = async (): Promise<void> => {
      more.disabled = true;
      if (rows === 0) showState(state, { kind: 'loading', message: `Loading ${spec.title.toLowerCase()}…` });
      try {
        const params: Record<string, string> = { AccessKey: accessKey };
        if (spec.paged) params['PageSize'] = String(LIST_PAGE_SIZE);
        if (token) params['NextToken'] = token;
        const answer = await ctx.api().call(spec.action, params, signal);
        if (shown !== accessKey || signal.aborted) return;
        const entries = Array.isArray(answer[spec.field]) ? (answer[spec.field] as unknown[]).filter(isJsonObject) : [];
        rows += entries.length;
        body.append(...entries.map((e) => h('tr', { role: 'row' }, ...spec.columns.map(([heading, cell]) => h('td', { role: 'cell', 'data-label': heading, class: 'wrap' }, cell(e))))));
        const next = answer['NextToken'];
        token = typeof next === 'string' && next !== '' ? next : undefined;
        more.hidden = !token;
        list.hidden = rows === 0;
        showState(state, rows === 0 ? { kind: 'empty', message: `No ${spec.title.toLowerCase()} recorded.` } : undefined);
      } catch (error) {
        if (isAbort(error) || shown !== accessKey) return;
        const problem = describeError(error);
        showState(state, { kind: 'error', message: problem.message, detail: problem.detail, actions: signInOrRetry(problem, () => void fetchPage()) });
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener('click', () => void fetchPage());
    void fetchPage();
    return section;
  }

  async function showKey(accessKey: string): Promise<void> {
    keyController?.abort();
    const c = new AbortController();
    keyController = c;
    shown = accessKey;
    input.value = accessKey;
    for (const row of tbody.rows) row.classList.toggle('selected', row.dataset['key'] === accessKey);
    detail.hidden = false;
    detailTitle.textContent = `AccessKey ${accessKey}`;
    detailBody.replaceChildren();
    detail.setAttribute('aria-busy', 'true');
    showState(detailState, { kind: 'loading', message: `Loading the use of ${accessKey}…` });
    try {
      const info = await ctx.api().call('GetAccessKeyLastUsedInfo', { AccessKey: accessKey }, c.signal);
      if (keyController !== c) return;
      showState(detailState, undefined);
      detailBody.replaceChildren(h('h4', {}, 'Last use'), infoList(info), ...LISTS.map((spec) => listSection(spec, accessKey, c.signal)));
      ctx.announce(`AccessKey ${accessKey}: last used ${detailBody.querySelector('time')?.textContent ?? ''}.`);
    } catch (error) {
      if (isAbort(error) || keyController !== c) return;
      if (error instanceof ApiError && (error.code === 'AccessKeyNotFound' || error.status === 404)) {
        showState(detailState, {
          kind: 'empty',
          message: `AccessKey ${accessKey} has no recorded use in this account in the last 400 days: it was never used, does not exist, or belongs to another account.`,
          detail: error.requestId ? `RequestId ${error.requestId}` : undefined,
        });
        return;
      }
      const problem = describeError(error);
      showState(detailState, { kind: 'error', message: problem.message, detail: problem.detail, actions: signInOrRetry(problem, () => void showKey(accessKey)) });
    } finally {
      if (keyController === c) detail.setAttribute('aria-busy', 'false');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (value === '' || value.length > MAX_KEY_CHARS || !/^[\x21-\x7e]+$/.test(value)) {
      detail.hidden = false;
      detailTitle.textContent = 'AccessKey';
      detailBody.replaceChildren();
      showState(detailState, { kind: 'error', message: value === '' ? 'Paste an AccessKey ID, or pick a key from the list.' : `An AccessKey ID is 1–${MAX_KEY_CHARS} printable characters without spaces.` });
      input.focus();
      return;
    }
    void showKey(value);
  });
  tbody.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button[data-key]') : null;
    const id = button?.getAttribute('data-key');
    if (!id) return;
    void showKey(id).then(() => {
      if (shown === id) detail.focus();
    });
  });
  byId('accesskeys-refresh', HTMLButtonElement).addEventListener('click', () => {
    void loadKeys();
    if (shown) void showKey(shown);
  });

  return {
    get loaded() {
      return loaded;
    },
    load: () => void loadKeys(),
    clear() {
      listController?.abort();
      keyController?.abort();
      listController = undefined;
      keyController = undefined;
      loaded = false;
      shown = undefined;
      input.value = '';
      tbody.replaceChildren();
      table.hidden = true;
      detail.hidden = true;
      detailBody.replaceChildren();
      showState(stateBox, undefined);
      showState(detailState, undefined);
    },
  };
}
