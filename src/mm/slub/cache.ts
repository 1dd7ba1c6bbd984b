// Cache lifecycle, on the main thread while no CPU runs: kmem_cache_create (with
// merging), kmem_cache_destroy, kmem_cache_shrink, and flush_all carried out on each
// idle CPU's behalf (the kernel's work item runs on that CPU; an idle CPU runs it at once).
// slab_common.c / slub.c.
import { SlabError } from '../../errors.js';
import { cacheCpuOff, cacheNodeOff, cacheOff, type Machine, perBufferState, pageOff } from '../../shm/machine.js';
import {
  CACHE_CPU,
  CACHE_NAME_BYTES,
  CACHE_NODE,
  CACHE_STATE,
  CPU_FREELIST,
  CPU_TID,
  GLOBAL,
  KMEM_CACHE,
  MAX_CACHES,
  NIL,
  PAGE,
  PG,
} from '../../shm/structs.js';
import { Rng } from '../../rng.js';
import { makeCpu } from '../cpu.js';
import { discardSlabQuiet, nodeLock } from './cache_ops.js';
import { ctorId } from './ctor.js';
import { flushCpuSlab } from './deactivate.fast.js';
import { shutdownReport } from './debug_validate.js';
import {
  aliasName,
  calculateGeometry,
  calculateSheafCapacity,
  DEBUG_METADATA_FLAGS,
  getOrder,
  findMergeable,
  KMALLOC_SIZES,
  kmallocAlign,
  kmemCacheAlias,
  type MergeCandidate,
  parseFlags,
  SLAB_FLAGS,
  slabUnmergeable,
} from './geometry.js';
import { kmallocName } from './kmalloc_caches.js';
import { cacheById, forgetCacheViews, type KmemCache, readName, writeName } from './kmem_cache.js';
import { objectAt } from './objects.js';
import { kmemCacheFlags, setSlubOptions, type SlubOptions, slubOptions } from './slub_options.js';
import { listPfns, liveObjects, type SlabRecord, sheafStorage, slabRecords } from './walk.js';
import { barnShrink } from './barn.fast.js';
import { kmemCacheDoShrink } from './shrink.fast.js';
import { GFP_KERNEL } from './gfp.js';
import { kmallocCacheId } from './kmalloc_caches.js';
import { allocEmptySheaf, freeEmptySheaf } from './sheaf.fast.js';

/** How kmemCacheCreate() makes a cache, beyond its name and size (kmem_cache_create()'s other arguments). */
export interface CacheOptions {
  /** the alignment asked for, in bytes */
  align?: number;
  /** SLAB_* bits, or flag names ('hwcache_align', 'no_merge', ...) */
  flags?: number | readonly string[];
  /** the name of a constructor from CTORS ('zero', 'cookie') */
  ctor?: string;
  /** kmem_cache_args.sheaf_capacity (6.18: sheaves of this many objects; 7.0: at least this many) */
  sheafCapacity?: number;
  /** kmem_cache_args.freeptr_offset (6.18, 7.0): where the free pointer lives inside a typesafe_by_rcu object */
  freeptrOffset?: number;
}

/** What createCache() passes on from kmem_cache_args. */
interface CacheArgs {
  sheafCapacity: number;
  freeptrOffset: number;
}

/**
 * Names that resolve to a cache: its own and those of caches merged into it. Never
 * changed in place (editAliases() replaces the map), so that an image shares it and a
 * restore costs nothing.
 */
const aliasNames = perBufferState<ReadonlyMap<number, readonly string[]>>((a) => a);

const aliasesOf = (m: Machine): ReadonlyMap<number, readonly string[]> => aliasNames.get(m.sab) ?? new Map();

/** Change the names of cache `id`: `edit` gets them (undefined: none) and returns the new ones (undefined: forget them). */
function editAliases(
  m: Machine,
  id: number,
  edit: (names: readonly string[] | undefined) => readonly string[] | undefined,
): void {
  const a = new Map(aliasesOf(m));
  const names = edit(a.get(id));
  if (names === undefined) a.delete(id);
  else a.set(id, names);
  aliasNames.set(m.sab, a);
}

/**
 * Create the kmalloc caches kmalloc-8 .. kmalloc-8k as cache ids 0..12. Once per machine.
 * `opts` are the machine's boot options (slub_debug=, freelist hardening and
 * randomisation): they apply to these caches and to every cache created later.
 */
