// The picture of the machine, as HTML: per cache each CPU's kmem_cache_cpu (and its
// sheaves), each node's lists (and its barn), every slab as a row of object cells; the
// buddy free areas per node. The words
// a step touched are marked where they live (wordPlace()). Numbers the tests compare
// with the simulator's state are data-* attributes.
import { type Machine, wordPlace } from '../shm/machine.js';
import type { CacheView, MachineView, SlabView } from './state.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** What a step touched, by where it lives. */
interface Marks {
  cacheCpu: Set<string>;
  cacheNode: Set<string>;
  pages: Set<number>;
  /** simulated addresses of memory words */
  addrs: number[];
  zones: Set<number>;
}

function marksOf(m: Machine, words: readonly number[]): Marks {
  const k: Marks = { cacheCpu: new Set(), cacheNode: new Set(), pages: new Set(), addrs: [], zones: new Set() };
  for (const w of words) {
    const p = wordPlace(m, w);
    if (p.region === 'cache_cpu') k.cacheCpu.add(`${p.cache}:${p.cpu}`);
    else if (p.region === 'cache_node') k.cacheNode.add(`${p.cache}:${p.node}`);
    else if (p.region === 'page') k.pages.add(p.pfn as number);
    else if (p.region === 'memory') k.addrs.push(p.addr as number);
    else if (p.region === 'node') k.zones.add(p.node as number);
  }
  return k;
}

/** Links shown of a chain; the rest are counted. */
const CHAIN_SHOWN = 12;

const chain = (xs: readonly number[], fmt: (x: number) => string, none = 'empty'): string =>
  xs.length
    ? xs.slice(0, CHAIN_SHOWN).map(fmt).join(' &rarr; ') +
      (xs.length > CHAIN_SHOWN ? ` &rarr; <span class="more">${xs.length - CHAIN_SHOWN} more</span>` : '')
    : `<span class="more">${none}</span>`;

function slabRow(m: Machine, c: CacheView, s: SlabView, k: Marks): string {
  const base = s.pfn * m.cfg.pageSize + c.redLeftPad;
  const touched = new Set(
    k.addrs.filter((a) => a >= base && a < base + s.objects * c.size).map((a) => Math.floor((a - base) / c.size)),
  );
  const slabFree = new Set(s.slabFree);
  const cpuFree = new Set(s.cpuFree);
  const cached = new Set(s.cached);
  let cells = '';
  for (let i = 0; i < s.objects; i++) {
    const [cls, what] = cpuFree.has(i)
      ? ['cell cpufree', 'on the cpu freelist']
      : slabFree.has(i)
        ? ['cell free', 'on the slab freelist']
        : cached.has(i)
          ? ['cell sheaf', 'in a sheaf']
          : ['cell', 'in use'];
    cells += `<span class="${cls}${touched.has(i) ? ' hl' : ''}" data-obj="${i}" title="object ${i} at ${hex(base + i * c.size)}: ${what}"></span>`;
  }
  const place = 'cpu' in s.place ? `${s.place.kind}:${s.place.cpu}` : s.place.kind;
  return `<div class="slab${k.pages.has(s.pfn) ? ' hl' : ''}" data-pfn="${s.pfn}" data-objects="${s.objects}" data-inuse="${s.inuse}" data-frozen="${s.frozen ? 1 : 0}" data-free="${s.slabFree.length + s.cpuFree.length}" data-slab-free="${s.slabFree.length}" data-cached="${s.cached.length}" data-place="${place}">
<span class="lbl">pfn ${s.pfn}${s.frozen ? ' <span class="frozen" title="frozen: owned by a CPU">&#x2744; frozen</span>' : ''}</span><span class="cells">${cells}</span><span class="counts" title="page->inuse / page->objects">${s.inuse}/${s.objects}</span></div>`;
}

