// SLUB free-side scenarios (spec slub.md §3 "Slowpath: __slab_free", put_cpu_partial,
// unfreeze_partials; §1 "An empty slab is discarded only if n->nr_partial >= min_partial").
// Each test drives one case from the main thread with explicit CPU ids and asserts the
// exact stat deltas (track(): every counter that moved, and nothing else) and the list
// every slab ends on. Geometry (expectGeometry1024): 16 objects per slab, min_partial 5,
// 5.4 cpu_partial 6, 6.6 cpu_partial_slabs 3.
import { describe, expect, it } from 'vitest';
import { minPartial } from '../src/mm/slub/kmem_cache.js';
import { freePageCount } from '../src/report/buddyinfo.js';
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
  setMinPartial,
  slabOf,
  slabPfnsOf,
  track,
  world,
} from './slub_scenarios_helpers.js';

describe.each(PROFILES)('__slab_free: the four cases (profile %s)', (profile) => {
  it('(a) a free into another CPU’s frozen cpu slab counts free_frozen; the slab stays that CPU’s cpu slab', () => {
    const w = world(profile);
    const { s } = w;
    expectGeometry1024(w, profile);
    const objs = alloc(w, 0, s.objects); // a new slab A, all of it taken by CPU0
    const A = slabOf(w, objs[0]);
    expect(objs.every((o) => slabOf(w, o) === A)).toBe(true);
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 16, slabFree: 0, cpuFree: 0, place: { kind: 'cpu', cpu: 0 } });

    const d = track(s);
    free(w, 1, [objs[5]]); // CPU1's cpu slab is not A: __slab_free; A is frozen: no list work
    expect(d()).toEqual({ cpu1: { free_slowpath: 1, free_frozen: 1 } });
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 15, slabFree: 1, cpuFree: 0, place: { kind: 'cpu', cpu: 0 } });
    expect(cpuSlab(s, 0)).toBe(A);
    expect(cpuPartialList(s, 1)).toEqual([]);
    expect(nodeCounts(s)).toEqual({ nrPartial: 0, nrSlabs: 1, totalObjects: 16 });
    expectValid(s);
  });

  it('(b) the first free into a full slab (unfrozen, on no list) freezes it onto the FREEING CPU’s partial list', () => {
    const w = world(profile);
    const { s } = w;
    // objects + 1 allocations on CPU0: the last finds A exhausted (DEACTIVATE_BYPASS), so A
    // is left full, unfrozen, on no list, and CPU0 moves on to a new slab B.
    const objs = alloc(w, 0, s.objects + 1);
    const A = slabOf(w, objs[0]);
    const B = slabOf(w, objs[s.objects]);
    expect(B).not.toBe(A);
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 16, slabFree: 0, place: { kind: 'none' } });

    const d = track(s);
    free(w, 2, [objs[3]]); // a remote free by CPU2 (neither A's last owner nor anyone's cpu slab)
    expect(d()).toEqual({ cpu2: { free_slowpath: 1, cpu_partial_free: 1 } });
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 15, slabFree: 1, place: { kind: 'cpu_partial', cpu: 2 } });
    expect(cpuPartialList(s, 2)).toEqual([A]);
    expect(cpuPartialList(s, 0)).toEqual([]); // not CPU0's, although CPU0 allocated A
    // the head's counters: 5.4 pages = 1, pobjects = objects - inuse = 1; 6.6 slabs = 1
    expect(partialHeadCounts(s, 2)).toEqual(profile === '5.4' ? { pages: 1, pobjects: 1 } : { slabs: 1 });
    expect(nodeCounts(s).nrPartial).toBe(0);

    // A is frozen now: the next free into it, from any CPU, is a free into a frozen slab.
    const d2 = track(s);
    free(w, 0, [objs[4]]);
    expect(d2()).toEqual({ cpu0: { free_slowpath: 1, free_frozen: 1 } });
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 14, slabFree: 2, place: { kind: 'cpu_partial', cpu: 2 } });
    expect(recordOf(s, B)).toMatchObject({ place: { kind: 'cpu', cpu: 0 } });
    expectValid(s);
  });

  it('(c) freeing the last object of a node-partial slab discards it when nr_partial >= min_partial', () => {
    const w = world(profile);
    const { s, m } = w;
    const mp = minPartial(s);
    expect(mp).toBe(5);
    const slabs = nodePartialSlabs(w, mp, 1); // nr_partial == min_partial, one object left in each
    expect(nodeCounts(s)).toEqual({ nrPartial: 5, nrSlabs: 5, totalObjects: 80 });
    const victim = slabs[1];
    const pagesBefore = freePageCount(m);

    const d = track(s);
    free(w, 1, victim.live);
    // slab_empty: remove_partial (FREE_REMOVE_PARTIAL), unlock, FREE_SLAB, discard_slab
    expect(d()).toEqual({ cpu1: { free_slowpath: 1, free_remove_partial: 1, free_slab: 1 } });
    expect(slabPfnsOf(s)).not.toContain(victim.pfn);
    expect(freePageCount(m)).toBe(pagesBefore + (1 << s.order));
    expect(nodeCounts(s)).toEqual({ nrPartial: 4, nrSlabs: 4, totalObjects: 64 });
    expect(nodePartial(s)).toEqual(slabs.filter((x) => x !== victim).map((x) => x.pfn));
    expectValid(s);
  });

  it('(c) freeing the last object of a node-partial slab keeps it on the node list when nr_partial < min_partial', () => {
    const w = world(profile);
    const { s, m } = w;
    const slabs = nodePartialSlabs(w, minPartial(s) - 1, 1); // nr_partial 4 < min_partial 5
    const order = nodePartial(s);
    const victim = slabs[2];
    const pagesBefore = freePageCount(m);

    const d = track(s);
    free(w, 1, victim.live);
    expect(d()).toEqual({ cpu1: { free_slowpath: 1 } });
    expect(recordOf(s, victim.pfn)).toMatchObject({ frozen: false, inuse: 0, slabFree: 16, place: { kind: 'node_partial' } });
    expect(nodePartial(s)).toEqual(order); // not moved either
    expect(nodeCounts(s)).toEqual({ nrPartial: 4, nrSlabs: 4, totalObjects: 64 });
    expect(freePageCount(m)).toBe(pagesBefore);
    expectValid(s);
  });

  it('(d) a free into a node-partial slab that stays partial only counts free_slowpath', () => {
    const w = world(profile);
    const { s } = w;
    const slabs = nodePartialSlabs(w, 3, 4);
    const order = nodePartial(s);

    const d = track(s);
    free(w, 2, [slabs[1].live[0]]);
    expect(d()).toEqual({ cpu2: { free_slowpath: 1 } });
    expect(recordOf(s, slabs[1].pfn)).toMatchObject({ frozen: false, inuse: 3, slabFree: 13, place: { kind: 'node_partial' } });
    expect(nodePartial(s)).toEqual(order);
    expect(nodeCounts(s)).toEqual({ nrPartial: 3, nrSlabs: 3, totalObjects: 48 });
    expectValid(s);
  });
});

