// What SLUB's debug code prints, and how lib/slub_kunit.c counts it. slub.c: slab_bug(),
// slab_err(), object_err(), slab_fix(), print_trailer(), print_tracking().
//
// Counting: while KUnit's "slab_errors" resource exists, slab_err(), object_err() and
// slab_fix() each add one error instead of printing, and check_bytes_and_report() adds
// one for its report and one more for the restore_bytes() -> slab_fix() that follows:
// one corrupted byte range = 2 errors. The simulator always counts that way, into
// struct kmem_cache's slabErrors word (shared, so a report made on a worker thread is
// seen by whoever validates), and keeps the printed lines in a log of the thread that
// made them (the machine's dmesg as this thread saw it).
import { type Machine, perBufferState, pfnToAddr, pageOff } from '../../shm/machine.js';
import { KMEM_CACHE, PAGE, SLAB_COUNTERS, SLAB_FREELIST } from '../../shm/structs.js';
import { inuseOf, objectsOf } from '../../shm/word.js';
import type { KmemCache } from './kmem_cache.js';

export interface SlabReport {
  /** the cache the line is about ('' for none) */
  cache: string;
  /** bug/fix lines are counted (slab_errors); info and warn lines are not */
  kind: 'bug' | 'fix' | 'info' | 'warn';
  text: string;
}

/** Where the check functions send what they find. */
export interface Reporter {
  /**
   * Repair as the kernel does (restore_bytes(), zap a corrupt free pointer, fix counts).
   * False for the read-only audit, which only collects the BUG lines.
   */
  readonly repair: boolean;
  /** One counted report: the BUG line of slab_err()/object_err()/check_bytes_and_report(), or a FIX line. */
  count(s: KmemCache, kind: 'bug' | 'fix', text: string): void;
  /** An uncounted line (details, traces, warnings). */
  line(s: KmemCache | null, kind: 'info' | 'warn', text: string): void;
}

const MAX_LOG = 10_000;

/** A thread's log of one machine: the newest lines, and how many older ones were dropped. */
interface Log {
  lines: SlabReport[];
  dropped: number;
}
const logs = perBufferState<Log>((l) => ({ lines: l.lines.slice(), dropped: l.dropped }));

function logOf(m: Machine): Log {
  let log = logs.get(m.sab);
  if (!log) {
    log = { lines: [], dropped: 0 };
    logs.set(m.sab, log);
  }
  return log;
}

/** Append a line; past 2 x MAX_LOG lines the oldest are dropped in one cut (amortised O(1)). */
function append(m: Machine, r: SlabReport): void {
  const log = logOf(m);
  log.lines.push(r);
  if (log.lines.length >= 2 * MAX_LOG) {
    const cut = log.lines.length - MAX_LOG;
    log.lines.splice(0, cut);
    log.dropped += cut;
  }
}

/** The live reporter: every counted report bumps the cache's slabErrors, every line goes to this thread's log. */
export const liveReporter: Reporter = {
  repair: true,
  count(s, kind, text) {
    Atomics.add(s.m.u32, s.base + KMEM_CACHE.slabErrors, 1);
    append(s.m, { cache: s.name, kind, text });
  },
  line(s, kind, text) {
    if (s) append(s.m, { cache: s.name, kind, text });
  },
};

/** A read-only reporter that collects the BUG lines (validateCache's audit of debug caches). */
export function auditReporter(out: string[]): Reporter {
  return {
    repair: false,
    count(_s, kind, text) {
      if (kind === 'bug') out.push(text);
    },
    line() {},
  };
}

/** The lines this thread has logged about machine `m`, oldest first (at most the last 10000). */
export function slabReports(m: Machine): readonly SlabReport[] {
  const { lines } = logOf(m);
  return lines.length > MAX_LOG ? lines.slice(-MAX_LOG) : lines;
}

/** A mark in this thread's log of `m`: slabReportsSince(m, mark) is what was logged after it. */
export function reportMark(m: Machine): number {
  const log = logOf(m);
  return log.dropped + log.lines.length;
}

/** The lines logged since `mark` (reportMark()), as many as are still kept. */
export function slabReportsSince(m: Machine, mark: number): readonly SlabReport[] {
  const log = logOf(m);
  return log.lines.slice(Math.max(0, mark - log.dropped));
}

/** Forget this thread's log of machine `m` (marks taken before stay valid). */
export function clearSlabReports(m: Machine): void {
  const log = logOf(m);
  log.dropped += log.lines.length;
  log.lines.length = 0;
}

/** Counted reports about cache `s` so far, from every thread (KUnit's slab_errors). */
export const slabErrorCount = (s: KmemCache): number => Atomics.load(s.m.u32, s.base + KMEM_CACHE.slabErrors);

/** Start counting afresh (what each KUnit test does with slab_errors = 0). */
export function resetSlabErrors(s: KmemCache): void {
  Atomics.store(s.m.u32, s.base + KMEM_CACHE.slabErrors, 0);
}

export const hex = (x: number): string => `0x${(x >>> 0).toString(16)}`;

/** print_slab_info() (6.x) / print_page_info() (5.4, with "INFO: "). */
export function slabInfoLine(s: KmemCache, pfn: number): string {
  const m = s.m;
  const p = pageOff(m, pfn);
  const counters = m.u32[p + SLAB_COUNTERS];
  const text = `Slab ${hex(pfnToAddr(m, pfn))} objects=${objectsOf(counters)} used=${inuseOf(counters)} fp=${hex(m.u32[p + SLAB_FREELIST])} flags=${hex(m.u32[p + PAGE.flags])}`;
  return s.v66 ? text : `INFO: ${text}`;
}

/** slab_bug()'s headline. (The kernel adds the taint state in parentheses after the name.) */
export const bugLine = (s: KmemCache, reason: string): string => `BUG ${s.name}: ${reason}`;

/** slab_err(s, slab, fmt, ...): one counted report about a slab. */
export function slabErr(r: Reporter, s: KmemCache, pfn: number, text: string): void {
  r.count(s, 'bug', bugLine(s, text));
  r.line(s, 'info', slabInfoLine(s, pfn));
}

/** slab_fix(s, fmt, ...): one counted FIX line. */
export function slabFix(r: Reporter, s: KmemCache, text: string): void {
  r.count(s, 'fix', `FIX ${s.name}: ${text}`);
}
