// The second reading of a trace, once per profile: every kmem event runs on a fresh
// machine of that profile, on the simulated CPU the trace names, in timestamp order across
// CPUs. The replay is one thread that switches the simulated CPU per event (the
// free-running twins, `thisCpu` set as a worker sets it), so it is deterministic: the
// same trace gives the same slabs on every run, and a free on another CPU than its
// allocation's is a remote free, as it was. What the kernel did between two events, and
// when, is not in a trace and not replayed (docs/traces.md).
//
// Per event: allocations go to the cache the scan planned for their call site (or kmalloc
// by bytes_alloc; beyond KMALLOC_MAX_CACHE_SIZE the page allocator, as kmalloc_large());
// frees go to the cache the object came from. What the trace itself gets wrong is left
// out and counted by call site: a free of a pointer the trace never allocated (it
// predates the trace, or the ring buffer lost its allocation), a double free, an
// allocation of a pointer still live (a lost free). Memory: the live objects, a bounded
// memory of recent frees (double frees), the reorder window of an unsorted trace.
import type { Profile } from '../config.js';
import { hasSheaves } from '../config.js';
import { type Cpu, makeCpu } from '../mm/cpu.js';
import { drainPages } from '../mm/pcp.fast.js';
import { slabAllocNode } from '../mm/slub/alloc.fast.js';
import { kmemCacheCreate, leakedObjects, slabPageCount, slubInit } from '../mm/slub/cache.js';
import { kmemCacheFree } from '../mm/slub/free.fast.js';
import { getOrder, KMALLOC_MAX_CACHE_SIZE, KMALLOC_SIZES } from '../mm/slub/geometry.js';
import { GFP_KERNEL, GFP_NOWAIT } from '../mm/slub/gfp.js';
import { kfree, kmalloc } from '../mm/slub/kmalloc.fast.js';
import { kmallocCacheId, kmallocName, kmallocSlab } from '../mm/slub/kmalloc_caches.js';
import { cacheById, type KmemCache } from '../mm/slub/kmem_cache.js';
import { lockCounts } from '../mm/slub/lock_counts.js';
import { NUMA_NO_NODE } from '../mm/slub/slab.js';
import { validateCache } from '../mm/slub/validate.js';
import { validateZones } from '../mm/zone_validate.js';
import { freePageCount } from '../report/buddyinfo.js';
import { statsOf } from '../report/caches.js';
import { pcpPageCount } from '../report/pcp.js';
import { thisCpu } from '../sched/this_cpu.js';
import { contention } from '../shm/atomic.fast.js';
import { create, type Machine } from '../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, MAX_CACHES, PROFILE_STAT_ITEMS, ST, type StatItem } from '../shm/structs.js';
import { createLedger, heldCount, stamp, unstamp } from '../workload/ledger.js';
import type { RunReport } from '../workload/run.js';
import { EV, isAlloc, isKmalloc, LINE, LineParser, type TraceEvent } from './events.js';
import { PtrTable, Slots } from './ptr_table.js';
import { isNullPtr, siteKey, type TraceScan, type TraceWindow, WindowCut } from './scan.js';
import { lineChunks, type TraceSource } from './source.js';

/** The trace's own caches a machine has room for: its cache table less the kmalloc caches. */
export const TRACE_CACHE_ROOM = MAX_CACHES - KMALLOC_SIZES.length;
/** Pointers remembered after their free, for telling a double free from a free of the unknown. */
export const FREED_MEMORY = 1 << 20;
/** Events an unsorted trace may hold back for reordering. */
export const MAX_REORDER = 1 << 20;
/** Points of the timeline (about; thinned to this many at most). */
const TIMELINE_POINTS = 1000;

export interface ReplayOptions {
  /** one machine per profile, all fed by one reading of the trace */
  profiles: readonly Profile[];
  /** simulated CPUs: a trace CPU k runs as k mod cpus */
  cpus: number;
  /** bytes of simulated memory */
  memory: number;
  /** sheaf_capacity of the trace's own caches on 6.18 and 7.0 (0: none on 6.18, the default on 7.0) */
  sheafCapacity: number;
  window?: TraceWindow;
  signal?: AbortSignal;
  /** about every 64k events: the events read so far */
  onProgress?: (events: number) => void;
}

