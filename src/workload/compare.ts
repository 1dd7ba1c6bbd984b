// slabsim compare: the same workload and seed on every allocator that fits it, at each
// CPU count: throughput, scaling, pages at peak and at the end, retries per operation.
import { SlabError } from '../errors.js';
import { ALLOCATORS, type AllocatorName, checkAllocator } from './allocators.js';
import { type RunOptions, runWorkload } from './run.js';

export const COMPARE_SCHEMA = 'slabsim-compare/1';

export interface CompareRow {
  allocator: AllocatorName;
  cpus: number;
  ops: number;
  ops_per_sec: number;
  /** ops_per_sec over the same allocator's at the fewest CPUs */
  scaling: number;
  pages_peak: number;
  pages_end: number;
  /** failed CASes (retried) and lock waits, per operation */
  retries_per_op: number;
  checks_ok: boolean;
}

export interface CompareReport {
  schema: typeof COMPARE_SCHEMA;
  workload: string;
  seed: number;
  ops: number;
  cpus: number[];
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

export async function compare(
  base: Omit<RunOptions, 'allocator' | 'machine'> & { machine: RunOptions['machine'] },
  cpus: readonly number[],
  allocators: readonly AllocatorName[] = ALLOCATORS,
  onRow?: (row: CompareRow) => void,
): Promise<CompareReport> {
  const { ok, skipped } = fitting(base.workload, allocators);
  const rows: CompareRow[] = [];
  for (const allocator of ok) {
    let first = 0;
    for (const n of cpus) {
      const r = await runWorkload({ ...base, allocator, machine: { ...base.machine, cpus: n } });
      first ||= r.ops_per_sec;
      const retries = r.per_cpu.reduce((s, c) => s + c.cas_retries + c.lock_waits, 0);
      const row: CompareRow = {
        allocator,
        cpus: n,
        ops: r.ops,
        ops_per_sec: r.ops_per_sec,
        scaling: Math.round((r.ops_per_sec / first) * 100) / 100,
        pages_peak: Math.max(r.pages.total - r.pages.free, ...(r.timeline ?? []).map((t) => t.pages_used)),
        pages_end: r.pages.total - r.pages.free,
        retries_per_op: Math.round((retries / Math.max(r.ops, 1)) * 10000) / 10000,
        checks_ok: r.checks.ok,
      };
      rows.push(row);
      onRow?.(row);
    }
  }
  return { schema: COMPARE_SCHEMA, workload: base.workload, seed: base.seed, ops: base.ops, cpus: [...cpus], rows, skipped };
}

export function compareText(r: CompareReport): string {
  const head = `${'allocator'.padEnd(16)} ${'cpus'.padStart(4)} ${'ops/s'.padStart(12)} ${'scaling'.padStart(8)} ${'pages peak'.padStart(10)} ${'pages end'.padStart(9)} ${'retries/op'.padStart(10)}  checks`;
  const lines = r.rows.map(
    (x) =>
      `${x.allocator.padEnd(16)} ${String(x.cpus).padStart(4)} ${x.ops_per_sec.toLocaleString('en-US').padStart(12)} ${x.scaling.toFixed(2).padStart(8)} ${String(x.pages_peak).padStart(10)} ${String(x.pages_end).padStart(9)} ${x.retries_per_op.toFixed(4).padStart(10)}  ${x.checks_ok ? 'ok' : 'FAILED'}`,
  );
  const skipped = r.skipped.map((s) => `  skipped ${s.allocator}: ${s.why}`);
  return `${[`compare: workload ${r.workload}, seed ${r.seed}, ${r.ops} ops per run`, head, ...lines, ...skipped].join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** One self-contained HTML page: the table, with a bar per row for throughput. */
export function compareHtml(r: CompareReport): string {
  const max = Math.max(...r.rows.map((x) => x.ops_per_sec), 1);
  const rows = r.rows
    .map(
      (x) =>
        `<tr><td>${esc(x.allocator)}</td><td>${x.cpus}</td><td class="n">${x.ops_per_sec.toLocaleString('en-US')}</td><td><div class="bar" style="width:${((300 * x.ops_per_sec) / max).toFixed(1)}px"></div></td><td class="n">${x.scaling.toFixed(2)}</td><td class="n">${x.pages_peak}</td><td class="n">${x.pages_end}</td><td class="n">${x.retries_per_op.toFixed(4)}</td><td>${x.checks_ok ? 'ok' : '<b>FAILED</b>'}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>slabsim compare: ${esc(r.workload)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd}.n{text-align:right;font-variant-numeric:tabular-nums}.bar{height:12px;background:#3b7dd8}</style></head>
<body><h1>slabsim compare: ${esc(r.workload)}</h1><p>seed ${r.seed}, ${r.ops} operations per run, CPUs ${r.cpus.join(', ')}</p>
<table><tr><th>allocator</th><th>CPUs</th><th>ops/s</th><th></th><th>scaling</th><th>pages peak</th><th>pages end</th><th>retries/op</th><th>checks</th></tr>
${rows}</table>${r.skipped.length ? `<p>${r.skipped.map((s) => `skipped ${esc(s.allocator)}: ${esc(s.why)}`).join('<br>')}</p>` : ''}</body></html>
`;
}
