// The text of `slabsim trace`: what was read, one row per profile, the caches, the leak
// table and what the trace itself got wrong.
import type { ProfileReplay, TraceProblem } from './replay.js';
import type { TraceReport } from './trace.js';

/** Rows of the leak table and of each problem's call sites shown in text (JSON has all). */
const TEXT_ROWS = 20;

const num = (n: number): string => n.toLocaleString('en-US');
const pct = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const plural = (n: number, one: string, many = `${one}s`): string => `${num(n)} ${n === 1 ? one : many}`;

/** A table: columns right-aligned but the first, each as wide as its widest cell. */
export function table(head: string[], rows: string[][], leftCols = 1): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i < leftCols ? c.padEnd(w[i]) : c.padStart(w[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

function skippedLine(r: TraceReport): string | null {
  const s = r.skipped;
  const parts: string[] = [];
  const other = Object.entries(s.other_events).sort((a, b) => b[1] - a[1]);
  const nOther = other.reduce((t, [, n]) => t + n, 0);
  if (nOther)
    parts.push(
      `${plural(nOther, 'other event')} (${other
        .slice(0, 4)
        .map(([k, n]) => `${k} ${num(n)}`)
        .join(', ')}${other.length > 4 ? ', ...' : ''})`,
    );
  if (s.malformed) parts.push(`${plural(s.malformed, 'malformed kmem line')}`);
  if (s.unknown_lines) parts.push(`${plural(s.unknown_lines, 'unreadable line')}`);
  if (s.lost_notices) parts.push(`${plural(s.lost_events, 'event')} the ring buffer lost (${plural(s.lost_notices, 'notice')})`);
  if (s.outside_window) parts.push(`${plural(s.outside_window, 'event')} outside --since/--until`);
  return parts.length ? `  skipped: ${parts.join(', ')}` : null;
}

/**
 * The first line of the text: what is replayed, known once the scan is done (the CLI
 * prints it when the replay starts, off a terminal, as a sign that it does).
 */
export function headLine(
  r: Pick<TraceReport, 'file' | 'format' | 'lines' | 'events' | 'cpus' | 'memory'> & { window: { limit: number | null } },
): string {
  return `trace ${r.file} (${r.format}, ${plural(r.lines, 'line')}): ${plural(r.events, 'kmem event')} replayed on ${plural(r.cpus.replay, 'CPU')}, ${r.memory / (1 << 20)} MiB${r.window.limit !== null ? ` (--limit ${num(r.window.limit)})` : ''}`;
}

function headLines(r: TraceReport): string[] {
  const lines = [headLine(r)];
  const caches = r.caches.map((c) => `${c.name} (${c.objectSize} B)`);
  lines.push(
    `  caches: ${caches.length ? `${caches.slice(0, 8).join(', ')}${caches.length > 8 ? `, ${caches.length - 8} more` : ''}, and ` : ''}kmalloc by bytes_alloc${r.folded_caches.length ? `; ${plural(r.folded_caches.length, 'named cache')} folded into kmalloc (no room, or a name or size the machine takes no cache of)` : ''}`,
  );
  const skipped = skippedLine(r);
  if (skipped) lines.push(skipped);
  if (r.profiles.length)
    lines.push(
      `  read twice in ${((r.timing.scan_ms + r.timing.replay_ms) / 1000).toFixed(1)} s (scan ${(r.timing.scan_ms / 1000).toFixed(1)} s, replay on ${plural(r.profiles.length, 'profile')} at once ${(r.timing.replay_ms / 1000).toFixed(1)} s): ${num(r.timing.events_per_sec)} events/s`,
    );
  if (r.disorder > 0)
    lines.push(`  lines out of timestamp order by up to ${(r.disorder * 1000).toFixed(3)} ms: replayed in timestamp order`);
  return lines;
}

function profileTable(r: TraceReport): string[] {
  const stat = (p: ProfileReplay, k: string): string => (k in p.stats ? num(p.stats[k as keyof typeof p.stats] ?? 0) : '-');
  return table(
    [
      'profile',
      'events',
      'allocs',
      'frees',
      'cross-CPU',
      'alloc fast',
      'free fast',
      'free_slowpath',
      'free_frozen',
      'barn_get',
      'barn_put',
      'list_lock/op',
      'barn_lock/op',
      'CAS/op',
      'slab pages peak',
      'end',
      'live peak',
      'end',
      'checks',
    ],
    r.profiles.map((p) => [
      p.profile,
      num(p.events),
      num(p.allocs),
      num(p.frees),
      num(p.cross_cpu_frees),
      pct(p.alloc_fast),
      pct(p.free_fast),
      stat(p, 'free_slowpath'),
      stat(p, 'free_frozen'),
      stat(p, 'barn_get'),
      stat(p, 'barn_put'),
      p.list_locks_per_op.toFixed(4),
      p.barn_locks_per_op.toFixed(4),
      p.cas_per_op.toFixed(4),
      num(p.slab_pages_peak),
      num(p.slab_pages_end),
      num(p.live_peak),
      num(p.live_end),
      p.checks.ok ? 'ok' : 'FAILED',
    ]),
  );
}

function cacheTable(r: TraceReport): string[] {
  const first = r.profiles[0];
  const rows = first.caches.map((c) => [
    c.name,
    num(c.object_size || 0),
    num(c.allocated),
    num(c.freed),
    num(c.live_peak),
    num(c.live_end),
    ...r.profiles.map((p) => {
      const same = p.caches.find((x) => x.name === c.name);
      return same ? num(same.slab_pages_peak) : '-';
    }),
  ]);
  return [
    `per cache (allocated, freed and live as the trace has them; slab pages at the peak on each profile)`,
    ...table(
      ['cache', 'object size', 'allocated', 'freed', 'live peak', 'live end', ...r.profiles.map((p) => `pages ${p.profile}`)],
      rows,
    ),
  ];
}

const sameLeaks = (a: ProfileReplay, b: ProfileReplay): boolean => JSON.stringify(a.leaks) === JSON.stringify(b.leaks);

function leakTable(r: TraceReport): string[] {
  const first = r.profiles[0];
  const all = r.profiles.every((p) => sameLeaks(p, first));
  const out: string[] = [];
  for (const p of all ? [first] : r.profiles) {
    const where = all ? (r.profiles.length > 1 ? 'the same on every profile' : `profile ${p.profile}`) : `profile ${p.profile}`;
    if (p.leaks.length === 0) {
      out.push(`leaks (${where}): none, every object the trace allocated was freed`);
      continue;
    }
    const objects = p.leaks.reduce((s, l) => s + l.objects, 0);
    const bytes = p.leaks.reduce((s, l) => s + l.bytes, 0);
    out.push(
      `leaks: call sites with objects live at the end, most bytes first (${where}; ${plural(objects, 'object')}, ${num(bytes)} bytes)`,
    );
    out.push(
      ...table(
        ['call site', 'cache', 'objects', 'bytes'],
        p.leaks.slice(0, TEXT_ROWS).map((l) => [l.call_site, l.cache, num(l.objects), num(l.bytes)]),
        2,
      ).map((l) => `  ${l}`),
    );
    if (p.leaks.length > TEXT_ROWS) out.push(`  ... ${plural(p.leaks.length - TEXT_ROWS, 'more call site')}`);
  }
  return out;
}

function problemLines(r: TraceReport): string[] {
  const p = r.problems;
  if (!p) return [];
  const one = (x: TraceProblem, what: string): string[] => {
    if (x.count === 0) return [];
    const sites = x.by_call_site.slice(0, TEXT_ROWS).map((s) => `    ${s.call_site}  ${num(s.count)}`);
    const more =
      x.by_call_site.length > TEXT_ROWS ? [`    ... ${plural(x.by_call_site.length - TEXT_ROWS, 'more call site')}`] : [];
    return [`  ${num(x.count)} ${what}, by call site:`, ...sites, ...more];
  };
  const lines = [
    ...one(p.free_unknown, 'frees of pointers the trace never allocated (allocated before it began, or the allocation was lost)'),
    ...one(p.double_free, 'double frees'),
    ...one(p.alloc_live, 'allocations of pointers still live (their free is missing from the trace)'),
  ];
  return lines.length
    ? ['what the trace itself gets wrong (left out of the replay; the same on every profile):', ...lines]
    : ['the trace is consistent: every free matches an allocation'];
}

function checkLines(r: TraceReport): string[] {
  const out: string[] = [];
  for (const p of r.profiles) {
    if (p.failed)
      out.push(
        `${p.profile}: ${plural(p.failed, 'allocation')} failed: the simulated memory (${p.machine.memory / (1 << 20)} MiB) was full; give more with --memory`,
      );
    if (!p.checks.ok) out.push(`${p.profile}: checks FAILED: ${p.checks.messages.slice(0, 5).join('; ')}`);
  }
  if (r.profiles.length && r.profiles.every((p) => p.checks.ok))
    out.push(`checks: ledger and validate ok on ${r.profiles.map((p) => p.profile).join(', ')}: nothing lost in the simulator`);
  if (r.interrupted)
    out.push(
      r.profiles.length
        ? `interrupted (Ctrl-C): replayed the first ${plural(r.profiles[0].events, 'event')}`
        : 'interrupted (Ctrl-C) while reading the trace: nothing replayed',
    );
  return out;
}

export function traceText(r: TraceReport): string {
  if (r.profiles.length === 0) return `${[...headLines(r), ...checkLines(r)].join('\n')}\n`;
  return `${[
    ...headLines(r),
    '',
    ...profileTable(r),
    '',
    ...cacheTable(r),
    '',
    ...leakTable(r),
    '',
    ...problemLines(r),
    '',
    ...checkLines(r),
  ].join('\n')}\n`;
}