export function slubInit(m: Machine, opts: SlubOptions = {}): void {
  if (m.u32[GLOBAL.nrCaches] !== 0) throw new SlabError('EINVAL', 'slubInit: this machine already has caches');
  const { debug } = setSlubOptions(m, opts);
  for (const size of KMALLOC_SIZES) {
    // create_kmalloc_cache(): natural alignment for power-of-two sizes, SLAB_KMALLOC (6.x).
    const name = kmallocName(size);
    const flags = kmemCacheFlags(debug, name, m.cfg.profile !== '5.4' ? SLAB_FLAGS.kmalloc : 0);
    createCache(m, name, size, kmallocAlign(size), flags, 0, NO_ARGS);
  }
  if (m.cfg.profile === '7.0') bootstrapKmallocSheaves(m);
}

const NO_ARGS: CacheArgs = { sheafCapacity: 0, freeptrOffset: -1 };

/** kmalloc_caches[KMALLOC_NORMAL][] in index order: 96 and 192 come first (indices 1, 2). */
const KMALLOC_INDEX_ORDER = [96, 192, ...KMALLOC_SIZES.filter((size) => size !== 96 && size !== 192)];

/**
 * bootstrap_kmalloc_sheaves() (7.0): sheaves are kmalloc'd, so the kmalloc caches get
 * theirs only once all exist, in index order; each CPU's main sheaf comes from a
 * kmalloc cache that may have sheaves of its own by then. s->sheaf_capacity is set last.
 */
function bootstrapKmallocSheaves(m: Machine): void {
  for (const size of KMALLOC_INDEX_ORDER) {
    const id = kmallocCacheId(size);
    const s = cacheById(m, id);
    const capacity = calculateSheafCapacity(s.size, s.flags, 0, m.cfg.profile, m.cfg.pageSize);
    // capacity can be 0 due to debugging
    if (capacity === 0) continue;
    initPercpuSheaves(m, s, capacity);
    m.u32[s.base + KMEM_CACHE.sheafCapacity] = capacity;
    forgetCacheViews(m);
  }
}

/**
 * init_percpu_sheaves(): an empty main sheaf for every CPU, allocated on the creating
 * CPU (here CPU 0, which the main thread stands for). On failure those allocated are
 * freed again and the creation fails.
 */
function initPercpuSheaves(m: Machine, s: KmemCache, capacity: number): void {
  if (!kmallocCachesExist(m)) {
    throw new SlabError('EINVAL', `kmem_cache_create(${s.name}): sheaves are kmalloc'd: call slubInit() on this machine first`);
  }
  const cpu0 = makeCpu(m, 0);
  const mains: number[] = [];
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    const sheaf = allocEmptySheaf(s, cpu0, GFP_KERNEL, capacity);
    if (sheaf === 0) {
      for (const main of mains) freeEmptySheaf(s, cpu0, main);
      throw new SlabError('EINVAL', `kmem_cache_create(${s.name}): no memory for ${m.cfg.cpus} sheaves of ${capacity} objects`);
    }
    mains.push(sheaf);
  }
  mains.forEach((sheaf, cpu) => {
    m.u32[cacheCpuOff(m, s.id, cpu) + CACHE_CPU.main] = sheaf;
  });
}

/** Whether slubInit() made the kmalloc caches, from which sheaves come. */
const kmallocCachesExist = (m: Machine): boolean =>
  m.u32[GLOBAL.nrCaches] >= KMALLOC_SIZES.length && readName(m, cacheOff(m, 0)) === kmallocName(KMALLOC_SIZES[0]);

/**
 * kmem_cache_create(): a cache id, either new or an existing compatible cache that this
 * name becomes an alias of (find_mergeable, __kmem_cache_alias).
 */
