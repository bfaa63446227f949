/**
 * Compliance: GetComplianceReport for the signed-in account (or, for an organization's
 * management account, a member it names) — the controls grouped by source (CIS, best practice,
 * governance), each with its status badge, evidence and the exact calls that fix a failure.
 * "Print" prints the report alone (console.css hides the console around it under @media print);
 * "Export CSV" downloads it, built here (compliance-csv.ts).
 */
import { isJsonObject, type JsonObject } from './api.ts';
import { complianceCsv, type CsvControl } from './compliance-csv.ts';
import type { ConsoleContext, LazyView } from './context.ts';
import { byId, h, isAbort, showState, timeElement } from './dom.ts';
import { describeError, text } from './format.ts';

const GROUPS = [
  { key: 'CIS', title: 'CIS Alibaba Cloud Foundation Benchmark' },
  { key: 'BestPractice', title: 'Best practice (MLPS 2.0)' },
  { key: 'Governance', title: 'Governance (from the events)' },
] as const;

const STATUS_TEXT: Readonly<Record<string, string>> = {
  PASS: 'Pass',
  FAIL: 'Fail',
  UNKNOWN: 'Unknown',
  NOT_APPLICABLE: 'Not applicable',
};

interface Control extends CsvControl {
  /** The fixing calls, with the account to run each as when it is not the report's. */
  fixes: { call: string; api: string; asAccountId?: string }[];
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

function controlsOf(report: JsonObject): Control[] {
  const list = Array.isArray(report['Controls']) ? report['Controls'].filter(isJsonObject) : [];
  return list.map((c) => {
    const fixes = (Array.isArray(c['Remediation']) ? c['Remediation'].filter(isJsonObject) : []).map((r) => {
      const asAccountId = text(r, 'AsAccountId');
      return { call: text(r, 'Call') ?? '', api: text(r, 'Api') ?? '', ...(asAccountId ? { asAccountId } : {}) };
    });
    return {
      group: text(c, 'Group') ?? '',
      id: text(c, 'Id') ?? '',
      title: text(c, 'Title') ?? '',
      source: text(c, 'Source') ?? '',
      status: text(c, 'Status') ?? 'UNKNOWN',
      evidence: strings(c['Evidence']),
      remediation: fixes.map((f) => `${f.api}: ${f.call}${f.asAccountId ? ` (as account ${f.asAccountId})` : ''}`),
      fixes,
    };
  });
}

export type ComplianceView = LazyView;

export function createComplianceView(ctx: ConsoleContext): ComplianceView {
  const panel = byId('panel-compliance', HTMLElement);
  const stateBox = byId('compliance-state', HTMLDivElement);
  const caption = byId('compliance-caption', HTMLParagraphElement);
  const summary = byId('compliance-summary', HTMLDivElement);
  const groups = byId('compliance-groups', HTMLDivElement);
  const form = byId('compliance-form', HTMLFormElement);
  const accountInput = byId('compliance-account', HTMLInputElement);
  const csvButton = byId('compliance-csv', HTMLButtonElement);
  const printButton = byId('compliance-print', HTMLButtonElement);
  let controller: AbortController | undefined;
  let loaded = false;
  let shown: { accountId: string; generatedAt: string; controls: Control[] } | undefined;

  function badge(status: string): HTMLElement {
    return h('span', { class: `badge compliance-${status.toLowerCase().replace(/_/g, '-')}` }, STATUS_TEXT[status] ?? status);
  }

  function rowOf(c: Control): HTMLTableRowElement {
    return h(
      'tr',
      { role: 'row', 'data-control': c.id, 'data-status': c.status },
      h('td', { role: 'cell', 'data-label': 'Status' }, badge(c.status)),
      h('th', { role: 'rowheader', scope: 'row', 'data-label': 'Control' }, h('div', {}, h('code', {}, c.id), ' ', c.title), h('div', { class: 'muted small' }, c.source)),
      h('td', { role: 'cell', 'data-label': 'Evidence', class: 'wrap' }, c.evidence.length > 0 ? h('ul', { class: 'evidence' }, ...c.evidence.map((e) => h('li', {}, e))) : h('span', { class: 'muted' }, '—')),
      h(
        'td',
        { role: 'cell', 'data-label': 'Fix', class: 'wrap' },
        c.fixes.length > 0
          ? h('ul', { class: 'fixes' }, ...c.fixes.map((f) => h('li', {}, h('span', { class: 'muted small' }, `${f.api}: `), h('code', {}, f.call), f.asAccountId ? h('span', { class: 'muted small' }, ` (as account ${f.asAccountId})`) : null)))
          : h('span', { class: 'muted' }, '—'),
      ),
    );
  }

  function render(report: JsonObject): void {
    const accountId = text(report, 'AccountId') ?? '';
    const generatedAt = text(report, 'GeneratedAt') ?? '';
    const controls = controlsOf(report);
    shown = { accountId, generatedAt, controls };
    const count = (status: string) => controls.filter((c) => c.status === status).length;
    const management = text(report, 'ManagementAccountId');
    caption.replaceChildren(
      `Account ${accountId}${management ? ` (member of the organization of ${management})` : ''}, generated `,
      timeElement(Date.parse(generatedAt)),
      '. UNKNOWN means the setting could not be read (the reason is given): check it by hand.',
    );
    const compliant = report['Compliant'] === true;
    summary.replaceChildren(
      h('strong', { class: compliant ? 'compliant' : 'not-compliant' }, compliant ? 'Compliant: no control fails.' : `Not compliant: ${count('FAIL')} control(s) fail.`),
      ' ',
      ...['PASS', 'FAIL', 'UNKNOWN', 'NOT_APPLICABLE'].flatMap((s) => [badge(s), ` ${count(s)} `]),
    );
    summary.hidden = false;
    groups.replaceChildren(
      ...GROUPS.map((g) => {
        const rows = controls.filter((c) => c.group === g.key);
        const titleId = `compliance-group-${g.key}`;
        return h(
          'section',
          { class: 'compliance-group', 'aria-labelledby': titleId },
          h('h3', { id: titleId }, g.title),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'compliance', role: 'table', 'aria-labelledby': titleId },
              h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, ...['Status', 'Control', 'Evidence', 'Fix'].map((t) => h('th', { scope: 'col', role: 'columnheader' }, t)))),
              h('tbody', { role: 'rowgroup' }, ...rows.map(rowOf)),
            ),
          ),
        );
      }),
    );
    csvButton.disabled = false;
    printButton.disabled = false;
  }

  async function load(): Promise<void> {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    const account = accountInput.value.trim();
    if (account !== '' && !/^\d{16}$/.test(account)) {
      showState(stateBox, { kind: 'error', message: 'An account id is 16 digits. Leave Account empty for your own account.' });
      accountInput.focus();
      return;
    }
    panel.setAttribute('aria-busy', 'true');
    showState(stateBox, { kind: 'loading', message: 'Checking every control (trails, buckets, digests, the last 90 days of events)…' });
    try {
      const report = await ctx.api().call('GetComplianceReport', account ? { AccountId: account } : {}, c.signal);
      if (controller !== c || c.signal.aborted) return;
      loaded = true;
      showState(stateBox, undefined);
      render(report);
    } catch (error) {
      if (isAbort(error) || controller !== c) return;
      // no report under an error: what was shown may be another account's
      forget();
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

  /** Removes the report shown (and what exports it). */
  function forget(): void {
    shown = undefined;
    caption.replaceChildren();
    summary.replaceChildren();
    summary.hidden = true;
    groups.replaceChildren();
    csvButton.disabled = true;
    printButton.disabled = true;
  }

  function exportCsv(): void {
    if (!shown) return;
    const blob = new Blob([complianceCsv(shown.controls)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: `compliance-${shown.accountId}-${shown.generatedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.csv`, class: 'offscreen' });
    document.body.append(link);
    link.click();
    link.remove();
    // after the download has started
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    ctx.announce('The report was exported as CSV.');
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load();
  });
  byId('compliance-refresh', HTMLButtonElement).addEventListener('click', () => void load());
  csvButton.addEventListener('click', exportCsv);
  printButton.addEventListener('click', () => window.print());

  return {
    get loaded() {
      return loaded;
    },
    load: () => void load(),
    clear() {
      controller?.abort();
      loaded = false;
      accountInput.value = '';
      forget();
      showState(stateBox, undefined);
    },
  };
}
