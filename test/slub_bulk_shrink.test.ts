import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { SlabError } from '../src/errors.js';
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheAllocBulk, kmemCacheFreeBulk } from '../src/mm/slub/bulk.fast.js';
import { kmemCacheCreate, kmemCacheShrink, slubInit } from '../src/mm/slub/cache.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { cacheById, cpuSlabOff } from '../src/mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { listPfns } from '../src/mm/slub/walk.js';
import { create } from '../src/shm/machine.js';
import { CACHE_CPU, CACHE_NODE, CPU_TID, ST } from '../src/shm/structs.js';
import { digest } from './helpers.js';

function setup(profile: Profile) {
  const m = create({ cpus: 2, memory: 16 << 20, profile });
  slubInit(m);
  const s = cacheById(m, kmemCacheCreate(m, 'bulk', 256, { flags: ['no_merge'] }));
  return { m, s, cpu0: makeCpu(m, 0), cpu1: makeCpu(m, 1) };
}

const statOf = (s: ReturnType<typeof setup>['s'], cpu: number, item: number) =>
  s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.stat + item];

describe.each(['5.4', '6.6'] as Profile[])('bulk operations, profile %s', (profile) => {
  it('kmem_cache_alloc_bulk fills the array with distinct objects across slabs, bumping the tid', () => {
    const { m, s, cpu0 } = setup(profile);
    const tid0 = m.u32[cpuSlabOff(s, 0) + CPU_TID];
    const p: number[] = [];
    expect(kmemCacheAllocBulk(s, cpu0, 40, p)).toBe(40);
    expect(new Set(p).size).toBe(40);
    expect(new Set(p.map((o) => virtToHeadPfn(m, o))).size).toBeGreaterThan(1); // 16 per slab: more than one slab
    expect(m.u32[cpuSlabOff(s, 0) + CPU_TID]).not.toBe(tid0);
    expect(statOf(s, 0, ST.alloc_fastpath)).toBe(0); // bulk pops are not counted as fastpath before 6.8
    expect(validateCache(s).errors).toBe(0);
  });

  it('kmem_cache_free_bulk frees everything, slab by slab, fast path for the cpu slab', () => {
    const { m, s, cpu0 } = setup(profile);
    const p: number[] = [];
    kmemCacheAllocBulk(s, cpu0, 40, p);
    const copy = [...p];
    kmemCacheFreeBulk(s, cpu0, copy.length, copy);
    // the cpu slab's objects go back with one fast CAS; the others through __slab_free with cnt
    expect(statOf(s, 0, ST.free_fastpath)).toBe(1);
    expect(statOf(s, 0, ST.free_slowpath)).toBeGreaterThanOrEqual(1);
    expect(validateCache(s).errors).toBe(0);
    // everything is free again: 40 allocations come back without a new slab
    const slabs = statOf(s, 0, ST.alloc_slab);
    const again: number[] = [];
    kmemCacheAllocBulk(s, cpu0, 40, again);
    expect(statOf(s, 0, ST.alloc_slab)).toBe(slabs);
    // the same slabs serve them (3 slabs of 16 hold all 40)
    expect(new Set(again.map((o) => virtToHeadPfn(m, o)))).toEqual(new Set(p.map((o) => virtToHeadPfn(m, o))));
    expect(new Set(again).size).toBe(40);
  });

  it('a bad object or a duplicate in a bulk free is refused before anything is freed', () => {
    const { m, s, cpu0 } = setup(profile);
    const p: number[] = [];
    kmemCacheAllocBulk(s, cpu0, 8, p);
    const before = digest(m);
    expect(() => kmemCacheFreeBulk(s, cpu0, 3, [p[0], p[1], p[0]])).toThrow(SlabError);
    expect(() => kmemCacheFreeBulk(s, cpu0, 2, [p[0], p[1] + 8])).toThrow(/not the start of an object/);
    expect(digest(m)).toBe(before);
  });

  it('bulk alloc returns 0 and gives everything back when memory runs out', () => {
    const m = create({ cpus: 1, memory: 1 << 20, profile });
    slubInit(m);
    const s = cacheById(m, kmemCacheCreate(m, 'big', 2048, { flags: ['no_merge'] }));
    const cpu = makeCpu(m, 0);
    const p: number[] = [];
    expect(kmemCacheAllocBulk(s, cpu, 2000, p)).toBe(0);
    expect(validateCache(s).errors).toBe(0);
    expect(slabAllocNode(s, cpu, -1)).not.toBe(0); // the memory came back
  });
});

describe.each(['5.4', '6.6'] as Profile[])('kmem_cache_shrink, profile %s', (profile) => {
  it('discards empty partial slabs and sorts the rest by free objects, fewest first, equal counts reversed', () => {
    const { m, s, cpu0, cpu1 } = setup(profile);
    // 6 slabs of 16: fill them, then free a varying number from each via CPU 1 (remote frees)
    const slabs: number[][] = [];
    for (let k = 0; k < 6; k++) slabs.push(Array.from({ length: 16 }, () => slabAllocNode(s, cpu0, -1)));
    const freeCounts = [3, 16, 1, 3, 16, 2];
    slabs.forEach((objs, k) => {
      for (let i = 0; i < freeCounts[k]; i++) kmemCacheFree(s, cpu1, objs[i]);
    });
    expect(kmemCacheShrink(m, s.id)).toBe(1);
    const n = s.node0 + 0 * CACHE_NODE.STRIDE;
    const order = listPfns(m, m.u32[n + CACHE_NODE.partialHead]);
    const pfnOf = (k: number) => virtToHeadPfn(m, slabs[k][0]);
    const freeOf = new Map(slabs.map((_, k) => [pfnOf(k), freeCounts[k]]));
    const frees = order.map((pfn) => freeOf.get(pfn));
    expect(frees).toEqual([...frees].sort((a, b) => (a ?? 0) - (b ?? 0)));
    expect(frees).not.toContain(16); // empty slabs were discarded
    // the two slabs with 3 free objects come out in reverse of their list order
    const threes = order.filter((pfn) => freeOf.get(pfn) === 3);
    expect(threes).toHaveLength(2);
    expect(validateCache(s).errors).toBe(0);
  });
});