export function kmemCacheCreate(m: Machine, name: string, size: number, opts: CacheOptions = {}): number {
  const requested = typeof opts.flags === 'number' ? opts.flags : parseFlags(opts.flags ?? []);
  // kmem_cache_flags(): the slub_debug boot option, before find_mergeable() looks.
  const flags = kmemCacheFlags(slubOptions(m).debug, name, requested);
  const ctor = opts.ctor === undefined ? 0 : ctorId(opts.ctor);
  if (opts.ctor !== undefined && ctor === 0)
    throw new SlabError('EINVAL', `kmem_cache_create(${name}): unknown ctor '${opts.ctor}' (expected zero or cookie)`);
  const align = opts.align ?? 0;
  const args: CacheArgs = { sheafCapacity: opts.sheafCapacity ?? 0, freeptrOffset: opts.freeptrOffset ?? -1 };
  checkName(m, name);
  if (!(Number.isInteger(size) && size >= 1 && size <= m.cfg.pageSize << 10)) {
    throw new SlabError('EINVAL', `kmem_cache_create(${name}): size ${size} out of range (expected 1..${m.cfg.pageSize << 10})`);
  }
  if (!(Number.isInteger(align) && align >= 0 && (align & (align - 1)) === 0)) {
    throw new SlabError('EINVAL', `kmem_cache_create(${name}): align ${align} must be 0 or a power of two`);
  }
  // The geometry's own checks (sheaf capacity and free pointer offset against the
  // profile) come before any merging, so a bad argument is refused the same either way.
  geometryOf(m, size, align, flags, ctor, args);
  const live = liveCacheIds(m);
  const hit = findMergeable(
    live.map((id) => mergeCandidate(m, id)),
    { size, align, flags, ctor: ctor !== 0, profile: m.cfg.profile, sheafCapacity: args.sheafCapacity },
  );
  if (hit >= 0) {
    const id = live[hit];
    const base = cacheOff(m, id);
    const now = kmemCacheAlias(
      {
        objectSize: m.u32[base + KMEM_CACHE.objectSize],
        inuse: m.u32[base + KMEM_CACHE.inuse],
        refcount: m.u32[base + KMEM_CACHE.refcount],
      },
      size,
    );
    m.u32[base + KMEM_CACHE.refcount] = now.refcount;
    m.u32[base + KMEM_CACHE.objectSize] = now.objectSize;
    m.u32[base + KMEM_CACHE.inuse] = now.inuse;
    editAliases(m, id, (names) => names && [...names, name]);
    forgetCacheViews(m);
    return id;
  }
  return createCache(m, name, size, align, flags, ctor, args);
}

function checkName(m: Machine, name: string): void {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= CACHE_NAME_BYTES) {
    throw new SlabError('EINVAL', `kmem_cache_create: name '${name}' must have 1..${CACHE_NAME_BYTES - 1} bytes`);
  }
  for (const id of liveCacheIds(m)) {
    if ((aliasesOf(m).get(id) ?? [readName(m, cacheOff(m, id))]).includes(name)) {
      throw new SlabError('EINVAL', `kmem_cache_create: a cache named '${name}' exists`);
    }
  }
}

function mergeCandidate(m: Machine, id: number): MergeCandidate {
  const b = cacheOff(m, id);
  return {
    size: m.u32[b + KMEM_CACHE.size],
    align: m.u32[b + KMEM_CACHE.align],
    flags: m.u32[b + KMEM_CACHE.flags],
    objectSize: m.u32[b + KMEM_CACHE.objectSize],
    ctor: m.u32[b + KMEM_CACHE.ctor] !== 0,
    refcount: m.u32[b + KMEM_CACHE.refcount],
    cpuSheaves: m.cfg.profile === '6.18' && m.u32[b + KMEM_CACHE.sheafCapacity] !== 0,
  };
}

/** calculateGeometry() for a cache of this machine. */
const geometryOf = (m: Machine, size: number, align: number, flags: number, ctor: number, args: CacheArgs) =>
  calculateGeometry({
    size,
    align,
    flags,
    ctor: ctor !== 0,
    cpus: m.cfg.cpus,
    profile: m.cfg.profile,
    pageSize: m.cfg.pageSize,
    freeptrOffset: args.freeptrOffset,
    sheafCapacity: args.sheafCapacity,
  });

/**
 * create_cache(): a new struct kmem_cache with its per-CPU and per-node parts, and its
 * sheaves when it has a sheaf capacity (7.0's kmalloc caches get theirs at the end of
 * slubInit()).
 */