describe.each(PROFILES)('put_cpu_partial: cpu_partial_drain (profile %s)', (profile) => {
  // Every slab below enters CPU1's partial list through a first free into a full slab, so
  // at that moment it has objects - inuse = 1 free object.
  // 5.4: drain when the old head's pobjects > cpu_partial (6): the put of slab number
  //      cpu_partial + 2 = 8 (old pobjects 7) drains the 7 before it.
  // 6.6: drain when the old head's slabs >= cpu_partial_slabs (3): the put of slab number
  //      cpu_partial_slabs + 1 = 4 drains the 3 before it.
  const k = profile === '5.4' ? 8 : 4;

  it(`the free that puts slab number ${k} drains the list to the node partial list (free_add_partial, tail)`, () => {
    const w = world(profile);
    const { s } = w;
    expectGeometry1024(w, profile);
    const full = fullSlabs(w, k, 0);
    for (let i = 0; i < k - 1; i++) {
      const d = track(s);
      free(w, 1, [full[i].objs[0]]);
      expect(d()).toEqual({ cpu1: { free_slowpath: 1, cpu_partial_free: 1 } });
      expect(partialHeadCounts(s, 1)).toEqual(profile === '5.4' ? { pages: i + 1, pobjects: i + 1 } : { slabs: i + 1 });
    }
    const held = full.slice(0, k - 1).map((x) => x.pfn);
    expect(cpuPartialList(s, 1)).toEqual([...held].reverse()); // pushed at the head
    expect(nodeCounts(s).nrPartial).toBe(0);

    const d = track(s);
    free(w, 1, [full[k - 1].objs[0]]);
    expect(d()).toEqual({ cpu1: { free_slowpath: 1, cpu_partial_free: 1, cpu_partial_drain: 1, free_add_partial: k - 1 } });
    // the new list holds only the slab just put
    expect(cpuPartialList(s, 1)).toEqual([full[k - 1].pfn]);
    expect(partialHeadCounts(s, 1)).toEqual(profile === '5.4' ? { pages: 1, pobjects: 1 } : { slabs: 1 });
    // unfreeze_partials walks the chain from its head and adds each slab at the node TAIL
    expect(nodePartial(s)).toEqual([...held].reverse());
    for (const pfn of held) {
      expect(recordOf(s, pfn)).toMatchObject({ frozen: false, inuse: 15, slabFree: 1, place: { kind: 'node_partial' } });
    }
    expect(nodeCounts(s)).toEqual({ nrPartial: k - 1, nrSlabs: k, totalObjects: 16 * k });
    expectValid(s);
  });

  it('an empty slab in the drained list is discarded when the node has min_partial partial slabs (deactivate_empty, free_slab)', () => {
    const w = world(profile);
    const { s, m } = w;
    const full = fullSlabs(w, k, 0);
    const pre = nodePartialSlabs(w, minPartial(s), 2); // node: nr_partial == min_partial
    const E = full[0];
    // E: the first free puts it on CPU1's list, the other 15 are frees into a frozen slab
    const dE = track(s);
    free(w, 1, E.objs);
    expect(dE()).toEqual({ cpu1: { free_slowpath: 16, cpu_partial_free: 1, free_frozen: 15 } });
    expect(recordOf(s, E.pfn)).toMatchObject({ frozen: true, inuse: 0, place: { kind: 'cpu_partial', cpu: 1 } });
    for (let i = 1; i < k - 1; i++) free(w, 1, [full[i].objs[0]]);
    // pobjects counts free objects at put time: E added 1, like the others
    expect(partialHeadCounts(s, 1)).toEqual(profile === '5.4' ? { pages: k - 1, pobjects: k - 1 } : { slabs: k - 1 });
    const pagesBefore = freePageCount(m);

    const d = track(s);
    free(w, 1, [full[k - 1].objs[0]]);
    // the chain is [full[k-2] .. full[1], E]: k-2 slabs to the node tail, then E is empty
    // with nr_partial >= min_partial: queued, then DEACTIVATE_EMPTY + discard + FREE_SLAB
    expect(d()).toEqual({
      cpu1: {
        free_slowpath: 1,
        cpu_partial_free: 1,
        cpu_partial_drain: 1,
        free_add_partial: k - 2,
        deactivate_empty: 1,
        free_slab: 1,
      },
    });
    expect(slabPfnsOf(s)).not.toContain(E.pfn);
    expect(freePageCount(m)).toBe(pagesBefore + (1 << s.order));
    const moved = full.slice(1, k - 1).map((x) => x.pfn);
    expect(nodePartial(s)).toEqual([...pre.map((x) => x.pfn), ...moved.reverse()]);
    expect(nodeCounts(s)).toEqual({ nrPartial: 5 + k - 2, nrSlabs: 5 + k - 1, totalObjects: 16 * (5 + k - 1) });
    expectValid(s);
  });

  it('an empty slab drained while the node is below min_partial is kept on the node list', () => {
    const w = world(profile);
    const { s } = w;
    const full = fullSlabs(w, k, 0);
    for (let i = 0; i < k - 2; i++) free(w, 1, [full[i].objs[0]]);
    const E = full[k - 2]; // put last before the trigger: the head, unfrozen first
    free(w, 1, E.objs);
    expect(cpuPartialList(s, 1)[0]).toBe(E.pfn);

    const d = track(s);
    free(w, 1, [full[k - 1].objs[0]]);
    // E is met with nr_partial == 0 < min_partial: added like the others, no discard
    expect(d()).toEqual({ cpu1: { free_slowpath: 1, cpu_partial_free: 1, cpu_partial_drain: 1, free_add_partial: k - 1 } });
    expect(recordOf(s, E.pfn)).toMatchObject({ frozen: false, inuse: 0, slabFree: 16, place: { kind: 'node_partial' } });
    expect(nodePartial(s)).toEqual([
      E.pfn,
      ...full
        .slice(0, k - 2)
        .map((x) => x.pfn)
        .reverse(),
    ]);
    expect(nodeCounts(s)).toEqual({ nrPartial: k - 1, nrSlabs: k, totalObjects: 16 * k });
    expectValid(s);
  });

  it('the limit counts free objects in 5.4 and slabs in 6.6 (a list started by get_partial_node)', () => {
    const w = world(profile);
    const { s } = w;
    const X = fullSlabs(w, 6, 1); // full slabs on no list, to be freed into later
    const P = nodePartialSlabs(w, 3, 14); // two free objects each
    alloc(w, 0, 1); // get_partial_node on CPU0: P0 becomes the cpu slab, then
    // 5.4: P1 (available 2 + 2 = 4 > 3: stop), pobjects 2;  6.6: P1, P2 (2 extra slabs > 1)
    const started = profile === '5.4' ? [P[1].pfn] : [P[2].pfn, P[1].pfn];
    expect(cpuPartialList(s, 0)).toEqual(started);
    expect(partialHeadCounts(s, 0)).toEqual(profile === '5.4' ? { pages: 1, pobjects: 2 } : { slabs: 2 });
    // Frees into full slabs X0, X1, ... from CPU0, each adding one slab and one free object:
    // 5.4 drains at the put whose old head has pobjects 7 > 6: X5 (after 2+5 = 7);
    // 6.6 drains at the put whose old head has slabs 3 >= 3: X1.
    const trigger = profile === '5.4' ? 5 : 1;
    for (let i = 0; i < trigger; i++) {
      const d = track(s);
      free(w, 0, [X[i].objs[0]]);
      expect(d()).toEqual({ cpu0: { free_slowpath: 1, cpu_partial_free: 1 } });
    }
    const held = cpuPartialList(s, 0);
    expect(held).toEqual([
      ...X.slice(0, trigger)
        .map((x) => x.pfn)
        .reverse(),
      ...started,
    ]);
    expect(partialHeadCounts(s, 0)).toEqual(profile === '5.4' ? { pages: 6, pobjects: 7 } : { slabs: 3 });

    const before = nodePartial(s); // 5.4: [P2]; 6.6: []
    expect(before).toEqual(profile === '5.4' ? [P[2].pfn] : []);
    const d = track(s);
    free(w, 0, [X[trigger].objs[0]]);
    expect(d()).toEqual({
      cpu0: { free_slowpath: 1, cpu_partial_free: 1, cpu_partial_drain: 1, free_add_partial: held.length },
    });
    expect(cpuPartialList(s, 0)).toEqual([X[trigger].pfn]);
    expect(nodePartial(s)).toEqual([...before, ...held]);
    expectValid(s);
  });
});

