// Set up a run (machine, caches, harness memory, ledger), run it on real worker threads
// or under the scheduler, then check what is left: the ledger, the page accounting, and
// every allocator's own invariants. Every run ends with these checks.
import type { MachineConfig } from '../config.js';
import { SlabError } from '../errors.js';
import { allocPages, freePages } from '../mm/page_alloc.fast.js';
import { drainPages } from '../mm/pcp.fast.js';
import { kmemCacheCreate, leakedObjects, liveCacheIds, slabPageCount, slubInit } from '../mm/slub/cache.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import { validateCache } from '../mm/slub/validate.js';
import { slabRecords } from '../mm/slub/walk.js';
import { validateZones } from '../mm/zone_validate.js';
import { freePageCount, nrFree } from '../report/buddyinfo.js';
import { allCacheReports, type CacheReport } from '../report/caches.js';
import { type PcpReport, pcpPageCount, pcpReport } from '../report/pcp.js';
import { runScheduled, type ScheduleResult, type Strategy } from '../sched/scheduler.js';
import { addrByte, allStarted, cpuOpsDone, create, type Machine, pfnToAddr, requestStop } from '../shm/machine.js';
import { type AllocatorName, checkAllocator, createAllocatorPool, type PoolReport, poolReport } from './allocators.js';
import { createLedger, heldCount } from './ledger.js';
import { cpuProgram } from './program.sched.js';
import { BARRIER, RING, TRANSFER_SLOTS } from './structs.js';
import { type CpuResult, type CpuTask, type Harness, OBJECT_WORKLOADS, type WorkloadName } from './task.js';
import { type CpuPool, runOnWorkers } from './workers.js';

export { WORKLOADS } from './task.js';
export const RUN_SCHEMA = 'slabsim-run/1';

export interface RunOptions {
  workload: WorkloadName;
  machine: Partial<MachineConfig>;
  ops: number;
  seed: number;
  /** chance of a same-CPU interrupt at each interruption point (object workloads) */
  irqRate?: number;
  /** pages workload */
  maxOrder?: number;
  maxHeld?: number;
  /** object workloads: a cache to create and use instead of kmalloc (object size maxSize) */
  cache?: string;
  /** kmem_cache_args.sheaf_capacity of that cache (6.18, 7.0) */
  sheafCapacity?: number;
  minSize?: number;
  maxSize?: number;
  batch?: number;
  slots?: number;
  epochs?: number;
  /** CPU 0 runs flush_all on a cache every this many operations, as a sysfs write would (0: never) */
  flushEvery?: number;
  /** pages: CPU 0 runs drain_all_pages() every this many operations (0: never) */
  drainEvery?: number;
  /** the slub_debug= boot option for the caches of the run, e.g. 'FZPU' or 'FZPU,kmalloc-64' (mm/slub/slub_options.ts) */
  debug?: string;
  /** CONFIG_SLAB_FREELIST_HARDENED: free pointers stored obfuscated (s->random from the seed) */
  hardened?: boolean;
  /** CONFIG_SLAB_FREELIST_RANDOM: new slabs get shuffled freelists (s->random_seq from the seed) */
  randomFreelist?: boolean;
  /** cache-thrash/scratch: writes to each object before its free */
  writes?: number;
  /** run for this long after every CPU has started (ops is then only a cap) */
  durationMs?: number;
  /** SLUB (default) or one of the classic pools */
  allocator?: AllocatorName;
  /** called about 10 times a second with the operations done so far */
  onProgress?: (opsDone: number) => void;
  /** called once every CPU has passed the start barrier (a worker run) */
  onStart?: () => void;
  /** aborted: the CPUs stop at their next safe point (the stop word), as at the end of a --duration */
  signal?: AbortSignal;
  /** worker threads to run on (kept warm between runs); default: a pool of its own */
  pool?: CpuPool;
}

