// Cache lifecycle and whole-run identities (spec slub.md §6 kmem_cache_destroy, §9 stats):
// destroy refused with objects leaked (state untouched) then accepted once they are
// freed, with every page back in the page allocator; and the stat identities over a
// seeded random run on 3 CPUs with remote frees.
import { describe, expect, it } from 'vitest';
import { SlabError } from '../src/errors.js';
import { kmemCacheDestroy } from '../src/mm/slub/cache.js';
import { flushCpuSlab } from '../src/mm/slub/deactivate.fast.js';
import { minPartial } from '../src/mm/slub/kmem_cache.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { liveObjects, slabRecords } from '../src/mm/slub/walk.js';
import { freePageCount, nrFree } from '../src/report/buddyinfo.js';
import { Rng } from '../src/rng.js';
import { create } from '../src/shm/machine.js';
import { CACHE_STATE, KMEM_CACHE, type StatItem } from '../src/shm/structs.js';
import { digest } from './helpers.js';
import {
  alloc,
  expectValid,
  free,
  MiB,
  nodeCounts,
  PROFILES,
  placeOf,
  slabOf,
  slabPfnsOf,
  statSum,
  world,
} from './slub_scenarios_helpers.js';

describe.each(PROFILES)('kmem_cache_destroy with a leaked object (profile %s)', (profile) => {
  it('EBUSY naming the objects, state unchanged; after the free it succeeds and all pages return', () => {
    const w = world(profile);
    const { s, m } = w;
    const O = s.objects;
    // CPU0 fills slabs A, B, C and takes 5 objects of D (its cpu slab).
    const objs = alloc(w, 0, 3 * O + 5);
    const [A, B, C, D] = [0, O, 2 * O, 3 * O].map((i) => slabOf(w, objs[i]));
    const leaked = [objs[O + 3], objs[3 * O + 1]]; // one in B, one in D
    // Everything else is freed by CPU i % 3: the first free into A is CPU0's (A to CPU0's
    // partial list), into B CPU1's, into C CPU2's; D's objects go back to CPU0's freelist
    // or, from CPU1/2, onto D->freelist.
    objs.forEach((a, i) => {
      if (!leaked.includes(a)) free(w, i % 3, [a]);
    });
    flushCpuSlab(s, w.cpu[2]); // C (empty) to the node list: nr_partial 0 < min_partial, kept
    expect([A, B, C, D].map((pfn) => placeOf(s, pfn))).toEqual([
      { kind: 'cpu_partial', cpu: 0 },
      { kind: 'cpu_partial', cpu: 1 },
      { kind: 'node_partial' },
      { kind: 'cpu', cpu: 0 },
    ]);
    expectValid(s);

    const before = digest(m);
    let err: unknown;
    try {
      kmemCacheDestroy(m, w.id);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SlabError);
    expect((err as SlabError).code).toBe('EBUSY');
    const msg = (err as SlabError).message;
    expect(msg).toContain('Objects remaining in scn');
    for (const a of leaked) expect(msg).toContain(`0x${a.toString(16)}`);
    expect(digest(m)).toBe(before); // refused before anything changed
    expect(m.u32[s.base + KMEM_CACHE.state]).toBe(CACHE_STATE.live);

    free(w, 3, leaked);
    kmemCacheDestroy(m, w.id);
    expect(m.u32[s.base + KMEM_CACHE.state]).toBe(CACHE_STATE.destroyed);
    expect(slabPfnsOf(s)).toEqual([]);
    expect(nodeCounts(s)).toEqual({ nrPartial: 0, nrSlabs: 0, totalObjects: 0 });
    expect(freePageCount(m)).toBe(w.freshFreePages);
    // and the buddy lists are merged back to those of a fresh machine
    const fresh = create({ cpus: m.cfg.cpus, nodes: 1, memory: 16 * MiB, profile });
    expect(nrFree(m, 0)).toEqual(nrFree(fresh, 0));
  });
});

describe.each(PROFILES)('stat identities over a random run on 3 CPUs (profile %s)', (profile) => {
  it.each([1, 2, 3])('seed %i', (seed) => {
    const w = world(profile, 256, 3);
    const { s, m } = w;
    const rng = new Rng(seed, 77);
    const live: number[] = [];
    let allocs = 0;
    let frees = 0;
    let flushes = 0;
    const STEPS = 20_000;
    for (let step = 0; step < STEPS; step++) {
      const r = rng.below(1000);
      // the live set drifts towards a target that swings between 400 objects (25 slabs
      // of 16) and 30 every 2500 steps, so slabs fill, empty, move between lists and
      // are discarded all the time
      const target = Math.floor(step / 2500) % 2 === 0 ? 400 : 30;
      const pAlloc = live.length < target ? 600 : 400;
      if (r < 5) {
        flushCpuSlab(s, w.cpu[rng.below(3)]);
        flushes++;
      } else if (r < 5 + pAlloc || live.length === 0) {
        live.push(...alloc(w, rng.below(3), 1));
        allocs++;
      } else {
        const i = rng.below(live.length);
        const a = live[i];
        live[i] = live[live.length - 1];
        live.pop();
        free(w, rng.below(3), [a]); // any CPU: mostly remote frees
        frees++;
      }
    }
    const sum = (item: StatItem) => statSum(s, item);
    expect(sum('alloc_fastpath') + sum('alloc_slowpath')).toBe(allocs);
    expect(sum('free_fastpath') + sum('free_slowpath')).toBe(frees);
    expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
    // every discard in this run is counted (no shrink or destroy): slabs made - freed = held
    expect(sum('alloc_slab') - sum('free_slab')).toBe(nodeCounts(s).nrSlabs);
    expect(slabRecords(s).reduce((n, r) => n + liveObjects(r), 0)).toBe(live.length);
    expect(sum('cmpxchg_double_fail') + sum('cmpxchg_double_cpu_fail')).toBe(0); // one thread: no races
    // the run reached every path the identities are about
    for (const item of [
      'alloc_fastpath',
      'alloc_slowpath',
      'free_fastpath',
      'free_slowpath',
      'free_frozen',
      'free_add_partial',
      'free_remove_partial',
      'alloc_from_partial',
      'alloc_slab',
      'alloc_refill',
      'free_slab',
      'cpuslab_flush',
      'deactivate_bypass',
      'cpu_partial_alloc',
      'cpu_partial_free',
      'cpu_partial_node',
      'cpu_partial_drain',
    ] as const) {
      expect(sum(item), item).toBeGreaterThan(0);
    }
    expect(flushes).toBeGreaterThan(0);

    // Free the rest, flush every CPU: every slab is empty, on the node list, and no more
    // than min_partial of them stay.
    free(w, 0, live.splice(0));
    for (const c of w.cpu) flushCpuSlab(s, c);
    expectValid(s);
    const n = nodeCounts(s);
    expect(n.nrSlabs).toBe(n.nrPartial);
    expect(n.nrPartial).toBeLessThanOrEqual(minPartial(s));
    expect(slabRecords(s).every((r) => r.inuse === 0 && r.place.kind === 'node_partial')).toBe(true);
    kmemCacheDestroy(m, w.id);
    expect(freePageCount(m)).toBe(w.freshFreePages);
  });
});
