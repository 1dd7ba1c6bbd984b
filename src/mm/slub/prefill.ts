/* @two-way */
// Prefilled sheaves (6.18, 7.0): a user that must not fail to allocate later (the maple
// tree, before taking its locks) takes a sheaf with at least as many objects as it will
// need, allocates from it with no fallback, and gives it back. slub.c:
// kmem_cache_prefill_sheaf(), kmem_cache_alloc_from_sheaf(), kmem_cache_return_sheaf(),
// kmem_cache_refill_sheaf(), kmem_cache_sheaf_size().
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, peek32, store32 } from '../../shm/atomic.js';
import { CACHE_CPU, CACHE_NODE, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { kmemCacheAllocBulk70 } from './alloc_slow70.js';
import { barnGetFullOrEmptySheaf, barnPutFullSheaf, getBarn, MAX_FULL_SHEAVES } from './barn.js';
import { kmemCacheAllocBulkClassic } from './bulk.js';
import { MAX_SHEAF_CAPACITY, sheafBytes } from './geometry.js';
import { kfree, kmalloc } from './kmalloc.js';
import { cpuSlabOff, type KmemCache, stat } from './kmem_cache.js';
import { checkLive } from './misuse.js';
import {
  allocEmptySheaf,
  freeEmptySheaf,
  loadSheafSize,
  localLockPcs,
  localUnlockPcs,
  refillSheaf,
  setSheafCapacity,
  setSheafObject,
  sheafCache,
  sheafCapacity,
  sheafFlushUnused,
  sheafObject,
  storeSheafSize,
  initSheafHeader,
} from './sheaf.js';

const S_PREFILL = site('kmem_cache_prefill_sheaf');
const S_FROM = site('kmem_cache_alloc_from_sheaf');
const S_RETURN = site('kmem_cache_return_sheaf');

/**
 * __kmem_cache_alloc_bulk(): `n` objects from the slabs appended to `p`, all or none
 * (7.0: refill_objects(); 6.18: the cpu-slab bulk allocation).
 */
function* allocBulk(s: KmemCache, cpu: Cpu, gfp: number, n: number, p: number[]): Step<boolean> {
  if (s.sheafOnly) return (yield* kmemCacheAllocBulk70(s, cpu, n, p, gfp)) === n;
  const got: number[] = [];
  if ((yield* kmemCacheAllocBulkClassic(s, cpu, n, got)) !== n) return false;
  for (const object of got) p.push(object);
  return true;
}

/**
 * kmem_cache_prefill_sheaf(): a sheaf with at least `size` objects, or 0. More than the
 * cache's sheaf_capacity: an oversize sheaf bulk-filled for the purpose
 * (SHEAF_PREFILL_OVERSIZE). Else this CPU's spare (SHEAF_PREFILL_FAST), or a full or
 * empty sheaf of the barn (SHEAF_PREFILL_SLOW, and BARN_GET when it held objects),
 * or a new empty one; refilled to the capacity when it holds too few.
 */
export function* kmemCachePrefillSheaf(s: KmemCache, cpu: Cpu, gfp: number, size: number): Step<number> {
  checkLive(s, 'kmem_cache_prefill_sheaf');
  if (!(Number.isInteger(size) && size >= 0 && size <= MAX_SHEAF_CAPACITY)) {
    throw new SlabError('EINVAL', `kmem_cache_prefill_sheaf(${s.name}, ${size}): expected a size in 0..${MAX_SHEAF_CAPACITY}`);
  }
  if (size === 0) return 0;
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (size > s.sheafCapacity) {
    const sheaf = yield* kmalloc(cpu, sheafBytes(size), gfp);
    if (sheaf === 0) return 0;
    stat(s, c, ST.sheaf_prefill_oversize);
    initSheafHeader(s, sheaf);
    setSheafCapacity(m, sheaf, size);
    // No pfmemalloc care needed: oversize sheaves are always flushed and freed when returned.
    const objects: number[] = [];
    if (!(yield* allocBulk(s, cpu, gfp, size, objects))) {
      yield* kfree(cpu, sheaf);
      return 0;
    }
    objects.forEach((object, i) => setSheafObject(m, sheaf, i, object));
    yield* storeSheafSize(m, sheaf, size, S_PREFILL);
    return sheaf;
  }
  let sheaf = 0;
  yield* localLockPcs(s, c);
  const spare = yield* load32(m, c + CACHE_CPU.spare, S_PREFILL);
  if (spare !== 0) {
    sheaf = spare;
    yield* store32(m, c + CACHE_CPU.spare, 0, S_PREFILL);
    stat(s, c, ST.sheaf_prefill_fast);
  } else {
    stat(s, c, ST.sheaf_prefill_slow);
    sheaf = yield* barnGetFullOrEmptySheaf(s, getBarn(s, cpu));
    if (sheaf !== 0 && (yield* loadSheafSize(m, sheaf, S_PREFILL)) !== 0) stat(s, c, ST.barn_get);
    else stat(s, c, ST.barn_get_fail);
  }
  yield* localUnlockPcs(s, c);
  if (sheaf === 0) sheaf = yield* allocEmptySheaf(s, cpu, gfp);
  if (sheaf !== 0) {
    setSheafCapacity(m, sheaf, s.sheafCapacity);
    if ((yield* loadSheafSize(m, sheaf, S_PREFILL)) < size && !(yield* refillSheaf(s, cpu, sheaf, gfp))) {
      yield* sheafFlushUnused(s, cpu, sheaf);
      yield* freeEmptySheaf(s, cpu, sheaf);
      sheaf = 0;
    }
  }
  return sheaf;
}

/**
 * kmem_cache_alloc_from_sheaf(): an object off a prefilled sheaf; 0 once it is empty,
 * with no fallback to the cache (the user asked for enough beforehand).
 */
export function* kmemCacheAllocFromSheaf(s: KmemCache, cpu: Cpu, sheaf: number): Step<number> {
  checkPrefilled(s, cpu, sheaf, 'kmem_cache_alloc_from_sheaf');
  const size = yield* loadSheafSize(s.m, sheaf, S_FROM);
  if (size === 0) return 0;
  yield* storeSheafSize(s.m, sheaf, size - 1, S_FROM);
  return sheafObject(s.m, sheaf, size - 1);
}

/** kmem_cache_sheaf_size(). */
export function* kmemCacheSheafSize(s: KmemCache, sheaf: number): Step<number> {
  return yield* loadSheafSize(s.m, sheaf, S_FROM);
}

/**
 * kmem_cache_return_sheaf(): an oversize sheaf is flushed and freed. One of the cache's
 * capacity becomes this CPU's spare if it has none (SHEAF_RETURN_FAST); else
 * (SHEAF_RETURN_SLOW) it is refilled and put in the barn, unless the barn holds
 * MAX_FULL_SHEAVES full ones or the refill fails: then it is flushed and freed.
 */
export function* kmemCacheReturnSheaf(s: KmemCache, cpu: Cpu, gfp: number, sheaf: number): Step {
  checkPrefilled(s, cpu, sheaf, 'kmem_cache_return_sheaf');
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (sheafCapacity(m, sheaf) !== s.sheafCapacity) {
    yield* sheafFlushUnused(s, cpu, sheaf);
    yield* kfree(cpu, sheaf);
    return;
  }
  yield* localLockPcs(s, c);
  const barn = getBarn(s, cpu);
  let left = sheaf;
  if ((yield* load32(m, c + CACHE_CPU.spare, S_RETURN)) === 0) {
    yield* store32(m, c + CACHE_CPU.spare, sheaf, S_RETURN);
    left = 0;
    stat(s, c, ST.sheaf_return_fast);
  }
  yield* localUnlockPcs(s, c);
  if (left === 0) return;
  stat(s, c, ST.sheaf_return_slow);
  // If the barn has too many full sheaves or we fail to refill the sheaf, simply flush and free it.
  if ((yield* load32(m, barn + CACHE_NODE.nrFull, S_RETURN)) >= MAX_FULL_SHEAVES || !(yield* refillSheaf(s, cpu, left, gfp))) {
    yield* sheafFlushUnused(s, cpu, left);
    yield* freeEmptySheaf(s, cpu, left);
    return;
  }
  yield* barnPutFullSheaf(s, barn, left);
  stat(s, c, ST.barn_put);
}

/**
 * kmem_cache_refill_sheaf(): make a prefilled sheaf hold at least `size` objects; the
 * sheaf to use from now on (the same, or an oversize replacement when more than its
 * capacity is needed: the old one is returned), or 0 when memory ran out (-ENOMEM; the
 * old one is left as it was). Like the kernel, it refills to the sheaf's capacity.
 */
export function* kmemCacheRefillSheaf(s: KmemCache, cpu: Cpu, gfp: number, sheaf: number, size: number): Step<number> {
  checkPrefilled(s, cpu, sheaf, 'kmem_cache_refill_sheaf');
  const m = s.m;
  const have = yield* loadSheafSize(m, sheaf, S_PREFILL);
  if (have >= size) return sheaf;
  const capacity = sheafCapacity(m, sheaf);
  if (capacity >= size) {
    if (capacity === s.sheafCapacity) return (yield* refillSheaf(s, cpu, sheaf, gfp)) ? sheaf : 0;
    const objects: number[] = [];
    if (!(yield* allocBulk(s, cpu, gfp, capacity - have, objects))) return 0;
    objects.forEach((object, i) => setSheafObject(m, sheaf, have + i, object));
    yield* storeSheafSize(m, sheaf, capacity, S_PREFILL);
    return sheaf;
  }
  // A regular sheaf that needs to become an oversize one, or a larger oversize one: rare.
  const bigger = yield* kmemCachePrefillSheaf(s, cpu, gfp, size);
  if (bigger === 0) return 0;
  yield* kmemCacheReturnSheaf(s, cpu, gfp, sheaf);
  return bigger;
}

/** Misuse: a sheaf of another cache (or no sheaf), or one this CPU uses as main or spare. */
function checkPrefilled(s: KmemCache, cpu: Cpu, sheaf: number, what: string): void {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (!(Number.isInteger(sheaf) && sheaf > 0) || sheafCache(m, sheaf) !== s.id) {
    throw new SlabError('EINVAL', `${what}(${s.name}, 0x${(sheaf >>> 0).toString(16)}): not a sheaf of this cache`);
  }
  if (peek32(m, c + CACHE_CPU.main) === sheaf || peek32(m, c + CACHE_CPU.spare) === sheaf) {
    throw new SlabError(
      'EINVAL',
      `${what}(${s.name}, 0x${sheaf.toString(16)}): the sheaf is CPU${cpu.id}'s own (returned already)`,
    );
  }
}
