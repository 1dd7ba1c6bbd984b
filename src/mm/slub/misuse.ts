// Misuse checks at the API boundary: a bad free is refused with a SlabError before any
// state changes (the kernel would BUG or corrupt; the simulator must stay usable).
import { SlabError } from '../../errors.js';
import { peek32 } from '../../shm/atomic.js';
import { pageOff, validAddr } from '../../shm/machine.js';
import { CACHE_STATE, CPU_FREELIST, KMEM_CACHE, PAGE, PG, SLAB_COUNTERS, SLAB_FREELIST } from '../../shm/structs.js';
import { objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { objectIsFree } from './debug.js';
import { cpuSlabOff, type KmemCache } from './kmem_cache.js';
import { objectIndex, virtToHeadPfn } from './objects.js';

const hex = (x: number): string => `0x${x.toString(16)}`;

export function checkLive(s: KmemCache, what: string): void {
  if (s.m.u32[s.base + KMEM_CACHE.state] !== CACHE_STATE.live) {
    throw new SlabError('EINVAL', `${what}: cache ${s.name} has been destroyed`);
  }
}

/**
 * The slab pfn of `object` if freeing it into `s` is well-formed; throws otherwise.
 * (A double free of an object that is not the freelist head is not detectable here
 * without debug flags, as in the kernel.) A cache with consistency checks (slub_debug=F)
 * lets a pointer into another cache's slab, or into its own slab but not at an object
 * start, through: its debug path reports it and drops the free, as the kernel does
 * (cache_from_obj(), free_consistency_checks()). `bulk` (kmem_cache_free_bulk) refuses
 * those too: the detached freelist would be linked through them first.
 */
export function checkFree(s: KmemCache, object: number, bulk = false): number {
  // The well-formed case in a few reads, the rest out of line: kmem_cache_free() inlines
  // this, and every byte here counts against the fast path's inlining budget.
  const m = s.m;
  if (m.u32[s.base + KMEM_CACHE.state] === CACHE_STATE.live && validAddr(m, object)) {
    const pfn = virtToHeadPfn(m, object);
    const p = pageOff(m, pfn);
    if (
      (m.u32[p + PAGE.flags] & PG.slab) !== 0 &&
      m.u32[p + PAGE.slabCache] === s.id + 1 &&
      objectIndex(s, pfn, objectsOf(m.u32[p + SLAB_COUNTERS]), object) >= 0
    ) {
      return pfn;
    }
  }
  return badFree(s, object, bulk);
}

/**
 * checkFree() for kfree(), which found the cache through the slab page `pfn` itself: what
 * is left to check is that the cache is live and `object` starts an object.
 */
export function checkFreeInSlab(s: KmemCache, pfn: number, object: number): void {
  const m = s.m;
  if (
    m.u32[s.base + KMEM_CACHE.state] !== CACHE_STATE.live ||
    objectIndex(s, pfn, objectsOf(m.u32[pageOff(m, pfn) + SLAB_COUNTERS]), object) < 0
  ) {
    badFree(s, object, false);
  }
}

/** checkFree() of an object that failed a check: which one, as a SlabError (or the pfn, for F). */
function badFree(s: KmemCache, object: number, bulk: boolean): number {
  const m = s.m;
  checkLive(s, 'kmem_cache_free');
  const refuse = (why: string): SlabError => new SlabError('EBADFREE', `kmem_cache_free(${s.name}, ${hex(object)}): ${why}`);
  if (!validAddr(m, object)) throw refuse('address outside simulated memory');
  const pfn = virtToHeadPfn(m, object);
  const p = pageOff(m, pfn);
  if (!(m.u32[p + PAGE.flags] & PG.slab)) throw refuse(`page ${pfn} is not a slab page`);
  if (s.checks && !bulk) return pfn;
  const owner = m.u32[p + PAGE.slabCache] - 1;
  // cache_from_obj(): "Wrong slab cache. X but object is from Y"
  if (owner !== s.id) throw refuse(`wrong slab cache, object is from cache id ${owner}`);
  throw refuse(`not the start of an object in slab ${pfn}`);
}

/** set_freepointer()'s BUG_ON(object == fp): freeing the object that heads a freelist again. */
export function doubleFree(s: KmemCache, object: number, why = 'the object is already the head of its freelist'): SlabError {
  return new SlabError('EBADFREE', `kmem_cache_free(${s.name}, ${hex(object)}): double free (${why})`);
}

/**
 * The naive double-free check of set_freepointer() (CONFIG_SLAB_FREELIST_HARDENED) for
 * the fast path, made by the callers of do_slab_free() before anything is written:
 * `object` must not head this CPU's freelist. (Kept out of doSlabFree() itself: one more
 * branch there costs the free-running fast path its inlining. doSlabFree() looks again
 * when its CAS fails, the one way an interrupt's free can come in between.)
 */
export function checkNotCpuFreelistHead(s: KmemCache, cpu: Cpu, object: number): void {
  if (peek32(s.m, cpuSlabOff(s, cpu.id) + CPU_FREELIST) === object) throw doubleFree(s, object);
}

/**
 * kmem_cache_free_bulk() links the objects into a detached freelist before any check
 * can run, so an object already free is refused up front: one heading this CPU's
 * freelist or its slab's, and on a debug cache with consistency checks any object on
 * its slab's freelist (the walk free_debug_processing() would make too late).
 */
export function checkBulkNotFree(s: KmemCache, cpu: Cpu, pfn: number, object: number): void {
  checkNotCpuFreelistHead(s, cpu, object);
  const m = s.m;
  const p = pageOff(m, pfn);
  if (m.u32[p + SLAB_FREELIST] === object) throw doubleFree(s, object);
  if (s.checks && objectIsFree(s, pfn, object)) throw doubleFree(s, object, "the object is on its slab's freelist");
}