export interface RunReport {
  schema: typeof RUN_SCHEMA;
  workload: WorkloadName;
  config: MachineConfig;
  seed: number;
  irq_rate: number;
  ops: number;
  /** the parallel phase: from the start barrier to the last CPU's end */
  elapsed_ms: number;
  ops_per_sec: number;
  /** including thread start-up and teardown */
  wall_ms: number;
  /**
   * the rate with warm-up left out: ops/s over the second half of the parallel phase
   * (ms after the start barrier; it ends at the stop word, or when the first CPU is done);
   * null when that half was too short to measure
   */
  steady_rate?: SteadyRate | null;
  /** the run was stopped early by Ctrl-C: its checks and counts cover what was done */
  interrupted?: boolean;
  per_cpu: Array<{
    cpu: number;
    node: number;
    ops: number;
    allocs: number;
    frees: number;
    failed: number;
    irq_allocs: number;
    irq_frees: number;
    /** cache-thrash/scratch: allocations whose 64-byte line held another CPU's live object */
    shared_lines: number;
    /** failed CASes (each retried) and lock acquisitions that had to wait */
    cas_retries: number;
    lock_waits: number;
    /** every CAS, and list_lock and barn->lock acquisitions (worker runs; 0 under the scheduler) */
    cas_ops: number;
    list_locks: number;
    barn_locks: number;
    elapsed_ms: number;
  }>;
  /**
   * free counts the pages on per-CPU lists (pcp) when the CPUs stopped; buddyinfo is
   * taken after the end-of-run drain put those back into the zones. (pcp, here and
   * below, is absent from runs saved before the simulator had per-CPU page lists.)
   */
  pages: { total: number; free: number; pcp?: number; slab: number; buddyinfo: Array<{ node: number; nr_free: number[] }> };
  /** the per-CPU page lists when the CPUs stopped (before the end-of-run drain) */
  pcp?: PcpReport;
  caches: CacheReport[];
  /** SLUB's boot options for the run (object workloads on SLUB only) */
  slub?: { debug: string | null; hardened: boolean; random_freelist: boolean };
  /** a pool allocator's counters (original field names) and validate, when the run used one */
  pool?: PoolReport;
  /**
   * the final slabs of every cache that has any (for the HTML report); place: cpu or cpu_partial
   * (with cpu), node_partial, full_list, or none (a full slab on no list); free counts both freelists
   */
  slab_map?: Array<{
    cache: string;
    slabs: Array<{ pfn: number; node: number; place: string; cpu?: number; objects: number; inuse: number; free: number }>;
  }>;
  /** samples every 100 ms while the CPUs ran: cumulative ops per CPU, pages in use, pages in slabs */
  timeline?: TimelineSample[];
  checks: {
    ok: boolean;
    double_issue: number;
    bad_free: number;
    lost: number;
    live: number;
    validate_errors: number;
    messages: string[];
  };
}

export interface SteadyRate {
  ops_per_sec: number;
  from_ms: number;
  to_ms: number;
}

export interface TimelineSample {
  t_ms: number;
  ops: number[];
  pages_used: number;
  slab_pages: number;
}

/** A prepared run: the machine with its caches and harness memory, and the task for every CPU. */
export interface Prepared {
  m: Machine;
  task: CpuTask;
  ledger: Uint8Array;
  /** harness blocks to give back after the run: [pfn, order] */
  harnessBlocks: Array<[number, number]>;
}

const isObjectWorkload = (w: WorkloadName): boolean => (OBJECT_WORKLOADS as readonly string[]).includes(w);

