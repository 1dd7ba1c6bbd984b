/* @two-way */
// The free slow path. slub.c: __slab_free().
import { type Step, site } from '../../sched/step.js';
import { load32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_NODE, PAGE, PG, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { frozenOf, inuseOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { freeDebugProcessing54, freeToPartialList } from './debug_path.js';
import { setFreepointer } from './freeptr.js';
import { SLAB_FLAGS } from './geometry.js';
import { cpuSlabOff, type KmemCache, minPartial, stat } from './kmem_cache.js';
import { addPartial, listLock, listUnlock, removeFull, removePartial } from './list.js';
import { doubleFree } from './misuse.js';
import { mutant } from './mutants.js';
import { putCpuPartial } from './partial.js';
import { cmpxchgDoubleSlab, discardSlab, slabNode } from './slab.js';

const S_FREE = site('__slab_free');
const S_LIST_LOCK = site('__slab_free:list_lock');

const FROZEN = 0x80000000;

/**
 * __slab_free(): free `cnt` objects head..tail (linked) into a slab that is not this
 * CPU's slab. Four outcomes:
 *   1. the slab is frozen (some CPU's slab or cpu-partial): push, no list work (FREE_FROZEN);
 *   2. it was full: freeze it and put it on *this* CPU's partial list (CPU_PARTIAL_FREE);
 *   3. it becomes empty: off the node list and back to the page allocator when the node
 *      has min_partial partial slabs, else kept on the node list;
 *   4. it is on the node partial list and stays there.
 * list_lock is taken speculatively before the CAS when 3 may apply, and dropped if the
 * CAS fails.
 */
export function* slabFreeSlow(s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, cnt: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const p = pageOff(m, pfn);
  // set_freepointer()'s BUG_ON(object == fp) below, checked before anything changes.
  // With consistency checks, free_debug_processing() reports it instead.
  if (!s.checks && m.u32[p + SLAB_FREELIST] === tail) throw doubleFree(s, tail);
  if (s.sheafOnly) {
    // 7.0 counts FREE_SLOWPATH in slab_free() and its other callers, not here: a sheaf
    // flush going through here is counted by SHEAF_FLUSH only.
    if (s.debug) yield* freeToPartialList(s, cpu, pfn, head, tail, cnt);
    else yield* slabFree70(s, cpu, pfn, head, tail, cnt);
    return;
  }
  stat(s, c, ST.free_slowpath);
  if (s.debug) {
    if (s.v66) {
      yield* freeToPartialList(s, cpu, pfn, head, tail, cnt);
      return;
    }
    if (!(yield* freeDebugProcessing54(s, cpu, pfn, head, tail, cnt))) return;
  }
  let n = -1;
  let prior: number;
  let counters: number;
  let next: number;
  let wasFrozen: number;
  for (;;) {
    if (n >= 0) {
      yield* listUnlock(s, n, S_LIST_LOCK);
      n = -1;
    }
    prior = yield* load32(m, p + SLAB_FREELIST, S_FREE);
    counters = yield* load32(m, p + SLAB_COUNTERS, S_FREE);
    if (prior === tail) {
      // A double free racing with its first free (the check above saw another head).
      if (n >= 0) yield* listUnlock(s, n, S_LIST_LOCK);
      throw doubleFree(s, tail);
    }
    yield* setFreepointer(s, tail, prior, S_FREE);
    next = counters - cnt;
    wasFrozen = mutant.ignoreFrozen ? 0 : frozenOf(counters);
    if ((inuseOf(next) === 0 || prior === 0) && !wasFrozen) {
      if (s.hasCpuPartial && prior === 0) {
        next = (next | FROZEN) >>> 0;
      } else {
        n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
        yield* listLock(s, n, S_LIST_LOCK);
      }
    }
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, prior, counters, head, next, S_FREE, mutant.relaxedSlabFree)) break;
  }
  if (n < 0) {
    if (frozenOf(next) && !wasFrozen) {
      yield* putCpuPartial(s, cpu, pfn, true);
      stat(s, c, ST.cpu_partial_free);
    }
    if (wasFrozen) stat(s, c, ST.free_frozen);
    return;
  }
  if (inuseOf(next) === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
    // slab_empty:
    if (prior !== 0) {
      yield* removePartial(s, n, pfn);
      stat(s, c, ST.free_remove_partial);
    } else if (s.flags & SLAB_FLAGS.store_user) {
      yield* removeFull(s, n, pfn);
    }
    yield* listUnlock(s, n, S_LIST_LOCK);
    stat(s, c, ST.free_slab);
    yield* discardSlab(s, pfn);
    return;
  }
  // Objects were freed into a full slab of a cache without cpu partials: to the node list.
  if (!s.hasCpuPartial && prior === 0) {
    if (s.flags & SLAB_FLAGS.store_user) yield* removeFull(s, n, pfn);
    yield* addPartial(s, n, pfn, true);
    stat(s, c, ST.free_add_partial);
  }
  yield* listUnlock(s, n, S_LIST_LOCK);
}

/**
 * __slab_free() of 7.0: no frozen cpu slabs to skip, so list_lock is taken (and SL_partial
 * read under it) only when the free may change the slab's list membership: it was full,
 * or it becomes empty.
 *   1. neither: done without the lock;
 *   2. not full before and not on the node list (a refill took it off): nothing to do;
 *   3. empty and the node has min_partial partial slabs: off the list, discarded;
 *   4. it was full: to the tail of the node list (an empty one below min_partial stays).
 */
function* slabFree70(s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, cnt: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const p = pageOff(m, pfn);
  let n = -1;
  let onNodePartial = false;
  let prior: number;
  let next: number;
  for (;;) {
    if (n >= 0) {
      yield* listUnlock(s, n, S_LIST_LOCK);
      n = -1;
    }
    prior = yield* load32(m, p + SLAB_FREELIST, S_FREE);
    const counters = yield* load32(m, p + SLAB_COUNTERS, S_FREE);
    if (prior === tail) throw doubleFree(s, tail); // a double free racing with its first free
    yield* setFreepointer(s, tail, prior, S_FREE);
    next = counters - cnt;
    if (inuseOf(next) === 0 || prior === 0) {
      // Speculatively acquire the list_lock; dropped if the CAS fails.
      n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
      yield* listLock(s, n, S_LIST_LOCK);
      onNodePartial = (m.u32[p + PAGE.flags] & PG.partial) !== 0;
    }
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, prior, counters, head, next, S_FREE, mutant.relaxedSlabFree)) break;
  }
  if (n < 0) return;
  const wasFull = prior === 0;
  if (!wasFull && !onNodePartial) {
    yield* listUnlock(s, n, S_LIST_LOCK);
    return;
  }
  if (inuseOf(next) === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
    // slab_empty: a slab can go from full to empty in one free (a single object)
    if (!wasFull) {
      yield* removePartial(s, n, pfn);
      stat(s, c, ST.free_remove_partial);
    }
    yield* listUnlock(s, n, S_LIST_LOCK);
    stat(s, c, ST.free_slab);
    yield* discardSlab(s, pfn);
    return;
  }
  if (wasFull) {
    yield* addPartial(s, n, pfn, true);
    stat(s, c, ST.free_add_partial);
  }
  yield* listUnlock(s, n, S_LIST_LOCK);
}
