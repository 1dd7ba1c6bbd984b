// slabsim compare: the same workload and seed on every allocator that fits it, at each
// CPU count: throughput, scaling, pages at peak and at the end, retries per operation;
// or, with profiles, on SLUB of each kernel profile: also list_lock and barn->lock
// acquisitions, CAS operations per operation, and slab pages at peak.
// Each row is `repeat` runs on the same worker threads (so later runs find their code
// compiled); a run's rate is its steady rate (warm-up left out), and the row shows the
// median of its runs with the slowest and fastest beside it.
import { DEFAULT_CONFIG, hasSheaves, type Profile } from '../config.js';
import { SlabError } from '../errors.js';
import { ALLOCATORS, type AllocatorName, checkAllocator } from './allocators.js';
import { type RunOptions, type RunReport, runWorkload } from './run.js';
import { CpuPool } from './workers.js';

export const COMPARE_SCHEMA = 'slabsim-compare/2';

/** How a row's rate is taken, for the reader of the text, HTML and JSON. */
export const RATE_METHOD =
  "each run's steady rate: ops/s over the second half of its parallel phase (JIT warm-up left out); the row's is the median of its runs";

export interface CompareRow {
  allocator: AllocatorName;
  /** the kernel profile of the run (SLUB's; the pools ignore it) */
  profile: Profile;
  cpus: number;
  /** runs made (fewer than asked when interrupted) */
  runs: number;
  /** operations of the median run */
  ops: number;
  /** median of the runs' steady rates (a run too short for one counts with its whole-run rate) */
  ops_per_sec: number;
  ops_per_sec_min: number;
  ops_per_sec_max: number;
  /** ops_per_sec over the same allocator's at the fewest CPUs */
  scaling: number;
  pages_peak: number;
  pages_end: number;
  /** failed CASes (retried) and lock waits, per operation */
  retries_per_op: number;
  /** n->list_lock acquisitions, barn->lock acquisitions and CAS operations (any), per operation, over all runs */
  list_locks_per_op: number;
  barn_locks_per_op: number;
  cas_per_op: number;
  /** pages held by slabs at the runs' peak sample (or their end) */
  slab_pages_peak: number;
  checks_ok: boolean;
}

export interface CompareReport {
  schema: typeof COMPARE_SCHEMA;
  workload: string;
  seed: number;
  /** each run's length: a duration (ms), or an operation count when null */
  duration_ms: number | null;
  /** operations per run (a cap when there is a duration) */
  ops: number;
  /** runs per row */
  repeat: number;
  rate: typeof RATE_METHOD;
  cpus: number[];
  /** the profiles compared (--profiles), or the one profile every row ran on */
  profiles: Profile[];
  /** stopped early by Ctrl-C: rows not reached are missing, the last row may have fewer runs */
  interrupted: boolean;
  rows: CompareRow[];
  /** allocators that do not fit the workload, with the reason */
  skipped: Array<{ allocator: AllocatorName; why: string }>;
}

/** The allocators that fit `workload` (the others with the reason they do not). */
export function fitting(workload: string, wanted: readonly AllocatorName[] = ALLOCATORS) {
  const ok: AllocatorName[] = [];
  const skipped: CompareReport['skipped'] = [];
  for (const a of wanted) {
    try {
      checkAllocator(a, workload, 0);
      ok.push(a);
    } catch (e) {
      if (!(e instanceof SlabError)) throw e;
      skipped.push({ allocator: a, why: e.message });
    }
  }
  return { ok, skipped };
}

/**
 * Run the comparison. With `profiles`, SLUB alone runs, once per profile (the pools do
 * not depend on it); `base.sheafCapacity` then applies to the profiles with sheaves only.
 * `base.signal` aborted (Ctrl-C) stops the run in hand and starts no other.
 */
