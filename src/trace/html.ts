// `slabsim trace --report FILE.html`: the replay in one self-contained page, styled as
// the run report (src/report/html.ts) with its charts (uPlot through src/view/charts.ts,
// bundled from src/trace/page.ts): slab pages over the trace's time on each profile,
// live objects, the comparison, per-cache numbers, the leak table and the trace's
// own problems.
import { reportDocument } from '../report/html.js';
import { reportScript } from '../view/bundle.js';
import type { ProfileReplay, TraceProblem } from './replay.js';
import type { TraceReport } from './trace.js';

/** What the page's script draws: x in ms of trace time, one slab-pages series per profile. */
export interface TraceHtmlData {
  profiles: string[];
  t: number[];
  pages: Array<Array<number | null>>;
  live: Array<number | null>;
}

/** Rows of the leak table and of each problem shown (JSON has all). */
const HTML_ROWS = 100;

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const num = (n: number): string => n.toLocaleString('en-US');
const pct = (x: number | null): string => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

export function traceHtmlData(r: TraceReport): TraceHtmlData {
  const longest = r.profiles.reduce<ProfileReplay | undefined>(
    (a, p) => (!a || p.timeline.length > a.timeline.length ? p : a),
    undefined,
  );
  const t = longest?.timeline.map((x) => x.t_ms) ?? [];
  return {
    profiles: r.profiles.map((p) => p.profile),
    t,
    pages: r.profiles.map((p) => t.map((_, i) => p.timeline[i]?.slab_pages ?? null)),
    live: t.map((_, i) => longest?.timeline[i]?.live ?? null),
  };
}

function cards(r: TraceReport): string {
  const ok = r.profiles.length > 0 && r.profiles.every((p) => p.checks.ok);
  const first = r.profiles[0];
  const leaked = first ? first.leaks.reduce((s, l) => s + l.objects, 0) : 0;
  const problems = r.problems ? r.problems.free_unknown.count + r.problems.double_free.count + r.problems.alloc_live.count : 0;
  const items: Array<[string, string, string, string?]> = [
    ['events', num(r.events), `${num(r.lines)} lines, ${r.format}`],
    ['CPUs', String(r.cpus.replay), r.cpus.folded ? `the trace's ${r.cpus.trace} folded` : `as the trace names them`],
    ['live at the end', num(leaked), first ? `${num(first.leaks.length)} call site${first.leaks.length === 1 ? '' : 's'}` : ''],
    ['trace problems', num(problems), 'left out of the replay'],
    ['checks', ok ? 'ok' : 'FAILED', 'ledger and validate on every profile', ok ? ' ok' : ' bad'],
  ];
  items.push([
    'rate',
    `${num(r.timing.events_per_sec)} events/s`,
    `scan ${r.timing.scan_ms} ms, replay on every profile ${r.timing.replay_ms} ms`,
  ]);
  if (r.interrupted) items.push(['interrupted', 'Ctrl-C', 'the replay covers the events before it', ' bad']);
  return `<section id="summary"><div class="cards">${items
    .map(
      ([k, v, s, cls]) =>
        `<div class="card${cls ?? ''}"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="s">${esc(s)}</div></div>`,
    )
    .join('\n')}</div>${r.profiles
    .flatMap((p) => p.checks.messages.map((m) => `${p.profile}: ${m}`))
    .map((m) => `<p class="messages">${esc(m)}</p>`)
    .join('')}</section>`;
}

