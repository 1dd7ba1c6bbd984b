// The script of the HTML report (`slabsim run --report`), bundled with uPlot and inlined
// into the one file (src/view/bundle.ts reportScript()): the time series are drawn by
// the viewer's charts (src/view/charts.ts), the final slabs as a picture of bars.
import { cpuColor, full, timeChart } from '../view/charts.js';
import type { HtmlData } from './html.js';
import { div, guard, note } from './page_parts.js';

const NS = 'http://www.w3.org/2000/svg';
const D = JSON.parse(document.getElementById('slabsim-data')?.textContent ?? '{}') as HtmlData;

function svg(tag: string, attrs: Record<string, string | number>, parent?: Element): SVGElement {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

function drawThroughput(host: HTMLElement): void {
  const d = D.throughput;
  if ('note' in d) return note(host, d.note);
  // Each rate holds over its interval: a stepped line through the interval ends, from the first start.
  const x = [d.x0[0], ...d.x1];
  timeChart(
    host,
    {
      series: d.cpus.map((_, cpu) => ({ label: `CPU ${cpu}`, color: cpuColor(cpu) })),
      yLabel: 'ops/s',
      unit: ' ops/s',
      stepped: true,
      height: 300,
    },
    [x, ...d.cpus.map((y) => [y[0], ...y])],
  );
}

function drawPages(host: HTMLElement): void {
  const d = D.pages;
  if ('note' in d) return note(host, d.note);
  timeChart(
    host,
    {
      series: [
        { label: 'pages in use', color: '#2f67b1' },
        { label: 'pages in slabs', color: '#e07b00', dash: [6, 4] },
      ],
      yLabel: 'pages',
      unit: ' pages',
      height: 300,
    },
    [d.t, d.used, d.slab],
  );
}

function drawSlabs(host: HTMLElement): void {
  const d = D.slabs;
  if ('note' in d) return note(host, d.note);
  for (const c of d) {
    const box = div('slabcache', host);
    const h = document.createElement('h3');
    box.appendChild(h);
    let slabs = 0;
    let objs = 0;
    let used = 0;
    for (const r of c.rows) {
      for (const s of r.slabs) {
        slabs++;
        objs += s[2];
        used += s[3];
      }
      slabs += r.more;
    }
    h.textContent = `${c.name} `;
    const sub = document.createElement('span');
    sub.className = 'hint';
    sub.textContent = `${slabs} slab${slabs === 1 ? '' : 's'} of ${c.objsPerSlab} objects (order ${c.order}), ${full(used)} of ${full(objs)} objects in use`;
    h.appendChild(sub);
    for (const r of c.rows) {
      const row = div('slabrow', box);
      const lbl = div('lbl', row, r.label);
      const n = r.slabs.length + r.more;
      let u = 0;
      let o = 0;
      for (const s of r.slabs) {
        u += s[3];
        o += s[2];
      }
      div('hint', lbl, n ? `${n} slab${n === 1 ? '' : 's'}, ${full(u)} / ${full(o)} objects used` : '');
      const area = div('', row);
      if (!n) {
        div('empty', area, 'empty');
        continue;
      }
      const W = Math.max(200, area.clientWidth || 800);
      const bw = r.slabs.length > 300 ? 4 : r.slabs.length > 100 ? 7 : 12;
      const gap = bw > 4 ? 3 : 1;
      const bh = 34;
      const pad = 3;
      const perLine = Math.max(1, Math.floor((W - pad) / (bw + gap)));
      const H = Math.ceil(r.slabs.length / perLine) * (bh + 6) + pad;
      const root = svg(
        'svg',
        { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${c.name} ${r.label}` },
        area,
      );
      const maxObj = Math.max(1, c.objsPerSlab);
      r.slabs.forEach((s, i) => {
        const x0 = pad + (i % perLine) * (bw + gap);
        const y0 = pad + Math.floor(i / perLine) * (bh + 6);
        const hh = Math.max(6, bh * Math.min(1, s[2] / maxObj));
        const top = y0 + bh - hh;
        const usedH = s[2] ? (hh * s[3]) / s[2] : 0;
        const g = svg('g', { class: 'slab' }, root);
        svg('rect', { class: 'slab-free', x: x0, y: top, width: bw, height: hh - usedH, fill: '#cfdcf0' }, g);
        if (usedH > 0)
          svg('rect', { class: 'slab-used', x: x0, y: top + hh - usedH, width: bw, height: usedH, fill: '#2f67b1' }, g);
        if (s[5])
          svg(
            'rect',
            { x: x0 - 1, y: top - 1, width: bw + 2, height: hh + 2, fill: 'none', stroke: '#e07b00', 'stroke-width': 2 },
            g,
          );
        svg('title', {}, g).textContent =
          `${s[5] ? 'cpu slab, ' : ''}pfn ${s[0]} (node ${s[1]}): ${s[3]} used, ${s[2] - s[3]} free of ${s[2]} objects; inuse counter ${s[4]}`;
      });
      if (r.more) div('hint', area, `... and ${r.more} more slabs not drawn`);
    }
  }
}

for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-details]')) {
  b.addEventListener('click', () => {
    const open = b.dataset.details === 'open';
    for (const d of document.querySelectorAll<HTMLDetailsElement>('#counters details')) d.open = open;
  });
}
guard('throughput-chart', drawThroughput);
guard('pages-chart', drawPages);
guard('slab-map', drawSlabs);
