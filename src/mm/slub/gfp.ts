// gfp_t: the few bits SLUB's sheaf and slow paths look at (include/linux/gfp_types.h).
import type { Cpu } from '../cpu.js';

/** The caller may sleep (reclaim, and the blocking local_lock() of the sheaf paths). */
export const __GFP_DIRECT_RECLAIM = 1 << 0;
/**
 * Internal (mm/slab.h): allocating a sheaf for a kmalloc cache from the kmalloc caches;
 * such an allocation never allocates a sheaf itself, which bounds the recursion.
 */
export const __GFP_NO_OBJ_EXT = 1 << 1;
/** Only the requested node. */
export const __GFP_THISNODE = 1 << 2;

export const GFP_KERNEL = __GFP_DIRECT_RECLAIM;
export const GFP_NOWAIT = 0;

/**
 * gfpflags_allow_blocking(). The simulator's interrupt handlers call the same entry
 * points as process context; they allocate as GFP_ATOMIC would, so inside an interrupt
 * nothing blocks.
 */
export const gfpflagsAllowBlocking = (gfp: number, cpu: Cpu): boolean => (gfp & __GFP_DIRECT_RECLAIM) !== 0 && cpu.irqDepth === 0;
