// Object addressing on the fast paths: __obj_to_index() by s->reciprocal_size (a
// multiplication, as the kernel does) must agree with the division everywhere, and
// kmalloc_slab() must pick the cache the kmalloc size table names.
import { describe, expect, it } from 'vitest';
import { kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { KMALLOC_SIZES, kmallocCacheSize } from '../src/mm/slub/geometry.js';
import { kmallocSlab } from '../src/mm/slub/kmalloc_caches.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { objectIndex } from '../src/mm/slub/objects.js';
import { create, pfnToAddr } from '../src/shm/machine.js';

describe('objectIndex (__obj_to_index by reciprocal)', () => {
  it('is the quotient at every object start and -1 at every other byte, for odd and red-zoned sizes', () => {
    const m = create({ cpus: 1, memory: 64 << 20 });
    slubInit(m, { debug: 'Z,zoned-' });
    const sizes = [8, 24, 40, 72, 96, 136, 192, 200, 1000, 4096];
    const caches = sizes.flatMap((n) => [`plain-${n}`, `zoned-${n}`].map((name) => cacheById(m, kmemCacheCreate(m, name, n))));
    expect(caches.some((s) => s.redLeftPad > 0)).toBe(true);
    const pfn = 1 + m.pagesPerNode - 16; // any pfn: the index is arithmetic on its address
    for (const s of caches) {
      const base = pfnToAddr(m, pfn) + s.redLeftPad;
      const span = s.objects * s.size;
      for (let rel = -s.redLeftPad - 8; rel < span + s.size; rel++) {
        const expected = rel >= 0 && rel % s.size === 0 && rel / s.size < s.objects ? rel / s.size : -1;
        if (objectIndex(s, pfn, s.objects, base + rel) !== expected) {
          expect.fail(
            `${s.name} (size ${s.size}, objects ${s.objects}): offset ${rel} gave ${objectIndex(s, pfn, s.objects, base + rel)}, expected ${expected}`,
          );
        }
      }
    }
  });
});

describe('kmallocSlab (kmalloc_slab)', () => {
  it('serves every size 1..8192 from the kmalloc cache kmallocCacheSize names', () => {
    const m = create({ cpus: 1, memory: 16 << 20 });
    slubInit(m);
    for (let size = 1; size <= KMALLOC_SIZES[KMALLOC_SIZES.length - 1]; size++) {
      const s = kmallocSlab(m, size);
      if (s.objectSize !== kmallocCacheSize(size)) expect.fail(`kmalloc(${size}) went to ${s.name}`);
    }
  });
});
