/** Tiny DOM helpers: look elements up once, build small trees without innerHTML. */

import { shortTime } from './time-format.ts';

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** Runs a form's action on submit; the submit button is disabled while it runs. */
export function onSubmit(form: HTMLFormElement, action: () => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    for (const button of buttons) button.disabled = true;
    action().finally(() => {
      for (const button of buttons) button.disabled = false;
    });
  });
}

export function timeElement(iso: string): HTMLTimeElement {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('time', {}, '');
  return h('time', { datetime: iso, title: date.toLocaleString() }, shortTime(date));
}