export function prepareRun(opts: RunOptions): Prepared {
  const allocator = opts.allocator ?? 'slub';
  checkAllocator(allocator, opts.workload, opts.irqRate ?? 0);
  const m = create(opts.machine);
  const objects = isObjectWorkload(opts.workload);
  const minSize = opts.minSize ?? 16;
  const maxSize = opts.maxSize ?? 256;
  let cacheId = -1;
  const slubBoot = opts.debug !== undefined || opts.hardened === true || opts.randomFreelist === true;
  if (slubBoot && !(objects && allocator === 'slub')) {
    throw new SlabError(
      'EINVAL',
      '--debug, --hardened and --random-freelist are SLUB boot options: they need --allocator slub and an object workload (not pages)',
    );
  }
  if (objects && allocator === 'slub') {
    slubInit(m, { debug: opts.debug, hardened: opts.hardened, randomFreelist: opts.randomFreelist, seed: opts.seed >>> 0 });
    if (opts.cache) cacheId = kmemCacheCreate(m, opts.cache, maxSize, { sheafCapacity: opts.sheafCapacity });
  }
  if (opts.sheafCapacity !== undefined && cacheId < 0) {
    throw new SlabError(
      'EINVAL',
      '--sheaf-capacity is the sheaf capacity of the --cache a SLUB object workload creates: give --cache too',
    );
  }
  const pool = objects ? createAllocatorPool(m, allocator, maxSize) : 0;
  const harnessBlocks: Array<[number, number]> = [];
  /** Zeroed harness memory from the page allocator, as an address. */
  const harnessBytes = (bytes: number): number => {
    const order = Math.max(0, Math.ceil(Math.log2(bytes / m.cfg.pageSize)));
    const pfn = allocPages(m, 0, order, 0);
    if (pfn === 0) throw new Error('not enough simulated memory for the harness');
    harnessBlocks.push([pfn, order]);
    const addr = pfnToAddr(m, pfn);
    m.u8.fill(0, addrByte(m, addr), addrByte(m, addr) + (m.cfg.pageSize << order));
    return addr;
  };
  const slots = opts.slots ?? 64;
  const harness: Harness = { rings: [], arrays: [], barrier: 0, slots: 0 };
  if (opts.workload === 'xmalloc' || opts.workload === 'rptest')
    harness.rings = Array.from({ length: m.cfg.cpus }, () => harnessBytes(RING.STRIDE * 4));
  if (opts.workload === 'larson') harness.arrays = Array.from({ length: m.cfg.cpus }, () => harnessBytes(slots * 4));
  if (opts.workload === 'cache-scratch') harness.slots = harnessBytes(m.cfg.cpus * 4);
  if (opts.workload === 'mstress') harness.slots = harnessBytes(TRANSFER_SLOTS * 4);
  if (['larson', 'cache-scratch', 'mstress'].includes(opts.workload)) harness.barrier = harnessBytes(BARRIER.STRIDE * 4);
  const ledgerSab = createLedger(m);
  const task: CpuTask = {
    sab: m.sab,
    ledger: ledgerSab,
    workload: opts.workload,
    ops: opts.ops,
    seed: opts.seed,
    irqRate: opts.irqRate ?? 0,
    pages: { maxOrder: opts.maxOrder ?? 3, maxHeld: opts.maxHeld ?? 64, drainEvery: opts.drainEvery ?? 0 },
    target: { allocator, pool, cacheId, minSize: cacheId >= 0 ? maxSize : minSize, maxSize },
    batch: opts.batch ?? 64,
    slots,
    epochs: opts.epochs ?? 4,
    flushEvery: opts.flushEvery ?? 0,
    writes: opts.writes ?? 16,
    timed: opts.durationMs !== undefined,
    harness,
  };
  return { m, task, ledger: new Uint8Array(ledgerSab), harnessBlocks };
}

/** Run on one worker thread per CPU. */
export async function runWorkload(opts: RunOptions): Promise<RunReport> {
  const prep = prepareRun(opts);
  const { m } = prep;
  const t0 = performance.now();
  const timeline: TimelineSample[] = [];
  // Racy reads of the buffer, as /proc readers do: no message to any CPU.
  const sample = (): void => {
    const s = sampleMachine(m, performance.now() - t0);
    timeline.push(s);
    opts.onProgress?.(s.ops.reduce((a, b) => a + b, 0));
  };
  const progress = setInterval(sample, SAMPLE_MS);
  const clock = new RunClock(m, opts.durationMs, opts.onStart);
  const stop = (): void => clock.stop();
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', stop);
  let results: CpuResult[];
  try {
    results = await runOnWorkers(m.cfg.cpus, prep.task, opts.pool);
  } finally {
    clearInterval(progress);
    clock.end();
    opts.signal?.removeEventListener('abort', stop);
  }
  const wall = performance.now() - t0;
  sample();
  const report = finishRun(prep, opts, results, wall);
  report.timeline = timeline;
  report.steady_rate = clock.steadyRate(Math.min(...results.map((r) => r.elapsedMs)));
  report.interrupted = opts.signal?.aborted === true;
  return report;
}

/** Run the same CPU programs on this thread under a scheduling strategy. */
export function runWorkloadScheduled(
  opts: RunOptions,
  strategy: Strategy,
  maxSteps?: number,
): { prep: Prepared; result: ScheduleResult } {
  const prep = prepareRun(opts);
  const programs = Array.from({ length: prep.m.cfg.cpus }, (_, cpu) => cpuProgram(prep.m, cpu, prep.task, prep.ledger));
  return { prep, result: runScheduled(programs, strategy, { maxSteps }) };
}

const SAMPLE_MS = 100;
/** The run clock's tick: start detection, the stop word's time, the rate samples. */
const TICK_MS = 5;
/** Rate samples kept: a long run's are thinned out (every other one dropped) when full. */
const MAX_SAMPLES = 4096;
/** A steady rate needs at least this much of the second half measured. */
const MIN_STEADY_MS = 50;

