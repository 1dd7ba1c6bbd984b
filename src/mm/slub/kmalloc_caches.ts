import { SlabError } from '../../errors.js';
import { type Machine } from '../../shm/machine.js';
import { KMALLOC_MAX_CACHE_SIZE, KMALLOC_SIZES, kmallocIndex, kmallocSize } from './geometry.js';
import { cacheById, type KmemCache } from './kmem_cache.js';

/**
 * The kmalloc caches are the first caches of every machine, created by slubInit() in
 * KMALLOC_SIZES order, so cache id i is kmalloc-KMALLOC_SIZES[i] on every thread.
 */
export function kmallocCacheId(cacheSize: number): number {
  const id = KMALLOC_SIZES.indexOf(cacheSize);
  if (id < 0) throw new SlabError('EINVAL', `no kmalloc cache of size ${cacheSize}`);
  return id;
}

/** kmalloc_caches[]: the cache id of each kmalloc index (kmallocIndex()); index 0 has none. */
const CACHE_ID_BY_INDEX = Int8Array.from({ length: kmallocIndex(KMALLOC_MAX_CACHE_SIZE) + 1 }, (_, i) =>
  i === 0 ? -1 : kmallocCacheId(kmallocSize(i)),
);

/** slab_common.c: kmalloc_slab(): the cache serving a request of 1..KMALLOC_MAX_CACHE_SIZE bytes. */
export const kmallocSlab = (m: Machine, size: number): KmemCache => cacheById(m, CACHE_ID_BY_INDEX[kmallocIndex(size)]);

/** kmalloc cache names as the kernel prints them (kmalloc_info[]): kmalloc-8 .. kmalloc-8k. */
export const kmallocName = (size: number): string => (size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`);