function createCache(
  m: Machine,
  name: string,
  size: number,
  align: number,
  flags: number,
  ctor: number,
  args: CacheArgs,
): number {
  const id = m.u32[GLOBAL.nrCaches];
  if (id >= MAX_CACHES)
    throw new SlabError('EINVAL', `kmem_cache_create(${name}): this machine holds at most ${MAX_CACHES} caches`);
  const geometry = (f: number) => geometryOf(m, size, align, f, ctor, args);
  let g = geometry(flags);
  const opts = slubOptions(m);
  // kmem_cache_open(): s->random (CONFIG_SLAB_FREELIST_HARDENED) and init_cache_random_seq()
  // (CONFIG_SLAB_FREELIST_RANDOM), drawn from the options' seed and the cache id (never 0).
  const nonZero = (stream: number): number => new Rng(opts.seed, stream).u32() || 1;
  if (opts.debug?.disableHigherOrderDebug && getOrder(g.size, m.cfg.pageSize) > getOrder(size, m.cfg.pageSize)) {
    // slub_debug=O: "Disable debugging flags that store metadata if the min slab order
    // increased" (kmem_cache_open()).
    flags &= ~DEBUG_METADATA_FLAGS;
    g = geometry(flags);
  }
  const b = cacheOff(m, id);
  const u = m.u32;
  u[b + KMEM_CACHE.flags] = flags;
  u[b + KMEM_CACHE.objectSize] = g.objectSize;
  u[b + KMEM_CACHE.size] = g.size;
  u[b + KMEM_CACHE.align] = g.align;
  u[b + KMEM_CACHE.inuse] = g.inuse;
  u[b + KMEM_CACHE.offset] = g.offset;
  u[b + KMEM_CACHE.redLeftPad] = g.redLeftPad;
  u[b + KMEM_CACHE.order] = g.order;
  u[b + KMEM_CACHE.objects] = g.objects;
  u[b + KMEM_CACHE.minOrder] = g.minOrder;
  u[b + KMEM_CACHE.minObjects] = g.minObjects;
  u[b + KMEM_CACHE.minPartial] = g.minPartial;
  u[b + KMEM_CACHE.cpuPartial] = g.cpuPartial;
  u[b + KMEM_CACHE.cpuPartialSlabs] = g.cpuPartialSlabs;
  u[b + KMEM_CACHE.refcount] = 1;
  u[b + KMEM_CACHE.random] = opts.hardened ? nonZero(0x5100 + id) : 0;
  u[b + KMEM_CACHE.randomSeq] = opts.randomFreelist ? nonZero(0x5200 + id) : 0;
  u[b + KMEM_CACHE.slabErrors] = 0;
  u[b + KMEM_CACHE.ctor] = ctor;
  u[b + KMEM_CACHE.remoteNodeDefragRatio] = 1000;
  // For KMALLOC_NORMAL caches 7.0 enables sheaves later: bootstrap_kmalloc_sheaves().
  const sheafCapacity = m.cfg.profile === '7.0' && flags & SLAB_FLAGS.kmalloc ? 0 : g.sheafCapacity;
  u[b + KMEM_CACHE.sheafCapacity] = sheafCapacity;
  writeName(m, b, name);
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    const c = cacheCpuOff(m, id, cpu);
    u.fill(0, c, c + CACHE_CPU.STRIDE);
    u[c + CPU_TID] = cpu; // init_tid(cpu)
    u[c + CPU_FREELIST] = 0;
    u[c + CACHE_CPU.page] = NIL;
    u[c + CACHE_CPU.partial] = NIL;
  }
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = cacheNodeOff(m, id, node);
    u.fill(0, n, n + CACHE_NODE.STRIDE);
  }
  u[b + KMEM_CACHE.state] = CACHE_STATE.live;
  u[GLOBAL.nrCaches] = id + 1;
  if (sheafCapacity !== 0) {
    try {
      initPercpuSheaves(m, cacheById(m, id), sheafCapacity);
    } catch (e) {
      // The creation failed: the id is free again.
      u[b + KMEM_CACHE.state] = CACHE_STATE.unused;
      u[GLOBAL.nrCaches] = id;
      forgetCacheViews(m);
      throw e;
    }
  }
  editAliases(m, id, () => [name]);
  return id;
}

export function liveCacheIds(m: Machine): number[] {
  const out: number[] = [];
  for (let id = 0; id < m.u32[GLOBAL.nrCaches]; id++) {
    if (m.u32[cacheOff(m, id) + KMEM_CACHE.state] === CACHE_STATE.live) out.push(id);
  }
  return out;
}

/** The names that resolve to cache `id` (its own first). */
export const cacheNames = (m: Machine, id: number): string[] => [...(aliasesOf(m).get(id) ?? [readName(m, cacheOff(m, id))])];

/** The sysfs directory name: a mergeable cache lives under its unique id, ":0000064". */
export function sysfsName(m: Machine, id: number): string {
  const b = cacheOff(m, id);
  const cand = mergeCandidate(m, id);
  return slabUnmergeable(cand) ? readName(m, b) : aliasName(cand.size, cand.flags);
}