/**
 * Watches a worker run from the main thread: notes when every CPU has passed the start
 * barrier, sets the stop word when the duration is up (or on request), and samples the
 * operations done (racy reads of the published counts) for the steady rate.
 */
class RunClock {
  private readonly timer: ReturnType<typeof setInterval>;
  private startedAt = 0;
  /** ms after the start when the stop word was set (0: not set) */
  private stoppedAt = 0;
  private stopPending = false;
  /** [ms after the start, operations of all CPUs], at most MAX_SAMPLES: halved when full */
  private samples: Array<[number, number]> = [];
  /** ticks per sample: doubles each time the samples are halved */
  private every = 1;
  private ticks = 0;

  constructor(
    private readonly m: Machine,
    private readonly durationMs?: number,
    private readonly onStart?: () => void,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    const now = performance.now();
    if (this.startedAt === 0) {
      if (!allStarted(this.m)) return;
      this.startedAt = now;
      this.onStart?.();
    }
    const t = now - this.startedAt;
    let ops = 0;
    for (let cpu = 0; cpu < this.m.cfg.cpus; cpu++) ops += cpuOpsDone(this.m, cpu);
    if (this.stoppedAt === 0 && this.ticks++ % this.every === 0) {
      this.samples.push([t, ops]);
      if (this.samples.length >= MAX_SAMPLES) {
        this.samples = this.samples.filter((_, i) => i % 2 === 0);
        this.every *= 2;
      }
    }
    if (this.stoppedAt === 0 && (this.stopPending || (this.durationMs !== undefined && t >= this.durationMs))) {
      requestStop(this.m);
      this.stoppedAt = Math.max(t, 1e-3);
    }
  }

  /** Set the stop word now (or as soon as every CPU has started). */
  stop(): void {
    this.stopPending = true;
    requestStop(this.m);
    this.tick();
  }

  end(): void {
    clearInterval(this.timer);
  }

  /**
   * Ops/s over the second half of the parallel phase: up to the stop word, else up to
   * `firstDoneMs` (the first CPU to finish); null if under MIN_STEADY_MS of it was sampled.
   */
  steadyRate(firstDoneMs: number): SteadyRate | null {
    const end = this.stoppedAt || firstDoneMs;
    const inside = this.samples.filter(([t]) => t >= end / 2 && t <= end);
    if (inside.length < 2) return null;
    const [t1, ops1] = inside[0];
    const [t2, ops2] = inside[inside.length - 1];
    if (t2 - t1 < MIN_STEADY_MS) return null;
    // The window in whole ms inside the one measured, so that it never ends after
    // elapsed_ms (rounded to 0.01 ms): to_ms rounded up could pass it.
    return { ops_per_sec: Math.round(((ops2 - ops1) * 1000) / (t2 - t1)), from_ms: Math.ceil(t1), to_ms: Math.floor(t2) };
  }
}

function sampleMachine(m: Machine, tMs: number): TimelineSample {
  const total = m.cfg.nodes * m.pagesPerNode;
  return {
    t_ms: Math.round(tMs),
    ops: Array.from({ length: m.cfg.cpus }, (_, cpu) => cpuOpsDone(m, cpu)),
    pages_used: total - freePageCount(m),
    slab_pages: slabPageCount(m),
  };
}

