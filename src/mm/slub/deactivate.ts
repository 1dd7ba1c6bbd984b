/* @two-way */
// Giving up a cpu slab. slub.c: deactivate_slab(), flush_slab(), __flush_cpu_slab().

import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, peek32, store32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, CPU_FREELIST, CPU_TID, NIL, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { frozenOf, inuseOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { getFreepointer, setFreepointer } from './freeptr.js';
import { SLAB_FLAGS } from './geometry.js';
import { cpuSlabOff, type KmemCache, minPartial, stat } from './kmem_cache.js';
import { addFull, addPartial, listLock, listUnlock, removeFull, removePartial } from './list.js';
import { localLock, localUnlock, unfreezePartials } from './partial.js';
import { cmpxchgDoubleSlab, discardSlab, slabNode } from './slab.js';
import { pcsFlushAll } from './pcs.js';

const S_DRAIN = site('deactivate_slab:drain percpu freelist');
const S_UNFREEZE = site('deactivate_slab:unfreezing slab');
const S_LIST_LOCK = site('deactivate_slab:list_lock');
const S_FLUSH = site('flush_slab');

const M_NONE = 0;
const M_PARTIAL = 1;
const M_FULL = 2;
const M_FREE = 3;

/**
 * deactivate_slab(s, slab, freelist): return a cpu slab (detached from c by the caller
 * in 6.6, here in 5.4) and the cpu freelist `freelist` to the node: unfreeze it, and put
 * it on the partial list (head, or tail if remote frees arrived), discard it if empty
 * and the node has enough partial slabs, or leave it full on no list.
 */
export function* deactivateSlab(s: KmemCache, cpu: Cpu, pfn: number, freelist: number): Step {
  if (s.v66) yield* deactivateSlab66(s, cpu, pfn, freelist);
  else yield* deactivateSlab54(s, cpu, pfn, freelist);
}

function checkFrozen(s: KmemCache, pfn: number, counters: number): void {
  if (!frozenOf(counters)) throw new InvariantError('a cpu slab is frozen', `deactivating pfn ${pfn} of ${s.name}`);
}

/** 5.4: push the cpu freelist back one object per CAS, then unfreeze with the last one. */
function* deactivateSlab54(s: KmemCache, cpu: Cpu, pfn: number, cpuFreelist: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const p = pageOff(m, pfn);
  const n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
  let tail = false; // DEACTIVATE_TO_HEAD
  if ((yield* load32(m, p + SLAB_FREELIST, S_DRAIN)) !== 0) {
    stat(s, c, ST.deactivate_remote_frees);
    tail = true; // DEACTIVATE_TO_TAIL
  }
  // Stage one: all but the last object of the cpu freelist, one CAS each; the slab stays
  // frozen, so no other CPU will take these objects.
  let freelist = cpuFreelist;
  for (;;) {
    if (freelist === 0) break;
    const nextfree = yield* getFreepointer(s, freelist, S_DRAIN);
    if (nextfree === 0) break;
    for (;;) {
      const prior = yield* load32(m, p + SLAB_FREELIST, S_DRAIN);
      const counters = yield* load32(m, p + SLAB_COUNTERS, S_DRAIN);
      yield* setFreepointer(s, freelist, prior, S_DRAIN);
      checkFrozen(s, pfn, counters);
      if (yield* cmpxchgDoubleSlab(s, cpu, pfn, prior, counters, freelist, counters - 1, S_DRAIN)) break;
    }
    freelist = nextfree;
  }
  // Stage two: unfreeze, choosing the list before the CAS; redo if a remote free raced.
  let lock = false;
  let l = M_NONE;
  let mode = M_NONE;
  for (;;) {
    const oldFree = yield* load32(m, p + SLAB_FREELIST, S_UNFREEZE);
    const oldCounters = yield* load32(m, p + SLAB_COUNTERS, S_UNFREEZE);
    checkFrozen(s, pfn, oldCounters);
    let newCounters = oldCounters;
    let newFree = oldFree;
    if (freelist !== 0) {
      newCounters--;
      yield* setFreepointer(s, freelist, oldFree, S_UNFREEZE);
      newFree = freelist;
    }
    newCounters = (newCounters & 0x7fffffff) >>> 0;
    if (inuseOf(newCounters) === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
      mode = M_FREE;
    } else if (newFree !== 0) {
      mode = M_PARTIAL;
      // Taking the spinlock removes the possibility that acquire_slab() sees a frozen slab.
      if (!lock) {
        lock = true;
        yield* listLock(s, n, S_LIST_LOCK);
      }
    } else {
      mode = M_FULL;
      // Debug caches keep a full list (add_full does work only with SLAB_STORE_USER).
      if (s.debug && !lock) {
        lock = true;
        yield* listLock(s, n, S_LIST_LOCK);
      }
    }
    if (l !== mode) {
      if (l === M_PARTIAL) yield* removePartial(s, n, pfn);
      else if (l === M_FULL && s.flags & SLAB_FLAGS.store_user) yield* removeFull(s, n, pfn);
      if (mode === M_PARTIAL) yield* addPartial(s, n, pfn, tail);
      else if (mode === M_FULL && s.flags & SLAB_FLAGS.store_user) yield* addFull(s, n, pfn);
    }
    l = mode;
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, oldFree, oldCounters, newFree, newCounters, S_UNFREEZE)) break;
  }
  if (lock) yield* listUnlock(s, n, S_LIST_LOCK);
  if (mode === M_PARTIAL) stat(s, c, tail ? ST.deactivate_to_tail : ST.deactivate_to_head);
  else if (mode === M_FULL) stat(s, c, ST.deactivate_full);
  else if (mode === M_FREE) {
    stat(s, c, ST.deactivate_empty);
    yield* discardSlab(s, pfn);
    stat(s, c, ST.free_slab);
  }
  yield* store32(m, c + CACHE_CPU.page, NIL, S_UNFREEZE);
  yield* store32(m, c + CPU_FREELIST, 0, S_UNFREEZE);
}

