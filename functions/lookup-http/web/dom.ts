/** A few DOM helpers: elements from data with textContent only (never HTML from data). */
import { formatLocal, formatUtc } from './format.ts';

export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | undefined>;

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

/** The element with this id, checked to be of the expected kind. */
export function byId<T extends HTMLElement>(id: string, kind: abstract new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof kind)) throw new Error(`the console page lacks #${id}`);
  return el;
}

export interface StateAction {
  label: string;
  run(): void;
}

/**
 * Fills a panel's state box: a message (loading, empty or error), optional detail and buttons;
 * `undefined` hides it. Loading and empty states are a polite live region (role=status),
 * errors an assertive one (role=alert); the role is set before the message is.
 */
export function showState(box: HTMLElement, state: { kind: 'loading' | 'empty' | 'error'; message: string; detail?: string | undefined; actions?: StateAction[] } | undefined): void {
  if (!state) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.className = `state ${state.kind}`;
  box.setAttribute('role', state.kind === 'error' ? 'alert' : 'status');
  const buttons = (state.actions ?? []).map((action) => {
    const button = h('button', { type: 'button', class: 'secondary' }, action.label);
    button.addEventListener('click', () => action.run());
    return button;
  });
  box.replaceChildren(h('p', {}, state.message));
  if (state.detail) box.append(h('p', { class: 'muted small' }, state.detail));
  if (buttons.length > 0) box.append(h('div', { class: 'actions' }, ...buttons));
  box.hidden = false;
}

/** `<time>` in the browser's zone, the UTC instant on hover. */
export function timeElement(ms: number): HTMLTimeElement {
  if (Number.isNaN(ms)) return h('time', {}, '—');
  const utc = formatUtc(ms);
  return h('time', { datetime: utc, title: `${utc} (UTC)` }, formatLocal(ms));
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
