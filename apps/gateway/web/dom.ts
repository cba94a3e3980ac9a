// The few DOM helpers every part of the start page uses.

export const element = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

export const show = (id: string, visible: boolean): void => {
  element(id).hidden = !visible;
};

/** The page's one status line, read out by screen readers (role=status). */
export const say = (text: string): void => {
  element('status').textContent = text;
};

/** An error's message, whatever was thrown. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const made = document.createElement('button');
  made.type = 'button';
  made.textContent = text;
  made.setAttribute('aria-label', label);
  made.onclick = onClick;
  return made;
}

/** A link that looks like a button. */
export function linkButton(text: string, label: string, href: string, attributes: Record<string, string> = {}): HTMLAnchorElement {
  const made = document.createElement('a');
  made.href = href;
  made.className = 'button';
  made.textContent = text;
  made.setAttribute('aria-label', label);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}