describe.each(PROFILES)('min_partial: discard of an emptied slab, or keep it (profile %s)', (profile) => {
  // The last object of a node-partial slab is freed. slab_empty applies iff
  // n->nr_partial (this slab included) >= min_partial; min_partial is set as the sysfs
  // write does. [min_partial, node-partial slabs, discarded?]
  it.each([
    [0, 1, true],
    [1, 1, true],
    [2, 1, false],
    [3, 3, true],
    [4, 3, false],
    [10, 9, false],
    [10, 10, true],
  ])('min_partial %i with %i node-partial slabs: discarded %s', (mp, count, discarded) => {
    const w = world(profile);
    const { s, m } = w;
    setMinPartial(s, mp);
    const slabs = nodePartialSlabs(w, count, 1);
    const victim = slabs[count - 1];
    const pagesBefore = freePageCount(m);

    const d = track(s);
    free(w, 0, victim.live);
    if (discarded) {
      expect(d()).toEqual({ cpu0: { free_slowpath: 1, free_remove_partial: 1, free_slab: 1 } });
      expect(recordOf(s, victim.pfn)).toBeUndefined();
      expect(freePageCount(m)).toBe(pagesBefore + (1 << s.order));
      expect(nodeCounts(s)).toEqual({ nrPartial: count - 1, nrSlabs: count - 1, totalObjects: 16 * (count - 1) });
    } else {
      expect(d()).toEqual({ cpu0: { free_slowpath: 1 } });
      expect(recordOf(s, victim.pfn)).toMatchObject({ frozen: false, inuse: 0, place: { kind: 'node_partial' } });
      expect(freePageCount(m)).toBe(pagesBefore);
      expect(nodeCounts(s)).toEqual({ nrPartial: count, nrSlabs: count, totalObjects: 16 * count });
    }
    expectValid(s);
  });
});

