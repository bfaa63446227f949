/**
 * Alerts: the account's alert rules (ListAlertRules) — enable, disable, delete, and each rule's
 * delivery log (DescribeAlertHistory); a new rule from a built-in template (ListAlertTemplates,
 * its parameters as JSON) or a custom condition; the notification channels (ListAlertChannels)
 * with "Send a test" (TestAlertChannel). A channel's webhook URL and DingTalk secret are
 * write-only: typed into password fields without names, sent once, cleared, never shown again
 * (the API answers the scheme and host only) and never kept in the browser.
 */
import { isJsonObject, type JsonObject } from './api.ts';
import type { ConsoleContext, LazyView } from './context.ts';
import { byId, h, isAbort, showState, timeElement } from './dom.ts';
import { describeError, text } from './format.ts';

const CUSTOM = 'custom';
const list = (value: unknown): JsonObject[] => (Array.isArray(value) ? value.filter(isJsonObject) : []);

export type AlertsView = LazyView;

export function createAlertsView(ctx: ConsoleContext): AlertsView {
  const panel = byId('panel-alerts', HTMLElement);
  const stateBox = byId('alerts-state', HTMLDivElement);
  const rulesBody = byId('alerts-rules-body', HTMLTableSectionElement);
  const channelsBody = byId('alerts-channels-body', HTMLTableSectionElement);
  const ruleForm = byId('alert-rule-form', HTMLFormElement);
  const ruleName = byId('alert-rule-name', HTMLInputElement);
  const ruleTemplate = byId('alert-rule-template', HTMLSelectElement);
  const ruleJson = byId('alert-rule-json', HTMLTextAreaElement);
  const ruleJsonLabel = byId('alert-rule-json-label', HTMLLabelElement);
  const ruleCustom = byId('alert-rule-custom', HTMLDivElement);
  const ruleThreshold = byId('alert-rule-threshold', HTMLInputElement);
  const ruleWindow = byId('alert-rule-window', HTMLInputElement);
  const ruleGroupBy = byId('alert-rule-groupby', HTMLInputElement);
  const ruleChannels = byId('alert-rule-channels', HTMLFieldSetElement);
  const ruleError = byId('alert-rule-error', HTMLDivElement);
  const channelForm = byId('alert-channel-form', HTMLFormElement);
  const channelName = byId('alert-channel-name', HTMLInputElement);
  const channelType = byId('alert-channel-type', HTMLSelectElement);
  const channelUrl = byId('alert-channel-url', HTMLInputElement);
  const channelSecret = byId('alert-channel-secret', HTMLInputElement);
  const channelError = byId('alert-channel-error', HTMLDivElement);
  const historyTitle = byId('alert-history-title', HTMLHeadingElement);
  const historyBox = byId('alert-history', HTMLDivElement);
  let controller: AbortController | undefined;
  let loaded = false;
  let templates: JsonObject[] = [];
  let channels: JsonObject[] = [];

  const fail = (box: HTMLElement, error: unknown) => {
    const problem = describeError(error);
    showState(box, { kind: 'error', message: problem.message, detail: problem.detail, ...(problem.action === 'sign-in' ? { actions: [{ label: 'Sign in again', run: () => ctx.signOut() }] } : {}) });
  };

  function describeRule(rule: JsonObject): string {
    const threshold = Number(rule['Threshold'] ?? 1);
    const window = Number(rule['WindowMinutes'] ?? 1);
    const group = text(rule, 'GroupBy');
    return `${threshold > 1 ? `${threshold} events within ${window} min` : 'every event'}${group ? `, per ${group}` : ''}`;
  }

  function channelNames(ids: unknown): string {
    const names = (Array.isArray(ids) ? ids : []).map((id) => text(channels.find((c) => c['ChannelId'] === id), 'Name') ?? String(id));
    return names.length > 0 ? names.join(', ') : '—';
  }

  function ruleRow(rule: JsonObject): HTMLTableRowElement {
    const id = text(rule, 'RuleId') ?? '';
    const name = text(rule, 'Name') ?? '';
    const enabled = rule['Enabled'] === true;
    const toggle = h('button', { type: 'button', class: 'secondary' }, enabled ? 'Disable' : 'Enable');
    toggle.addEventListener('click', () => void act('UpdateAlertRule', { RuleId: id, Enabled: String(!enabled) }, `${name} ${enabled ? 'disabled' : 'enabled'}.`));
    const remove = h('button', { type: 'button', class: 'secondary danger' }, 'Delete');
    remove.addEventListener('click', () => {
      if (window.confirm(`Delete the alert rule “${name}”? Its delivery log goes with it.`)) void act('DeleteAlertRule', { RuleId: id }, `${name} deleted.`);
    });
    const log = h('button', { type: 'button', class: 'secondary' }, 'Delivery log');
    log.addEventListener('click', () => void showHistory(id, name));
    const template = text(rule, 'Template');
    return h(
      'tr',
      { role: 'row', 'data-rule': id },
      h('th', { role: 'rowheader', scope: 'row', 'data-label': 'Rule' }, name, h('div', { class: 'muted small' }, template ? `template ${template}` : 'custom condition')),
      h('td', { role: 'cell', 'data-label': 'Fires on', class: 'wrap' }, describeRule(rule), h('div', {}, h('code', { class: 'small' }, JSON.stringify(rule['Condition'] ?? {})))),
      h('td', { role: 'cell', 'data-label': 'Notifies' }, channelNames(rule['ChannelIds'])),
      h('td', { role: 'cell', 'data-label': 'State' }, h('span', { class: `badge ${enabled ? 'alert-on' : 'alert-off'}` }, enabled ? 'Enabled' : 'Disabled')),
      h('td', { role: 'cell', 'data-label': 'Actions' }, h('div', { class: 'actions' }, log, toggle, remove)),
    );
  }

  function channelRow(channel: JsonObject): HTMLTableRowElement {
    const id = text(channel, 'ChannelId') ?? '';
    const name = text(channel, 'Name') ?? '';
    const result = h('span', { class: 'muted small', 'aria-live': 'polite' });
    const test = h('button', { type: 'button', class: 'secondary' }, 'Send a test');
    test.addEventListener('click', async () => {
      test.disabled = true;
      result.textContent = 'Sending…';
      try {
        const answer = await ctx.api().call('TestAlertChannel', { ChannelId: id });
        result.textContent = answer['Delivered'] === true ? `Delivered (HTTP ${String(answer['Status'] ?? '')}).` : `Not delivered: ${text(answer, 'Error') ?? 'unknown error'}.`;
        result.className = answer['Delivered'] === true ? 'small ok' : 'small error-text';
      } catch (error) {
        result.textContent = describeError(error).message;
      } finally {
        test.disabled = false;
      }
    });
    const remove = h('button', { type: 'button', class: 'secondary danger' }, 'Delete');
    remove.addEventListener('click', () => {
      if (window.confirm(`Delete the channel “${name}”?`)) void act('DeleteAlertChannel', { ChannelId: id }, `${name} deleted.`);
    });
    return h(
      'tr',
      { role: 'row', 'data-channel': id },
      h('th', { role: 'rowheader', scope: 'row', 'data-label': 'Channel' }, name),
      h('td', { role: 'cell', 'data-label': 'Type' }, text(channel, 'Type') ?? ''),
      h('td', { role: 'cell', 'data-label': 'URL' }, h('code', {}, text(channel, 'Url') ?? ''), channel['HasSecret'] === true ? h('span', { class: 'muted small' }, ' (signed)') : null),
      h('td', { role: 'cell', 'data-label': 'Actions' }, h('div', { class: 'actions' }, test, remove), result),
    );
  }

  function renderTemplates(): void {
    const current = ruleTemplate.value;
    ruleTemplate.replaceChildren(
      ...templates.map((t) => h('option', { value: text(t, 'Id') ?? '' }, text(t, 'Name') ?? '')),
      h('option', { value: CUSTOM }, 'Custom condition…'),
    );
    if (current) ruleTemplate.value = current;
    syncRuleForm();
  }

  function syncRuleForm(): void {
    const custom = ruleTemplate.value === CUSTOM;
    ruleCustom.hidden = !custom;
    ruleJsonLabel.textContent = custom ? 'Condition (JSON)' : 'Template parameters (JSON)';
    const template = templates.find((t) => t['Id'] === ruleTemplate.value);
    ruleJson.placeholder = custom ? '{"field":"eventName","in":["DeleteInstance","StopInstance"]}' : JSON.stringify(template?.['Parameters'] ?? {});
    const description = text(template, 'Description');
    ruleJson.title = description ?? '';
  }

  function renderChannelsPicker(): void {
    ruleChannels.replaceChildren(
      h('legend', {}, 'Notify'),
      ...(channels.length === 0
        ? [h('span', { class: 'muted small' }, 'Add a channel below first.')]
        : channels.map((c) => {
            const id = text(c, 'ChannelId') ?? '';
            const input = h('input', { type: 'checkbox', id: `alert-rule-channel-${id}`, value: id });
            return h('label', { for: `alert-rule-channel-${id}`, class: 'check' }, input, ` ${text(c, 'Name') ?? id}`);
          })),
    );
  }

  async function load(): Promise<void> {
    controller?.abort();
    const c = new AbortController();
    controller = c;
    panel.setAttribute('aria-busy', 'true');
    showState(stateBox, { kind: 'loading', message: 'Loading alert rules and channels…' });
    try {
      const api = ctx.api();
      const [rules, chans, temps] = await Promise.all([
        api.call('ListAlertRules', {}, c.signal),
        api.call('ListAlertChannels', {}, c.signal),
        templates.length > 0 ? Promise.resolve({ Templates: templates }) : api.call('ListAlertTemplates', {}, c.signal),
      ]);
      if (controller !== c) return;
      loaded = true;
      templates = list(temps['Templates']);
      channels = list(chans['Channels']);
      const ruleList = list(rules['Rules']);
      rulesBody.replaceChildren(...(ruleList.length > 0 ? ruleList.map(ruleRow) : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No alert rules yet: create one from a template below.'))]));
      channelsBody.replaceChildren(...(channels.length > 0 ? channels.map(channelRow) : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No channels yet.'))]));
      renderTemplates();
      renderChannelsPicker();
      showState(stateBox, undefined);
    } catch (error) {
      if (isAbort(error) || controller !== c) return;
      fail(stateBox, error);
    } finally {
      if (controller === c) panel.setAttribute('aria-busy', 'false');
    }
  }

  async function act(action: string, params: Record<string, string>, done: string): Promise<void> {
    try {
      await ctx.api().call(action, params);
      ctx.announce(done);
      await load();
    } catch (error) {
      fail(stateBox, error);
    }
  }

  async function showHistory(ruleId: string, name: string): Promise<void> {
    historyTitle.textContent = `Delivery log: ${name}`;
    historyBox.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const answer = await ctx.api().call('DescribeAlertHistory', { RuleId: ruleId, MaxResults: '50' });
      const entries = list(answer['History']);
      historyBox.replaceChildren(
        entries.length === 0
          ? h('p', { class: 'muted' }, 'Nothing sent yet.')
          : h(
              'table',
              { class: 'alert-history', role: 'table', 'aria-labelledby': 'alert-history-title' },
              h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, ...['Time', 'Outcome', 'Group', 'Events', 'Channel', 'Attempt', 'Answer'].map((t) => h('th', { scope: 'col', role: 'columnheader' }, t)))),
              h(
                'tbody',
                { role: 'rowgroup' },
                ...entries.map((e) =>
                  h(
                    'tr',
                    { role: 'row', 'data-outcome': text(e, 'Outcome') ?? '' },
                    h('td', { role: 'cell', 'data-label': 'Time' }, timeElement(Date.parse(text(e, 'Time') ?? ''))),
                    h('td', { role: 'cell', 'data-label': 'Outcome' }, h('span', { class: `badge alert-${text(e, 'Outcome') ?? ''}` }, text(e, 'Outcome') ?? '')),
                    h('td', { role: 'cell', 'data-label': 'Group' }, text(e, 'Group') || '—'),
                    h('td', { role: 'cell', 'data-label': 'Events' }, String(e['Events'] ?? '')),
                    h('td', { role: 'cell', 'data-label': 'Channel' }, text(e, 'ChannelName') ?? '—'),
                    h('td', { role: 'cell', 'data-label': 'Attempt' }, e['Attempt'] === undefined ? '—' : String(e['Attempt'])),
                    h('td', { role: 'cell', 'data-label': 'Answer', class: 'wrap' }, [e['Status'] !== undefined ? `HTTP ${String(e['Status'])}` : '', text(e, 'Error') ?? ''].filter(Boolean).join(' — ') || '—'),
                  ),
                ),
              ),
            ),
      );
    } catch (error) {
      historyBox.replaceChildren();
      fail(historyBox, error);
    }
  }

  ruleTemplate.addEventListener('change', syncRuleForm);
  ruleForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    showState(ruleError, undefined);
    const params: Record<string, string> = { Name: ruleName.value.trim() };
    const chosen = [...ruleChannels.querySelectorAll('input[type=checkbox]')].filter((i): i is HTMLInputElement => i instanceof HTMLInputElement && i.checked).map((i) => i.value);
    params['ChannelIds'] = JSON.stringify(chosen);
    const json = ruleJson.value.trim();
    if (ruleTemplate.value === CUSTOM) {
      params['Condition'] = json;
      if (ruleThreshold.value.trim()) params['Threshold'] = ruleThreshold.value.trim();
      if (ruleWindow.value.trim()) params['WindowMinutes'] = ruleWindow.value.trim();
      if (ruleGroupBy.value.trim()) params['GroupBy'] = ruleGroupBy.value.trim();
    } else {
      params['Template'] = ruleTemplate.value;
      if (json) params['TemplateParameters'] = json;
    }
    try {
      await ctx.api().call('CreateAlertRule', params);
      ctx.announce(`Alert rule ${params['Name']} created.`);
      ruleName.value = '';
      ruleJson.value = '';
      await load();
    } catch (error) {
      fail(ruleError, error);
    }
  });
  channelType.addEventListener('change', () => {
    channelSecret.disabled = channelType.value !== 'dingtalk';
    if (channelSecret.disabled) channelSecret.value = '';
  });
  channelForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    showState(channelError, undefined);
    const params: Record<string, string> = { Name: channelName.value.trim(), Type: channelType.value, WebhookUrl: channelUrl.value.trim() };
    if (channelType.value === 'dingtalk' && channelSecret.value !== '') params['Secret'] = channelSecret.value;
    // the URL and the secret leave the page once: cleared whatever the answer
    channelUrl.value = '';
    channelSecret.value = '';
    try {
      // POST: the URL and the secret travel in the signed form body, never in a request URL
      await ctx.api().call('CreateAlertChannel', params, undefined, { post: true });
      ctx.announce(`Channel ${params['Name']} added.`);
      channelName.value = '';
      await load();
    } catch (error) {
      fail(channelError, error);
    }
  });
  byId('alerts-refresh', HTMLButtonElement).addEventListener('click', () => void load());

  return {
    get loaded() {
      return loaded;
    },
    load: () => void load(),
    clear() {
      controller?.abort();
      loaded = false;
      templates = [];
      channels = [];
      rulesBody.replaceChildren();
      channelsBody.replaceChildren();
      historyBox.replaceChildren();
      historyTitle.textContent = 'Delivery log';
      channelUrl.value = '';
      channelSecret.value = '';
      showState(stateBox, undefined);
      showState(ruleError, undefined);
      showState(channelError, undefined);
    },
  };
}
