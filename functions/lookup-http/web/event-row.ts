/**
 * An event row's expand/collapse, shared by Event history and Query: the row's body holds a
 * `button.expand` and a hidden `tr.event-detail`; the first open fills it with the event's details
 * and the view's actions.
 */
import { h, type Child } from './dom.ts';
import { eventDetails } from './format.ts';
import type { JsonObject } from './api.ts';

export function toggleEventRow(body: Element, event: JsonObject, actions: () => Child[]): void {
  const button = body.querySelector('button.expand');
  const detail = body.querySelector('tr.event-detail');
  const cell = detail?.firstElementChild;
  if (!(button instanceof HTMLButtonElement) || !(detail instanceof HTMLTableRowElement) || !cell) return;
  const open = button.getAttribute('aria-expanded') !== 'true';
  if (open && cell.childElementCount === 0) {
    const list = h('dl', { class: 'details' });
    for (const [label, value] of eventDetails(event)) list.append(h('div', {}, h('dt', {}, label), h('dd', {}, value)));
    cell.append(list, h('div', { class: 'actions' }, ...actions()));
  }
  button.setAttribute('aria-expanded', String(open));
  detail.hidden = !open;
  body.classList.toggle('open', open);
}