export async function compare(
  base: Omit<RunOptions, 'allocator' | 'machine' | 'pool'> & { machine: RunOptions['machine'] },
  cpus: readonly number[],
  allocators: readonly AllocatorName[] = ALLOCATORS,
  onRow?: (row: CompareRow) => void,
  profiles?: readonly Profile[],
  repeat = 3,
): Promise<CompareReport> {
  const { ok, skipped } = fitting(base.workload, profiles ? ['slub'] : allocators);
  const each = profiles ?? [base.machine.profile ?? DEFAULT_CONFIG.profile];
  const rows: CompareRow[] = [];
  const stopped = (): boolean => base.signal?.aborted === true;
  for (const allocator of ok) {
    for (const profile of each) {
      let first = 0;
      const sheafCapacity = hasSheaves(profile) ? base.sheafCapacity : undefined;
      for (const n of cpus) {
        if (stopped()) break;
        const pool = new CpuPool(n);
        const runs: RunReport[] = [];
        try {
          do {
            runs.push(
              await runWorkload({ ...base, sheafCapacity, allocator, machine: { ...base.machine, profile, cpus: n }, pool }),
            );
          } while (runs.length < repeat && !stopped());
        } finally {
          await pool.destroy();
        }
        const row = rowOf(allocator, profile, n, runs);
        first ||= row.ops_per_sec;
        row.scaling = Math.round((row.ops_per_sec / first) * 100) / 100;
        rows.push(row);
        onRow?.(row);
      }
    }
  }
  return {
    schema: COMPARE_SCHEMA,
    workload: base.workload,
    seed: base.seed,
    duration_ms: base.durationMs ?? null,
    ops: base.ops,
    repeat,
    rate: RATE_METHOD,
    cpus: [...cpus],
    profiles: [...each],
    interrupted: stopped(),
    rows,
    skipped,
  };
}

