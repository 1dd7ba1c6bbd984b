/* @two-way */
// HAProxy's pool of equal-size blocks: free blocks are linked through their first word,
// the head keeps only `free_list`. src/memory.c, include/common/memory.h:
// 1.5-1.8 create_pool(), pool_alloc2(), pool_refill_alloc(), pool_free2(), pool_gc2(),
// pool_flush2(), pool_destroy2(); 1.9-2.0 the lockless shared list and the per-thread
// cache (__pool_get_from_cache(), pool_put_to_cache(), pool_evict_from_cache()).
//
// Variants (HA_KIND), chosen at creation:
// - percpu: one pool_head per CPU, used by that CPU only: plain loads and stores, no
//   atomics, no lock (the original: one process per core). A block freed on another
//   CPU than the one it came from is refused.
// - shared: one pool_head, a Treiber stack with ONE 32-bit CAS on free_list. ABA-prone
//   on purpose: between reading free_list == A (and A's link, B) and the CAS, another
//   CPU may pop A, pop B and push A; the CAS then succeeds and installs B, which is in use.
// - tagged: the same stack with free_list and a tag in one 64-bit word, every CAS
//   bumping the tag (cas64, the idea of SLUB's tid): a stale CAS fails.
// - cached: a per-CPU cache (pool_cache_head, plain, only its CPU touches it) in front
//   of the tagged list. As in HAProxy 2.0, blocks in a cache count as `used`.
//
// Orderings of the shared lists, as HAProxy 2.0's lockless pools place them
// (include/common/memory.h; hathreads.h maps them on arm64 to dmb ishst / dmb ishld, and
// its _HA_ATOMIC_CAS, HA_ATOMIC_DWCAS and _HA_ATOMIC_ADD/SUB to relaxed atomics): a put
// (__pool_free) writes the block's link, __ha_barrier_store(), then CASes the head,
// then __ha_barrier_atomic_store(); a get (__pool_get_first) reads the seq,
// __ha_barrier_load(), the head, __ha_barrier_load(), the head's link, then the DWCAS,
// then __ha_barrier_atomic_store(). Mutant haproxy-put-no-barrier drops the put's
// __ha_barrier_store(): the link may reach memory after the block is on the list.
//
// Memory: the head block (HA_GROUP, the heads, the caches) is a block from the page
// allocator; blocks are carved one page at a time (pool_refill_alloc), each page starting
// with an HA_PAGE header naming its head. Trimming (pool_gc2) works at page granularity:
// it releases a page only when every block carved from it is free, and only while at
// least `minavail` free blocks remain; partly used pages keep their free blocks.
// Lock order: registry lock > pool_head.lock (pages, trimming) > zone->lock.
import { assertInvariant, SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { mutant } from '../slub/mutants.js';
import {
  add32Relaxed,
  cas32Relaxed,
  cas64Relaxed,
  fence,
  load32,
  spinLock,
  spinUnlock,
  store32,
  xchg32,
} from '../../shm/atomic.js';
import { addrToPfn, addrWord, cpuNode, type Machine, nodeOff, pfnToAddr, validAddr } from '../../shm/machine.js';
import { NODE } from '../../shm/structs.js';
import { allocPages, freePages } from '../page_alloc.js';
import { heapAlloc, heapFree } from './heap.js';
import {
  alignUp,
  HA_CACHE,
  HA_FREE_PTR,
  HA_FREE_TAG,
  HA_GROUP,
  HA_KIND,
  HA_KIND_NAMES,
  HA_MAGIC,
  HA_NAME_BYTES,
  HA_PAGE,
  HA_POOL,
  HA_POOL_ALIGN,
  HA_REGISTRY,
  HA_REGISTRY_MAGIC,
  type HaKindName,
  haBlocksPerPage,
  haCacheAddr,
  haFirstBlock,
  haGroupBytes,
  haHeadAddr,
  haHeadIndex,
  MEM_F_SHARED,
  sizeofStruct,
} from './structs.js';
import { checkCpuId, hex, readCString, result, type ValidateResult, writeCString } from './util.js';

const S_ALLOC = site('pool_alloc');
const S_ALLOC_NEXT = site('pool_alloc:next');
const S_ALLOC_CAS = site('pool_alloc:cas');
const S_FREE = site('pool_free');
const S_FREE_CAS = site('pool_free:cas');
const S_REFILL = site('pool_refill_alloc');
const S_REFILL_LOCK = site('pool_refill_alloc:lock');
const S_GC = site('pool_gc');
const S_GC_LOCK = site('pool_gc:lock');
const S_GC_IFNEED = site('pool_gc_ifneed');
const S_CACHE_GET = site('pool_get_from_cache');
const S_CACHE_PUT = site('pool_put_to_cache');
const S_EVICT = site('pool_evict_from_cache');
const S_CREATE = site('create_pool');
const S_DESTROY = site('pool_destroy');
const S_REG_LOCK = site('create_pool:pools_lock');

/** A thread's view of one pool: the fields fixed at creation, read once. */
export interface HaPool {
  readonly m: Machine;
  /** address of the head block: the pool's identity, what workers are given */
  readonly addr: number;
  readonly kind: HaKindName;
  /** HA_KIND value */
  readonly k: number;
  readonly nheads: number;
  readonly cpus: number;
  /** block size (rounded up to HA_POOL_ALIGN) */
  readonly size: number;
  readonly perPage: number;
  readonly cacheMax: number;
  readonly lowPages: number;
  readonly name: string;
}

export interface HaPoolOptions {
  /** up to 11 bytes are kept (strlcpy into char name[12]) */
  name: string;
  size: number;
  kind: HaKindName;
  /** MEM_F_SHARED: share with an existing pool of the same size (and variant) */
  flags?: number;
  /** upper bound on `allocated`, 0 = none */
  limit?: number;
  /** trimming keeps at least this many free blocks */
  minavail?: number;
  /** cached: most blocks a CPU's cache holds before half are evicted (default 16) */
  cacheMax?: number;
  /** pool_gc2_ifneed: trim after a free when the zone has fewer free pages (0: never) */
  lowPages?: number;
}

/** Counters of one head (stats for tests and reports). */
export interface HaHeadStats {
  used: number;
  allocated: number;
  failed: number;
  limit: number;
  minavail: number;
  free: number;
  nr_pages: number;
  /** blocks in the CPUs' caches (cached variant) */
  cached: number;
}

// ---------------------------------------------------------------- views and offsets

/** The view of the pool whose head block is at `addr`; EINVAL when there is none. */
export function haPoolAt(m: Machine, addr: number): HaPool {
  if (!validAddr(m, addr) || m.u32[addrWord(m, addr) + HA_GROUP.magic] !== HA_MAGIC) {
    throw new SlabError('EINVAL', `haproxy pool: no pool_head at ${hex(addr)}`);
  }
  const g = addrWord(m, addr);
  const u = m.u32;
  const h0 = addrWord(m, haHeadAddr(addr, 0));
  const size = u[h0 + HA_POOL.size];
  return {
    m,
    addr,
    kind: HA_KIND_NAMES[u[g + HA_GROUP.kind]],
    k: u[g + HA_GROUP.kind],
    nheads: u[g + HA_GROUP.nheads],
    cpus: u[g + HA_GROUP.cpus],
    size,
    perPage: haBlocksPerPage(m.cfg.pageSize, size),
    cacheMax: u[g + HA_GROUP.cacheMax],
    lowPages: u[g + HA_GROUP.lowPages],
    name: readCString(m, haHeadAddr(addr, 0) + HA_POOL.name * 4, HA_NAME_BYTES),
  };
}

/** Address of the pool_head CPU `cpu` uses. */
export const headAddrOf = (p: HaPool, cpu: number): number => haHeadAddr(p.addr, p.k === HA_KIND.percpu ? cpu : 0);
const cacheWord = (p: HaPool, cpu: number): number => addrWord(p.m, haCacheAddr(p.addr, p.nheads, cpu));

function checkCpu(p: HaPool, what: string, cpu: number): void {
  checkCpuId(p.m, what, cpu);
  if (cpu >= p.cpus) throw new SlabError('EINVAL', `${what}: cpu ${cpu} out of range for pool ${p.name} (${p.cpus} CPUs)`);
}

/** A counter update: plain for per-CPU heads (one writer), a relaxed atomic (_HA_ATOMIC_ADD) for shared ones. */
function* bump(p: HaPool, word: number, delta: number, at: number): Step {
  if (p.k === HA_KIND.percpu) {
    const v = yield* load32(p.m, word, at);
    yield* store32(p.m, word, (v + delta) >>> 0, at);
  } else {
    yield* add32Relaxed(p.m, word, delta, at);
  }
}

// ---------------------------------------------------------------- registry and creation

/** The global `pools` list (one page). Returns its address, or 0 when memory is short. */
export function* poolRegistryCreate(m: Machine, cpu: number): Step<number> {
  checkCpuId(m, 'pool registry', cpu);
  const addr = yield* heapAlloc(m, sizeofStruct(HA_REGISTRY), cpu, true);
  if (addr === 0) return 0;
  m.u32[addrWord(m, addr) + HA_REGISTRY.magic] = HA_REGISTRY_MAGIC;
  return addr;
}

/** Pools on the registry, in its order (ascending size). */
export function registryPools(m: Machine, registry: number): number[] {
  const out: number[] = [];
  for (
    let g = m.u32[addrWord(m, registry) + HA_REGISTRY.first];
    g !== 0 && out.length < 1 << 16;
    g = m.u32[addrWord(m, g) + HA_GROUP.next]
  ) {
    out.push(g);
  }
  return out;
}

/**
 * create_pool(): a pool of `o.size`-byte blocks (rounded up to 16). With `registry` and
 * MEM_F_SHARED, an existing shareable pool of the same size and variant is reused
 * (users++). Returns null when memory is short; EINVAL for bad options.
 */
export function* createPool(m: Machine, registry: number, o: HaPoolOptions, cpu: number): Step<HaPool | null> {
  checkCpuId(m, 'create_pool', cpu);
  const k = HA_KIND[o.kind];
  if (k === undefined)
    throw new SlabError('EINVAL', `create_pool: kind ${String(o.kind)} (expected one of ${HA_KIND_NAMES.join(', ')})`);
  if (!Number.isInteger(o.size) || o.size < 1)
    throw new SlabError('EINVAL', `create_pool(${o.name}): size ${String(o.size)}: expected an integer >= 1`);
  const size = alignUp(o.size, HA_POOL_ALIGN);
  if (haBlocksPerPage(m.cfg.pageSize, size) < 1) {
    throw new SlabError(
      'EINVAL',
      `create_pool(${o.name}): size ${o.size} does not fit a page of ${m.cfg.pageSize} bytes after its header`,
    );
  }
  const flags = o.flags ?? 0;
  const limit = o.limit ?? 0;
  const minavail = o.minavail ?? 0;
  const cacheMax = o.cacheMax ?? 16;
  const lowPages = o.lowPages ?? 0;
  for (const [name, v, min] of [
    ['flags', flags, 0],
    ['limit', limit, 0],
    ['minavail', minavail, 0],
    ['cacheMax', cacheMax, 1],
    ['lowPages', lowPages, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min || v > 0xffffffff)
      throw new SlabError('EINVAL', `create_pool(${o.name}): ${name} = ${String(v)}: expected an integer >= ${min}`);
  }
  const cpus = m.cfg.cpus;
  const u = m.u32;
  let reg = 0;
  if (registry !== 0) {
    if (!validAddr(m, registry) || u[addrWord(m, registry) + HA_REGISTRY.magic] !== HA_REGISTRY_MAGIC) {
      throw new SlabError('EINVAL', `create_pool(${o.name}): no pool registry at ${hex(registry)}`);
    }
    reg = addrWord(m, registry);
    yield* spinLock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
    yield S_CREATE;
    // Walk the sorted list: share an equal pool, or find the first larger one.
    let prev = 0;
    for (let g = u[reg + HA_REGISTRY.first]; g !== 0; g = u[addrWord(m, g) + HA_GROUP.next]) {
      const gw = addrWord(m, g);
      const h0 = addrWord(m, haHeadAddr(g, 0));
      const esize = u[h0 + HA_POOL.size];
      if (esize === size) {
        if (flags & u[h0 + HA_POOL.flags] & MEM_F_SHARED && u[gw + HA_GROUP.kind] === k && u[gw + HA_GROUP.cpus] === cpus) {
          u[gw + HA_GROUP.users]++;
          yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
          return haPoolAt(m, g);
        }
      } else if (esize > size) {
        break;
      }
      prev = g;
    }
    const made = yield* newPool(m, registry, k, size, o.name, flags, limit, minavail, cacheMax, lowPages, cpu);
    if (made !== 0) {
      const before = prev === 0 ? reg + HA_REGISTRY.first : addrWord(m, prev) + HA_GROUP.next;
      u[addrWord(m, made) + HA_GROUP.next] = u[before];
      u[before] = made;
      u[reg + HA_REGISTRY.nr]++;
    }
    yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
    return made === 0 ? null : haPoolAt(m, made);
  }
  const made = yield* newPool(m, 0, k, size, o.name, flags, limit, minavail, cacheMax, lowPages, cpu);
  return made === 0 ? null : haPoolAt(m, made);
}

function* newPool(
  m: Machine,
  registry: number,
  k: number,
  size: number,
  name: string,
  flags: number,
  limit: number,
  minavail: number,
  cacheMax: number,
  lowPages: number,
  cpu: number,
): Step<number> {
  const cpus = m.cfg.cpus;
  const nheads = k === HA_KIND.percpu ? cpus : 1;
  const bytes = haGroupBytes(nheads, k === HA_KIND.cached ? cpus : 0);
  const addr = yield* heapAlloc(m, bytes, cpu, true);
  if (addr === 0) return 0;
  yield S_CREATE; // the block is private until returned
  const u = m.u32;
  const g = addrWord(m, addr);
  u[g + HA_GROUP.kind] = k;
  u[g + HA_GROUP.nheads] = nheads;
  u[g + HA_GROUP.cpus] = cpus;
  u[g + HA_GROUP.cacheMax] = cacheMax;
  u[g + HA_GROUP.lowPages] = lowPages;
  u[g + HA_GROUP.registry] = registry;
  u[g + HA_GROUP.users] = 1;
  for (let i = 0; i < nheads; i++) {
    const ha = haHeadAddr(addr, i);
    const h = addrWord(m, ha);
    u[h + HA_POOL.size] = size;
    u[h + HA_POOL.flags] = flags;
    u[h + HA_POOL.limit] = limit;
    u[h + HA_POOL.minavail] = minavail;
    writeCString(m, ha + HA_POOL.name * 4, HA_NAME_BYTES, name);
  }
  u[g + HA_GROUP.magic] = HA_MAGIC;
  return addr;
}

// ---------------------------------------------------------------- allocation

/**
 * pool_alloc2(): a block for `cpu`, or 0 when the pool is at its limit or memory is
 * short (counted in `failed`). Fast path: pop free_list (cached: the CPU's cache first).
 */
export function* poolAlloc(p: HaPool, cpu: number): Step<number> {
  checkCpu(p, 'pool_alloc', cpu);
  const m = p.m;
  const ha = headAddrOf(p, cpu);
  const h = addrWord(m, ha);
  if (p.k === HA_KIND.percpu) {
    const a = yield* load32(m, h + HA_FREE_PTR, S_ALLOC);
    if (a === 0) return yield* poolRefillAlloc(p, ha, cpu);
    const next = yield* load32(m, addrWord(m, a), S_ALLOC_NEXT);
    yield* store32(m, h + HA_FREE_PTR, next, S_ALLOC);
    yield* bump(p, h + HA_POOL.used, 1, S_ALLOC);
    return a;
  }
  if (p.k === HA_KIND.cached) {
    // __pool_get_from_cache(): only this CPU touches its cache.
    const c = cacheWord(p, cpu);
    const n = yield* load32(m, c + HA_CACHE.count, S_CACHE_GET);
    if (n > 0) {
      const a = yield* load32(m, c + HA_CACHE.list, S_CACHE_GET);
      const next = yield* load32(m, addrWord(m, a), S_CACHE_GET);
      yield* store32(m, c + HA_CACHE.list, next, S_CACHE_GET);
      yield* store32(m, c + HA_CACHE.count, n - 1, S_CACHE_GET);
      return a;
    }
  }
  const a = yield* popShared(p, h);
  if (a === 0) return yield* poolRefillAlloc(p, ha, cpu);
  yield* add32Relaxed(m, h + HA_POOL.used, 1, S_ALLOC);
  return a;
}

/** Pop one block off a shared head's free_list, or 0 when it is empty (__pool_get_first()). */
function* popShared(p: HaPool, h: number): Step<number> {
  const m = p.m;
  const a = p.k === HA_KIND.shared ? yield* popUntagged(m, h) : yield* popTagged(m, h);
  if (a !== 0) yield* fence(m, 'wmb', S_ALLOC_CAS); // __ha_barrier_atomic_store()
  return a;
}

function* popUntagged(m: Machine, h: number): Step<number> {
  for (;;) {
    const a = yield* load32(m, h + HA_FREE_PTR, S_ALLOC);
    if (a === 0) return 0;
    yield* fence(m, 'rmb', S_ALLOC_NEXT); // __ha_barrier_load()
    // The ABA window: another CPU may pop a, pop next and push a back before the CAS.
    const next = yield* load32(m, addrWord(m, a), S_ALLOC_NEXT);
    if (yield* cas32Relaxed(m, h + HA_FREE_PTR, a, next, S_ALLOC_CAS)) return a;
  }
}

function* popTagged(m: Machine, h: number): Step<number> {
  for (;;) {
    const tag = yield* load32(m, h + HA_FREE_TAG, S_ALLOC);
    yield* fence(m, 'rmb', S_ALLOC); // __ha_barrier_load()
    const a = yield* load32(m, h + HA_FREE_PTR, S_ALLOC);
    if (a === 0) return 0;
    yield* fence(m, 'rmb', S_ALLOC_NEXT); // __ha_barrier_load()
    const next = yield* load32(m, addrWord(m, a), S_ALLOC_NEXT);
    // HA_ATOMIC_DWCAS: any pop or push in between bumped the tag, so this CAS fails
    // instead of installing a stale next.
    if (yield* cas64Relaxed(m, h + HA_FREE_PTR, a, tag, next, (tag + 1) >>> 0, S_ALLOC_CAS)) return a;
  }
}

/**
 * Push the chain first..last (already linked) on a head's free_list (__pool_free()):
 * the link, __ha_barrier_store() (dropped by mutant haproxy-put-no-barrier), the CAS,
 * __ha_barrier_atomic_store().
 */
function* pushChain(p: HaPool, h: number, first: number, last: number): Step {
  const m = p.m;
  const link = addrWord(m, last);
  if (p.k === HA_KIND.percpu) {
    const head = yield* load32(m, h + HA_FREE_PTR, S_FREE);
    yield* store32(m, link, head, S_FREE);
    yield* store32(m, h + HA_FREE_PTR, first, S_FREE);
    return;
  }
  for (;;) {
    const tag = p.k === HA_KIND.shared ? 0 : yield* load32(m, h + HA_FREE_TAG, S_FREE);
    const head = yield* load32(m, h + HA_FREE_PTR, S_FREE);
    yield* store32(m, link, head, S_FREE);
    if (!mutant.haproxyPutNoBarrier) yield* fence(m, 'wmb', S_FREE); // __ha_barrier_store()
    if (
      p.k === HA_KIND.shared
        ? yield* cas32Relaxed(m, h + HA_FREE_PTR, head, first, S_FREE_CAS)
        : yield* cas64Relaxed(m, h + HA_FREE_PTR, head, tag, first, (tag + 1) >>> 0, S_FREE_CAS)
    )
      break;
  }
  yield* fence(m, 'wmb', S_FREE_CAS); // __ha_barrier_atomic_store()
}

/**
 * pool_refill_alloc(): free_list was empty. Reserve up to a page of blocks against
 * `limit` (allocated only grows by CAS, so it never passes limit), take a page, carve
 * it, return its first block and push the rest. On page allocation failure, trim once
 * (pool_gc2: every registered pool, else this head) and retry, as the original does
 * when malloc fails.
 */
function* poolRefillAlloc(p: HaPool, ha: number, cpu: number): Step<number> {
  const m = p.m;
  const h = addrWord(m, ha);
  const limit = m.u32[h + HA_POOL.limit]; // fixed at creation
  let n = 0;
  for (;;) {
    const allocated = yield* load32(m, h + HA_POOL.allocated, S_REFILL);
    if (limit !== 0 && allocated >= limit) {
      yield* bump(p, h + HA_POOL.failed, 1, S_REFILL);
      return 0;
    }
    n = limit === 0 ? p.perPage : Math.min(p.perPage, limit - allocated);
    if (p.k === HA_KIND.percpu) {
      yield* store32(m, h + HA_POOL.allocated, allocated + n, S_REFILL);
      break;
    }
    if (yield* cas32Relaxed(m, h + HA_POOL.allocated, allocated, allocated + n, S_REFILL)) break;
  }
  const node = cpuNode(m, cpu);
  let pfn = yield* allocPages(m, node, 0, cpu);
  if (pfn === 0) {
    const registry = m.u32[addrWord(m, p.addr) + HA_GROUP.registry];
    if (registry !== 0) yield* poolGcAll(m, registry, cpu);
    else yield* poolGcHead(p, ha, m.u32[h + HA_POOL.minavail]);
    pfn = yield* allocPages(m, node, 0, cpu);
  }
  if (pfn === 0) {
    yield* bump(p, h + HA_POOL.allocated, -n, S_REFILL);
    yield* bump(p, h + HA_POOL.failed, 1, S_REFILL);
    return 0;
  }
  const page = pfnToAddr(m, pfn);
  yield S_REFILL; // the page is private until linked and pushed
  const first = carvePage(p, page, ha, n);
  yield* linkPage(p, h, page);
  if (n > 1) yield* pushChain(p, h, first + p.size, first + (n - 1) * p.size);
  yield* bump(p, h + HA_POOL.used, 1, S_REFILL);
  return first;
}

/** Write a page's header and link its blocks 1..n-1; returns block 0. Caller owns the page. */
function carvePage(p: HaPool, page: number, ha: number, n: number): number {
  const m = p.m;
  const u = m.u32;
  const hw = addrWord(m, page);
  u[hw + HA_PAGE.pool] = ha;
  u[hw + HA_PAGE.nblocks] = n;
  u[hw + HA_PAGE.next] = 0;
  const b0 = haFirstBlock(page);
  for (let i = 1; i < n; i++) u[addrWord(m, b0 + i * p.size)] = i + 1 < n ? b0 + (i + 1) * p.size : 0;
  return b0;
}

/** Add a carved page to its head's page list (under pool_head.lock, except percpu). */
function* linkPage(p: HaPool, h: number, page: number): Step {
  const m = p.m;
  const locked = p.k !== HA_KIND.percpu;
  if (locked) yield* spinLock(m, h + HA_POOL.lock, S_REFILL_LOCK);
  yield S_REFILL;
  const u = m.u32;
  u[addrWord(m, page) + HA_PAGE.next] = u[h + HA_POOL.pages];
  u[h + HA_POOL.pages] = page;
  u[h + HA_POOL.nr_pages]++;
  if (locked) yield* spinUnlock(m, h + HA_POOL.lock, S_REFILL_LOCK);
}

// ---------------------------------------------------------------- free

/**
 * pool_free2(): give back `ptr` (NULL is ignored, as in the original). A pointer that is
 * not a block of the head `cpu` uses, or a free with `used == 0`, is a SlabError and
 * changes nothing. Then pool_gc2_ifneed. (A double free of a block while others are in
 * use is not detectable here, as in the original without DEBUG_MEMORY_POOLS; validate()
 * finds the broken count.)
 */
export function* poolFree(p: HaPool, cpu: number, ptr: number): Step {
  checkCpu(p, 'pool_free', cpu);
  if (ptr === 0) return;
  const m = p.m;
  const ha = headAddrOf(p, cpu);
  const h = addrWord(m, ha);
  checkBlock(p, ha, ptr, 'pool_free');
  const used = yield* load32(m, h + HA_POOL.used, S_FREE);
  if (used === 0) {
    throw new SlabError('EBADFREE', `pool_free(${p.name}, ${hex(ptr)}): no block is in use (used == 0): a double free`);
  }
  if (p.k === HA_KIND.cached) {
    // pool_put_to_cache()
    const c = cacheWord(p, cpu);
    const head = yield* load32(m, c + HA_CACHE.list, S_CACHE_PUT);
    const n = yield* load32(m, c + HA_CACHE.count, S_CACHE_PUT);
    yield* store32(m, addrWord(m, ptr), head, S_CACHE_PUT);
    yield* store32(m, c + HA_CACHE.list, ptr, S_CACHE_PUT);
    yield* store32(m, c + HA_CACHE.count, n + 1, S_CACHE_PUT);
    if (n + 1 > p.cacheMax) yield* poolEvictFromCache(p, cpu, n + 1 - (p.cacheMax >> 1));
  } else {
    yield* pushChain(p, h, ptr, ptr);
    yield* bump(p, h + HA_POOL.used, -1, S_FREE);
  }
  yield* poolGcIfneed(p, ha, cpu);
}

/** Refuse (EBADFREE) a pointer that is not a block of the head at `ha`. */
function checkBlock(p: HaPool, ha: number, ptr: number, what: string): void {
  const m = p.m;
  const at = `${what}(${p.name}, ${hex(ptr)})`;
  if (!validAddr(m, ptr) || ptr % 4 !== 0) throw new SlabError('EBADFREE', `${at}: address outside simulated memory`);
  const page = ptr - (ptr % m.cfg.pageSize);
  const hw = addrWord(m, page);
  const owner = m.u32[hw + HA_PAGE.pool];
  if (owner !== ha) {
    const j = p.k === HA_KIND.percpu ? haHeadIndex(p.addr, p.nheads, owner) : -1;
    if (j >= 0)
      throw new SlabError(
        'EBADFREE',
        `${at}: block belongs to CPU${j}'s pool_head, not CPU${haHeadIndex(p.addr, p.nheads, ha)}'s`,
      );
    throw new SlabError('EBADFREE', `${at}: not a block of this pool`);
  }
  const off = ptr - haFirstBlock(page);
  if (off < 0 || off % p.size !== 0 || off / p.size >= m.u32[hw + HA_PAGE.nblocks]) {
    throw new SlabError('EBADFREE', `${at}: not at a block boundary of page ${hex(page)}`);
  }
}

/**
 * pool_evict_from_cache(): move the `k` most recent blocks of `cpu`'s cache to the
 * shared list in one push. Called by `cpu` itself (or by anyone when the pool is quiet).
 */
export function* poolEvictFromCache(p: HaPool, cpu: number, k: number): Step<number> {
  if (p.k !== HA_KIND.cached) return 0;
  const m = p.m;
  const c = cacheWord(p, cpu);
  const n = yield* load32(m, c + HA_CACHE.count, S_EVICT);
  if (k > n) k = n;
  if (k <= 0) return 0;
  const first = yield* load32(m, c + HA_CACHE.list, S_EVICT);
  let last = first;
  for (let i = 1; i < k; i++) last = yield* load32(m, addrWord(m, last), S_EVICT);
  const rest = yield* load32(m, addrWord(m, last), S_EVICT);
  yield* store32(m, c + HA_CACHE.list, rest, S_EVICT);
  yield* store32(m, c + HA_CACHE.count, n - k, S_EVICT);
  const h = addrWord(m, headAddrOf(p, cpu));
  yield* pushChain(p, h, first, last);
  yield* add32Relaxed(m, h + HA_POOL.used, -k, S_EVICT);
  return k;
}

/** Empty `cpu`'s cache into the shared list (cached variant; a no-op otherwise). */
export function* poolFlushCache(p: HaPool, cpu: number): Step<number> {
  checkCpu(p, 'pool_flush_cache', cpu);
  return yield* poolEvictFromCache(p, cpu, 0xffffffff);
}

// ---------------------------------------------------------------- trimming

/** pool_gc2_ifneed(): trim when the CPU's zone is short of free pages. */
function* poolGcIfneed(p: HaPool, ha: number, cpu: number): Step {
  if (p.lowPages === 0) return;
  const m = p.m;
  const free = yield* load32(m, nodeOff(m, cpuNode(m, cpu)) + NODE.freePages, S_GC_IFNEED);
  if (free < p.lowPages) yield* poolGcHead(p, ha, m.u32[addrWord(m, ha) + HA_POOL.minavail]);
}

/** pool_gc2(): trim the head `cpu` uses, keeping at least `minavail` free blocks. Pages released. */
export function* poolGc(p: HaPool, cpu: number): Step<number> {
  checkCpu(p, 'pool_gc', cpu);
  const ha = headAddrOf(p, cpu);
  return yield* poolGcHead(p, ha, p.m.u32[addrWord(p.m, ha) + HA_POOL.minavail]);
}

/**
 * pool_gc2(): trim every pool on the registry, each at the head `cpu` uses, keeping each
 * one's minavail. Takes the registry lock (so that no pool is destroyed meanwhile).
 * Returns the pages released.
 */
export function* poolGcAll(m: Machine, registry: number, cpu: number): Step<number> {
  checkCpuId(m, 'pool_gc', cpu);
  if (!validAddr(m, registry) || m.u32[addrWord(m, registry) + HA_REGISTRY.magic] !== HA_REGISTRY_MAGIC) {
    throw new SlabError('EINVAL', `pool_gc: no pool registry at ${hex(registry)}`);
  }
  const reg = addrWord(m, registry);
  yield* spinLock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
  let released = 0;
  for (
    let g = yield* load32(m, reg + HA_REGISTRY.first, S_GC);
    g !== 0;
    g = yield* load32(m, addrWord(m, g) + HA_GROUP.next, S_GC)
  ) {
    const q = haPoolAt(m, g);
    if (cpu >= q.cpus) continue;
    const ha = headAddrOf(q, cpu);
    released += yield* poolGcHead(q, ha, m.u32[addrWord(m, ha) + HA_POOL.minavail]);
  }
  yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
  return released;
}

/** pool_flush2(): release every page of the head `cpu` uses whose blocks are all free. */
export function* poolFlush(p: HaPool, cpu: number): Step<number> {
  checkCpu(p, 'pool_flush', cpu);
  return yield* poolGcHead(p, headAddrOf(p, cpu), 0);
}

/**
 * Take the whole free list, release the pages all of whose blocks are on it while at
 * least `keep` free blocks remain, push the rest back. Holds pool_head.lock (except
 * percpu) so that trimmings and page-list changes do not overlap; allocations and frees
 * go on meanwhile (they find the list empty and refill, or push onto it).
 */
function* poolGcHead(p: HaPool, ha: number, keep: number): Step<number> {
  const m = p.m;
  const h = addrWord(m, ha);
  const locked = p.k !== HA_KIND.percpu;
  if (locked) yield* spinLock(m, h + HA_POOL.lock, S_GC_LOCK);
  let first: number;
  if (p.k === HA_KIND.percpu) {
    first = yield* load32(m, h + HA_FREE_PTR, S_GC);
    yield* store32(m, h + HA_FREE_PTR, 0, S_GC);
  } else if (p.k === HA_KIND.shared) {
    first = yield* xchg32(m, h + HA_FREE_PTR, 0, S_GC);
  } else {
    for (;;) {
      const tag = yield* load32(m, h + HA_FREE_TAG, S_GC);
      first = yield* load32(m, h + HA_FREE_PTR, S_GC);
      if (yield* cas64Relaxed(m, h + HA_FREE_PTR, first, tag, 0, (tag + 1) >>> 0, S_GC)) break; // pool_flush()'s DWCAS
    }
    yield* fence(m, 'wmb', S_GC); // __ha_barrier_atomic_store()
  }
  yield S_GC; // the taken blocks and (under the lock) the page list are ours
  const t = trim(p, h, first, keep);
  if (t.releasedBlocks > 0) yield* bump(p, h + HA_POOL.allocated, -t.releasedBlocks, S_GC);
  if (locked) yield* spinUnlock(m, h + HA_POOL.lock, S_GC_LOCK);
  for (const page of t.released) {
    const hw = addrWord(m, page);
    m.u32[hw + HA_PAGE.pool] = 0;
    m.u32[hw + HA_PAGE.nblocks] = 0;
    m.u32[hw + HA_PAGE.next] = 0;
    yield* freePages(m, addrToPfn(m, page), 0);
  }
  if (t.first !== 0) yield* pushChain(p, h, t.first, t.last);
  return t.released.length;
}

/** The plain part of trimming: the caller owns the list at `first` and the page list. */
function trim(p: HaPool, h: number, first: number, keep: number) {
  const m = p.m;
  const u = m.u32;
  const pageSize = m.cfg.pageSize;
  const bound = u[h + HA_POOL.allocated];
  const blocks: number[] = [];
  const freeIn = new Map<number, number>();
  for (let b = first; b !== 0; b = u[addrWord(m, b)]) {
    assertInvariant(
      blocks.length < bound,
      'used + |free_list| == allocated',
      () => `${p.name}: free list longer than allocated (${bound}): a cycle`,
    );
    blocks.push(b);
    const page = b - (b % pageSize);
    freeIn.set(page, (freeIn.get(page) ?? 0) + 1);
  }
  let free = blocks.length;
  let releasedBlocks = 0;
  const released = new Set<number>();
  let prevLink = h + HA_POOL.pages;
  for (let page = u[prevLink]; page !== 0;) {
    const hw = addrWord(m, page);
    const next = u[hw + HA_PAGE.next];
    const nb = u[hw + HA_PAGE.nblocks];
    if (freeIn.get(page) === nb && free - nb >= keep) {
      u[prevLink] = next;
      u[h + HA_POOL.nr_pages]--;
      released.add(page);
      free -= nb;
      releasedBlocks += nb;
    } else {
      prevLink = hw + HA_PAGE.next;
    }
    page = next;
  }
  let head = 0;
  let last = 0;
  for (const b of blocks) {
    if (released.has(b - (b % pageSize))) continue;
    if (head === 0) head = b;
    else u[addrWord(m, last)] = b;
    last = b;
  }
  if (last !== 0) u[addrWord(m, last)] = 0;
  return { first: head, last, released: [...released], releasedBlocks };
}

// ---------------------------------------------------------------- destroy

/**
 * pool_destroy2(): drop one user; the last one releases every page and the head block.
 * Call only while no CPU operates on the pool (it empties every CPU's cache). Refused
 * with EBUSY, changing nothing, while any block is handed out (`used` not counting the
 * caches). Returns true when the pool is gone.
 */
export function* poolDestroy(p: HaPool, cpu: number): Step<boolean> {
  checkCpuId(p.m, 'pool_destroy', cpu);
  const m = p.m;
  const u = m.u32;
  const g = addrWord(m, p.addr);
  if (u[g + HA_GROUP.magic] !== HA_MAGIC) throw new SlabError('EINVAL', `pool_destroy(${p.name}): pool already destroyed`);
  const registry = u[g + HA_GROUP.registry];
  const reg = registry === 0 ? -1 : addrWord(m, registry);
  if (reg >= 0) yield* spinLock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
  yield S_DESTROY;
  for (let i = 0; i < p.nheads; i++) {
    const held = u[addrWord(m, haHeadAddr(p.addr, i)) + HA_POOL.used] - cachedBlocks(p);
    if (held > 0) {
      if (reg >= 0) yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
      throw new SlabError('EBUSY', `pool_destroy(${p.name}): ${held} blocks still in use${p.nheads > 1 ? ` on CPU${i}` : ''}`);
    }
  }
  if (u[g + HA_GROUP.users] > 1) {
    u[g + HA_GROUP.users]--;
    if (reg >= 0) yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
    return false;
  }
  for (let c = 0; c < p.cpus; c++) yield* poolEvictFromCache(p, c, 0xffffffff);
  for (let i = 0; i < p.nheads; i++) {
    const ha = haHeadAddr(p.addr, i);
    yield* poolGcHead(p, ha, 0);
    const h = addrWord(m, ha);
    assertInvariant(
      u[h + HA_POOL.allocated] === 0 && u[h + HA_POOL.pages] === 0,
      'used + |free_list| == allocated',
      () => `${p.name}: ${u[h + HA_POOL.allocated]} blocks left after a flush with used == 0`,
    );
  }
  if (reg >= 0) {
    let link = reg + HA_REGISTRY.first;
    while (u[link] !== 0 && u[link] !== p.addr) link = addrWord(m, u[link]) + HA_GROUP.next;
    if (u[link] === p.addr) {
      u[link] = u[g + HA_GROUP.next];
      u[reg + HA_REGISTRY.nr]--;
    }
    yield* spinUnlock(m, reg + HA_REGISTRY.lock, S_REG_LOCK);
  }
  u[g + HA_GROUP.magic] = 0;
  yield* heapFree(m, p.addr, 'pool_destroy');
  return true;
}

function cachedBlocks(p: HaPool): number {
  if (p.k !== HA_KIND.cached) return 0;
  let n = 0;
  for (let c = 0; c < p.cpus; c++) n += p.m.u32[cacheWord(p, c) + HA_CACHE.count];
  return n;
}

// ---------------------------------------------------------------- reports and checks

/** Counters of head `i` (racy snapshot). */
export function poolHeadStats(p: HaPool, i: number): HaHeadStats {
  const m = p.m;
  const u = m.u32;
  const h = addrWord(m, haHeadAddr(p.addr, i));
  let free = 0;
  for (let b = u[h + HA_FREE_PTR]; b !== 0 && free <= u[h + HA_POOL.allocated]; b = u[addrWord(m, b)]) free++;
  return {
    used: u[h + HA_POOL.used],
    allocated: u[h + HA_POOL.allocated],
    failed: u[h + HA_POOL.failed],
    limit: u[h + HA_POOL.limit],
    minavail: u[h + HA_POOL.minavail],
    free,
    nr_pages: u[h + HA_POOL.nr_pages],
    cached: cachedBlocks(p),
  };
}

/** How many types share this pool (pool->users). */
export const poolUsers = (p: HaPool): number => p.m.u32[addrWord(p.m, p.addr) + HA_GROUP.users];

/**
 * The equations beside HA_POOL, for every head, on a quiet pool:
 *   used + |free_list| == allocated; allocated == Σ nblocks of its pages; nr_pages == |pages|;
 *   limit == 0 || allocated <= limit; the free list (and the caches) acyclic, in bounds,
 *   at block boundaries, with no block twice; cached: Σ |cache| <= used.
 */
export function validateHaPool(p: HaPool): ValidateResult {
  const m = p.m;
  const u = m.u32;
  const out: string[] = [];
  const pageSize = m.cfg.pageSize;
  if (u[addrWord(m, p.addr) + HA_GROUP.magic] !== HA_MAGIC) return result([`${p.name}: no pool at ${hex(p.addr)}`]);
  const seen = new Map<number, string>();
  for (let i = 0; i < p.nheads; i++) {
    const ha = haHeadAddr(p.addr, i);
    const h = addrWord(m, ha);
    const at = p.nheads > 1 ? `${p.name}[CPU${i}]` : p.name;
    const allocated = u[h + HA_POOL.allocated];
    const used = u[h + HA_POOL.used];
    const limit = u[h + HA_POOL.limit];
    const pages = new Map<number, number>();
    let carved = 0;
    for (let page = u[h + HA_POOL.pages]; page !== 0; page = u[addrWord(m, page) + HA_PAGE.next]) {
      if (pages.has(page) || pages.size > m.totalPfns) {
        out.push(`${at}: page list is cyclic at ${hex(page)}`);
        break;
      }
      if (!validAddr(m, page) || page % pageSize !== 0) {
        out.push(`${at}: page list holds ${hex(page)}, not a page`);
        break;
      }
      const hw = addrWord(m, page);
      const nb = u[hw + HA_PAGE.nblocks];
      if (u[hw + HA_PAGE.pool] !== ha) out.push(`${at}: page ${hex(page)} names head ${hex(u[hw + HA_PAGE.pool])}`);
      if (nb < 1 || nb > p.perPage) out.push(`${at}: page ${hex(page)} has nblocks ${nb} (expected 1..${p.perPage})`);
      pages.set(page, nb);
      carved += nb;
    }
    if (pages.size !== u[h + HA_POOL.nr_pages]) out.push(`${at}: nr_pages ${u[h + HA_POOL.nr_pages]} != |pages| ${pages.size}`);
    if (carved !== allocated) out.push(`${at}: allocated ${allocated} != Σ nblocks ${carved}`);
    if (limit !== 0 && allocated > limit) out.push(`${at}: allocated ${allocated} > limit ${limit}`);
    const walk = (first: number, where: string): number => {
      let n = 0;
      for (let b = first; b !== 0; b = u[addrWord(m, b)]) {
        if (n > allocated) {
          out.push(`${at}: ${where} longer than allocated ${allocated} (a cycle)`);
          break;
        }
        const page = b - (b % pageSize);
        const nb = pages.get(page);
        const off = b - haFirstBlock(page);
        if (nb === undefined || off < 0 || off % p.size !== 0 || off / p.size >= nb) {
          out.push(`${at}: ${where} holds ${hex(b)}, not a block of this head`);
          break;
        }
        const prev = seen.get(b);
        if (prev !== undefined) {
          out.push(`${at}: block ${hex(b)} on ${where} is also on ${prev}`);
          break;
        }
        seen.set(b, where);
        n++;
      }
      return n;
    };
    const free = walk(u[h + HA_FREE_PTR], 'free_list');
    if (used + free !== allocated) out.push(`${at}: used ${used} + |free_list| ${free} != allocated ${allocated}`);
    if (p.k === HA_KIND.cached) {
      let inCaches = 0;
      for (let c = 0; c < p.cpus; c++) {
        const cw = cacheWord(p, c);
        const n = walk(u[cw + HA_CACHE.list], `CPU${c}'s cache`);
        if (n !== u[cw + HA_CACHE.count]) out.push(`${at}: CPU${c}'s cache count ${u[cw + HA_CACHE.count]} != |list| ${n}`);
        inCaches += n;
      }
      if (inCaches > used) out.push(`${at}: Σ |cache| ${inCaches} > used ${used}`);
    }
  }
  return result(out);
}

export const validate = validateHaPool;