/** 6.6: count the cpu freelist, then splice it whole onto the slab with one CAS. */
function* deactivateSlab66(s: KmemCache, cpu: Cpu, pfn: number, freelist: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const p = pageOff(m, pfn);
  const n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
  let tail = false;
  if ((yield* load32(m, p + SLAB_FREELIST, S_DRAIN)) !== 0) {
    stat(s, c, ST.deactivate_remote_frees);
    tail = true;
  }
  // Stage one: count the cpu freelist (free_delta) and find its tail.
  let freeDelta = 0;
  let freelistTail = 0;
  for (let it = freelist; it !== 0; it = yield* getFreepointer(s, it, S_DRAIN)) {
    freelistTail = it;
    freeDelta++;
  }
  // Stage two: unfreeze while splicing the cpu freelist onto the slab's.
  let mode: number;
  for (;;) {
    const oldFree = yield* load32(m, p + SLAB_FREELIST, S_UNFREEZE);
    const oldCounters = yield* load32(m, p + SLAB_COUNTERS, S_UNFREEZE);
    checkFrozen(s, pfn, oldCounters);
    let newCounters = oldCounters;
    let newFree = oldFree;
    if (freelistTail !== 0) {
      newCounters -= freeDelta;
      yield* setFreepointer(s, freelistTail, oldFree, S_UNFREEZE);
      newFree = freelist;
    }
    newCounters = (newCounters & 0x7fffffff) >>> 0;
    if (inuseOf(newCounters) === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
      mode = M_FREE;
    } else if (newFree !== 0) {
      mode = M_PARTIAL;
      yield* listLock(s, n, S_LIST_LOCK);
    } else {
      mode = M_FULL; // M_FULL_NOLIST: 6.x debug caches have no cpu slabs, so no full list here
    }
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, oldFree, oldCounters, newFree, newCounters, S_UNFREEZE)) break;
    if (mode === M_PARTIAL) yield* listUnlock(s, n, S_LIST_LOCK);
  }
  if (mode === M_PARTIAL) {
    yield* addPartial(s, n, pfn, tail);
    yield* listUnlock(s, n, S_LIST_LOCK);
    stat(s, c, tail ? ST.deactivate_to_tail : ST.deactivate_to_head);
  } else if (mode === M_FREE) {
    stat(s, c, ST.deactivate_empty);
    yield* discardSlab(s, pfn);
    stat(s, c, ST.free_slab);
  } else {
    stat(s, c, ST.deactivate_full);
  }
}

/** next_tid(): the next transaction id of this CPU. */
export const nextTid = (s: KmemCache, tid: number): number => (tid + s.tidStep) >>> 0;

/**
 * flush_slab(): detach this CPU's slab and freelist, bump the tid, deactivate.
 * 5.4 counts CPUSLAB_FLUSH before deactivating, 6.6 after.
 */
export function* flushSlab(s: KmemCache, cpu: Cpu): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const pfn = yield* load32(m, c + CACHE_CPU.page, S_FLUSH);
  const freelist = yield* load32(m, c + CPU_FREELIST, S_FLUSH);
  const tid = yield* load32(m, c + CPU_TID, S_FLUSH);
  if (!s.v66) {
    stat(s, c, ST.cpuslab_flush);
    yield* deactivateSlab(s, cpu, pfn, freelist);
    yield* store32(m, c + CPU_TID, nextTid(s, tid), S_FLUSH);
    return;
  }
  localLock(s, c);
  yield* store32(m, c + CACHE_CPU.page, NIL, S_FLUSH);
  yield* store32(m, c + CPU_FREELIST, 0, S_FLUSH);
  yield* store32(m, c + CPU_TID, nextTid(s, tid), S_FLUSH);
  localUnlock(s, c);
  if (pfn !== NIL) {
    yield* deactivateSlab(s, cpu, pfn, freelist);
    stat(s, c, ST.cpuslab_flush);
  }
}

/**
 * flush_all's work item on this CPU (flush_cpu_slab()): the sheaves (pcs_flush_all(),
 * 6.18 and 7.0), then the cpu slab and the cpu partial list (__flush_cpu_slab(); 7.0
 * has neither).
 */
export function* flushCpuSlab(s: KmemCache, cpu: Cpu): Step {
  if (s.sheafCapacity !== 0) yield* pcsFlushAll(s, cpu);
  if (s.sheafOnly) return;
  const c = cpuSlabOff(s, cpu.id);
  if (peek32(s.m, c + CACHE_CPU.page) !== NIL) yield* flushSlab(s, cpu);
  yield* unfreezePartials(s, cpu);
}