/** A row from its runs: the median steady rate and the spread, counts over all runs, the worst of the checks. */
function rowOf(allocator: AllocatorName, profile: Profile, cpus: number, runs: RunReport[]): CompareRow {
  const rate = (r: RunReport): number => r.steady_rate?.ops_per_sec ?? r.ops_per_sec;
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  const median = sorted[(sorted.length - 1) >> 1];
  const ops = runs.reduce((s, r) => s + r.ops, 0);
  const per = (k: 'cas_retries' | 'lock_waits' | 'cas_ops' | 'list_locks' | 'barn_locks'): number =>
    runs.reduce((s, r) => s + r.per_cpu.reduce((t, c) => t + c[k], 0), 0) / Math.max(ops, 1);
  const peak = (f: (r: RunReport) => number[]): number => Math.max(...runs.flatMap(f));
  const last = runs[runs.length - 1];
  return {
    allocator,
    profile,
    cpus,
    runs: runs.length,
    ops: median.ops,
    ops_per_sec: rate(median),
    ops_per_sec_min: rate(sorted[0]),
    ops_per_sec_max: rate(sorted[sorted.length - 1]),
    scaling: 1,
    pages_peak: peak((r) => [r.pages.total - r.pages.free, ...(r.timeline ?? []).map((t) => t.pages_used)]),
    pages_end: last.pages.total - last.pages.free,
    retries_per_op: round4(per('cas_retries') + per('lock_waits')),
    list_locks_per_op: round4(per('list_locks')),
    barn_locks_per_op: round4(per('barn_locks')),
    cas_per_op: round4(per('cas_ops')),
    slab_pages_peak: peak((r) => [r.pages.slab, ...(r.timeline ?? []).map((t) => t.slab_pages)]),
    checks_ok: runs.every((r) => r.checks.ok),
  };
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000;

/** The spread of a row's runs: "min-max" in millions of ops/s. */
const spread = (x: CompareRow): string => `${(x.ops_per_sec_min / 1e6).toFixed(2)}-${(x.ops_per_sec_max / 1e6).toFixed(2)}M`;

/** What each run was: its length and how many per row. */
function runsLine(r: CompareReport): string {
  const length = r.duration_ms === null ? `${r.ops} ops` : `${r.duration_ms / 1000} s`;
  return `${r.repeat} run${r.repeat === 1 ? '' : 's'} of ${length} per row`;
}

export function compareText(r: CompareReport): string {
  const head = `${'allocator'.padEnd(16)} ${'profile'.padEnd(7)} ${'cpus'.padStart(4)} ${'ops/s'.padStart(12)} ${'min-max'.padStart(13)} ${'scaling'.padStart(8)} ${'pages peak'.padStart(10)} ${'pages end'.padStart(9)} ${'retries/op'.padStart(10)} ${'list_lock/op'.padStart(12)} ${'barn_lock/op'.padStart(12)} ${'CAS/op'.padStart(8)} ${'slab pages peak'.padStart(15)}  checks`;
  const lines = r.rows.map(
    (x) =>
      `${x.allocator.padEnd(16)} ${x.profile.padEnd(7)} ${String(x.cpus).padStart(4)} ${x.ops_per_sec.toLocaleString('en-US').padStart(12)} ${spread(x).padStart(13)} ${x.scaling.toFixed(2).padStart(8)} ${String(x.pages_peak).padStart(10)} ${String(x.pages_end).padStart(9)} ${x.retries_per_op.toFixed(4).padStart(10)} ${x.list_locks_per_op.toFixed(4).padStart(12)} ${x.barn_locks_per_op.toFixed(4).padStart(12)} ${x.cas_per_op.toFixed(4).padStart(8)} ${String(x.slab_pages_peak).padStart(15)}  ${x.checks_ok ? 'ok' : 'FAILED'}${x.runs < r.repeat ? ` (${x.runs} of ${r.repeat} runs)` : ''}`,
  );
  const skipped = r.skipped.map((s) => `  skipped ${s.allocator}: ${s.why}`);
  return `${[
    `compare: workload ${r.workload}, seed ${r.seed}, ${runsLine(r)}`,
    `  ops/s: ${r.rate}; min-max: the slowest and fastest run`,
    ...(r.interrupted ? ['  interrupted (Ctrl-C): rows not reached are missing'] : []),
    head,
    ...lines,
    ...skipped,
  ].join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** One self-contained HTML page: the table, with a bar per row for throughput. */
export function compareHtml(r: CompareReport): string {
  const max = Math.max(...r.rows.map((x) => x.ops_per_sec), 1);
  const rows = r.rows
    .map(
      (x) =>
        `<tr><td>${esc(x.allocator)}</td><td>${esc(x.profile)}</td><td>${x.cpus}</td><td class="n">${x.ops_per_sec.toLocaleString('en-US')}</td><td class="n">${spread(x)}</td><td><div class="bar" style="width:${((300 * x.ops_per_sec) / max).toFixed(1)}px"></div></td><td class="n">${x.scaling.toFixed(2)}</td><td class="n">${x.pages_peak}</td><td class="n">${x.pages_end}</td><td class="n">${x.retries_per_op.toFixed(4)}</td><td class="n">${x.list_locks_per_op.toFixed(4)}</td><td class="n">${x.barn_locks_per_op.toFixed(4)}</td><td class="n">${x.cas_per_op.toFixed(4)}</td><td class="n">${x.slab_pages_peak}</td><td>${x.checks_ok ? 'ok' : '<b>FAILED</b>'}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>slabsim compare: ${esc(r.workload)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd}.n{text-align:right;font-variant-numeric:tabular-nums}.bar{height:12px;background:#3b7dd8}</style></head>
<body><h1>slabsim compare: ${esc(r.workload)}</h1><p>seed ${r.seed}, ${runsLine(r)}, CPUs ${r.cpus.join(', ')}, profiles ${r.profiles.map(esc).join(', ')}</p>
<p>ops/s: ${esc(r.rate)}; min-max: the slowest and fastest run.</p>${r.interrupted ? '<p id="interrupted"><b>Interrupted (Ctrl-C)</b>: rows not reached are missing.</p>' : ''}
<table><tr><th>allocator</th><th>profile</th><th>CPUs</th><th>ops/s</th><th>min-max</th><th></th><th>scaling</th><th>pages peak</th><th>pages end</th><th>retries/op</th><th>list_lock/op</th><th>barn_lock/op</th><th>CAS/op</th><th>slab pages peak</th><th>checks</th></tr>
${rows}</table>${r.skipped.length ? `<p>${r.skipped.map((s) => `skipped ${esc(s.allocator)}: ${esc(s.why)}`).join('<br>')}</p>` : ''}</body></html>
`;
}