function profileTable(r: TraceReport): string {
  const stat = (p: ProfileReplay, k: keyof ProfileReplay['stats']): string => (k in p.stats ? num(p.stats[k] ?? 0) : '–');
  const rows = r.profiles
    .map(
      (p) =>
        `<tr><td>${esc(p.profile)}</td><td>${num(p.events)}</td><td>${num(p.allocs)}</td><td>${num(p.frees)}</td><td>${num(p.cross_cpu_frees)}</td><td>${pct(p.alloc_fast)}</td><td>${pct(p.free_fast)}</td><td>${stat(p, 'free_slowpath')}</td><td>${stat(p, 'free_frozen')}</td><td>${stat(p, 'barn_get')}</td><td>${stat(p, 'barn_put')}</td><td>${p.list_locks_per_op.toFixed(4)}</td><td>${p.barn_locks_per_op.toFixed(4)}</td><td>${p.cas_per_op.toFixed(4)}</td><td>${num(p.slab_pages_peak)}</td><td>${num(p.slab_pages_end)}</td><td>${num(p.live_peak)}</td><td>${p.checks.ok ? 'ok' : '<b>FAILED</b>'}</td></tr>`,
    )
    .join('\n');
  return `<section id="profiles"><h2>Profiles side by side</h2>
<p class="hint">Alloc fast, free fast: the share of the trace's allocations and frees served by what the CPU had at hand (its cpu freelist or its sheaves), with no slow path, sheaf refill or flush, or barn. Cross-CPU: frees on another CPU than the allocation. Locks and CAS per replayed allocation or free.</p>
<div class="scroll"><table class="num"><thead><tr><th>profile</th><th>events</th><th>allocs</th><th>frees</th><th>cross-CPU</th><th>alloc fast</th><th>free fast</th><th>free_slowpath</th><th>free_frozen</th><th>barn_get</th><th>barn_put</th><th>list_lock/op</th><th>barn_lock/op</th><th>CAS/op</th><th>slab pages peak</th><th>end</th><th>live peak</th><th>checks</th></tr></thead>
<tbody>${rows}</tbody></table></div></section>`;
}

function fastBars(r: TraceReport): string {
  const bar = (label: string, share: number | null): string => {
    if (share === null)
      return `<div class="fprow"><span class="fplabel">${esc(label)}</span><span class="fpbar none">none</span><span class="fpshare"></span></div>`;
    const s = 100 * share;
    return `<div class="fprow"><span class="fplabel">${esc(label)}</span><span class="fpbar"><span class="fast" style="width:${s.toFixed(2)}%"></span><span class="slow" style="width:${(100 - s).toFixed(2)}%"></span></span><span class="fpshare">${s.toFixed(1)}%</span></div>`;
  };
  return `<section id="fastpath"><h2>Fast-path share per profile</h2>
<div class="legend"><div><span class="key fast"></span>fast path</div><div><span class="key slow"></span>slow path</div></div>
${r.profiles.map((p) => bar(`${p.profile} allocs`, p.alloc_fast) + bar(`${p.profile} frees`, p.free_fast)).join('\n')}</section>`;
}

function cacheTable(r: TraceReport): string {
  const first = r.profiles[0];
  if (!first) return '';
  const rows = first.caches
    .map((c) => {
      const pages = r.profiles.map((p) => {
        const x = p.caches.find((y) => y.name === c.name);
        return `<td>${x ? num(x.slab_pages_peak) : '–'}</td>`;
      });
      return `<tr><td>${esc(c.name)}</td><td>${num(c.object_size)}</td><td>${num(c.allocated)}</td><td>${num(c.freed)}</td><td>${num(c.live_peak)}</td><td>${num(c.live_end)}</td>${pages.join('')}</tr>`;
    })
    .join('\n');
  return `<section id="caches"><h2>Caches</h2><p class="hint">Objects as the trace has them; slab pages at each cache's peak on each profile.</p>
<div class="scroll"><table class="num"><thead><tr><th>cache</th><th>object size</th><th>allocated</th><th>freed</th><th>live peak</th><th>live end</th>${r.profiles.map((p) => `<th>pages ${esc(p.profile)}</th>`).join('')}</tr></thead>
<tbody>${rows}</tbody></table></div></section>`;
}

