// The first reading of a trace: what a replay must know before its first event. The
// caches to create (a kmem_cache_free names its cache; an allocation's cache is the one
// the objects of its call site are later freed to), the CPUs the trace names, whether its
// lines are in timestamp order, how much it holds live at most (the simulated memory to
// give it), and what in it is not a kmem event. Bad input stops here, before anything
// runs: a file with no kmem line in its first 10,000 lines, or more than 1% of its kmem
// lines malformed. Memory: the objects live at once, one entry per call site and cache,
// the first malformed lines; never the events.
import { KMALLOC_SIZES } from '../mm/slub/geometry.js';
import { CACHE_NAME_BYTES } from '../shm/structs.js';
import { kmallocName } from '../mm/slub/kmalloc_caches.js';
import { EV, isAlloc, isKmalloc, LINE, LineParser, type TraceEvent } from './events.js';
import { Names } from './names.js';
import { PtrTable, Slots } from './ptr_table.js';
import { lineChunks, TraceError, type TraceSource } from './source.js';

/** Which events a replay takes: a time window in the trace's clock, and a count. */
export interface TraceWindow {
  /** events before this timestamp are left out */
  since?: number;
  /** events after this timestamp are left out */
  until?: number;
  /** at most this many kmem events (in the window, in file order) */
  limit?: number;
}

/** Lines read before a file without any kmem line is refused. */
export const SNIFF_LINES = 10_000;
/** The share of malformed kmem lines a trace may have. */
export const MAX_MALFORMED = 0.01;
/** Malformed lines kept for the report (all are counted). */
const KEEP_MALFORMED = 20;
/** Other event names counted one by one; beyond that they share one count. */
const MAX_OTHER_NAMES = 200;
/** The largest object kmem_cache_create() takes with 4 KiB pages (1024 pages). */
const MAX_OBJECT_SIZE = 4 << 20;
/** bytes_alloc is at most this in a site key (kmalloc_large's largest order fits). */
const BYTES_KEY = 1 << 23;

export interface MalformedLine {
  line: number;
  reason: string;
  /** the line (its first 200 characters) */
  text: string;
}

/** A cache the replay creates (kmalloc caches exist already and are not listed). */
export interface PlannedCache {
  name: string;
  /** the size its objects were allocated with (bytes_req of kmem_cache_alloc: s->object_size) */
  objectSize: number;
  /** call sites (with one bytes_alloc each) whose objects go to it */
  sites: number;
  /** allocations from those call sites */
  allocs: number;
}

/** A call site with one bytes_alloc: the unit an allocation's cache is decided for. */
export const siteKey = (site: number, bytesAlloc: number): number => site * BYTES_KEY + Math.min(bytesAlloc, BYTES_KEY - 1);

export interface TraceScan {
  name: string;
  /** how the text reads: 'ftrace' (with or without its header), 'trace-cmd report', 'perf script' */
  format: string;
  lines: number;
  /** well-formed kmem event lines read */
  kmemLines: number;
  malformed: number;
  malformedLines: MalformedLine[];
  /** other events by name (a few hundred names; the rest under '...') */
  otherEvents: Record<string, number>;
  /** lines that are neither events nor comments */
  unknownLines: number;
  /** "[LOST n EVENTS]": notices and the events they report missing */
  lostNotices: number;
  lostEvents: number;
  /** kmem events in the window and under the limit: the events a replay takes */
  events: number;
  /** kmem events left out by --since/--until */
  outsideWindow: number;
  /** the reading stopped at --limit */
  limited: boolean;
  /** the highest CPU number of an event (-1: none) */
  maxCpu: number;
  firstTs: number;
  lastTs: number;
  /** the largest step back in time from an event to a later line's: 0 when in timestamp order */
  disorder: number;
  /** bytes_alloc and objects live at once at most (in file order) */
  peakLiveBytes: number;
  peakLive: number;
  /** caches to create, most allocations first */
  caches: PlannedCache[];
  /** caches the trace names that the machine has no room for: their objects go to kmalloc by size */
  foldedCaches: string[];
  /** siteKey -> the cache name its objects go to (absent: kmalloc by bytes_alloc) */
  plan: Map<number, string>;
  /** call sites and cache names by number, as the events name them (a replay reads with the same) */
  sites: Names;
  names: Names;
  /** stopped by the signal before the end */
  interrupted: boolean;
  /** how long the reading took, ms */
  elapsedMs: number;
}

/** The object size an allocation asks of its cache: s->object_size for kmem_cache_alloc. */
export const objectSizeOf = (ev: TraceEvent): number =>
  isKmalloc(ev.kind) ? ev.bytesAlloc : ev.bytesReq > 0 ? ev.bytesReq : ev.bytesAlloc;

/** NULL and ZERO_SIZE_PTR (as printed unhashed): kfree() takes them and does nothing. */
export const isNullPtr = (ev: TraceEvent): boolean => ev.ptrHi === 0 && ev.ptrLo <= 16;

