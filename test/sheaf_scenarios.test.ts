// The sheaf paths (docs/sheaves.md, /work/shared/spec/sheaves.md §4-§8), each shown by a
// deterministic sequence on both sheaf profiles, with the exact stat deltas and where
// every sheaf ends up. Geometry (sheafWorld defaults): 1024-byte objects, 16 per slab,
// sheaves of C = 12. 6.18 counts a sheaf hit as alloc_cpu_sheaf/free_cpu_sheaf and
// fills sheaves through the cpu slab; 7.0 counts hits as the fast paths and fills them
// with refill_objects().
import { describe, expect, it } from 'vitest';
import { flushAll, kmemCacheShrink } from '../src/mm/slub/cache.js';
import { slabNode } from '../src/mm/slub/slab.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import { alloc, barn, expectClean, free, pcs, SHEAF_PROFILES, sheafWorld } from './sheaf_helpers.js';
import { slabRecords } from '../src/mm/slub/walk.js';
import type { StatItem } from '../src/shm/structs.js';
import { nodeCounts, nodePartial, recordOf, setMinPartial, track } from './slub_scenarios_helpers.js';

const C = 12;

/** The stat a sheaf hit counts on each profile. */
const hit = (profile: string): { alloc: StatItem; free: StatItem } =>
  profile === '6.18' ? { alloc: 'alloc_cpu_sheaf', free: 'free_cpu_sheaf' } : { alloc: 'alloc_fastpath', free: 'free_fastpath' };

