// Allocation slow-path scenarios (spec slub.md §2 "Slowpath: ___slab_alloc"):
// get_partial_node, cpu_partial_alloc, the get_freelist bypass and alloc_refill, each
// with the exact stat deltas and the place of every slab involved.
// Geometry (expectGeometry1024): 16 objects per slab; 5.4 cpu_partial 6, 6.6 cpu_partial_slabs 3.
import { describe, expect, it } from 'vitest';
import { NIL } from '../src/shm/structs.js';
import {
  alloc,
  cpuFreelist,
  cpuPartialList,
  cpuSlab,
  expectGeometry1024,
  expectValid,
  free,
  fullSlabs,
  nodeCounts,
  nodePartial,
  nodePartialSlabs,
  PROFILES,
  partialHeadCounts,
  recordOf,
  slabOf,
  track,
  world,
} from './slub_scenarios_helpers.js';

describe.each(PROFILES)('get_partial_node (profile %s)', (profile) => {
  // Six node-partial slabs with one free object each. CPU0 has no slab, so its first
  // allocation calls get_partial_node: the head slab becomes the cpu slab with its whole
  // freelist (ALLOC_FROM_PARTIAL), then more go frozen to CPU0's partial list
  // (CPU_PARTIAL_NODE) until
  //   5.4: available (free objects of all acquired slabs, first included) > cpu_partial/2 = 3
  //        -> after 4 slabs (available 4): 1 cpu slab + 3 cpu-partial;
  //   6.6: extra slabs > cpu_partial_slabs/2 = 1 -> after 2 extra: 1 cpu slab + 2 cpu-partial.
  it('one free object per slab: takes slabs until the profile threshold', () => {
    const w = world(profile);
    const { s } = w;
    expectGeometry1024(w, profile);
    const P = nodePartialSlabs(w, 6, s.objects - 1);
    const taken = profile === '5.4' ? 4 : 3;

    const d = track(s);
    const [x] = alloc(w, 0, 1);
    expect(d()).toEqual({ cpu0: { alloc_slowpath: 1, alloc_from_partial: 1, cpu_partial_node: taken - 1 } });
    expect(x).toBe(P[0].freed[0]); // the head slab's only free object
    expect(cpuSlab(s, 0)).toBe(P[0].pfn);
    expect(cpuFreelist(s, 0)).toBe(0);
    expect(recordOf(s, P[0].pfn)).toMatchObject({
      frozen: true,
      inuse: 16,
      slabFree: 0,
      cpuFree: 0,
      place: { kind: 'cpu', cpu: 0 },
    });
    // acquire_slab mode 0 leaves the objects on the slab: inuse stays 15
    const extra = P.slice(1, taken).map((p) => p.pfn);
    for (const pfn of extra) {
      expect(recordOf(s, pfn)).toMatchObject({ frozen: true, inuse: 15, slabFree: 1, place: { kind: 'cpu_partial', cpu: 0 } });
    }
    expect(cpuPartialList(s, 0)).toEqual([...extra].reverse());
    expect(partialHeadCounts(s, 0)).toEqual(profile === '5.4' ? { pages: taken - 1, pobjects: taken - 1 } : { slabs: taken - 1 });
    expect(nodePartial(s)).toEqual(P.slice(taken).map((p) => p.pfn));
    expect(nodeCounts(s)).toEqual({ nrPartial: 6 - taken, nrSlabs: 6, totalObjects: 96 });
    expectValid(s);
  });

  // Eight free objects per slab: 5.4 stops after the first (available 8 > 3); 6.6 counts
  // slabs, not objects, and still takes 2 extra.
  it('eight free objects per slab: 5.4 takes one slab, 6.6 still takes three', () => {
    const w = world(profile);
    const { s } = w;
    const P = nodePartialSlabs(w, 6, 8);
    const taken = profile === '5.4' ? 1 : 3;

    const d = track(s);
    const [x] = alloc(w, 0, 1);
    expect(d()).toEqual({
      cpu0:
        profile === '5.4'
          ? { alloc_slowpath: 1, alloc_from_partial: 1 }
          : { alloc_slowpath: 1, alloc_from_partial: 1, cpu_partial_node: 2 },
    });
    expect(slabOf(w, x)).toBe(P[0].pfn);
    expect(recordOf(s, P[0].pfn)).toMatchObject({
      frozen: true,
      inuse: 16,
      slabFree: 0,
      cpuFree: 7,
      place: { kind: 'cpu', cpu: 0 },
    });
    expect(cpuPartialList(s, 0)).toEqual(
      P.slice(1, taken)
        .map((p) => p.pfn)
        .reverse(),
    );
    expect(nodePartial(s)).toEqual(P.slice(taken).map((p) => p.pfn));
    expect(nodeCounts(s).nrPartial).toBe(6 - taken);
    expectValid(s);
  });
});

