/* @two-way */
// How a workload allocates and frees an object: through kmalloc/kfree, or one named
// cache. The allocator-independent half of every object workload.

import type { Cpu } from '../mm/cpu.js';
import { slabAllocNode } from '../mm/slub/alloc.js';
import { kmemCacheFree } from '../mm/slub/free.js';
import { kfree, kmalloc } from '../mm/slub/kmalloc.js';
import { cacheById, type KmemCache } from '../mm/slub/kmem_cache.js';
import type { Rng } from '../rng.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';
import { memGet, memPut } from '../mm/pools/glusterfs.js';
import { type HaPool, haPoolAt, poolAlloc, poolFree } from '../mm/pools/haproxy.js';
import { NUMA_NO_NODE } from '../mm/slub/slab.js';
import type { AllocatorName } from './allocators.js';

export interface ObjectTarget {
  allocator: AllocatorName;
  /** the pool's address for a pool allocator (0 for SLUB) */
  pool: number;
  /** a cache id, or -1 for kmalloc with sizes in [minSize, maxSize] */
  cacheId: number;
  minSize: number;
  maxSize: number;
  /** sizes drawn with a linear drop-off from minSize to maxSize (rptest), else uniformly */
  linear?: boolean;
}

/**
 * A request size: uniform, or with density falling linearly to 0 at maxSize
 * (inverse CDF: max - range * sqrt(1 - u)). A single size takes nothing from `rng`.
 */
export function drawSize(t: ObjectTarget, rng: Rng): number {
  const range = t.maxSize - t.minSize + 1;
  if (range === 1) return t.minSize; // one size (a cache's objects): nothing to draw
  if (!t.linear) return t.minSize + rng.below(range);
  return t.minSize + Math.min(range - 1, Math.floor(range * (1 - Math.sqrt(1 - rng.float()))));
}

/** A target with this thread's views of its cache or pool resolved once: an operation looks nothing up. */
export interface BoundTarget extends ObjectTarget {
  /** the cache of a one-cache SLUB target, else null (kmalloc, or a pool) */
  readonly cache: KmemCache | null;
  /** the pool of a HAProxy target, else null */
  readonly ha: HaPool | null;
}

export function bindTarget(m: Machine, t: ObjectTarget): BoundTarget {
  // Every field by name, no spread: a spread object gets a map of its own each time.
  return {
    allocator: t.allocator,
    pool: t.pool,
    cacheId: t.cacheId,
    minSize: t.minSize,
    maxSize: t.maxSize,
    linear: t.linear === true,
    cache: t.allocator === 'slub' && t.cacheId >= 0 ? cacheById(m, t.cacheId) : null,
    ha: t.allocator.startsWith('haproxy') ? haPoolAt(m, t.pool) : null,
  };
}

export function* objAlloc(cpu: Cpu, t: BoundTarget, size: number): Step<number> {
  if (t.cache !== null) return yield* slabAllocNode(t.cache, cpu, NUMA_NO_NODE);
  if (t.allocator === 'slub') return yield* kmalloc(cpu, size);
  if (t.ha !== null) return yield* poolAlloc(t.ha, cpu.id);
  return yield* memGet(cpu.m, t.pool, cpu.id);
}

export function* objFree(cpu: Cpu, t: BoundTarget, addr: number): Step {
  if (t.cache !== null) yield* kmemCacheFree(t.cache, cpu, addr);
  else if (t.allocator === 'slub') yield* kfree(cpu, addr);
  else if (t.ha !== null) yield* poolFree(t.ha, cpu.id, addr);
  else yield* memPut(cpu.m, addr, cpu.id);
}

/** What interrupts did on one CPU: allocation attempts and frees. */
export interface IrqCounts {
  irqAllocs: number;
  irqFrees: number;
}

/** The nested operation an interrupt runs: one allocation and its free, on the same CPU. */
export function* irqAllocFree(cpu: Cpu, t: BoundTarget, counts: IrqCounts): Step {
  counts.irqAllocs++;
  const obj = yield* objAlloc(cpu, t, t.minSize);
  if (obj === 0) return;
  yield* objFree(cpu, t, obj);
  counts.irqFrees++;
}
