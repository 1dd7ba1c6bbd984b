import { SlabError } from '../../errors.js';
import { KMALLOC_SIZES } from './geometry.js';

/**
 * The kmalloc caches are the first caches of every machine, created by slubInit() in
 * KMALLOC_SIZES order, so cache id i is kmalloc-KMALLOC_SIZES[i] on every thread.
 */
export function kmallocCacheId(cacheSize: number): number {
  const id = KMALLOC_SIZES.indexOf(cacheSize);
  if (id < 0) throw new SlabError('EINVAL', `no kmalloc cache of size ${cacheSize}`);
  return id;
}

/** kmalloc cache names as the kernel prints them (kmalloc_info[]): kmalloc-8 .. kmalloc-8k. */
export const kmallocName = (size: number): string => (size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`);
