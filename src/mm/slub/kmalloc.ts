/* @two-way */
// kmalloc()/kfree() over the kmalloc-8 .. kmalloc-8k caches; larger sizes go straight
// to the page allocator (kmalloc_large). slab_common.c / slub.c.
import { SlabError } from '../../errors.js';
import type { Step } from '../../sched/step.js';
import { pageOff, pfnToAddr, validAddr } from '../../shm/machine.js';
import { PAGE, PG } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { allocPages, freePages } from '../page_alloc.js';
import { slabAllocNode } from './alloc.js';
import { slabFree } from './free.js';
import { GFP_KERNEL } from './gfp.js';
import { getOrder, KMALLOC_MAX_CACHE_SIZE } from './geometry.js';
import { kmallocSlab } from './kmalloc_caches.js';
import { cacheById, type KmemCache } from './kmem_cache.js';
import { checkFreeInSlab } from './misuse.js';
import { virtToHeadPfn } from './objects.js';
import { NUMA_NO_NODE } from './slab.js';

/** ZERO_SIZE_PTR: what kmalloc(0) returns; kfree() accepts it and does nothing. */
export const ZERO_SIZE_PTR = 16;

/** kmalloc(size): an object of the smallest kmalloc cache that fits, or 0 on failure. */
export function* kmalloc(cpu: Cpu, size: number, gfp = GFP_KERNEL): Step<number> {
  if (!(Number.isInteger(size) && size >= 0))
    throw new SlabError('EINVAL', `kmalloc(${size}): size must be a non-negative integer`);
  if (size === 0) return ZERO_SIZE_PTR;
  if (size > KMALLOC_MAX_CACHE_SIZE) return yield* kmallocLarge(cpu, size);
  return yield* slabAllocNode(kmallocSlab(cpu.m, size), cpu, NUMA_NO_NODE, size, gfp);
}

/**
 * kmalloc_trace() (6.2-6.9) / __kmalloc_cache_noprof() (6.10+): `size` bytes from the
 * given kmalloc-style cache, recording the requested size (6.6 debug caches with
 * SLAB_KMALLOC and STORE_USER red-zone the rest of the object).
 */
export function* kmallocTrace(s: KmemCache, cpu: Cpu, size: number): Step<number> {
  if (!(Number.isInteger(size) && size >= 1 && size <= s.objectSize)) {
    throw new SlabError('EINVAL', `kmalloc_trace(${s.name}, ${size}): size must be 1..${s.objectSize}`);
  }
  return yield* slabAllocNode(s, cpu, NUMA_NO_NODE, size);
}

/** kmalloc_large(): whole pages, a compound block of get_order(size). */
function* kmallocLarge(cpu: Cpu, size: number): Step<number> {
  const order = getOrder(size, cpu.m.cfg.pageSize);
  if (order > 10) return 0; // beyond MAX_ORDER: the page allocator cannot satisfy it
  const pfn = yield* allocPages(cpu.m, cpu.node, order, cpu.id);
  return pfn === 0 ? 0 : pfnToAddr(cpu.m, pfn);
}

/** kfree(addr): the cache is found through the page (virt_to_cache). */
export function* kfree(cpu: Cpu, addr: number): Step {
  const m = cpu.m;
  if (addr === 0 || addr === ZERO_SIZE_PTR) return; // ZERO_OR_NULL_PTR
  if (!validAddr(m, addr)) throw new SlabError('EBADFREE', `kfree(0x${addr.toString(16)}): address outside simulated memory`);
  const pfn = virtToHeadPfn(m, addr);
  const p = pageOff(m, pfn);
  const flags = m.u32[p + PAGE.flags];
  if (!(flags & PG.slab)) {
    if (!(flags & PG.head) || pfnToAddr(m, pfn) !== addr) {
      throw new SlabError('EBADFREE', `kfree(0x${addr.toString(16)}): not a kmalloc'd address`);
    }
    yield* freePages(m, pfn, m.u32[p + PAGE.private]);
    return;
  }
  const s = cacheById(m, m.u32[p + PAGE.slabCache] - 1);
  checkFreeInSlab(s, pfn, addr);
  yield* slabFree(s, cpu, pfn, addr);
}
