// deactivate_slab() through flush_slab() (spec slub.md §4): the four outcomes, with the
// exact stats and where the slab ends (node list order checked with listPfns). 5.4
// counts CPUSLAB_FLUSH before deactivating, 6.6 after; the totals are the same.
// Geometry (expectGeometry1024): 16 objects per slab, min_partial 5.
import { describe, expect, it } from 'vitest';
import { minPartial } from '../src/mm/slub/kmem_cache.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { NIL } from '../src/shm/structs.js';
import {
  alloc,
  cpuFreelist,
  cpuSlab,
  cpuTid,
  expectGeometry1024,
  expectValid,
  flush,
  free,
  nodeCounts,
  nodePartial,
  nodePartialSlabs,
  PROFILES,
  recordOf,
  slabOf,
  slabPfnsOf,
  track,
  world,
} from './slub_scenarios_helpers.js';

describe.each(PROFILES)('deactivate_slab via flush_slab (profile %s)', (profile) => {
  it('a cpu slab that received remote frees: deactivate_remote_frees + deactivate_to_tail, at the node list TAIL', () => {
    const w = world(profile);
    const { s } = w;
    expectGeometry1024(w, profile);
    const objs = alloc(w, 0, 4); // A first: CPU0 must own it before the node list has slabs
    const A = slabOf(w, objs[0]);
    const pre = nodePartialSlabs(w, 2, 3); // made on CPU3: node list [P0, P1]
    free(w, 1, [objs[0]]); // remote free: onto A->freelist (A is frozen)
    const tid = cpuTid(s, 0);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_remote_frees: 1, deactivate_to_tail: 1 } });
    expect(nodePartial(s)).toEqual([pre[0].pfn, pre[1].pfn, A]);
    // 3 objects still allocated: 12 from CPU0's freelist + 1 remote free are back on the slab
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 3, slabFree: 13, place: { kind: 'node_partial' } });
    expect([cpuSlab(s, 0), cpuFreelist(s, 0), cpuTid(s, 0)]).toEqual([NIL, 0, tid + s.tidStep]);
    expect(nodeCounts(s)).toEqual({ nrPartial: 3, nrSlabs: 3, totalObjects: 48 });
    expectValid(s);
  });

  it('a full cpu slab that received remote frees also goes to the tail (its freelist is the remote frees)', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, s.objects); // A full, CPU0's freelist empty
    const A = slabOf(w, objs[0]);
    const pre = nodePartialSlabs(w, 1, 3);
    free(w, 2, [objs[7], objs[8]]);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_remote_frees: 1, deactivate_to_tail: 1 } });
    expect(nodePartial(s)).toEqual([pre[0].pfn, A]);
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 14, slabFree: 2, place: { kind: 'node_partial' } });
    expectValid(s);
  });

  it('without remote frees: deactivate_to_head, at the node list HEAD', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, 4);
    const A = slabOf(w, objs[0]);
    const pre = nodePartialSlabs(w, 2, 3);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_to_head: 1 } });
    expect(nodePartial(s)).toEqual([A, pre[0].pfn, pre[1].pfn]);
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 4, slabFree: 12, place: { kind: 'node_partial' } });
    expect(nodeCounts(s)).toEqual({ nrPartial: 3, nrSlabs: 3, totalObjects: 48 });
    expectValid(s);
  });

  it('a full cpu slab: deactivate_full, unfrozen on no list', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, s.objects);
    const A = slabOf(w, objs[0]);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_full: 1 } });
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 16, slabFree: 0, place: { kind: 'none' } });
    expect(nodeCounts(s)).toEqual({ nrPartial: 0, nrSlabs: 1, totalObjects: 16 });
    expectValid(s);
  });

  it('an empty cpu slab with min_partial slabs on the node: deactivate_empty, discarded (free_slab)', () => {
    const w = world(profile);
    const { s, m } = w;
    const objs = alloc(w, 0, 1);
    const A = slabOf(w, objs[0]);
    nodePartialSlabs(w, minPartial(s), 1);
    free(w, 0, objs); // local: onto CPU0's freelist; A now holds no allocated object
    const pagesBefore = freePageCount(m);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_empty: 1, free_slab: 1 } });
    expect(slabPfnsOf(s)).not.toContain(A);
    expect(freePageCount(m)).toBe(pagesBefore + (1 << s.order));
    expect(nodeCounts(s)).toEqual({ nrPartial: 5, nrSlabs: 5, totalObjects: 80 });
    expectValid(s);
  });

  it('an empty cpu slab with fewer than min_partial node slabs is kept: deactivate_to_head', () => {
    const w = world(profile);
    const { s } = w;
    const objs = alloc(w, 0, 1);
    const A = slabOf(w, objs[0]);
    const pre = nodePartialSlabs(w, minPartial(s) - 1, 1);
    free(w, 0, objs);

    const d = track(s);
    flush(w, 0);
    expect(d()).toEqual({ cpu0: { cpuslab_flush: 1, deactivate_to_head: 1 } });
    expect(recordOf(s, A)).toMatchObject({ frozen: false, inuse: 0, slabFree: 16, place: { kind: 'node_partial' } });
    expect(nodePartial(s)).toEqual([A, ...pre.map((x) => x.pfn)]);
    expect(nodeCounts(s)).toEqual({ nrPartial: 5, nrSlabs: 5, totalObjects: 80 });
    expectValid(s);
  });
});