describe.each(SHEAF_PROFILES)('allocation through the sheaves (profile %s)', (profile) => {
  it('the first allocation refills a new sheaf from a new slab; the next ones hit main', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    expect(s.sheafCapacity).toBe(C);
    const first = pcs(w, 0);
    expect(first.main?.size).toBe(0); // init_percpu_sheaves(): an empty main sheaf
    expect(first.spare).toBeNull();

    const d = track(s);
    const [a] = alloc(w, 0);
    // main empty, no spare, barn empty: BARN_GET_FAIL; may block, so a new sheaf is
    // allocated and refilled with C objects, becomes main; the old empty main the spare.
    const slabSide =
      profile === '6.18'
        ? { alloc_slowpath: 1, alloc_slab: 1, alloc_fastpath: C - 1 } // one ___slab_alloc, then C-1 pops of the cpu freelist
        : { alloc_slab: 1 }; // refill_objects(): no partial slab, one new slab
    expect(d()).toEqual({ cpu0: { [hit(profile).alloc]: 1, barn_get_fail: 1, sheaf_alloc: 1, sheaf_refill: C, ...slabSide } });
    const after = pcs(w, 0);
    expect(after.spare?.addr).toBe(first.main?.addr);
    expect(after.spare?.size).toBe(0);
    expect(after.main?.size).toBe(C - 1);

    const top = after.main?.objects[C - 2];
    const d2 = track(s);
    const [b] = alloc(w, 0);
    expect(b).toBe(top); // a stack: the last object in is the first out
    expect(d2()).toEqual({ cpu0: { [hit(profile).alloc]: 1 } });
    expect(pcs(w, 0).main?.size).toBe(C - 2);
    expectClean(w, [a, b]);
  });

  it('spare swap: a free finding main full swaps in the spare with room; an allocation finding main empty swaps in a spare with objects', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    const objs = alloc(w, 1, 2); // CPU1's objects, freed on CPU0 below
    free(w, 0, objs.slice(0, 1));
    const before = pcs(w, 0);
    expect(before.main?.size).toBe(1);
    expect(before.spare).toBeNull();
    // Fill main: C - 1 more frees.
    const more = alloc(w, 1, C - 1);
    free(w, 0, more);
    expect(pcs(w, 0).main?.size).toBe(C);
    // No spare yet: the barn has no empty sheaf, so a new one (GFP_NOWAIT) is installed
    // and the full main becomes the spare.
    let d = track(s);
    free(w, 0, objs.slice(1));
    expect(d()).toEqual({ cpu0: { [hit(profile).free]: 1, sheaf_alloc: 1 } });
    const full = pcs(w, 0);
    expect([full.main?.size, full.spare?.size]).toEqual([1, C]);

    // Allocation: main's one object, then main empty, spare full: swap, no stat but the hit.
    const held = alloc(w, 0);
    d = track(s);
    const [x] = alloc(w, 0);
    expect(d()).toEqual({ cpu0: { [hit(profile).alloc]: 1 } });
    const swapped = pcs(w, 0);
    expect(swapped.main?.addr).toBe(full.spare?.addr);
    expect(swapped.spare?.addr).toBe(full.main?.addr);
    expect(x).toBe(full.spare?.objects[C - 1]);

    // And back: main has C - 1, free twice to fill it, then the empty spare is swapped in.
    free(w, 0, [x]);
    const [y] = alloc(w, 0);
    free(w, 0, [y]);
    const oneMore = alloc(w, 2, 1);
    d = track(s);
    free(w, 0, oneMore);
    expect(d()).toEqual({ cpu0: { [hit(profile).free]: 1 } });
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([1, C]);
    expectClean(w, held);
  });

  it('barn put and get: a full main is traded for an empty sheaf (BARN_PUT), an empty main for a full one (BARN_GET)', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    // CPU0 frees 2C + 1 objects: main full, spare full, then one more: no empty sheaf
    // in the barn (ENOMEM), a new one is allocated and the full main goes to the barn.
    const objs = alloc(w, 1, 3 * C + 2);
    free(w, 0, objs.slice(0, 2 * C));
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([C, C]);
    let d = track(s);
    free(w, 0, objs.slice(2 * C, 2 * C + 1));
    expect(d()).toEqual({ cpu0: { [hit(profile).free]: 1, sheaf_alloc: 1, barn_put: 1 } });
    expect(barn(w)).toEqual({ full: 1, empty: 0 });

    // CPU2 has an empty main and no spare... its first allocation trades the empty main
    // for the barn's full sheaf.
    d = track(s);
    alloc(w, 2);
    expect(d()).toEqual({ cpu2: { [hit(profile).alloc]: 1, barn_get: 1 } });
    expect(barn(w)).toEqual({ full: 0, empty: 1 });
    expect(pcs(w, 2).main?.size).toBe(C - 1);

    // CPU0: main has 1, spare C; fill main, then the next free trades main for the
    // barn's empty sheaf.
    free(w, 0, objs.slice(2 * C + 1, 3 * C));
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([C, C]);
    d = track(s);
    free(w, 0, objs.slice(3 * C, 3 * C + 1));
    expect(d()).toEqual({ cpu0: { [hit(profile).free]: 1, barn_put: 1 } });
    expect(barn(w)).toEqual({ full: 1, empty: 0 });
    expect(pcs(w, 0).main?.size).toBe(1);
  });

  it('barn limits: with MAX_FULL_SHEAVES (10) full sheaves the barn refuses (BARN_PUT_FAIL) and the full spare is flushed to the slabs', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    const objs = alloc(w, 1, 14 * C);
    let at = 0;
    // main and spare full, then 10 sheaves' worth into the barn
    free(w, 0, objs.slice(at, (at += 12 * C)));
    expect(barn(w)).toEqual({ full: 10, empty: 0 });
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([C, C]);
    const spare = pcs(w, 0).spare;
    const d = track(s);
    free(w, 0, objs.slice(at, (at += 1)));
    const delta = d().cpu0;
    expect(delta).toMatchObject({ [hit(profile).free]: 1, barn_put_fail: 1, sheaf_flush: C });
    expect(delta.barn_put).toBeUndefined();
    expect(delta.sheaf_alloc).toBeUndefined();
    // The flushed spare became main; the full main the spare.
    expect(barn(w)).toEqual({ full: 10, empty: 0 });
    expect(pcs(w, 0).main?.addr).toBe(spare?.addr);
    expect(pcs(w, 0).main?.size).toBe(1);
    expect(pcs(w, 0).spare?.size).toBe(C);
    expectClean(w, objs.slice(at));
  });

  it('a refill that finds the barn empty and no spare refills an empty sheaf; with a spare of objects it swaps', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    const held = alloc(w, 0, C); // main empty now, spare the initial (empty) one
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([0, 0]);
    const d = track(s);
    held.push(...alloc(w, 0));
    // BARN_GET_FAIL, then the empty spare is taken and refilled: no SHEAF_ALLOC.
    expect(d().cpu0).toMatchObject({ [hit(profile).alloc]: 1, barn_get_fail: 1, sheaf_refill: C });
    expect(pcs(w, 0).spare?.size).toBe(0);
    expectClean(w, held);
  });
});