describe.each(PROFILES)('cpu_partial_alloc (profile %s)', (profile) => {
  it('when the cpu slab is exhausted the next slab comes from the cpu partial list', () => {
    const w = world(profile);
    const { s } = w;
    const [A] = fullSlabs(w, 1, 0); // A: full, on no list
    const mine = alloc(w, 1, s.objects); // B: CPU1's cpu slab, exhausted
    const B = slabOf(w, mine[0]);
    free(w, 1, [A.objs[7]]); // A goes to CPU1's partial list with one free object
    expect(cpuPartialList(s, 1)).toEqual([A.pfn]);

    const d = track(s);
    const [x] = alloc(w, 1, 1);
    // get_freelist(B) finds nothing (DEACTIVATE_BYPASS), new_slab pops A (CPU_PARTIAL_ALLOC),
    // redo: get_freelist(A) takes its freelist (ALLOC_REFILL)
    expect(d()).toEqual({ cpu1: { alloc_slowpath: 1, deactivate_bypass: 1, cpu_partial_alloc: 1, alloc_refill: 1 } });
    expect(x).toBe(A.objs[7]);
    expect(cpuPartialList(s, 1)).toEqual([]);
    expect(recordOf(s, A.pfn)).toMatchObject({
      frozen: true,
      inuse: 16,
      slabFree: 0,
      cpuFree: 0,
      place: { kind: 'cpu', cpu: 1 },
    });
    expect(recordOf(s, B)).toMatchObject({ frozen: false, inuse: 16, slabFree: 0, place: { kind: 'none' } });
    expectValid(s);
  });

  it('a cpu-partial slab with several free objects serves the next allocations on the fast path', () => {
    const w = world(profile);
    const { s } = w;
    const [A] = fullSlabs(w, 1, 0);
    alloc(w, 1, s.objects);
    free(w, 1, A.objs.slice(0, 3)); // cpu_partial_free, then two free_frozen

    const d = track(s);
    const got = alloc(w, 1, 3);
    expect(d()).toEqual({
      cpu1: { alloc_slowpath: 1, deactivate_bypass: 1, cpu_partial_alloc: 1, alloc_refill: 1, alloc_fastpath: 2 },
    });
    expect(got).toEqual([A.objs[2], A.objs[1], A.objs[0]]); // slab->freelist is LIFO
    expect(recordOf(s, A.pfn)).toMatchObject({ frozen: true, inuse: 16, cpuFree: 0, place: { kind: 'cpu', cpu: 1 } });
    expectValid(s);
  });
});

describe.each(PROFILES)('get_freelist bypass (profile %s)', (profile) => {
  it('a fully allocated cpu slab: the next allocation counts deactivate_bypass; the old slab is left full, unfrozen, on no list', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, s.objects);
    const A = slabOf(w, objs[0]);

    const d = track(s);
    const [x] = alloc(w, 0, 1);
    expect(d()).toEqual({ cpu0: { alloc_slowpath: 1, deactivate_bypass: 1, alloc_slab: 1 } });
    const B = slabOf(w, x);
    expect(B).not.toBe(A);
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 16, slabFree: 0, cpuFree: 0, place: { kind: 'none' } });
    expect(recordOf(s, B)).toMatchObject({ frozen: true, inuse: 16, slabFree: 0, cpuFree: 15, place: { kind: 'cpu', cpu: 0 } });
    expect(nodeCounts(s)).toEqual({ nrPartial: 0, nrSlabs: 2, totalObjects: 32 });
    expectValid(s);
  });

  it('with node-partial slabs available, the slab after the bypass comes from the node (alloc_from_partial)', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, s.objects);
    const A = slabOf(w, objs[0]);
    const P = nodePartialSlabs(w, 1, 8);

    const d = track(s);
    const [x] = alloc(w, 0, 1);
    expect(d()).toEqual({ cpu0: { alloc_slowpath: 1, deactivate_bypass: 1, alloc_from_partial: 1 } });
    expect(slabOf(w, x)).toBe(P[0].pfn);
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 16, place: { kind: 'none' } });
    expect(nodeCounts(s)).toEqual({ nrPartial: 0, nrSlabs: 2, totalObjects: 32 });
    expectValid(s);
  });
});

describe.each(PROFILES)('alloc_refill (profile %s)', (profile) => {
  it('remote frees into the cpu slab are taken by get_freelist once the cpu freelist runs out', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, s.objects); // CPU0's freelist is now empty
    const A = slabOf(w, objs[0]);
    free(w, 1, [objs[2]]);
    free(w, 2, [objs[9]]);
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 14, slabFree: 2, cpuFree: 0 });

    const d = track(s);
    const [x] = alloc(w, 0, 1);
    expect(d()).toEqual({ cpu0: { alloc_slowpath: 1, alloc_refill: 1 } });
    expect(x).toBe(objs[9]); // the head of slab->freelist: the last remote free
    // the slab stays frozen and CPU0's: the rest of the freelist is CPU0's freelist now
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 16, slabFree: 0, cpuFree: 1, place: { kind: 'cpu', cpu: 0 } });

    const d2 = track(s);
    const [y] = alloc(w, 0, 1);
    expect(d2()).toEqual({ cpu0: { alloc_fastpath: 1 } });
    expect(y).toBe(objs[2]);

    const d3 = track(s);
    alloc(w, 0, 1);
    expect(d3()).toEqual({ cpu0: { alloc_slowpath: 1, deactivate_bypass: 1, alloc_slab: 1 } });
    expect(cpuSlab(s, 0)).not.toBe(A);
    expect(cpuSlab(s, 0)).not.toBe(NIL);
    expectValid(s);
  });
});
