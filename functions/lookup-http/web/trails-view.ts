/**
 * Trails: DescribeTrails (every home region, organization trails too) with each trail's
 * GetTrailStatus — the latest delivery to OSS and to Log Service on lines of their own — and
 * StartLogging / StopLogging buttons (Stop asks first) that refresh the trail's row.
 */
import { isJsonObject, type JsonObject } from './api.ts';
import type { ConsoleContext, LazyView } from './context.ts';
import { byId, h, isAbort, showState, timeElement } from './dom.ts';
import { describeError, text, TRAIL_STATUS_TEXT } from './format.ts';

interface TrailRow {
  trail: JsonObject;
  status: JsonObject | undefined;
  statusError?: string;
}

export type TrailsView = LazyView;

export function createTrailsView(ctx: ConsoleContext): TrailsView {
  const panel = byId('panel-trails', HTMLElement);
  const stateBox = byId('trails-state', HTMLDivElement);
  const table = byId('trails-table', HTMLTableElement);
  const tbody = byId('trails-body', HTMLTableSectionElement);
  const confirmDialog = byId('confirm-dialog', HTMLDialogElement);
  const confirmText = byId('confirm-text', HTMLParagraphElement);
  const confirmOk = byId('confirm-ok', HTMLButtonElement);
  const confirmCancel = byId('confirm-cancel', HTMLButtonElement);
  /** The view's requests: aborted by a reload and by signing out. */
  let controller: AbortController | undefined;
  let loaded = false;

  /** Still the view's current work (no reload, no sign-out since `c` began)? */
  const current = (c: AbortController): boolean => controller === c && !c.signal.aborted;

  /** Asks before stopping a trail (an accessible modal dialog; Cancel has the focus). */
  function confirmStop(name: string, destinations: string): Promise<boolean> {
    confirmText.textContent = `Trail ${name} will stop delivering events${destinations ? ` (to ${destinations})` : ''} until it is started again. Event history keeps recording.`;
    confirmOk.setAttribute('aria-label', `Stop logging ${name}`);
    return new Promise((resolve) => {
      const listeners = new AbortController();
      const done = (ok: boolean): void => {
        listeners.abort();
        if (confirmDialog.open) confirmDialog.close();
        resolve(ok);
      };
      confirmOk.addEventListener('click', () => done(true), { signal: listeners.signal });
      confirmCancel.addEventListener('click', () => done(false), { signal: listeners.signal });
      // Escape, or the dialog closed by signing out.
      confirmDialog.addEventListener('close', () => done(false), { signal: listeners.signal });
      confirmDialog.showModal();
      confirmCancel.focus();
    });
  }

  async function describe(signal: AbortSignal, name?: string): Promise<TrailRow[]> {
    const params: Record<string, string> = { IncludeShadowTrails: 'true', IncludeOrganizationTrail: 'true' };
    if (name) params['NameList'] = name;
    const answer = await ctx.api().call('DescribeTrails', params, signal);
    const trails = Array.isArray(answer['TrailList']) ? answer['TrailList'].filter(isJsonObject) : [];
    return Promise.all(
      trails.map(async (trail): Promise<TrailRow> => {
        try {
          const status = await ctx.api().call('GetTrailStatus', { Name: text(trail, 'Name') ?? '', IsOrganizationTrail: String(trail['IsOrganizationTrail'] === true) }, signal);
          return { trail, status };
        } catch (error) {
          if (isAbort(error)) throw error;
          return { trail, status: undefined, statusError: describeError(error).message };
        }
      }),
    );
  }

  function destination(trail: JsonObject): string {
    const parts: string[] = [];
    const bucket = text(trail, 'OssBucketName');
    if (bucket) parts.push(`OSS ${bucket}${text(trail, 'OssKeyPrefix') ? `/${text(trail, 'OssKeyPrefix')}` : ''}`);
    const sls = text(trail, 'SlsProjectArn');
    if (sls) parts.push(`Log Service ${sls.split(':').pop()?.replace(/^project\//, '') ?? sls}`);
    return parts.join(' · ') || '—';
  }

  /** One destination's latest delivery: "OSS: <time>", or nothing yet, and its error if any. */
  function deliveryLine(label: string, time: string | undefined, error: string | undefined): HTMLElement {
    return h(
      'div',
      { class: 'delivery-line' },
      h('span', { class: 'delivery-label' }, `${label}: `),
      time ? timeElement(Date.parse(time)) : h('span', { class: 'muted' }, 'nothing delivered yet'),
      error ? h('span', { class: 'error-text' }, `Error: ${error}`) : null,
    );
  }

  function delivery(row: TrailRow): HTMLElement {
    const cell = h('div', { class: 'delivery' });
    if (row.statusError) {
      cell.append(h('span', { class: 'error-text' }, row.statusError));
      return cell;
    }
    const { trail, status } = row;
    const oss = [text(status, 'LatestDeliveryTime'), text(status, 'LatestDeliveryError')] as const;
    const sls = [text(status, 'LatestDeliveryLogServiceTime'), text(status, 'LatestDeliveryLogServiceError')] as const;
    const toOss = text(trail, 'OssBucketName') !== undefined || oss.some(Boolean);
    const toSls = text(trail, 'SlsProjectArn') !== undefined || sls.some(Boolean);
    if (toOss) cell.append(deliveryLine('OSS', ...oss));
    if (toSls) cell.append(deliveryLine('Log Service', ...sls));
    if (!toOss && !toSls) cell.append(h('span', { class: 'muted' }, 'No destination'));
    return cell;
  }

  function rowOf(row: TrailRow): HTMLTableRowElement {
    const { trail } = row;
    const name = text(trail, 'Name') ?? '';
    const status = text(trail, 'Status') ?? 'Fresh';
    const enabled = status === 'Enable';
    const start = h('button', { type: 'button', class: 'secondary', 'data-action': 'StartLogging', 'data-name': name, 'aria-label': `Start logging ${name}`, disabled: enabled }, 'Start logging');
    const stop = h('button', { type: 'button', class: 'secondary danger', 'data-action': 'StopLogging', 'data-name': name, 'aria-label': `Stop logging ${name}`, disabled: !enabled }, 'Stop logging');
    const since = enabled ? text(row.status, 'StartLoggingTime') : text(row.status, 'StopLoggingTime');
    // Explicit roles: the phone layout makes the table's parts display:block, which drops them.
    return h(
      'tr',
      { role: 'row', 'data-trail': name },
      h('th', { role: 'rowheader', scope: 'row', 'data-label': 'Name' }, name, trail['IsOrganizationTrail'] === true ? h('span', { class: 'tag' }, 'Organization') : null),
      h(
        'td',
        { role: 'cell', 'data-label': 'Status' },
        h('span', { class: `badge status-${status.toLowerCase()}` }, status),
        ' ',
        h('span', { class: 'muted small' }, TRAIL_STATUS_TEXT[status] ?? ''),
        since ? h('div', { class: 'muted small' }, 'since ', timeElement(Date.parse(since))) : null,
      ),
      h('td', { role: 'cell', 'data-label': 'Events' }, text(trail, 'EventRW') ?? '—'),
      h('td', { role: 'cell', 'data-label': 'Regions' }, text(trail, 'TrailRegion') ?? '—', h('div', { class: 'muted small' }, `home ${text(trail, 'HomeRegion') ?? '—'}`)),
      h('td', { role: 'cell', 'data-label': 'Destination', class: 'wrap' }, destination(trail)),
      h('td', { role: 'cell', 'data-label': 'Latest delivery' }, delivery(row)),
      h('td', { role: 'cell', 'data-label': 'Actions' }, h('div', { class: 'actions' }, start, stop)),
    );
  }

  async function load(): Promise<void> {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    panel.setAttribute('aria-busy', 'true');
    if (tbody.childElementCount === 0) showState(stateBox, { kind: 'loading', message: 'Loading trails…' });
    try {
      const rows = await describe(c.signal);
      if (!current(c)) return;
      loaded = true;
      tbody.replaceChildren(...rows.map(rowOf));
      table.hidden = rows.length === 0;
      showState(
        stateBox,
        rows.length === 0
          ? { kind: 'empty', message: 'This account has no trails. Event history needs none; to archive events to OSS or Log Service, create one, e.g. npm run lookup -- Action=CreateTrail Name=my-trail OssBucketName=trailkeeper-archive, then start it here.' }
          : undefined,
      );
    } catch (error) {
      if (isAbort(error) || !current(c)) return;
      const problem = describeError(error);
      showState(stateBox, {
        kind: 'error',
        message: problem.message,
        detail: problem.detail,
        actions: [problem.action === 'sign-in' ? { label: 'Sign in again', run: () => ctx.signOut() } : { label: 'Retry', run: () => void load() }],
      });
    } finally {
      if (controller === c) panel.setAttribute('aria-busy', 'false');
    }
  }

  async function act(action: 'StartLogging' | 'StopLogging', name: string, row: HTMLTableRowElement): Promise<void> {
    // The view's controller: a reload or signing out ends this too.
    const c = controller;
    if (!c || !current(c)) return;
    const destinations = row.querySelector('td[data-label="Destination"]')?.textContent?.replace(/^—$/, '') ?? '';
    if (action === 'StopLogging' && !(await confirmStop(name, destinations))) return;
    if (!current(c) || !row.isConnected) return;
    const buttons = [...row.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    try {
      await ctx.api().call(action, { Name: name }, c.signal);
      if (!current(c)) return;
      const [fresh] = await describe(c.signal, name);
      if (!current(c)) return;
      if (fresh) {
        const replacement = rowOf(fresh);
        row.replaceWith(replacement);
        // Keep the keyboard where it was: on the button that is now usable.
        replacement.querySelector<HTMLButtonElement>('button:not([disabled])')?.focus();
      }
      ctx.announce(action === 'StartLogging' ? `Trail ${name} is logging (Enable).` : `Trail ${name} stopped logging (Disable).`);
    } catch (error) {
      if (isAbort(error) || !current(c)) return;
      const problem = describeError(error);
      ctx.announce(`Could not ${action === 'StartLogging' ? 'start' : 'stop'} ${name}: ${problem.message}`);
      await load();
    }
  }

  tbody.addEventListener('click', (e) => {
    if (!(e.target instanceof Element)) return;
    const button = e.target.closest('button[data-action]');
    const row = button?.closest('tr');
    const action = button?.getAttribute('data-action');
    const name = button?.getAttribute('data-name');
    if (!row || !name || (action !== 'StartLogging' && action !== 'StopLogging')) return;
    void act(action, name, row);
  });
  byId('trails-refresh', HTMLButtonElement).addEventListener('click', () => void load());

  return {
    get loaded() {
      return loaded;
    },
    load: () => void load(),
    clear() {
      controller?.abort();
      if (confirmDialog.open) confirmDialog.close();
      loaded = false;
      tbody.replaceChildren();
      table.hidden = true;
      showState(stateBox, undefined);
    },
  };
}