describe.each(PROFILES)('remote free into a frozen slab while its owner uses it (profile %s)', (profile) => {
  it('frees by CPU1 and CPU2 wait on slab->freelist; CPU0 keeps allocating from its own freelist', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, 4); // A: CPU0's cpu slab, 12 objects left on CPU0's freelist
    const A = slabOf(w, objs[0]);
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 16, slabFree: 0, cpuFree: 12, place: { kind: 'cpu', cpu: 0 } });

    const d = track(s);
    free(w, 1, [objs[1]]);
    free(w, 2, [objs[2]]);
    expect(d()).toEqual({ cpu1: { free_slowpath: 1, free_frozen: 1 }, cpu2: { free_slowpath: 1, free_frozen: 1 } });
    // inuse counts the cpu freelist too: 16 - 2 remote frees
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 14, slabFree: 2, cpuFree: 12, place: { kind: 'cpu', cpu: 0 } });

    // The owner: its own frees and allocations stay on the fast path and never see the
    // remotely freed objects, which only get_freelist() can take.
    const d2 = track(s);
    free(w, 0, [objs[0]]);
    const more = alloc(w, 0, 13);
    expect(d2()).toEqual({ cpu0: { free_fastpath: 1, alloc_fastpath: 13 } });
    expect(more[0]).toBe(objs[0]); // LIFO cpu freelist
    expect(more.every((o) => slabOf(w, o) === A)).toBe(true);
    expect(more).not.toContain(objs[1]);
    expect(more).not.toContain(objs[2]);
    expect(cpuFreelist(s, 0)).toBe(0);
    expect(recordOf(s, A)).toMatchObject({ frozen: true, inuse: 14, slabFree: 2, cpuFree: 0, place: { kind: 'cpu', cpu: 0 } });
    expectValid(s);
  });
});