describe.each(SHEAF_PROFILES)('interrupts and the local trylock (profile %s)', (profile) => {
  it('an interrupt that strikes while the lock is held finds it taken and goes to the slabs; nothing is lost', () => {
    const w = sheafWorld(profile);
    const { s } = w;
    const held = alloc(w, 0, 2); // main has C - 2
    const c0 = w.cpu[0];
    const nested: number[] = [];
    c0.irqRate = 1;
    c0.irq = () => {
      nested.push(...alloc(w, 0));
      return undefined;
    };
    const before = pcs(w, 0).main;
    const d = track(s);
    held.push(...alloc(w, 0));
    c0.irqRate = 0;
    expect(nested).toHaveLength(1);
    expect(held[2]).toBe(before?.objects[C - 3]);
    expect(nested[0]).not.toBe(held[2]);
    expect(before?.objects).not.toContain(nested[0]); // from a slab, not the sheaf
    const delta = d().cpu0;
    expect(delta[hit(profile).alloc]).toBe(1);
    expect((delta.alloc_fastpath ?? 0) + (delta.alloc_slowpath ?? 0) - (profile === '7.0' ? 1 : 0)).toBe(1);
    expect(pcs(w, 0).main?.size).toBe(C - 3);
    expectClean(w, [...held, ...nested]);
  });
});

describe.each(SHEAF_PROFILES)('NUMA (profile %s)', (profile) => {
  it('a request for another node bypasses the sheaves; an object of another node is freed to its slab', () => {
    const w = sheafWorld(profile, { nodes: 2 }); // CPUs 0, 1 on node 0; 2, 3 on node 1
    const { s, m } = w;
    const local = alloc(w, 0);
    let d = track(s);
    const [remote] = alloc(w, 0, 1, 1);
    expect(slabNode(m, virtToHeadPfn(m, remote))).toBe(1);
    const delta = d().cpu0;
    expect(delta[hit(profile).alloc]).toBeUndefined();
    // 7.0 counts the bypass itself; 6.18's alloc_from_pcs() says nothing, and the count
    // comes from the cpu slab below: CPU0's (filled for the sheaf) is on node 0.
    expect(delta.alloc_node_mismatch).toBe(1);
    expect(delta.alloc_slowpath).toBe(1);

    // The own node, asked for by number: the sheaves serve it.
    d = track(s);
    const own = alloc(w, 0, 1, 0);
    expect(d().cpu0?.[hit(profile).alloc]).toBe(1);

    const main = pcs(w, 0).main?.size;
    d = track(s);
    free(w, 0, [remote]);
    expect(pcs(w, 0).main?.size).toBe(main);
    // 7.0: to its slab; 6.18: do_slab_free(), and the node-1 slab is CPU0's cpu slab now.
    expect(d().cpu0).toEqual(profile === '7.0' ? { free_slowpath: 1 } : { free_fastpath: 1 });
    expectClean(w, [...local, ...own]);
  });
});