function cacheHtml(m: Machine, c: CacheView, k: Marks, maxSlabs: number): string {
  // (a cache without slabs has only empty sheaves: their objects come from slabs)
  if (c.slabs.length === 0 && c.nodes.every((n) => n.nrPartial === 0))
    return `<div class="cache idle" data-cache="${c.id}" data-slabs="0"><h3>${esc(c.name)} <span class="more">${c.size}-byte slots, no slabs</span></h3></div>`;
  const boxes: string[] = [];
  for (const cpu of c.cpus) {
    const hl = k.cacheCpu.has(`${c.id}:${cpu.cpu}`) ? ' hl' : '';
    const count =
      cpu.partial.length === 0
        ? ''
        : ` <span class="more" title="the head's page->pages / slab->slabs${m.cfg.profile === '5.4' ? ' and page->pobjects' : ''}">(${cpu.partialCount} slabs${m.cfg.profile === '5.4' ? `, ${cpu.partialObjects} objects` : ''})</span>`;
    // 7.0 has no cpu slab: its kmem_cache_cpu is the sheaves (slub_percpu_sheaves)
    const cpuSlabLines =
      m.cfg.profile === '7.0'
        ? ''
        : `<div class="kv"><span>tid</span><b>${cpu.tid}</b></div>
<div class="kv"><span>freelist (${cpu.freelist.length})</span><span class="chain">${chain(cpu.freelist, (i) => `#${i}`)}</span></div>
<div class="kv"><span>cpu slab</span><b>${cpu.cpuSlab ? `pfn ${cpu.cpuSlab}` : 'none'}</b></div>
<div class="kv"><span>cpu partial (${cpu.partial.length})</span><span class="chain">${chain(cpu.partial, (p) => `pfn ${p}`)}${count}</span></div>`;
    const main = c.sheaves.find((x) => x.place === 'main' && x.cpu === cpu.cpu);
    const spare = c.sheaves.find((x) => x.place === 'spare' && x.cpu === cpu.cpu);
    const sheafLines = c.sheafCapacity
      ? `<div class="kv"><span>main sheaf</span>${sheafBar(main, c.sheafCapacity)}</div>
<div class="kv"><span>spare sheaf</span>${sheafBar(spare, c.sheafCapacity)}</div>`
      : '';
    boxes.push(`<div class="box kcc${hl}" data-cpu="${cpu.cpu}" data-tid="${cpu.tid}" data-freelist="${cpu.freelist.length}" data-cpu-slab="${cpu.cpuSlab}" data-partial="${cpu.partial.length}" data-partial-count="${cpu.partialCount}" data-main="${main?.size ?? -1}" data-spare="${spare?.size ?? -1}">
<h4>CPU ${cpu.cpu}: ${m.cfg.profile === '7.0' ? 'slub_percpu_sheaves' : 'kmem_cache_cpu'}</h4>
${cpuSlabLines}${sheafLines}
</div>`);
  }
  for (const n of c.nodes) {
    const hl = k.cacheNode.has(`${c.id}:${n.node}`) ? ' hl' : '';
    boxes.push(`<div class="box node${hl}" data-node="${n.node}" data-nr-partial="${n.nrPartial}" data-min-partial="${n.minPartial}" data-full="${n.full.length}">
<h4>node ${n.node}: kmem_cache_node</h4>
<div class="kv"><span>nr_partial</span><b class="${n.nrPartial > n.minPartial ? 'over' : ''}">${n.nrPartial}</b>&nbsp;<span class="more">min_partial ${n.minPartial}</span></div>
<div class="kv"><span>partial</span><span class="chain">${chain(n.partial, (p) => `pfn ${p}`)}</span></div>
${n.full.length ? `<div class="kv"><span>full</span><span class="chain">${chain(n.full, (p) => `pfn ${p}`)}</span></div>` : ''}
${c.sheafCapacity ? `<div class="kv barn" data-barn-full="${n.barnFull}" data-barn-empty="${n.barnEmpty}"><span>barn</span><b>${n.barnFull}</b>&nbsp;full,&nbsp;<b>${n.barnEmpty}</b>&nbsp;empty</div>` : ''}
</div>`);
  }
  const groups: Array<[string, SlabView[]]> = [];
  const group = (label: string, pick: (s: SlabView) => boolean): void => {
    const xs = c.slabs.filter(pick);
    if (xs.length) groups.push([label, xs]);
  };
  for (const cpu of c.cpus) {
    group(`CPU ${cpu.cpu} cpu slab`, (s) => s.place.kind === 'cpu' && s.place.cpu === cpu.cpu);
    group(`CPU ${cpu.cpu} cpu partial`, (s) => s.place.kind === 'cpu_partial' && s.place.cpu === cpu.cpu);
  }
  for (const n of c.nodes) group(`node ${n.node} partial`, (s) => s.place.kind === 'node_partial' && s.node === n.node);
  group('full list', (s) => s.place.kind === 'full_list');
  group('full, on no list', (s) => s.place.kind === 'none');
  const slabs = groups
    .map(([label, xs]) => {
      const shown = xs.slice(0, maxSlabs);
      const more = xs.length - shown.length;
      return `<h4>${esc(label)}</h4>${shown.map((s) => slabRow(m, c, s, k)).join('')}${more > 0 ? `<div class="more">... and ${more} more slabs</div>` : ''}`;
    })
    .join('');
  return `<div class="cache" data-cache="${c.id}" data-slabs="${c.slabs.length}">
<h3>${esc(c.name)} <span class="more">${c.size}-byte slots, ${c.slabs.length} slab${c.slabs.length === 1 ? '' : 's'}</span></h3>
<div class="grid">${boxes.join('')}</div>
${slabs || '<p class="more">no slabs</p>'}
</div>`;
}

function buddyHtml(view: MachineView, k: Marks): string {
  const orders = view.buddy[0]?.length ?? 0;
  const head = Array.from({ length: orders }, (_, o) => `<th>${o}</th>`).join('');
  const rows = view.buddy
    .map(
      (nr, node) =>
        `<tr${k.zones.has(node) ? ' class="hl"' : ''}><td>node ${node}</td>${nr.map((n, o) => `<td data-node="${node}" data-order="${o}">${n}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<h3>Buddy free areas (nr_free per order)</h3><table class="num buddy"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

const LEGEND = `<div class="legend">objects:<span class="cell"></span>in use<span class="cell free"></span>on the slab's freelist<span class="cell cpufree"></span>on the cpu freelist<span class="cell sheaf"></span>in a sheaf<span class="cell hl"></span>touched by this step</div>`;

/** A sheaf's fill: `size` of `capacity` objects, or none. */
const sheafBar = (sheaf: { size: number } | undefined, capacity: number): string =>
  sheaf
    ? `<b title="sheaf->size of sheaf_capacity">${sheaf.size}/${capacity}</b><meter min="0" max="${capacity}" value="${sheaf.size}"></meter>`
    : '<b>none</b>';

/** Draw `view` of machine `m` into `host`, marking the words in `touched`; at most `maxSlabs` slabs per list. */
export function drawPicture(
  host: HTMLElement,
  m: Machine,
  view: MachineView,
  touched: readonly number[],
  maxSlabs: number,
): void {
  const k = marksOf(m, touched);
  const caches = view.caches.map((c) => cacheHtml(m, c, k, maxSlabs)).join('');
  host.innerHTML = `${view.caches.length ? LEGEND : '<p class="hint">This model has no slab cache: its memory words are listed on the left.</p>'}${caches}${buddyHtml(view, k)}`;
}
