// What the reports' page scripts share (src/report/page.ts, src/trace/page.ts): a div,
// a note in place of a chart, and drawing one part so that its failure leaves a note.

export function div(cls: string, parent?: Element, text?: string): HTMLDivElement {
  const e = document.createElement('div');
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent?.appendChild(e);
  return e;
}

export const note = (host: Element, text: string): void => void div('note', host, text);

/** Draw one part; a failure leaves a note in its place instead of a broken page. */
export function guard(id: string, draw: (host: HTMLElement) => void): void {
  const host = document.getElementById(id);
  if (!host) return;
  try {
    draw(host);
  } catch (e) {
    host.textContent = '';
    note(host, `This chart could not be drawn: ${e}`);
    console.error(e);
  }
}
