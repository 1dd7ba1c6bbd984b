/* @two-way */
// Bulk allocation and free. slub.c: kmem_cache_alloc_bulk(), kmem_cache_free_bulk(),
// build_detached_freelist().
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { CPU_FREELIST, CPU_TID, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { slabAllocSlow } from './alloc_slow.js';
import { nextTid } from './deactivate.js';
import { doSlabFree } from './free.js';
import { getFreepointer, setFreepointer } from './freeptr.js';
import { cpuSlabOff, type KmemCache, stat, statAdd } from './kmem_cache.js';
import { kmemCacheAllocBulk70 } from './alloc_slow70.js';
import { slabFreeSlow } from './free_slow.js';
import { GFP_KERNEL } from './gfp.js';
import { allocFromPcsBulk, freeToPcsBulk } from './pcs.js';
import { kmemCacheFreeBulkInternal } from './sheaf.js';
import { checkBulkNotFree, checkFree, checkLive } from './misuse.js';
import { virtToHeadPfn } from './objects.js';
import { localLock, localUnlock } from './partial.js';
import { NUMA_NO_NODE } from './slab.js';

const S_BULK = site('kmem_cache_alloc_bulk');
const S_DETACHED = site('build_detached_freelist');

/**
 * kmem_cache_alloc_bulk(): fill p[0..size) and return size, or free what it took and
 * return 0. A cache with sheaves takes what its sheaves and the barn's full ones hold
 * first (alloc_from_pcs_bulk()), then the slabs.
 */
export function* kmemCacheAllocBulk(s: KmemCache, cpu: Cpu, size: number, p: number[]): Step<number> {
  checkLive(s, 'kmem_cache_alloc_bulk');
  if (s.sheafCapacity === 0) {
    return s.sheafOnly
      ? yield* kmemCacheAllocBulk70(s, cpu, size, p, GFP_KERNEL)
      : yield* kmemCacheAllocBulkClassic(s, cpu, size, p);
  }
  p.length = 0;
  const i = yield* allocFromPcsBulk(s, cpu, size, p);
  if (i < size) {
    const rest: number[] = [];
    const got = s.sheafOnly
      ? yield* kmemCacheAllocBulk70(s, cpu, size - i, rest, GFP_KERNEL)
      : yield* kmemCacheAllocBulkClassic(s, cpu, size - i, rest);
    if (got === 0) {
      // If we ran out of memory, don't bother with freeing back to the percpu sheaves.
      yield* kmemCacheFreeBulkInternal(s, cpu, i, p);
      p.length = 0;
      return 0;
    }
    for (const object of rest) p.push(object);
  }
  return size;
}

/**
 * The cpu-slab bulk allocation of 5.4, 6.6 and 6.18 (6.18's __kmem_cache_alloc_bulk(),
 * which also refills sheaves). Objects are popped off the cpu freelist with irqs off
 * (5.4) or c->lock held (6.x), so no CAS and no tid bump per object: the tid is bumped
 * once before each slow path and once at the end, which is what invalidates an
 * interrupted fast path. 5.4 and 6.6 count no ALLOC_FASTPATH for these pops; 6.8 and
 * later, so 6.18, count one each.
 */
export function* kmemCacheAllocBulkClassic(s: KmemCache, cpu: Cpu, size: number, p: number[]): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (s.v66) localLock(s, c);
  let i = 0;
  for (; i < size; i++) {
    const object = yield* load32(m, c + CPU_FREELIST, S_BULK);
    if (object === 0) {
      // Earlier pops changed c->freelist without bumping the tid: bump it now.
      yield* store32(m, c + CPU_TID, nextTid(s, yield* load32(m, c + CPU_TID, S_BULK)), S_BULK);
      if (s.v66) localUnlock(s, c);
      p[i] = yield* slabAllocSlow(s, cpu, NUMA_NO_NODE);
      if (s.v66) localLock(s, c);
      if (p[i] === 0) break;
      continue;
    }
    yield* store32(m, c + CPU_FREELIST, yield* getFreepointer(s, object, S_BULK), S_BULK);
    p[i] = object;
    if (s.profile === '6.18') stat(s, c, ST.alloc_fastpath);
  }
  yield* store32(m, c + CPU_TID, nextTid(s, yield* load32(m, c + CPU_TID, S_BULK)), S_BULK);
  if (s.v66) localUnlock(s, c);
  if (i < size) {
    // 6.18's __kmem_cache_alloc_bulk() frees them without the free hooks (they never
    // passed the allocation hooks), so not into the sheaves.
    if (s.profile === '6.18') yield* kmemCacheFreeBulkInternal(s, cpu, i, p);
    else yield* kmemCacheFreeBulk(s, cpu, i, p);
    return 0;
  }
  return size;
}