/** What the trace gets wrong, of one kind: how often, and where (largest first). */
export interface TraceProblem {
  count: number;
  by_call_site: Array<{ call_site: string; count: number }>;
}

export interface TraceProblems {
  /** a free of a pointer the trace never allocated (it predates the trace, or its allocation was lost) */
  free_unknown: TraceProblem;
  /** a free of a pointer freed already, with no allocation between */
  double_free: TraceProblem;
  /** an allocation of a pointer still live (its free is missing) */
  alloc_live: TraceProblem;
}

export interface CacheReplay {
  name: string;
  /** 'kmalloc' (the machine's kmalloc caches), 'trace' (named by the trace's frees), 'pages' (kmalloc_large) */
  kind: 'kmalloc' | 'trace' | 'pages';
  object_size: number;
  order: number;
  objs_per_slab: number;
  sheaf_capacity: number;
  /** allocations and frees of the trace replayed here */
  allocated: number;
  freed: number;
  live_peak: number;
  live_end: number;
  /** pages in its slabs (slabs x 2^order), at the peak and at the end (kmalloc_large: pages held) */
  slab_pages_peak: number;
  slab_pages_end: number;
  /** the share of its allocations and frees that took the fast path (null: none; see missCount()) */
  alloc_fast: number | null;
  free_fast: number | null;
  /** the profile's SLUB statistics (sysfs names), totals over CPUs */
  stats: Partial<Record<StatItem, number>>;
}

export interface LeakRow {
  call_site: string;
  cache: string;
  objects: number;
  /** Σ bytes_alloc */
  bytes: number;
}

export interface TimelinePoint {
  /** trace time since the first event, ms */
  t_ms: number;
  live: number;
  slab_pages: number;
}

/** The checks every run ends with, as `slabsim run` reports them. */
export type ReplayChecks = RunReport['checks'];

export interface ProfileReplay {
  profile: Profile;
  machine: { cpus: number; nodes: number; memory: number; pages: number };
  /** kmem events read (in the window) */
  events: number;
  /** allocations and frees run on the machine */
  allocs: number;
  frees: number;
  /** allocations the machine could not satisfy (simulated memory full); their frees are skipped too */
  failed: number;
  /** frees run on another CPU than the object's allocation */
  cross_cpu_frees: number;
  /** left out: allocations the kernel failed (ptr NULL), kfree(NULL), and the trace's problems */
  left_out: number;
  /**
   * the share of the trace's allocations (frees) in slab caches that took the fast path:
   * served by the CPU's cpu freelist or sheaves, no slow path, refill, flush or barn
   */
  alloc_fast: number | null;
  free_fast: number | null;
  /** per replayed operation (allocation or free) */
  list_locks_per_op: number;
  barn_locks_per_op: number;
  cas_per_op: number;
  slab_pages_peak: number;
  slab_pages_end: number;
  live_peak: number;
  live_end: number;
  /** each stat item of the profile summed over caches and CPUs */
  stats: Partial<Record<StatItem, number>>;
  caches: CacheReplay[];
  /** call sites with objects live at the end, most bytes first */
  leaks: LeakRow[];
  problems: TraceProblems;
  /** what the replay held in memory at most: it must not grow with the trace */
  memory: { live_table: number; freed_memory: number; reorder: number; call_sites: number };
  timeline: TimelinePoint[];
  checks: ReplayChecks;
}

/** A reading of the trace replayed on every profile asked for. */
export interface Replays {
  profiles: ProfileReplay[];
  /** kmem events replayed (in the window) */
  events: number;
  /** the reading and the replays on every machine, ms */
  elapsed_ms: number;
  /** stopped by the signal before the end */
  interrupted: boolean;
}

/** One cache of the replay: a machine cache, or the page allocator for kmalloc_large(). */
interface Target {
  name: string;
  kind: CacheReplay['kind'];
  s: KmemCache | null;
  pagesPerSlab: number;
  allocated: number;
  freed: number;
  live: number;
  livePeak: number;
  pages: number;
  pagesPeak: number;
  /** its stats when the replay began (creating caches with sheaves allocates from kmalloc caches) */
  statsBefore: Partial<Record<StatItem, number>>;
  /** the trace's allocations and frees that went beyond what the CPU had at hand (missCount() moved) */
  slowAllocs: number;
  slowFrees: number;
}