function leakTable(r: TraceReport): string {
  const first = r.profiles[0];
  if (!first) return '';
  const rows = first.leaks
    .slice(0, HTML_ROWS)
    .map((l) => `<tr><td>${esc(l.call_site)}</td><td>${esc(l.cache)}</td><td>${num(l.objects)}</td><td>${num(l.bytes)}</td></tr>`)
    .join('\n');
  const more =
    first.leaks.length > HTML_ROWS
      ? `<p class="hint">... ${num(first.leaks.length - HTML_ROWS)} more call sites (all in the JSON).</p>`
      : '';
  return `<section id="leaks"><h2>Leaks: objects live at the end, by call site</h2>
<p class="hint">Most bytes first (profile ${esc(first.profile)}). A call site that allocates and never frees is what a slab leak looks like.</p>
${first.leaks.length ? `<div class="scroll"><table class="num"><thead><tr><th>call site</th><th>cache</th><th>objects</th><th>bytes</th></tr></thead><tbody>${rows}</tbody></table></div>${more}` : '<p class="note">Every object the trace allocated was freed.</p>'}</section>`;
}

function problemsHtml(r: TraceReport): string {
  const p = r.problems;
  if (!p) return '';
  const one = (x: TraceProblem, what: string): string =>
    `<h3>${num(x.count)} ${esc(what)}</h3>${
      x.count
        ? `<table class="num"><thead><tr><th>call site</th><th>count</th></tr></thead><tbody>${x.by_call_site
            .slice(0, HTML_ROWS)
            .map((s) => `<tr><td>${esc(s.call_site)}</td><td>${num(s.count)}</td></tr>`)
            .join('')}</tbody></table>`
        : ''
    }`;
  return `<section id="problems"><h2>What the trace itself gets wrong</h2>
<p class="hint">Left out of the replay and counted; the same on every profile. Pointers are matched by their printed value (%p hashes consistently within a boot).</p>
${one(p.free_unknown, 'frees of pointers the trace never allocated (allocated before it began, or the allocation was lost)')}
${one(p.double_free, 'double frees')}
${one(p.alloc_live, 'allocations of pointers still live (their free is missing)')}</section>`;
}

function countersTable(r: TraceReport): string {
  const items = [...new Set(r.profiles.flatMap((p) => Object.keys(p.stats)))];
  if (items.length === 0) return '';
  const rows = items
    .map((k) => {
      const cells = r.profiles.map((p) => {
        const v = p.stats[k as keyof ProfileReplay['stats']];
        return v === undefined ? '<td class="zero">–</td>' : `<td${v === 0 ? ' class="zero"' : ''}>${num(v)}</td>`;
      });
      return `<tr><td>${esc(k)}</td>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<section id="counters"><h2>SLUB statistics, all caches</h2>
<p class="hint">Each profile's stat items (/sys/kernel/slab/&lt;cache&gt;/&lt;stat&gt;) summed over the caches and CPUs of the replay; – where the profile has no such item.</p>
<div class="scroll"><table class="num counters"><thead><tr><th>counter</th>${r.profiles.map((p) => `<th>${esc(p.profile)}</th>`).join('')}</tr></thead>
<tbody>${rows}</tbody></table></div></section>`;
}

export function traceHtml(r: TraceReport): string {
  return reportDocument({
    title: `slabsim trace: ${r.file}`,
    subtitle: `${r.format}, ${num(r.events)} kmem events on ${r.cpus.replay} CPUs, ${r.memory / (1 << 20)} MiB, profiles ${r.profiles.map((p) => p.profile).join(', ') || 'none'}`,
    main: `${cards(r)}
${profileTable(r)}
<section id="pages"><h2>Slab pages over the trace's time</h2><p class="hint">Pages in slabs (and kmalloc_large) after each event, sampled; one line per profile. Time is the trace's, from its first event.</p><div class="chart" id="pages-chart"></div></section>
<section id="live"><h2>Live objects over the trace's time</h2><div class="chart" id="live-chart"></div></section>
${fastBars(r)}
${cacheTable(r)}
${leakTable(r)}
${problemsHtml(r)}
${countersTable(r)}`,
    footer: `generated by slabsim from a trace replay of schema ${esc(r.schema)}`,
    data: traceHtmlData(r),
    script: reportScript('trace/page'),
  });
}
