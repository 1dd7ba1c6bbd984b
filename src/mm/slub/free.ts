/* @two-way */
// The free fast path. slub.c: do_slab_free() / slab_free(), kmem_cache_free().
import { irqPoint } from '../../sched/irq.js';
import { type Step, site } from '../../sched/step.js';
import { cas64Relaxed, load32, peek32 } from '../../shm/atomic.js';
import { CACHE_CPU, CPU_FREELIST, CPU_TID, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { nextTid } from './deactivate.js';
import { cacheFromObj } from './debug.js';
import { slabFreeSlow } from './free_slow.js';
import { setFreepointer } from './freeptr.js';
import { type KmemCache, stat } from './kmem_cache.js';
import { checkFree, checkNotCpuFreelistHead, doubleFree } from './misuse.js';
import { liveReporter } from './report.js';
import { freeToPcs } from './pcs.js';
import { slabNode } from './slab.js';

const S_FREE = site('do_slab_free');
const S_FREE_IRQ = site('do_slab_free:irq');
const S_FREE_CAS = site('do_slab_free:this_cpu_cmpxchg_double');

/**
 * do_slab_free(): free the linked objects head..tail (cnt of them) of slab `pfn`. Onto
 * the cpu freelist with one CAS when the slab is this CPU's slab, else __slab_free().
 */
export function* doSlabFree(s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, cnt: number): Step {
  const m = s.m;
  const c = s.cpu0 + cpu.id * CACHE_CPU.STRIDE;
  for (;;) {
    const tid = yield* load32(m, c + CPU_TID, S_FREE);
    const page = yield* load32(m, c + CACHE_CPU.page, S_FREE);
    if (page !== pfn) {
      yield* irqPoint(cpu, S_FREE_IRQ);
      yield* slabFreeSlow(s, cpu, pfn, head, tail, cnt);
      return;
    }
    // (The caller made sure `tail` does not head the cpu freelist: checkNotCpuFreelistHead().)
    const freelist = yield* load32(m, c + CPU_FREELIST, S_FREE);
    yield* setFreepointer(s, tail, freelist, S_FREE);
    yield* irqPoint(cpu, S_FREE_IRQ);
    // this_cpu_cmpxchg_double(): unordered, as in slab_alloc_node(); the free pointer stays
    // this CPU's until a fully ordered cmpxchg_double hands the objects to the slab.
    if (yield* cas64Relaxed(m, c + CPU_TID, tid, freelist, nextTid(s, tid), head, S_FREE_CAS)) {
      stat(s, c, ST.free_fastpath);
      return;
    }
    freeRetry(s, c, tail);
  }
}

/**
 * A failed CAS of the free fast path: counted, and (set_freepointer()'s BUG_ON) `tail`
 * must not have become the freelist head meanwhile: an interrupt's double free of it.
 * Out of line: doSlabFree() stays small enough to inline.
 */
function freeRetry(s: KmemCache, c: number, tail: number): void {
  stat(s, c, ST.cmpxchg_double_cpu_fail);
  if (peek32(s.m, c + CPU_FREELIST) === tail) throw doubleFree(s, tail);
}

/**
 * kmem_cache_free(): free one object. Misuse (not an object of `s`, not at an object
 * start, a cache that is gone, the object at the head of the freelist it would join) is
 * refused with a SlabError before anything changes. A cache with consistency checks (F)
 * lets its debug path report a wrong cache or a bad pointer instead, as the kernel does.
 */
export function* kmemCacheFree(s: KmemCache, cpu: Cpu, object: number): Step {
  const pfn = checkFree(s, object);
  const c = s.checks ? cacheFromObjChecked(s, pfn, object) : s;
  if (!c.cpuSlabFirst) {
    yield* slabFree(c, cpu, pfn, object);
    return;
  }
  checkNotCpuFreelistHead(c, cpu, object);
  yield* doSlabFree(c, cpu, pfn, object, object, 1);
}

/**
 * slab_free(): a cache with sheaves pushes an object of this CPU's node onto them
 * (free_to_pcs(); a remote one would fill them with objects other CPUs' allocations do
 * not want); otherwise, or when that fails, 7.0 frees to the slab (__slab_free() and
 * FREE_SLOWPATH), 5.4 to 6.18 go through the cpu slab (do_slab_free()).
 */
export function* slabFree(s: KmemCache, cpu: Cpu, pfn: number, object: number): Step {
  if (s.sheafCapacity !== 0 && slabNode(s.m, pfn) === cpu.node && (yield* freeToPcs(s, cpu, object))) return;
  if (s.sheafOnly) {
    yield* slabFreeSlow(s, cpu, pfn, object, object, 1);
    stat(s, s.cpu0 + cpu.id * CACHE_CPU.STRIDE, ST.free_slowpath);
    return;
  }
  checkNotCpuFreelistHead(s, cpu, object);
  yield* doSlabFree(s, cpu, pfn, object, object, 1);
}

/**
 * cache_from_obj() of a cache with consistency checks: a wrong cache is warned about;
 * 6.x then frees into the object's own cache, whose own checks the object must pass.
 */
function cacheFromObjChecked(s: KmemCache, pfn: number, object: number): KmemCache {
  const real = cacheFromObj(liveReporter, s, pfn);
  if (real !== s) checkFree(real, object);
  return real;
}
