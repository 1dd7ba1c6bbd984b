/* @two-way */
// The allocation fast path. slub.c: slab_alloc_node() (5.4) / __slab_alloc_node() (6.6).
// One read of the pair, one exit to the slow file, one CAS.
import { irqPoint } from '../../sched/irq.js';
import { type Step, site } from '../../sched/step.js';
import { cas64Relaxed, load32 } from '../../shm/atomic.js';
import { CACHE_CPU, CPU_FREELIST, CPU_TID, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { nodeMatch, slabAllocSlow } from './alloc_slow.js';
import { nextTid } from './deactivate.js';
import { getFreepointer } from './freeptr.js';
import { type KmemCache, stat } from './kmem_cache.js';
import { mutant } from './mutants.js';
import { GFP_KERNEL } from './gfp.js';
import { allocFromPcs } from './pcs.js';

const S_ALLOC = site('slab_alloc_node');
const S_ALLOC_IRQ = site('slab_alloc_node:irq');
const S_ALLOC_CAS = site('slab_alloc_node:this_cpu_cmpxchg_double');

/**
 * slab_alloc_node(): an object of `s` on `cpu`, from `node` (NUMA_NO_NODE: any), or 0
 * when memory is exhausted. A cache with sheaves (6.18 opt-in, 7.0) tries them first
 * (alloc_from_pcs()); 7.0 then goes to ___slab_alloc(), the others to the cpu slab. Its
 * tid is read first: if an interrupt on this CPU (or a migration) runs an allocation or
 * free between here and the CAS, the tid differs and the CAS fails instead of
 * installing a stale `next`. `origSize` is what kmalloc() was asked for (0: the object
 * size); only the slow path of a 6.x debug cache uses it.
 */
export function* slabAllocNode(s: KmemCache, cpu: Cpu, node: number, origSize = 0, gfp = GFP_KERNEL): Step<number> {
  if (!s.cpuSlabFirst) return yield* slabAllocSheaves(s, cpu, node, origSize, gfp);
  return yield* slabAllocCpuSlab(s, cpu, node, origSize);
}

/** A cache with sheaves (6.18 with a capacity, 7.0), or 7.0's debug caches: the sheaves, then the slab layer. */
function* slabAllocSheaves(s: KmemCache, cpu: Cpu, node: number, origSize: number, gfp: number): Step<number> {
  if (s.sheafCapacity !== 0) {
    const object = yield* allocFromPcs(s, cpu, gfp, node);
    if (object !== 0) return object;
  }
  if (s.sheafOnly) return yield* slabAllocSlow(s, cpu, node, origSize, gfp);
  return yield* slabAllocCpuSlab(s, cpu, node, origSize);
}

/** The cpu slab's fast path (5.4, 6.6, 6.18). */
function* slabAllocCpuSlab(s: KmemCache, cpu: Cpu, node: number, origSize: number): Step<number> {
  const m = s.m;
  const c = s.cpu0 + cpu.id * CACHE_CPU.STRIDE;
  for (;;) {
    const tid = yield* load32(m, c + CPU_TID, S_ALLOC);
    const object = yield* load32(m, c + CPU_FREELIST, S_ALLOC);
    const page = yield* load32(m, c + CACHE_CPU.page, S_ALLOC);
    if (object === 0 || page === 0 || !nodeMatch(s, page, node)) {
      yield* irqPoint(cpu, S_ALLOC_IRQ);
      return yield* slabAllocSlow(s, cpu, node, origSize);
    }
    const next = yield* getFreepointer(s, object, S_ALLOC); // get_freepointer_safe()
    yield* irqPoint(cpu, S_ALLOC_IRQ);
    // Mutant no-tid: compare against the tid as it is now, so an interrupt's changes pass.
    const expect = mutant.noTid ? yield* load32(m, c + CPU_TID, S_ALLOC) : tid;
    // this_cpu_cmpxchg_double() (6.6: this_cpu_try_cmpxchg128()): atomic against this
    // CPU's interrupts only, "without lock semantics", so unordered.
    if (yield* cas64Relaxed(m, c + CPU_TID, expect, object, nextTid(s, expect), next, S_ALLOC_CAS)) {
      stat(s, c, ST.alloc_fastpath);
      return object;
    }
    stat(s, c, ST.cmpxchg_double_cpu_fail);
  }
}