describe.each(SHEAF_PROFILES)('flush_all and shrink (profile %s)', (profile) => {
  it('flush_all: each CPU flushes and frees its spare and flushes main (kept); the barn is untouched', () => {
    const w = sheafWorld(profile);
    const { s, m, id } = w;
    const objs = alloc(w, 1, 3 * C + 1);
    free(w, 0, objs.slice(0, 2 * C + 1)); // CPU0: main 1, spare C, one full sheaf in the barn
    const held = objs.slice(2 * C + 1);
    expect(barn(w)).toEqual({ full: 1, empty: 0 });
    const before = [0, 1].map((cpu) => pcs(w, cpu));
    const d = track(s);
    flushAll(m, id);
    for (const cpu of [0, 1]) {
      expect(pcs(w, cpu).main?.addr).toBe(before[cpu].main?.addr);
      expect(pcs(w, cpu).main?.size).toBe(0);
      expect(pcs(w, cpu).spare).toBeNull();
    }
    const flushed0 = (before[0].main?.size ?? 0) + (before[0].spare?.size ?? 0);
    const flushed1 = (before[1].main?.size ?? 0) + (before[1].spare?.size ?? 0);
    const delta = d();
    expect(delta.cpu0).toMatchObject({ sheaf_flush: flushed0, sheaf_free: 1 });
    expect(delta.cpu1).toMatchObject({ sheaf_flush: flushed1, sheaf_free: 1 });
    expect(barn(w)).toEqual({ full: 1, empty: 0 });
    expectClean(w, held);
  });

  it('shrink: flush_all, then every barn flushed and emptied, empty slabs discarded', () => {
    const w = sheafWorld(profile);
    const { s, m, id } = w;
    const objs = alloc(w, 1, 3 * C + 1);
    // CPU0: after 2C + 1 frees main holds 1, spare C, the barn one full sheaf; C more
    // fill main and put a second one in the barn.
    free(w, 0, objs);
    expect(barn(w)).toEqual({ full: 2, empty: 0 });
    expect([pcs(w, 0).main?.size, pcs(w, 0).spare?.size]).toEqual([1, C]);
    const d = track(s);
    kmemCacheShrink(m, id);
    expect(barn(w)).toEqual({ full: 0, empty: 0 });
    // CPU0 (the main thread stands for it) flushed its main and spare, then the barn's
    // two full sheaves, and freed the spare and those two.
    expect(d().cpu0).toMatchObject({ sheaf_flush: 3 * C + 1, sheaf_free: 3 });
    for (let cpu = 0; cpu < 4; cpu++) expect(pcs(w, cpu).main?.size).toBe(0);
    // Nothing is allocated. 7.0: every slab went back (min_partial does not hold back a
    // shrink). 6.18: barn_shrink() runs after flush_all() and frees through
    // do_slab_free(): a full slab getting its first object back goes to the cpu partial
    // list of the CPU shrinking, where the shrink's walk of the node lists cannot see it.
    const left = slabRecords(s);
    if (profile === '7.0') expect(left).toEqual([]);
    else for (const r of left) expect(r).toMatchObject({ inuse: 0, place: { kind: 'cpu_partial', cpu: 0 } });
    expect(nodeCounts(s).nrSlabs).toBe(left.length);
    expectClean(w, []);
  });
});

describe('7.0: __slab_free with SL_partial (frees from node 1 into node-0 slabs go straight to the slab)', () => {
  it('the first free into a full slab lists it at the tail (SL_partial set); the last one, with enough partial slabs, discards it', () => {
    const w = sheafWorld('7.0', { nodes: 2 });
    const { s, m } = w;
    const held = alloc(w, 0, 3 * s.objects);
    // A full slab, on no list: every object of it is held.
    const bySlab = new Map<number, number[]>();
    for (const o of held) bySlab.set(virtToHeadPfn(m, o), [...(bySlab.get(virtToHeadPfn(m, o)) ?? []), o]);
    const [pfn, objs] = [...bySlab].find(([, os]) => os.length === s.objects) ?? [0, []];
    expect(recordOf(s, pfn)).toMatchObject({ inuse: s.objects, slPartial: false, place: { kind: 'none' } });
    let d = track(s);
    free(w, 2, objs.slice(0, 1));
    expect(d()).toEqual({ cpu2: { free_slowpath: 1, free_add_partial: 1 } });
    expect(recordOf(s, pfn)).toMatchObject({ inuse: s.objects - 1, slPartial: true, place: { kind: 'node_partial' } });
    expect(nodePartial(s).at(-1)).toBe(pfn);
    // Neither full before nor empty after: no list_lock, no list work.
    d = track(s);
    free(w, 2, objs.slice(1, s.objects - 1));
    expect(d()).toEqual({ cpu2: { free_slowpath: s.objects - 2 } });
    setMinPartial(s, 0);
    d = track(s);
    free(w, 2, objs.slice(s.objects - 1));
    expect(d()).toEqual({ cpu2: { free_slowpath: 1, free_remove_partial: 1, free_slab: 1 } });
    expect(recordOf(s, pfn)).toBeUndefined();
    expectClean(
      w,
      held.filter((o) => !objs.includes(o)),
    );
  });
});
