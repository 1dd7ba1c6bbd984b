// Small main-thread helpers for cache lifecycle work (no CPU runs meanwhile).
import type { KmemCache } from './kmem_cache.js';
import { listLock, listUnlock, removePartial } from './list.fast.js';
import { discardSlab } from './slab.fast.js';

/** Run `fn` holding n->list_lock. */
export function nodeLock(s: KmemCache, n: number, fn: () => void): void {
  listLock(s, n, 0);
  try {
    fn();
  } finally {
    listUnlock(s, n, 0);
  }
}

/** Take an empty slab off its node's partial list and free it (shrink/destroy: no FREE_SLAB stat). */
export function discardSlabQuiet(s: KmemCache, n: number, pfn: number): void {
  removePartial(s, n, pfn);
  discardSlab(s, pfn);
}