/** flush_all(): every CPU's sheaves, cpu slab and partial list back to the slabs, run on its behalf. */
export function flushAll(m: Machine, id: number): void {
  const s = cacheById(m, id);
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) flushCpuSlab(s, makeCpu(m, cpu));
}

/**
 * kmem_cache_destroy(): drop one reference; the last one releases the cache. A cache
 * with objects still allocated is refused with EBUSY before anything changes. The error
 * carries what __kmem_cache_shutdown() would print ("Objects remaining in %s on
 * __kmem_cache_shutdown()" and an "Object 0x%p @offset=%tu" line per object, for every
 * slab that would be on a partial list after the flush) and its KUnit error count, in
 * `report` (shutdownReport()). The kernel would then leak the cache with the objects
 * in it; the simulator keeps it usable instead, so the objects can still be freed.
 */
export function kmemCacheDestroy(m: Machine, id: number): void {
  const s = cacheById(m, id);
  const b = s.base;
  if (m.u32[b + KMEM_CACHE.state] !== CACHE_STATE.live)
    throw new SlabError('EINVAL', `kmem_cache_destroy: cache ${s.name} is not live`);
  const refcount = m.u32[b + KMEM_CACHE.refcount];
  if (refcount > 1) {
    m.u32[b + KMEM_CACHE.refcount] = refcount - 1;
    editAliases(m, id, (names) => names?.slice(0, -1));
    return;
  }
  const leaked = leakedObjects(s);
  if (leaked.length > 0) {
    const report = shutdownReport(s);
    const shown = report.messages.slice(0, 40);
    if (report.messages.length > shown.length) shown.push(`... ${report.messages.length - shown.length} more lines`);
    throw new SlabError('EBUSY', shown.join('\n'), report);
  }
  // __kmem_cache_shutdown(): flush, then per node the barn and the empty partial slabs.
  flushAll(m, id);
  const cpu0 = makeCpu(m, 0);
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    if (s.sheafCapacity !== 0) barnShrink(s, cpu0, n);
    nodeLock(s, n, () => {
      for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.partialHead])) discardSlabQuiet(s, n, pfn);
    });
  }
  // pcs_destroy(): the (flushed, empty) main sheaves.
  for (let cpu = 0; cpu < m.cfg.cpus && s.sheafCapacity !== 0; cpu++) {
    const c = cacheCpuOff(m, id, cpu);
    freeEmptySheaf(s, cpu0, m.u32[c + CACHE_CPU.main]);
    m.u32[c + CACHE_CPU.main] = 0;
  }
  m.u32[b + KMEM_CACHE.state] = CACHE_STATE.destroyed;
  editAliases(m, id, () => undefined);
  forgetCacheViews(m);
}

/**
 * Addresses of the objects of `s` that users still hold: allocated from their slab's
 * point of view, and neither held in a sheaf of `s` nor the storage of a sheaf.
 * `records`: the slabs when the caller has walked them already.
 */
export function leakedObjects(s: KmemCache, records: readonly SlabRecord[] = slabRecords(s)): number[] {
  const out: number[] = [];
  let storage: ReadonlySet<number> | null = null; // walked only if some slab has live objects
  for (const r of records) {
    if (liveObjects(r) === 0) continue;
    storage ??= sheafStorage(s.m);
    const notHeld = new Uint8Array(r.objects);
    for (const i of r.freeIdx) notHeld[i] = 1;
    for (const i of r.cachedIdx) notHeld[i] = 1;
    for (let i = 0; i < r.objects; i++) {
      if (notHeld[i] !== 0) continue;
      const object = objectAt(s, r.pfn, i);
      if (!storage.has(object)) out.push(object);
    }
  }
  return out;
}

/**
 * __kmem_cache_shrink(): flush, then per node empty the barn (6.18, 7.0: its full sheaves
 * flushed to the slabs, all of them freed), discard empty partial slabs and sort the
 * rest by free objects (fewest first, up to 32; the others after). Returns 1 if any
 * slabs remain.
 */
export function kmemCacheShrink(m: Machine, id: number): number {
  flushAll(m, id);
  return kmemCacheDoShrink(cacheById(m, id), makeCpu(m, 0));
}

/** Pages held by slabs of every cache: each slab's head page with its real order (racy while CPUs run). */
export function slabPageCount(m: Machine): number {
  let pages = 0;
  for (let pfn = 1; pfn < m.totalPfns; pfn++) {
    const p = pageOff(m, pfn);
    if (m.u32[p + PAGE.flags] & PG.slab) pages += 1 << m.u32[p + PAGE.private];
  }
  return pages;
}
