/* @two-way */
// 7.0's slab layer under the sheaves. No cpu slab: ___slab_alloc() takes one object
// from a node partial slab, or a new slab; refill_objects() fills sheaves (and bulk
// allocations) from partial slabs, whole freelists at a time, then from new slabs.
// slub.c: ___slab_alloc(), get_from_partial(), get_from_partial_node(),
// get_from_any_partial(), alloc_from_new_slab(), refill_objects(),
// __refill_objects_node(), __refill_objects_any(), get_partial_node_bulk(),
// get_freelist_nofreeze(), __kmem_cache_alloc_bulk().
// Slab states (7.0 file header): on a node partial list <=> SL_partial; taken off it
// (refill) or full: on no list, no flag; frozen only marks a slab that failed checks.
import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { fence, load32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_NODE, NIL, PAGE, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { frozenOf, inuseOf, makeCounters, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { setTrack, TRACK_ALLOC } from './debug.js';
import { allocSingleFromNewSlab, getPartialNodeSingle } from './debug_path.js';
import { slabFreeSlow } from './free_slow.js';
import { getFreepointer } from './freeptr.js';
import { __GFP_THISNODE, GFP_NOWAIT } from './gfp.js';
import { cpuSlabOff, type KmemCache, minPartial, remoteNodeDefragRatio, stat, statAdd } from './kmem_cache.js';
import { addPartial, listLock, listTrylock, listUnlock, removePartial } from './list.js';
import { kmemCacheFreeBulkInternal } from './sheaf.js';
import { allocateSlab, cmpxchgDoubleSlab, discardSlab, incSlabsNode, NUMA_NO_NODE, slabNode } from './slab.js';

const S_PARTIAL = site('get_from_partial_node');
const S_NEW = site('alloc_from_new_slab');
const S_BULK = site('get_partial_node_bulk');
const S_NOFREEZE = site('get_freelist_nofreeze');
const S_REFILL = site('__refill_objects_node');

const nodeOff = (s: KmemCache, node: number): number => s.node0 + node * CACHE_NODE.STRIDE;

/**
 * ___slab_alloc() (7.0): one object, or 0 when memory is exhausted. A node request
 * without __GFP_THISNODE first tries that node alone (its partial slabs, then a new
 * slab with GFP_NOWAIT | __GFP_THISNODE), then anything.
 */
export function* slabAllocSlow70(s: KmemCache, cpu: Cpu, node: number, origSize: number, gfp: number): Step<number> {
  const c = cpuSlabOff(s, cpu.id);
  stat(s, c, ST.alloc_slowpath);
  let tryThisnode = true;
  for (;;) {
    // new_objects:
    const thisnodeFirst = node !== NUMA_NO_NODE && !(gfp & __GFP_THISNODE) && tryThisnode;
    const flags = thisnodeFirst ? GFP_NOWAIT | __GFP_THISNODE : gfp;
    let object = yield* getFromPartial(s, cpu, node, flags, origSize);
    if (object !== 0) return success(s, cpu, object);
    const pfn = yield* allocateSlab(s, cpu, node, (flags & __GFP_THISNODE) !== 0);
    if (pfn === 0) {
      if (thisnodeFirst) {
        tryThisnode = false;
        continue;
      }
      return 0; // slab_out_of_memory()
    }
    stat(s, c, ST.alloc_slab);
    if (s.debug) {
      object = yield* allocSingleFromNewSlab(s, cpu, pfn, origSize);
      if (object !== 0) return success(s, cpu, object);
      continue; // goto new_objects
    }
    const out: number[] = [];
    yield* allocFromNewSlab(s, cpu, pfn, out, 1);
    // we don't need to check SLAB_STORE_USER here
    return out[0];
  }
}

function success(s: KmemCache, cpu: Cpu, object: number): number {
  if (s.storeUser) setTrack(s, object, TRACK_ALLOC, cpu);
  return object;
}

/** get_from_partial(): the requested (or local) node, then any node unless __GFP_THISNODE. */
function* getFromPartial(s: KmemCache, cpu: Cpu, node: number, flags: number, origSize: number): Step<number> {
  const searchnode = node === NUMA_NO_NODE ? cpu.node : node;
  const object = yield* getFromPartialNode(s, cpu, searchnode, origSize);
  if (object !== 0 || (node !== NUMA_NO_NODE && flags & __GFP_THISNODE)) return object;
  return yield* getFromAnyPartial(s, cpu, origSize);
}

/**
 * get_from_partial_node(): under list_lock, one object off the first partial slab with
 * a CAS (a concurrent __slab_free() needs the list_lock only to make a slab empty); the
 * slab leaves the list when that was its last free object. Debug caches take theirs
 * through alloc_single_from_partial().
 */
function* getFromPartialNode(s: KmemCache, cpu: Cpu, node: number, origSize: number): Step<number> {
  if (s.debug) return yield* getPartialNodeSingle(s, cpu, node, origSize);
  const m = s.m;
  const n = nodeOff(s, node);
  // Racy check: if we mistakenly see no partial slabs we allocate a new one.
  if ((yield* load32(m, n + CACHE_NODE.nrPartial, S_PARTIAL)) === 0) return 0;
  yield* listLock(s, n, S_PARTIAL);
  let object = 0;
  const pfn = m.u32[n + CACHE_NODE.partialHead];
  if (pfn !== NIL) {
    const p = pageOff(m, pfn);
    let next: number;
    for (;;) {
      object = yield* load32(m, p + SLAB_FREELIST, S_PARTIAL);
      const counters = yield* load32(m, p + SLAB_COUNTERS, S_PARTIAL);
      if (object === 0) throw new InvariantError('a node partial slab has a free object', `pfn ${pfn} of ${s.name}`);
      // get_freepointer(s, old.freelist): its address comes from the freelist load, two
      // loads back (a concurrent __slab_free() may have just pushed the object, with its
      // free pointer ordered before by a full cmpxchg). loadDep32 follows only the load
      // just before it, so an smp_rmb() stands in for that address dependency.
      yield* fence(m, 'rmb', S_PARTIAL);
      next = yield* getFreepointer(s, object, S_PARTIAL);
      if (yield* cmpxchgDoubleSlab(s, cpu, pfn, object, counters, next, counters + 1, S_PARTIAL)) break;
    }
    if (next === 0) yield* removePartial(s, n, pfn);
  }
  yield* listUnlock(s, n, S_PARTIAL);
  return object;
}

/** Whether get_cycles() % 1024 <= remote_node_defrag_ratio lets this allocation look at other nodes. */
function remoteAllowed(s: KmemCache, cpu: Cpu): boolean {
  const ratio = remoteNodeDefragRatio(s);
  return ratio !== 0 && s.m.cfg.nodes > 1 && cpu.rng.below(1024) <= ratio;
}

/** get_from_any_partial(): nodes in zonelist order (local first, then by id) with more than min_partial partial slabs. */
function* getFromAnyPartial(s: KmemCache, cpu: Cpu, origSize: number): Step<number> {
  const m = s.m;
  if (!remoteAllowed(s, cpu)) return 0;
  for (let i = 0; i < m.cfg.nodes; i++) {
    const node = (cpu.node + i) % m.cfg.nodes;
    if (m.u32[nodeOff(s, node) + CACHE_NODE.nrPartial] > minPartial(s)) {
      const object = yield* getFromPartialNode(s, cpu, node, origSize);
      if (object !== 0) return object;
    }
  }
  return 0;
}

/**
 * alloc_from_new_slab(): up to `count` objects of a slab nobody else knows yet, appended
 * to `out`; a slab with objects left goes to the head of its node's partial list.
 */
function* allocFromNewSlab(s: KmemCache, cpu: Cpu, pfn: number, out: number[], count: number): Step<number> {
  const m = s.m;
  const p = pageOff(m, pfn);
  const objects = objectsOf(m.u32[p + SLAB_COUNTERS]);
  // Are we going to put the slab on the partial list? (inuse is 0 on a new slab)
  const needsAddPartial = objects > count;
  let object = m.u32[p + SLAB_FREELIST];
  let allocated = 0;
  while (object !== 0 && allocated < count) {
    out.push(object);
    object = yield* getFreepointer(s, object, S_NEW);
    allocated++;
  }
  // Not yet visible to anyone: plain stores.
  m.u32[p + SLAB_FREELIST] = object;
  m.u32[p + SLAB_COUNTERS] = makeCounters(allocated, objects, 0);
  if (needsAddPartial) {
    const n = nodeOff(s, slabNode(m, pfn));
    yield* listLock(s, n, S_NEW);
    yield* addPartial(s, n, pfn, false);
    yield* listUnlock(s, n, S_NEW);
  }
  yield* incSlabsNode(s, slabNode(m, pfn), objects);
  return allocated;
}

/**
 * refill_objects(): between `min` and `max` objects appended to `out` (fewer only when
 * memory ran out): whole freelists of the local node's partial slabs, then of other
 * nodes with spare partial slabs, then new slabs until `min` is reached.
 */
export function* refillObjects(s: KmemCache, cpu: Cpu, out: number[], gfp: number, min: number, max: number): Step<number> {
  const c = cpuSlabOff(s, cpu.id);
  let refilled = yield* refillObjectsNode(s, cpu, out, min, max, cpu.node, true);
  if (refilled >= min) return refilled;
  refilled += yield* refillObjectsAny(s, cpu, out, min - refilled, max - refilled);
  while (refilled < min) {
    // new_slab:
    const pfn = yield* allocateSlab(s, cpu, cpu.node, (gfp & __GFP_THISNODE) !== 0);
    if (pfn === 0) break;
    stat(s, c, ST.alloc_slab);
    refilled += yield* allocFromNewSlab(s, cpu, pfn, out, max - refilled);
  }
  return refilled;
}

/**
 * __refill_objects_node(): take partial slabs off the node's list (get_partial_node_bulk)
 * and each one's whole freelist; what exceeds `max` goes back through __slab_free(), and
 * slabs not reached return to the head of the list (empty ones are discarded when the
 * node has enough).
 */
function* refillObjectsNode(
  s: KmemCache,
  cpu: Cpu,
  out: number[],
  min: number,
  max: number,
  node: number,
  allowSpin: boolean,
): Step<number> {
  const m = s.m;
  const n = nodeOff(s, node);
  const slabs = yield* getPartialNodeBulk(s, n, min, max, allowSpin);
  if (slabs.length === 0) return 0;
  let refilled = 0;
  let k = 0;
  for (; k < slabs.length; k++) {
    const pfn = slabs[k];
    let object = yield* getFreelistNofreeze(s, cpu, pfn);
    while (object !== 0 && refilled < max) {
      out.push(object);
      object = yield* getFreepointer(s, object, S_REFILL);
      refilled++;
    }
    if (object !== 0) {
      // More than we can take: free the rest back, as a detached freelist.
      const head = object;
      let tail = object;
      let cnt = 0;
      while (object !== 0) {
        tail = object;
        cnt++;
        object = yield* getFreepointer(s, object, S_REFILL);
      }
      yield* slabFreeSlow(s, cpu, pfn, head, tail, cnt);
    }
    if (refilled >= max) {
      k++;
      break;
    }
  }
  const untouched = slabs.slice(k);
  if (untouched.length > 0) {
    const discard: number[] = [];
    yield* listLock(s, n, S_REFILL);
    for (const pfn of untouched) {
      if (inuseOf(m.u32[pageOff(m, pfn) + SLAB_COUNTERS]) === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
        discard.push(pfn);
        continue;
      }
      yield* addPartial(s, n, pfn, false);
    }
    yield* listUnlock(s, n, S_REFILL);
    // any slabs left are completely free and for discard
    for (const pfn of discard) yield* discardSlab(s, pfn);
  }
  return refilled;
}

/**
 * __refill_objects_any(): when the defrag ratio allows, the nodes in zonelist order that
 * have more than min_partial partial slabs, each list_lock only tried (allow_spin false).
 */
function* refillObjectsAny(s: KmemCache, cpu: Cpu, out: number[], min: number, max: number): Step<number> {
  const m = s.m;
  if (!remoteAllowed(s, cpu)) return 0;
  let refilled = 0;
  for (let i = 0; i < m.cfg.nodes; i++) {
    const node = (cpu.node + i) % m.cfg.nodes;
    if (m.u32[nodeOff(s, node) + CACHE_NODE.nrPartial] <= minPartial(s)) continue;
    const r = yield* refillObjectsNode(s, cpu, out, min, max, node, false);
    refilled += r;
    if (r >= min) return refilled;
    min -= r;
    max -= r;
  }
  return refilled;
}

/**
 * get_partial_node_bulk(): under list_lock, partial slabs off the list from its head
 * until their free objects (counted racily: a lower bound, frees may add more) reach
 * `max`, or `min` when the next slab would exceed `max`. Returned in the order of the
 * kernel's pc->slabs, which list_add() builds head first: the last slab taken first.
 */
function* getPartialNodeBulk(s: KmemCache, n: number, min: number, max: number, allowSpin: boolean): Step<number[]> {
  const m = s.m;
  // Racy check to avoid taking the lock unnecessarily.
  if ((yield* load32(m, n + CACHE_NODE.nrPartial, S_BULK)) === 0) return [];
  if (allowSpin) yield* listLock(s, n, S_BULK);
  else if (!(yield* listTrylock(s, n, S_BULK))) return [];
  const slabs: number[] = [];
  let totalFree = 0;
  for (let pfn = m.u32[n + CACHE_NODE.partialHead]; pfn !== NIL;) {
    const next = m.u32[pageOff(m, pfn) + PAGE.lruNext];
    const counters = yield* load32(m, pageOff(m, pfn) + SLAB_COUNTERS, S_BULK);
    const slabFree = objectsOf(counters) - inuseOf(counters);
    // we have already min and this would get us over the max
    if (totalFree >= min && totalFree + slabFree > max) break;
    yield* removePartial(s, n, pfn);
    slabs.unshift(pfn);
    totalFree += slabFree;
    if (totalFree >= max) break;
    pfn = next;
  }
  yield* listUnlock(s, n, S_BULK);
  if (totalFree === 0 && slabs.length > 0) {
    throw new InvariantError('a node partial slab has a free object', `get_partial_node_bulk on ${s.name}`);
  }
  return slabs;
}

/**
 * get_freelist_nofreeze(): take a slab's whole freelist (inuse = objects) without
 * freezing it; the slab is off every list, so it is now full and on none.
 */
function* getFreelistNofreeze(s: KmemCache, cpu: Cpu, pfn: number): Step<number> {
  const p = pageOff(s.m, pfn);
  for (;;) {
    const freelist = yield* load32(s.m, p + SLAB_FREELIST, S_NOFREEZE);
    const counters = yield* load32(s.m, p + SLAB_COUNTERS, S_NOFREEZE);
    if (frozenOf(counters)) throw new InvariantError('a slab taken off a partial list is not frozen', `pfn ${pfn} of ${s.name}`);
    const objects = objectsOf(counters);
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, freelist, counters, 0, makeCounters(objects, objects, 0), S_NOFREEZE)) {
      return freelist;
    }
  }
}

/**
 * __kmem_cache_alloc_bulk() (7.0): `size` objects appended to `p` from the slabs and
 * `size` returned, or 0 with what it took freed again. Debug caches take one at a time
 * through ___slab_alloc(); the others count ALLOC_SLOWPATH per object.
 */
export function* kmemCacheAllocBulk70(s: KmemCache, cpu: Cpu, size: number, p: number[], gfp: number): Step<number> {
  const out: number[] = [];
  if (s.debug) {
    for (let i = 0; i < size; i++) {
      const object = yield* slabAllocSlow70(s, cpu, NUMA_NO_NODE, 0, gfp);
      if (object === 0) break;
      out.push(object);
    }
  } else {
    yield* refillObjects(s, cpu, out, gfp, size, size);
  }
  if (out.length < size) {
    // error:
    yield* kmemCacheFreeBulkInternal(s, cpu, out.length, out);
    return 0;
  }
  if (!s.debug) statAdd(s, cpuSlabOff(s, cpu.id), ST.alloc_slowpath, size);
  for (const object of out) p.push(object);
  return size;
}
