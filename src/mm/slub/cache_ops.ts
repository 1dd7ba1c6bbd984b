// Small main-thread helpers for cache lifecycle work (no CPU runs meanwhile).
import { spinLock, spinUnlock } from '../../shm/atomic.fast.js';
import { CACHE_NODE } from '../../shm/structs.js';
import type { KmemCache } from './kmem_cache.js';
import { removePartial } from './list.fast.js';
import { discardSlab } from './slab.fast.js';

/** Run `fn` holding n->list_lock. */
export function nodeLock(s: KmemCache, n: number, fn: () => void): void {
  spinLock(s.m, n + CACHE_NODE.listLock, 0);
  try {
    fn();
  } finally {
    spinUnlock(s.m, n + CACHE_NODE.listLock, 0);
  }
}

/** Take an empty slab off its node's partial list and free it (shrink/destroy: no FREE_SLAB stat). */
export function discardSlabQuiet(s: KmemCache, n: number, pfn: number): void {
  removePartial(s, n, pfn);
  discardSlab(s, pfn);
}