/** How many events of the window a reader has taken, and whether the next is in. */
export class WindowCut {
  taken = 0;
  outside = 0;
  constructor(private readonly w: TraceWindow) {}
  /** 1: take the event; 0: outside the window; -1: the limit is reached (stop reading). */
  admit(ts: number): number {
    if ((this.w.since !== undefined && ts < this.w.since) || (this.w.until !== undefined && ts > this.w.until)) {
      this.outside++;
      return 0;
    }
    if (this.w.limit !== undefined && this.taken >= this.w.limit) return -1;
    this.taken++;
    return 1;
  }
}

export interface ScanOptions {
  window?: TraceWindow;
  /** the machine's cache table has room for this many caches of the trace's own */
  maxCaches?: number;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

/** Read the trace once; throws TraceError when it is no trace or too malformed to replay. */
export async function scanTrace(src: TraceSource, opts: ScanOptions = {}): Promise<TraceScan> {
  const sites = new Names();
  const names = new Names();
  const p = new LineParser(sites, names);
  const ev = p.ev;
  const cut = new WindowCut(opts.window ?? {});
  const kmallocNames = new Set(KMALLOC_SIZES.map(kmallocName));
  const r: TraceScan = {
    name: src.name,
    format: 'ftrace',
    lines: 0,
    kmemLines: 0,
    malformed: 0,
    malformedLines: [],
    otherEvents: {},
    unknownLines: 0,
    lostNotices: 0,
    lostEvents: 0,
    events: 0,
    outsideWindow: 0,
    limited: false,
    maxCpu: -1,
    firstTs: Number.NaN,
    lastTs: Number.NaN,
    disorder: 0,
    peakLiveBytes: 0,
    peakLive: 0,
    caches: [],
    foldedCaches: [],
    plan: new Map(),
    sites,
    names,
    interrupted: false,
    elapsedMs: 0,
  };
  const start = performance.now();
  let header = false;
  let traceCmd = false;
  let perf = false;
  let maxTs = -Infinity;
  // Objects live in file order: their site key and bytes.
  const live = new PtrTable();
  const objs = new Slots(['key', 'bytes'] as const);
  let liveBytes = 0;
  /** siteKey -> allocations, the largest object size, and cache name -> frees naming it */
  const keys = new Map<number, { allocs: number; size: number; votes: Map<number, number> }>();
  let otherNames = 0;
  let stop = false;
  read: for await (const piece of lineChunks(src, opts.onBytes)) {
    if (opts.signal?.aborted) {
      r.interrupted = true;
      break;
    }
    for (let a = 0; a < piece.length;) {
      let b = piece.indexOf(10, a);
      if (b < 0) b = piece.length;
      r.lines++;
      const kind = p.parse(piece, a, b);
      if (kind === LINE.kmem) {
        r.kmemLines++;
        const admit = cut.admit(ev.ts);
        if (admit < 0) {
          stop = true;
          break read;
        }
        if (admit > 0) {
          if (ev.cpu > r.maxCpu) r.maxCpu = ev.cpu;
          if (Number.isNaN(r.firstTs)) r.firstTs = ev.ts;
          r.lastTs = ev.ts;
          if (ev.ts > maxTs) maxTs = ev.ts;
          else if (maxTs - ev.ts > r.disorder) r.disorder = maxTs - ev.ts;
          if (p.prefixed) perf = true;
          if (isAlloc(ev.kind)) {
            if (ev.ptrHi !== 0 || ev.ptrLo !== 0) {
              const key = siteKey(ev.site, ev.bytesAlloc);
              let k = keys.get(key);
              if (!k) keys.set(key, (k = { allocs: 0, size: 0, votes: new Map() }));
              k.allocs++;
              k.size = Math.max(k.size, objectSizeOf(ev));
              let slot = live.get(ev.ptrHi, ev.ptrLo);
              if (slot < 0) {
                slot = objs.alloc();
                live.set(ev.ptrHi, ev.ptrLo, slot);
              } else liveBytes -= objs.c.bytes[slot]; // a missed free: the newer allocation counts
              objs.c.key[slot] = key;
              objs.c.bytes[slot] = ev.bytesAlloc;
              liveBytes += ev.bytesAlloc;
              if (liveBytes > r.peakLiveBytes) r.peakLiveBytes = liveBytes;
            }
          } else if (!isNullPtr(ev)) {
            const slot = live.delete(ev.ptrHi, ev.ptrLo);
            if (slot >= 0) {
              liveBytes -= objs.c.bytes[slot];
              objs.release(slot);
              if (ev.kind === EV.kmem_cache_free && ev.name >= 0) {
                const votes = keys.get(objs.c.key[slot])?.votes;
                votes?.set(ev.name, (votes.get(ev.name) ?? 0) + 1);
              }
            }
          }
        }
      } else if (kind === LINE.malformed) {
        r.malformed++;
        if (r.malformedLines.length < KEEP_MALFORMED)
          r.malformedLines.push({
            line: r.lines,
            reason: p.reason,
            text: piece.toString('latin1', a, Math.min(b, a + 200)).trim(),
          });
      } else if (kind === LINE.other) {
        const name = otherNames < MAX_OTHER_NAMES || p.other in r.otherEvents ? p.other : '...';
        if (!(name in r.otherEvents)) otherNames++;
        r.otherEvents[name] = (r.otherEvents[name] ?? 0) + 1;
      } else if (kind === LINE.comment && r.lines <= 20) {
        const text = piece.toString('latin1', a, Math.min(b, a + 24));
        if (text.startsWith('# tracer') || text.startsWith('# entries-in-buffer')) header = true;
        else if (text.startsWith('cpus=')) traceCmd = true;
      } else if (kind === LINE.lost) {
        r.lostNotices++;
        r.lostEvents += p.lost;
      } else r.unknownLines++;
      if (r.lines === SNIFF_LINES && r.kmemLines + r.malformed === 0) throw notATrace(src.name, SNIFF_LINES);
      a = b + 1;
    }
  }
  r.limited = stop;
  r.events = cut.taken;
  r.outsideWindow = cut.outside;
  r.peakLive = live.peak;
  if (r.kmemLines + r.malformed === 0 && !r.interrupted) throw notATrace(src.name, r.lines);
  const kmem = r.kmemLines + r.malformed;
  if (r.malformed > MAX_MALFORMED * kmem) {
    const first = r.malformedLines[0];
    throw new TraceError(
      `'${src.name}': ${r.malformed.toLocaleString('en-US')} of ${kmem.toLocaleString('en-US')} kmem lines are malformed (${((100 * r.malformed) / kmem).toFixed(1)}%, more than ${100 * MAX_MALFORMED}%): line ${first.line}: ${first.reason}`,
    );
  }
  r.format = perf ? 'perf script' : traceCmd ? 'trace-cmd report' : header ? 'ftrace (with header)' : 'ftrace';
  planCaches(r, keys, names, kmallocNames, opts.maxCaches ?? Infinity);
  r.elapsedMs = performance.now() - start;
  return r;
}

function notATrace(name: string, lines: number): TraceError {
  return new TraceError(
    `'${name}' is not a kmem trace: no kmalloc, kmem_cache_alloc, kfree or kmem_cache_free event in its ${lines < SNIFF_LINES ? '' : 'first '}${lines.toLocaleString('en-US')} line${lines === 1 ? '' : 's'} (expected ftrace, trace-cmd report or perf script text; docs/traces.md)`,
  );
}

/**
 * Each site key goes to the cache most of its named frees name (a call site such as
 * mempool_alloc_slab() may serve several; its objects then go to the busiest). Caches
 * are created with the largest object size allocated for them; those beyond the
 * machine's room, by fewest allocations, are folded into kmalloc by size.
 */
function planCaches(
  r: TraceScan,
  keys: Map<number, { allocs: number; size: number; votes: Map<number, number> }>,
  names: Names,
  kmallocNames: ReadonlySet<string>,
  maxCaches: number,
): void {
  const caches = new Map<string, PlannedCache>();
  const chosen = new Map<number, string>();
  for (const [key, k] of keys) {
    let best = -1;
    let most = 0;
    for (const [n, count] of k.votes) {
      if (count > most || (count === most && n < best)) {
        best = n;
        most = count;
      }
    }
    if (best < 0) continue;
    const name = names.list[best];
    chosen.set(key, name);
    if (kmallocNames.has(name)) continue;
    const c = caches.get(name) ?? { name, objectSize: 0, sites: 0, allocs: 0 };
    c.objectSize = Math.max(c.objectSize, k.size);
    c.sites++;
    c.allocs += k.allocs;
    caches.set(name, c);
  }
  const ranked = [...caches.values()].sort((x, y) => y.allocs - x.allocs || (x.name < y.name ? -1 : 1));
  // A name kmem_cache_create() would refuse here (too long for the machine's table) or a
  // size it cannot make a cache of goes to kmalloc by size too.
  const creatable = ranked.filter(
    (c) => Buffer.byteLength(c.name) < CACHE_NAME_BYTES && c.objectSize >= 1 && c.objectSize <= MAX_OBJECT_SIZE,
  );
  r.caches = creatable.slice(0, maxCaches);
  const made = new Set(r.caches.map((c) => c.name));
  r.foldedCaches = ranked.filter((c) => !made.has(c.name)).map((c) => c.name);
  const kept = new Set([...kmallocNames, ...r.caches.map((c) => c.name)]);
  for (const [key, name] of chosen) if (kept.has(name)) r.plan.set(key, name);
}
