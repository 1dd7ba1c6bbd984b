/* @two-way */
// Slabs from and back to the page allocator. slub.c: allocate_slab(), new_slab(),
// discard_slab(), free_slab(), inc_slabs_node(), dec_slabs_node().
import { type Step, site } from '../../sched/step.js';
import { add32Relaxed, cas32, cas64, cas64Relaxed } from '../../shm/atomic.js';
import { addrWord, type Machine, pageOff, pfnNode } from '../../shm/machine.js';
import { CACHE_NODE, PAGE, PG, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { makeCounters } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { allocPages, freePages } from '../page_alloc.js';
import { CTORS } from './ctor.js';
import { setupObjectDebug, setupSlabDebug } from './debug.js';
import { cpuSlabOff, type KmemCache, stat } from './kmem_cache.js';
import { mutant } from './mutants.js';
import { freelistPtr, objectAt } from './objects.js';

const S_NODE_STATS = site('inc_slabs_node');
const S_NEW_SLAB = site('allocate_slab');

/** NUMA_NO_NODE: no node constraint. */
export const NUMA_NO_NODE = -1;

/**
 * alloc_pages_node() with the zonelist fallback: the preferred node first, then the
 * others in order of distance (all remote nodes are equally far here: by id), or only
 * the preferred one (__GFP_THISNODE).
 */
function* allocSlabPage(m: Machine, node: number, order: number, cpu: Cpu, thisNode: boolean): Step<number> {
  const tries = thisNode ? 1 : m.cfg.nodes;
  for (let i = 0; i < tries; i++) {
    const pfn = yield* allocPages(m, (node + i) % m.cfg.nodes, order, cpu.id);
    if (pfn !== 0) return pfn;
  }
  return 0;
}

/**
 * allocate_slab(): a new slab with its freelist in address order. 5.4 returns it frozen
 * with inuse == objects (the caller takes the whole freelist) and counts it on its node
 * here; 6.6 returns it unfrozen with inuse == 0 and the caller counts it.
 */
export function* allocateSlab(s: KmemCache, cpu: Cpu, node: number, thisNode = false): Step<number> {
  const m = s.m;
  const want = node === NUMA_NO_NODE ? cpu.node : node;
  let order = s.order;
  let objects = s.objects;
  // The kernel first tries s->oo with __GFP_NORETRY; on failure it falls back to s->min.
  let pfn = yield* allocSlabPage(m, want, order, cpu, thisNode);
  if (pfn === 0 && s.minOrder !== s.order) {
    order = s.minOrder;
    objects = s.minObjects;
    pfn = yield* allocSlabPage(m, want, order, cpu, thisNode);
    if (pfn !== 0) stat(s, cpuSlabOff(s, cpu.id), ST.order_fallback);
  }
  if (pfn === 0) return 0;
  yield S_NEW_SLAB;
  const p = pageOff(m, pfn);
  m.u32[p + PAGE.flags] |= PG.slab;
  m.u32[p + PAGE.slabCache] = s.id + 1;
  m.u32[p + PAGE.next] = 0;
  m.u32[p + PAGE.pages] = 0;
  m.u32[p + PAGE.pobjects] = 0;
  const first = buildFreelist(s, cpu, pfn, objects);
  // No other reference to the slab yet: plain stores (the kernel "mucks around with it freely").
  m.u32[p + SLAB_COUNTERS] = s.v66 ? makeCounters(0, objects, 0) : makeCounters(objects, objects, 1);
  m.u32[p + SLAB_FREELIST] = first;
  if (!s.v66) yield* incSlabsNode(s, slabNode(m, pfn), objects);
  return pfn;
}

/**
 * The new slab's freelist: setup_slab_debug() (a SLAB_POISON slab is 0x5a throughout),
 * then every object through setup_object() (debug red zones, poison and tracks, then the
 * constructor), linked in address order, or in the order of s->random_seq
 * (shuffle_freelist(), CONFIG_SLAB_FREELIST_RANDOM) when the slab has 2 objects or more.
 */
function buildFreelist(s: KmemCache, cpu: Cpu, pfn: number, objects: number): number {
  const m = s.m;
  if (s.debug) setupSlabDebug(s, pfn);
  if (s.randomSeq !== null && objects >= 2) return shuffleFreelist(s, cpu, pfn, objects, s.randomSeq);
  for (let i = 0; i < objects; i++) {
    const obj = objectAt(s, pfn, i);
    setupObject(s, obj);
    const next = i + 1 < objects ? objectAt(s, pfn, i + 1) : 0;
    const at = obj + s.offset;
    m.u32[addrWord(m, at)] = freelistPtr(s, next, at);
  }
  return objects > 0 ? objectAt(s, pfn, 0) : 0;
}

/** setup_object(): debug initialisation, then the constructor. */
function setupObject(s: KmemCache, obj: number): void {
  if (s.debug) setupObjectDebug(s, obj);
  if (s.ctor !== 0) CTORS[s.ctor - 1].fn(s.m, obj, s.objectSize);
}

/**
 * shuffle_freelist(): start at a random position of the cache's random sequence and
 * walk it cyclically, skipping indices past this slab's object count (a slab of the
 * fallback order holds fewer), linking the objects in that order (next_freelist_entry()).
 */
function shuffleFreelist(s: KmemCache, cpu: Cpu, pfn: number, objects: number, seq: Uint32Array): number {
  const m = s.m;
  const count = seq.length;
  let pos = cpu.rng.below(count);
  const nextEntry = (): number => {
    let idx: number;
    do {
      idx = seq[pos];
      pos = pos + 1 >= count ? 0 : pos + 1;
    } while (idx >= objects);
    return objectAt(s, pfn, idx);
  };
  const first = nextEntry();
  setupObject(s, first);
  let cur = first;
  for (let i = 1; i < objects; i++) {
    const next = nextEntry();
    setupObject(s, next);
    m.u32[addrWord(m, cur + s.offset)] = freelistPtr(s, next, cur + s.offset);
    cur = next;
  }
  m.u32[addrWord(m, cur + s.offset)] = freelistPtr(s, 0, cur + s.offset);
  return first;
}

/** slab_nid(): the node a slab's pages belong to. */
export const slabNode = (m: Machine, pfn: number): number => pfnNode(m, pfn);

/**
 * inc_slabs_node(): nr_slabs and total_objects of the slab's node: atomic_long_inc() and
 * atomic_long_add(), which return nothing and so order nothing (atomic_t.txt).
 */
export function* incSlabsNode(s: KmemCache, node: number, objects: number): Step {
  const n = s.node0 + node * CACHE_NODE.STRIDE;
  yield* add32Relaxed(s.m, n + CACHE_NODE.nrSlabs, 1, S_NODE_STATS);
  yield* add32Relaxed(s.m, n + CACHE_NODE.totalObjects, objects, S_NODE_STATS);
}

/** dec_slabs_node(): atomic_long_dec() and atomic_long_sub(), unordered. */
export function* decSlabsNode(s: KmemCache, node: number, objects: number): Step {
  const n = s.node0 + node * CACHE_NODE.STRIDE;
  yield* add32Relaxed(s.m, n + CACHE_NODE.nrSlabs, -1, S_NODE_STATS);
  yield* add32Relaxed(s.m, n + CACHE_NODE.totalObjects, -objects, S_NODE_STATS);
}

/**
 * discard_slab(): uncount it and give its pages back. A SLAB_TYPESAFE_BY_RCU cache would
 * defer the free by an RCU grace period; there are no RCU readers here, so it is immediate.
 */
export function* discardSlab(s: KmemCache, pfn: number): Step {
  const m = s.m;
  const p = pageOff(m, pfn);
  const objects = (m.u32[p + SLAB_COUNTERS] >>> 16) & 0x7fff;
  yield* decSlabsNode(s, slabNode(m, pfn), objects);
  yield* freeSlab(s, pfn);
}

/** __free_slab(): clear the slab fields and return the pages. */
export function* freeSlab(s: KmemCache, pfn: number): Step {
  const m = s.m;
  const p = pageOff(m, pfn);
  m.u32[p + PAGE.flags] &= ~PG.slab;
  m.u32[p + PAGE.slabCache] = 0;
  m.u32[p + PAGE.next] = 0;
  m.u32[p + PAGE.pages] = 0;
  m.u32[p + PAGE.pobjects] = 0;
  m.u32[p + SLAB_COUNTERS] = 0;
  m.u32[p + SLAB_FREELIST] = 0;
  yield* freePages(m, pfn, m.u32[p + PAGE.private]);
}

/**
 * cmpxchg_double_slab() / slab_update_freelist(): the slab's (freelist, counters) pair
 * from (oldFree, oldCounters) to (newFree, newCounters); a failure counts
 * CMPXCHG_DOUBLE_FAIL on this CPU and the caller retries. Fully ordered, as
 * cmpxchg_double() (5.4) and try_cmpxchg128() (6.6 on) are: the free pointers its caller
 * wrote reach memory before the pair, and what it reads after the pair is at least as
 * new. `relaxed` (mutant relaxed-slab-free only) drops that.
 */
export function* cmpxchgDoubleSlab(
  s: KmemCache,
  cpu: Cpu,
  pfn: number,
  oldFree: number,
  oldCounters: number,
  newFree: number,
  newCounters: number,
  where: number,
  relaxed = false,
): Step<boolean> {
  const p = pageOff(s.m, pfn);
  const ok = mutant.splitSlabCas
    ? yield* splitSlabCas(s, p, oldFree, oldCounters, newFree, newCounters, where)
    : relaxed
      ? yield* cas64Relaxed(s.m, p + SLAB_COUNTERS, oldCounters, oldFree, newCounters, newFree, where)
      : yield* cas64(s.m, p + SLAB_COUNTERS, oldCounters, oldFree, newCounters, newFree, where);
  if (!ok) stat(s, cpuSlabOff(s, cpu.id), ST.cmpxchg_double_fail);
  return ok;
}

/** Mutant split-slab-cas: the pair as two 32-bit CASes; a change between them goes unseen. */
function* splitSlabCas(
  s: KmemCache,
  p: number,
  oldFree: number,
  oldCounters: number,
  newFree: number,
  newCounters: number,
  where: number,
): Step<boolean> {
  if (!(yield* cas32(s.m, p + SLAB_FREELIST, oldFree, newFree, where))) return false;
  yield* cas32(s.m, p + SLAB_COUNTERS, oldCounters, newCounters, where);
  return true;
}