/**
 * The counters that move when an operation goes beyond the CPU's own cached objects
 * (its cpu freelist, or its sheaves): the slow paths, a sheaf refill or flush, the barn.
 * An operation that moves none of them on its CPU took the fast path.
 */
const ALLOC_MISS = [ST.alloc_slowpath, ST.sheaf_refill, ST.barn_get, ST.barn_get_fail];
const FREE_MISS = [ST.free_slowpath, ST.sheaf_flush, ST.barn_put, ST.barn_put_fail];

function missCount(u: Uint32Array, statRow: number, items: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < items.length; i++) n += u[statRow + items[i]];
  return n;
}

const problem = (): { count: number; sites: Map<number, number> } => ({ count: 0, sites: new Map() });

/** An event copied out of the parser, for the reorder heap. */
interface HeldEvent {
  seq: number;
  ev: TraceEvent;
}

/** Replays one trace on one machine; feed it events in order, then finish(). */
class Replayer {
  readonly m: Machine;
  private readonly cpus: Cpu[];
  private readonly ledger: Uint8Array;
  private readonly targets: Target[] = [];
  private readonly large: number;
  /** siteKey -> target index, decided once per key */
  private readonly targetOf = new Map<number, number>();
  private readonly live = new PtrTable();
  private readonly objs = new Slots(['addr', 'target', 'site', 'bytes', 'cpu'] as const);
  /** recently freed pointers, in two generations: at least the last FREED_MEMORY / 2 are remembered */
  private freedNow = new PtrTable();
  private freedBefore = new PtrTable();
  private freedPeak = 0;
  private readonly problems = { free_unknown: problem(), double_free: problem(), alloc_live: problem() };
  private allocs = 0;
  private frees = 0;
  private failed = 0;
  private crossCpu = 0;
  private leftOut = 0;
  private doubleIssue = 0;
  private badFree = 0;
  private largePages = 0;
  private livePeak = 0;
  private liveNow = 0;
  private pagesPeak = 0;

  /** this machine's share of the thread's CAS and lock counts (one thread drives every machine) */
  private casOps = 0;
  private listLocks = 0;
  private barnLocks = 0;
  readonly timeline: TimelinePoint[] = [];

  constructor(
    private readonly scan: TraceScan,
    opts: ReplayOptions,
    profile: Profile,
  ) {
    const m = create({ cpus: opts.cpus, memory: opts.memory, profile });
    this.m = m;
    slubInit(m);
    for (const size of KMALLOC_SIZES) this.addTarget(kmallocName(size), 'kmalloc', cacheById(m, kmallocCacheId(size)));
    const sheaves = hasSheaves(profile) && opts.sheafCapacity > 0 ? { sheafCapacity: opts.sheafCapacity } : {};
    for (const c of scan.caches) {
      // SLAB_NO_MERGE: each cache of the trace keeps its own slabs and counts (the
      // trace does not say which of them the kernel merged).
      const id = kmemCacheCreate(m, c.name, c.objectSize, { flags: ['no_merge'], ...sheaves });
      this.addTarget(c.name, 'trace', cacheById(m, id));
    }
    this.large = this.addTarget('kmalloc_large', 'pages', null);
    this.cpus = Array.from({ length: opts.cpus }, (_, i) => makeCpu(m, i));
    this.ledger = new Uint8Array(createLedger(m));
    for (const t of this.targets) t.statsBefore = statTotals(t.s);
  }

  private addTarget(name: string, kind: Target['kind'], s: KmemCache | null): number {
    this.targets.push({
      name,
      kind,
      s,
      pagesPerSlab: s ? 1 << s.order : 0,
      allocated: 0,
      freed: 0,
      live: 0,
      livePeak: 0,
      pages: 0,
      pagesPeak: 0,
      statsBefore: {},
      slowAllocs: 0,
      slowFrees: 0,
    });
    return this.targets.length - 1;
  }

  /** The target of an allocation: the planned cache of its site key, else kmalloc by bytes_alloc. */
  private targetFor(key: number, bytesAlloc: number): number {
    let t = this.targetOf.get(key);
    if (t === undefined) {
      const name = this.scan.plan.get(key);
      const planned = name === undefined ? -1 : this.targets.findIndex((x) => x.name === name);
      if (planned >= 0) t = planned;
      else if (bytesAlloc > KMALLOC_MAX_CACHE_SIZE) t = this.large;
      else t = kmallocSlab(this.m, Math.max(1, bytesAlloc)).id; // kmalloc cache id = its target index
      this.targetOf.set(key, t);
    }
    return t;
  }

