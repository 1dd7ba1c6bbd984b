/* @two-way */
// How a workload allocates and frees an object: through kmalloc/kfree, or one named
// cache. The allocator-independent half of every object workload.

import type { Cpu } from '../mm/cpu.js';
import { slabAllocNode } from '../mm/slub/alloc.js';
import { kmemCacheFree } from '../mm/slub/free.js';
import { kfree, kmalloc } from '../mm/slub/kmalloc.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import type { Rng } from '../rng.js';
import type { Step } from '../sched/step.js';
import type { Machine } from '../shm/machine.js';
import { memGet, memPut } from '../mm/pools/glusterfs.js';
import { type HaPool, haPoolAt, poolAlloc, poolFree } from '../mm/pools/haproxy.js';
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
 * (inverse CDF: max - range * sqrt(1 - u)).
 */
export function drawSize(t: ObjectTarget, rng: Rng): number {
  const range = t.maxSize - t.minSize + 1;
  if (!t.linear) return t.minSize + rng.below(range);
  return t.minSize + Math.min(range - 1, Math.floor(range * (1 - Math.sqrt(1 - rng.float()))));
}

export function* objAlloc(cpu: Cpu, t: ObjectTarget, size: number): Step<number> {
  if (t.allocator === 'slub') {
    if (t.cacheId < 0) return yield* kmalloc(cpu, size);
    return yield* slabAllocNode(cacheById(cpu.m, t.cacheId), cpu, -1);
  }
  if (t.allocator === 'glusterfs') return yield* memGet(cpu.m, t.pool, cpu.id);
  return yield* poolAlloc(haPool(cpu.m, t.pool), cpu.id);
}

export function* objFree(cpu: Cpu, t: ObjectTarget, addr: number): Step {
  if (t.allocator === 'slub') {
    if (t.cacheId < 0) yield* kfree(cpu, addr);
    else yield* kmemCacheFree(cacheById(cpu.m, t.cacheId), cpu, addr);
  } else if (t.allocator === 'glusterfs') {
    yield* memPut(cpu.m, addr, cpu.id);
  } else {
    yield* poolFree(haPool(cpu.m, t.pool), cpu.id, addr);
  }
}

/** This thread's view of a HAProxy pool, read from its head once. */
const haPools = new Map<number, HaPool>();
function haPool(m: Machine, addr: number): HaPool {
  let p = haPools.get(addr);
  if (!p || p.m !== m) {
    p = haPoolAt(m, addr);
    haPools.set(addr, p);
  }
  return p;
}

/** What interrupts did on one CPU: allocation attempts and frees. */
export interface IrqCounts {
  irqAllocs: number;
  irqFrees: number;
}

/** The nested operation an interrupt runs: one allocation and its free, on the same CPU. */
export function* irqAllocFree(cpu: Cpu, t: ObjectTarget, counts: IrqCounts): Step {
  counts.irqAllocs++;
  const obj = yield* objAlloc(cpu, t, t.minSize);
  if (obj === 0) return;
  yield* objFree(cpu, t, obj);
  counts.irqFrees++;
}