/**
 * kmem_cache_free_bulk(): free p[0..size). Every object is checked first, so a bad one
 * (or one given twice) is refused with a SlabError before anything is freed. The array
 * is consumed as the kernel consumes it (5.4 zeroes done entries, 6.x reorders them).
 * A cache with sheaves puts them into its sheaves where it can (free_to_pcs_bulk());
 * 7.0 frees the others to their slabs, counting FREE_SLOWPATH per object.
 */
export function* kmemCacheFreeBulk(s: KmemCache, cpu: Cpu, size: number, p: number[]): Step {
  const seen = new Set<number>();
  for (let i = 0; i < size; i++) {
    if (p[i] === 0 && !s.v66) continue;
    checkBulkNotFree(s, cpu, checkFree(s, p[i], true), p[i]);
    if (seen.has(p[i]))
      throw new SlabError('EBADFREE', `kmem_cache_free_bulk(${s.name}): object 0x${p[i].toString(16)} given twice`);
    seen.add(p[i]);
  }
  if (s.sheafCapacity !== 0) {
    yield* freeToPcsBulk(s, cpu, size, p);
    return;
  }
  let left = size;
  while (left > 0) {
    const df = yield* buildDetachedFreelist(s, left, p);
    left = df.next;
    if (df.pfn === 0) continue;
    if (s.sheafOnly) {
      // slab_free_bulk()
      yield* slabFreeSlow(s, cpu, df.pfn, df.freelist, df.tail, df.cnt);
      statAdd(s, cpuSlabOff(s, cpu.id), ST.free_slowpath, df.cnt);
    } else {
      yield* doSlabFree(s, cpu, df.pfn, df.freelist, df.tail, df.cnt);
    }
  }
}

interface DetachedFreelist {
  pfn: number;
  freelist: number;
  tail: number;
  cnt: number;
  /** how many entries of p remain to be processed */
  next: number;
}

/**
 * build_detached_freelist(): from the end of p, link every object of the same slab as
 * the last one into a detached list, looking past at most 3 objects of other slabs.
 */
export function* buildDetachedFreelist(s: KmemCache, size: number, p: number[]): Step<DetachedFreelist> {
  const m = s.m;
  const df: DetachedFreelist = { pfn: 0, freelist: 0, tail: 0, cnt: 0, next: 0 };
  let lookahead = 3;
  if (s.v66) {
    let object = p[--size];
    df.pfn = virtToHeadPfn(m, object);
    df.tail = object;
    df.freelist = object;
    df.cnt = 1;
    yield* setFreepointer(s, object, 0, S_DETACHED);
    let same = size;
    while (size > 0) {
      object = p[--size];
      if (virtToHeadPfn(m, object) === df.pfn) {
        yield* setFreepointer(s, object, df.freelist, S_DETACHED);
        df.freelist = object;
        df.cnt++;
        same--;
        if (size !== same) [p[size], p[same]] = [p[same], p[size]];
        continue;
      }
      if (--lookahead === 0) break;
    }
    df.next = same;
    return df;
  }
  // 5.4: processed entries are set to 0; returns the index after the first skipped one.
  let firstSkipped = 0;
  let object = 0;
  do {
    object = p[--size];
  } while (object === 0 && size > 0);
  if (object === 0) return df;
  df.pfn = virtToHeadPfn(m, object);
  yield* setFreepointer(s, object, 0, S_DETACHED);
  df.tail = object;
  df.freelist = object;
  df.cnt = 1;
  p[size] = 0;
  while (size > 0) {
    object = p[--size];
    if (object === 0) continue;
    if (virtToHeadPfn(m, object) === df.pfn) {
      yield* setFreepointer(s, object, df.freelist, S_DETACHED);
      df.freelist = object;
      df.cnt++;
      p[size] = 0;
      continue;
    }
    if (--lookahead === 0) break;
    if (firstSkipped === 0) firstSkipped = size + 1;
  }
  df.next = firstSkipped;
  return df;
}