  apply(ev: TraceEvent): void {
    const cpu = this.cpus[ev.cpu % this.cpus.length];
    const cas = contention.casOps;
    const list = lockCounts.listLock;
    const barn = lockCounts.barnLock;
    thisCpu.id = cpu.id;
    if (isAlloc(ev.kind)) this.alloc(ev, ev.site, cpu);
    else this.free(ev, ev.site, cpu);
    thisCpu.id = -1;
    this.casOps += contention.casOps - cas;
    this.listLocks += lockCounts.listLock - list;
    this.barnLocks += lockCounts.barnLock - barn;
    this.notePages();
  }

  private alloc(ev: TraceEvent, site: number, cpu: Cpu): void {
    const { ptrHi: hi, ptrLo: lo } = ev;
    if ((hi === 0 && lo === 0) || ev.bytesAlloc === 0) {
      this.leftOut++; // the kernel's allocation failed (or asked nothing): nothing to replay
      return;
    }
    if (this.live.has(hi, lo)) {
      this.note(this.problems.alloc_live, site);
      return;
    }
    this.forget(hi, lo);
    const t = this.targetFor(siteKey(site, ev.bytesAlloc), ev.bytesAlloc);
    const target = this.targets[t];
    let addr: number;
    if (target.s === null) addr = kmalloc(cpu, ev.bytesAlloc);
    else {
      const s = target.s;
      const orig = isKmalloc(ev.kind) && ev.bytesReq >= 1 && ev.bytesReq <= s.objectSize ? ev.bytesReq : 0;
      const node = ev.node >= 0 && ev.node < this.m.cfg.nodes ? ev.node : NUMA_NO_NODE;
      const row = statRow(s, cpu);
      const before = missCount(s.m.u32, row, ALLOC_MISS);
      addr = slabAllocNode(s, cpu, node, orig, ev.atomic ? GFP_NOWAIT : GFP_KERNEL);
      if (addr !== 0 && missCount(s.m.u32, row, ALLOC_MISS) !== before) target.slowAllocs++;
    }
    const slot = this.objs.alloc();
    const c = this.objs.c;
    c.addr[slot] = addr;
    c.target[slot] = t;
    c.site[slot] = site;
    c.bytes[slot] = ev.bytesAlloc;
    c.cpu[slot] = cpu.id;
    this.live.set(hi, lo, slot);
    if (addr === 0) {
      this.failed++;
      return;
    }
    if (stamp(this.ledger, addr, cpu.id)) this.doubleIssue++;
    if (target.s === null) this.largePages += 1 << getOrder(ev.bytesAlloc, this.m.cfg.pageSize);
    this.allocs++;
    target.allocated++;
    if (++target.live > target.livePeak) target.livePeak = target.live;
    if (++this.liveNow > this.livePeak) this.livePeak = this.liveNow;
  }

  private free(ev: TraceEvent, site: number, cpu: Cpu): void {
    if (isNullPtr(ev)) {
      this.leftOut++; // kfree(NULL), kfree(ZERO_SIZE_PTR): nothing freed
      return;
    }
    const { ptrHi: hi, ptrLo: lo } = ev;
    const slot = this.live.delete(hi, lo);
    if (slot < 0) {
      const freed = this.freedNow.has(hi, lo) || this.freedBefore.has(hi, lo);
      this.note(freed ? this.problems.double_free : this.problems.free_unknown, site);
      return;
    }
    const c = this.objs.c;
    const addr = c.addr[slot];
    const target = this.targets[c.target[slot]];
    const allocCpu = c.cpu[slot];
    const bytes = c.bytes[slot];
    this.objs.release(slot);
    this.remember(hi, lo);
    if (addr === 0) return; // its allocation failed on the machine
    if (unstamp(this.ledger, addr)) this.badFree++;
    if (target.s === null) {
      kfree(cpu, addr);
      this.largePages -= 1 << getOrder(bytes, this.m.cfg.pageSize);
    } else {
      const s = target.s;
      const row = statRow(s, cpu);
      const before = missCount(s.m.u32, row, FREE_MISS);
      if (ev.kind === EV.kmem_cache_free) kmemCacheFree(s, cpu, addr);
      else kfree(cpu, addr);
      if (missCount(s.m.u32, row, FREE_MISS) !== before) target.slowFrees++;
    }
    this.frees++;
    if (allocCpu !== cpu.id) this.crossCpu++;
    target.freed++;
    target.live--;
    this.liveNow--;
  }