/** Give the harness memory back, then check and report the final state. */
export function finishRun(prep: Prepared, opts: RunOptions, results: CpuResult[], wallMs: number): RunReport {
  const { m, ledger } = prep;
  for (const [pfn, order] of prep.harnessBlocks) freePages(m, pfn, order);
  prep.harnessBlocks.length = 0;
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs), 1e-3);
  const total = m.cfg.nodes * m.pagesPerNode;
  const free = freePageCount(m);
  const ops = results.reduce((s, r) => s + r.ops, 0);
  const doubleIssue = results.reduce((s, r) => s + r.doubleIssue, 0);
  const badFree = results.reduce((s, r) => s + (r.badFree ?? 0), 0);
  const caches = allCacheReports(m);
  const slabPages = slabPageCount(m);
  const live = heldCount(ledger);
  const { allocator, pool } = prep.task.target;
  const poolRep = poolReport(m, allocator, pool);
  // What the allocator counts as handed out at the end: SLUB's allocated objects, a pool's own count.
  const allocated = poolRep
    ? poolRep.in_use
    : liveCacheIds(m).reduce((sum, id) => sum + leakedObjects(cacheById(m, id)).length, 0);
  const messages: string[] = [...validateZones(m)];
  const pcp = pcpReport(m);
  // The CPUs are gone: page_alloc_cpu_dead() drains each one's lists into the zones.
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) drainPages(m, cpu);
  pcp.drained = pcp.pages - pcpPageCount(m);
  messages.push(...validateZones(m).map((msg) => `after the end-of-run drain: ${msg}`));
  if (pcpPageCount(m) !== 0) messages.push(`after the end-of-run drain: ${pcpPageCount(m)} pages still on per-CPU lists`);
  for (const id of liveCacheIds(m)) messages.push(...validateCache(cacheById(m, id)).messages);
  const validateErrors = messages.length;
  // Objects the allocator counts as allocated that no CPU holds are lost; for the pages
  // workload, pages neither free nor in a slab.
  const lost = isObjectWorkload(opts.workload) ? allocated - live : total - free - slabPages;
  if (doubleIssue) messages.push(`ledger: ${doubleIssue} objects were handed to two holders at once`);
  if (badFree) messages.push(`ledger: ${badFree} frees of objects nobody held`);
  const corrupt = results.reduce((sum, r) => sum + (r.corrupt ?? 0), 0);
  if (corrupt) messages.push(`contents: ${corrupt} objects lost their cookie before they were freed`);
  if (lost)
    messages.push(`ledger: ${lost} ${isObjectWorkload(opts.workload) ? 'objects' : 'pages'} allocated but held by no CPU`);
  if (poolRep) messages.push(...poolRep.messages.map((msg) => `${allocator}: ${msg}`));
  // Pages in use at the end: SLUB's are all in slabs; a pool keeps its own (not checked); a region pool none.
  if (allocator === 'slub' && total - free !== slabPages)
    messages.push(`pages: ${total - free} in use but slabs account for ${slabPages}`);
  if (!poolRep && allocator !== 'slub' && total - free !== 0)
    messages.push(`pages: ${total - free} still in use after every connection closed`);
  return {
    schema: RUN_SCHEMA,
    workload: opts.workload,
    config: { ...m.cfg },
    seed: opts.seed,
    irq_rate: opts.irqRate ?? 0,
    ops,
    elapsed_ms: round(elapsedMs),
    ops_per_sec: Math.round(ops / (elapsedMs / 1000)),
    wall_ms: round(wallMs),
    steady_rate: null,
    interrupted: false,
    per_cpu: results.map((r) => ({
      cpu: r.cpu,
      node: r.node,
      ops: r.ops,
      allocs: r.allocs,
      frees: r.frees,
      failed: r.failed,
      irq_allocs: r.irqAllocs ?? 0,
      irq_frees: r.irqFrees ?? 0,
      shared_lines: r.sharedLines ?? 0,
      cas_retries: r.casFails ?? 0,
      lock_waits: r.lockWaits ?? 0,
      cas_ops: r.casOps ?? 0,
      list_locks: r.listLocks ?? 0,
      barn_locks: r.barnLocks ?? 0,
      elapsed_ms: round(r.elapsedMs),
    })),
    pages: {
      total,
      free,
      pcp: pcp.pages,
      slab: slabPages,
      buddyinfo: Array.from({ length: m.cfg.nodes }, (_, node) => ({ node, nr_free: nrFree(m, node) })),
    },
    caches,
    slub:
      isObjectWorkload(opts.workload) && allocator === 'slub'
        ? { debug: opts.debug ?? null, hardened: opts.hardened === true, random_freelist: opts.randomFreelist === true }
        : undefined,
    pool: poolRep,
    pcp,
    slab_map: slabMap(m),
    checks: {
      ok: messages.length === 0,
      double_issue: doubleIssue,
      bad_free: badFree,
      lost,
      live,
      validate_errors: validateErrors,
      messages,
    },
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** RunReport.slab_map: every slab of every cache that has slabs, from the walks of mm/slub/walk.ts. */
function slabMap(m: Machine): NonNullable<RunReport['slab_map']> {
  return liveCacheIds(m)
    .map((id) => cacheById(m, id))
    .map((s) => ({
      cache: s.name,
      slabs: slabRecords(s).map((r) => ({
        pfn: r.pfn,
        node: r.node,
        place: r.place.kind,
        ...('cpu' in r.place ? { cpu: r.place.cpu } : {}),
        objects: r.objects,
        inuse: r.inuse,
        free: r.freeIdx.length,
      })),
    }))
    .filter((e) => e.slabs.length > 0);
}