  private note(p: { count: number; sites: Map<number, number> }, site: number): void {
    p.count++;
    p.sites.set(site, (p.sites.get(site) ?? 0) + 1);
    this.leftOut++;
  }

  private remember(hi: number, lo: number): void {
    if (this.freedNow.size >= FREED_MEMORY / 2) {
      this.freedBefore = this.freedNow;
      this.freedNow = new PtrTable();
    }
    this.freedNow.set(hi, lo, 1);
    this.freedPeak = Math.max(this.freedPeak, this.freedNow.size + this.freedBefore.size);
  }

  private forget(hi: number, lo: number): void {
    this.freedNow.delete(hi, lo);
    this.freedBefore.delete(hi, lo);
  }

  /** Slab pages of every cache after an event (slabs x 2^order, from each node's nr_slabs), and their peaks. */
  private notePages(): void {
    const u = this.m.u32;
    const nodes = this.m.cfg.nodes;
    let total = this.largePages;
    for (let i = 0; i < this.targets.length; i++) {
      const t = this.targets[i];
      const s = t.s;
      let slabs = 0;
      if (s !== null) for (let n = 0; n < nodes; n++) slabs += u[s.node0 + n * CACHE_NODE.STRIDE + CACHE_NODE.nrSlabs];
      const pages = s === null ? this.largePages : slabs * t.pagesPerSlab;
      t.pages = pages;
      if (pages > t.pagesPeak) t.pagesPeak = pages;
      if (s !== null) total += pages;
    }
    if (total > this.pagesPeak) this.pagesPeak = total;
  }

  /** A point of the timeline: objects live and pages held now. */
  sample(tMs: number): void {
    let pages = 0;
    for (const t of this.targets) pages += t.pages;
    this.timeline.push({ t_ms: Math.round(tMs * 1000) / 1000, live: this.liveNow, slab_pages: pages });
  }

  /** The end: leaks, statistics, and the checks every run ends with. */
  finish(events: number, reorderPeak: number): ProfileReplay {
    const m = this.m;
    const sites = this.scan.sites.list;
    const ops = this.allocs + this.frees;
    const items = PROFILE_STAT_ITEMS[m.cfg.profile];
    const slab = this.targets.filter((t) => t.s !== null);
    const totals: Partial<Record<StatItem, number>> = {};
    for (const k of items) totals[k] = 0;
    const caches: CacheReplay[] = this.targets
      .filter((t) => t.allocated > 0 || t.pages > 0)
      .map((t) => {
        const stats: Partial<Record<StatItem, number>> = {};
        if (t.s) {
          const now = statTotals(t.s);
          for (const k of items) {
            stats[k] = (now[k] ?? 0) - (t.statsBefore[k] ?? 0);
            totals[k] = (totals[k] ?? 0) + (stats[k] ?? 0);
          }
        }
        return {
          name: t.name,
          kind: t.kind,
          object_size: t.s?.objectSize ?? 0,
          order: t.s?.order ?? 0,
          objs_per_slab: t.s?.objects ?? 0,
          sheaf_capacity: t.s?.sheafCapacity ?? 0,
          allocated: t.allocated,
          freed: t.freed,
          live_peak: t.livePeak,
          live_end: t.live,
          slab_pages_peak: t.pagesPeak,
          slab_pages_end: t.pages,
          alloc_fast: t.s ? share(t.allocated - t.slowAllocs, t.allocated) : null,
          free_fast: t.s ? share(t.freed - t.slowFrees, t.freed) : null,
          stats,
        };
      });
    const problems = Object.fromEntries(
      Object.entries(this.problems).map(([k, p]) => [
        k,
        {
          count: p.count,
          by_call_site: [...p.sites]
            .map(([s, count]) => ({ call_site: sites[s], count }))
            .sort((a, b) => b.count - a.count || (a.call_site < b.call_site ? -1 : 1)),
        },
      ]),
    ) as unknown as TraceProblems;
    return {
      profile: m.cfg.profile,
      machine: { cpus: m.cfg.cpus, nodes: m.cfg.nodes, memory: m.cfg.memory, pages: m.cfg.nodes * m.pagesPerNode },
      events,
      allocs: this.allocs,
      frees: this.frees,
      failed: this.failed,
      cross_cpu_frees: this.crossCpu,
      left_out: this.leftOut,
      alloc_fast: share(
        slab.reduce((n, t) => n + t.allocated - t.slowAllocs, 0),
        slab.reduce((n, t) => n + t.allocated, 0),
      ),
      free_fast: share(
        slab.reduce((n, t) => n + t.freed - t.slowFrees, 0),
        slab.reduce((n, t) => n + t.freed, 0),
      ),
      list_locks_per_op: round4(this.listLocks / Math.max(ops, 1)),
      barn_locks_per_op: round4(this.barnLocks / Math.max(ops, 1)),
      cas_per_op: round4(this.casOps / Math.max(ops, 1)),
      slab_pages_peak: this.pagesPeak,
      slab_pages_end: this.targets.reduce((s, t) => s + t.pages, 0),
      live_peak: this.livePeak,
      live_end: this.liveNow,
      stats: totals,
      caches,
      leaks: this.leaks(),
      problems,
      memory: {
        live_table: this.live.peak,
        freed_memory: this.freedPeak,
        reorder: reorderPeak,
        call_sites: sites.length,
      },
      timeline: this.timeline,
      checks: this.checks(),
    };
  }

  /** Objects live at the end by call site and cache, most bytes first. */
  private leaks(): LeakRow[] {
    const c = this.objs.c;
    const rows = new Map<number, LeakRow>();
    this.live.forEach((_hi, _lo, slot) => {
      if (c.addr[slot] === 0) return;
      const key = c.site[slot] * 256 + c.target[slot];
      let row = rows.get(key);
      if (!row) {
        row = { call_site: this.scan.sites.list[c.site[slot]], cache: this.targets[c.target[slot]].name, objects: 0, bytes: 0 };
        rows.set(key, row);
      }
      row.objects++;
      row.bytes += c.bytes[slot];
    });
    return [...rows.values()].sort((a, b) => b.bytes - a.bytes || b.objects - a.objects || (a.call_site < b.call_site ? -1 : 1));
  }

  /**
   * The ledger and validate, as every run ends (src/workload/run.ts finishRun()): every
   * object SLUB counts as allocated is one the replay holds, pages in use are slab pages
   * and kmalloc_large's, the zones and every cache pass their audits, also after each
   * CPU's page lists are drained.
   */
  private checks(): ReplayChecks {
    const m = this.m;
    const messages: string[] = [...validateZones(m)];
    for (let cpu = 0; cpu < m.cfg.cpus; cpu++) drainPages(m, cpu);
    messages.push(...validateZones(m).map((msg) => `after the end-of-replay drain: ${msg}`));
    if (pcpPageCount(m) !== 0) messages.push(`after the end-of-replay drain: ${pcpPageCount(m)} pages still on per-CPU lists`);
    let allocated = 0;
    for (const t of this.targets) {
      if (!t.s) continue;
      messages.push(...validateCache(t.s).messages);
      allocated += leakedObjects(t.s).length;
    }
    const validateErrors = messages.length;
    const held = heldCount(this.ledger);
    const largeLive = this.targets[this.large].live;
    const lost = allocated - (held - largeLive);
    if (this.doubleIssue) messages.push(`ledger: ${this.doubleIssue} objects were handed out while still held`);
    if (this.badFree) messages.push(`ledger: ${this.badFree} frees of objects nobody held`);
    if (lost) messages.push(`ledger: ${lost} objects allocated in SLUB but held by no traced pointer`);
    if (held !== this.liveNow) messages.push(`ledger: ${held} objects held, but the replay holds ${this.liveNow}`);
    const total = m.cfg.nodes * m.pagesPerNode;
    const used = total - freePageCount(m);
    const slabPages = slabPageCount(m);
    if (used !== slabPages + this.largePages)
      messages.push(`pages: ${used} in use but slabs account for ${slabPages} and kmalloc_large for ${this.largePages}`);
    return {
      ok: messages.length === 0,
      double_issue: this.doubleIssue,
      bad_free: this.badFree,
      lost,
      live: held,
      validate_errors: validateErrors,
      messages,
    };
  }
}

const round4 = (x: number): number => Math.round(x * 10000) / 10000;

/** A cache's stats of its profile, summed over CPUs (none for kmalloc_large). */
function statTotals(s: KmemCache | null): Partial<Record<StatItem, number>> {
  const out: Partial<Record<StatItem, number>> = {};
  if (s === null) return out;
  const st = statsOf(s);
  for (const k of PROFILE_STAT_ITEMS[s.profile]) out[k] = st[k]?.total ?? 0;
  return out;
}

const share = (part: number, whole: number): number | null => (whole === 0 ? null : round4(part / whole));

/** Word offset of `cpu`'s stat row of `s`. */
const statRow = (s: KmemCache, cpu: Cpu): number => s.cpu0 + cpu.id * CACHE_CPU.STRIDE + CACHE_CPU.stat;

/** A binary heap of held events by (timestamp, file order). */
class EventHeap {
  private readonly a: HeldEvent[] = [];
  get size(): number {
    return this.a.length;
  }
  private less(x: HeldEvent, y: HeldEvent): boolean {
    return x.ev.ts < y.ev.ts || (x.ev.ts === y.ev.ts && x.seq < y.seq);
  }
  peek(): HeldEvent {
    return this.a[0];
  }
  push(e: HeldEvent): void {
    const a = this.a;
    a.push(e);
    for (let i = a.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!this.less(a[i], a[up])) break;
      [a[i], a[up]] = [a[up], a[i]];
      i = up;
    }
  }
  pop(): HeldEvent {
    const a = this.a;
    const top = a[0];
    const last = a.pop() as HeldEvent;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Replay the trace on every profile in one reading: one machine per profile, each given
 * the trace's caches (scan.caches), then every event of the window in timestamp order,
 * each event on every machine in turn. A sorted trace (scan.disorder 0) is replayed as
 * it is read; otherwise each event is held until no later line can come before it (its
 * timestamp is scan.disorder behind the latest read), at most MAX_REORDER events.
 */
export async function replayTrace(src: TraceSource, scan: TraceScan, opts: ReplayOptions): Promise<Replays> {
  const machines = opts.profiles.map((profile) => new Replayer(scan, opts, profile));
  const p = new LineParser(scan.sites, scan.names);
  const ev = p.ev;
  const cut = new WindowCut(opts.window ?? {});
  const disorder = scan.disorder;
  const heap = disorder > 0 ? new EventHeap() : null;
  let reorderPeak = 0;
  let seq = 0;
  let maxTs = -Infinity;
  const t0Trace = scan.firstTs;
  const every = Math.max(1, Math.ceil(scan.events / TIMELINE_POINTS));
  let applied = 0;
  let lastTs = t0Trace;
  const step = (e: TraceEvent): void => {
    for (let i = 0; i < machines.length; i++) machines[i].apply(e);
    lastTs = e.ts;
    if (++applied % every === 0) for (const r of machines) r.sample((e.ts - t0Trace) * 1000);
  };
  let interrupted = false;
  const start = performance.now();
  read: for await (const piece of lineChunks(src)) {
    if (opts.signal?.aborted) {
      interrupted = true;
      break;
    }
    for (let a = 0; a < piece.length;) {
      let b = piece.indexOf(10, a);
      if (b < 0) b = piece.length;
      if (p.parse(piece, a, b) === LINE.kmem) {
        const admit = cut.admit(ev.ts);
        if (admit < 0) break read;
        if (admit > 0) {
          if (heap === null) step(ev);
          else {
            heap.push({ seq: seq++, ev: { ...ev } });
            if (ev.ts > maxTs) maxTs = ev.ts;
            reorderPeak = Math.max(reorderPeak, heap.size);
            while (heap.size > 0 && (heap.peek().ev.ts <= maxTs - disorder || heap.size > MAX_REORDER)) {
              step(heap.pop().ev);
            }
          }
          if ((cut.taken & 0xffff) === 0) opts.onProgress?.(cut.taken);
        }
      }
      a = b + 1;
    }
  }
  while (heap !== null && heap.size > 0) step(heap.pop().ev);
  opts.onProgress?.(cut.taken);
  if (applied % every !== 0) for (const r of machines) r.sample((lastTs - t0Trace) * 1000);
  const elapsed = performance.now() - start;
  return {
    profiles: machines.map((r) => r.finish(cut.taken, reorderPeak)),
    events: cut.taken,
    elapsed_ms: Math.round(elapsed * 100) / 100,
    interrupted,
  };
}
