// Shared setup for the SLUB scenario tests (test/slub_scenarios_*.test.ts): a machine
// driven from the main thread with explicit CPU ids, through the FAST twins of the
// two-way modules. Every helper only reads the buffer or calls the public entry points
// (slab_alloc_node, kmem_cache_free, flush_slab, unfreeze_partials), as the kernel's
// callers would; nothing here writes SLUB state directly.
import { expect } from 'vitest';
import type { Profile } from '../src/config.js';
import { type Cpu, makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { flushSlab } from '../src/mm/slub/deactivate.fast.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { cacheById, cpuPartial, cpuPartialSlabs, cpuSlabOff, type KmemCache, minPartial } from '../src/mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import { unfreezePartials } from '../src/mm/slub/partial.fast.js';
import { NUMA_NO_NODE } from '../src/mm/slub/slab.fast.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { listPfns, type SlabPlace, type SlabRecord, slabPlaces, slabRecords } from '../src/mm/slub/walk.js';
import { freePageCount } from '../src/report/buddyinfo.js';
import { create, type Machine, pageOff } from '../src/shm/machine.js';
import {
  CACHE_CPU,
  CACHE_NODE,
  CPU_FREELIST,
  CPU_TID,
  KMEM_CACHE,
  NIL,
  PAGE,
  STAT_ITEMS,
  type StatItem,
} from '../src/shm/structs.js';

export const PROFILES: Profile[] = ['5.4', '6.6'];
export const MiB = 1024 * 1024;

export interface World {
  m: Machine;
  s: KmemCache;
  id: number;
  cpu: Cpu[];
  /** free pages of the fresh machine, before any slab existed */
  freshFreePages: number;
}

/**
 * A fresh machine (1 node, 16 MiB, 4 KiB pages) with the kmalloc caches and one
 * unmerged cache 'scn' of `size` bytes. The default, 1024 bytes on 4 CPUs, gives on both
 * profiles: order 2, 16 objects per slab, min_partial 5; cpu_partial 6 (5.4) or 24 with
 * cpu_partial_slabs 3 (6.6) — checked by expectGeometry1024().
 */
export function world(profile: Profile, size = 1024, cpus = 4): World {
  const m = create({ cpus, nodes: 1, memory: 16 * MiB, profile });
  const freshFreePages = freePageCount(m);
  slubInit(m);
  const id = kmemCacheCreate(m, 'scn', size, { flags: ['no_merge'] });
  const s = cacheById(m, id);
  const cpu = Array.from({ length: cpus }, (_, i) => makeCpu(m, i));
  return { m, s, id, cpu, freshFreePages };
}

// ---- stats ----

export type Stats = Partial<Record<StatItem, number>>;

const statRow = (s: KmemCache, cpu: number): number[] =>
  STAT_ITEMS.map((_, i) => s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.stat + i]);

/** One stat of one CPU. */
export const statOf = (s: KmemCache, cpu: number, item: StatItem): number =>
  s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.stat + STAT_ITEMS.indexOf(item)];

/** A stat summed over all CPUs (the sysfs "<sum>"). */
export function statSum(s: KmemCache, item: StatItem): number {
  let sum = 0;
  for (let cpu = 0; cpu < s.m.cfg.cpus; cpu++) sum += statOf(s, cpu, item);
  return sum;
}

/**
 * Start counting: the returned function gives the change of every stat since now, as
 * { cpuK: { item: delta } } with only the CPUs and items that changed. Comparing it with
 * toEqual() asserts both the counts that moved and that nothing else moved.
 */
export function track(s: KmemCache): () => Record<string, Stats> {
  const before = Array.from({ length: s.m.cfg.cpus }, (_, cpu) => statRow(s, cpu));
  return () => {
    const out: Record<string, Stats> = {};
    for (let cpu = 0; cpu < s.m.cfg.cpus; cpu++) {
      const row = statRow(s, cpu);
      const d: Stats = {};
      STAT_ITEMS.forEach((name, i) => {
        if (row[i] !== before[cpu][i]) d[name] = row[i] - before[cpu][i];
      });
      if (Object.keys(d).length > 0) out[`cpu${cpu}`] = d;
    }
    return out;
  };
}

// ---- operations, each on an explicit CPU ----

/** `n` allocations on CPU `cpu`; fails the test on OOM. */
export function alloc(w: World, cpu: number, n = 1): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = slabAllocNode(w.s, w.cpu[cpu], NUMA_NO_NODE);
    if (a === 0) throw new Error(`unexpected OOM after ${i} of ${n} allocations on CPU${cpu}`);
    out.push(a);
  }
  return out;
}

/** kmem_cache_free of each address, on CPU `cpu`. */
export function free(w: World, cpu: number, addrs: readonly number[]): void {
  for (const a of addrs) kmemCacheFree(w.s, w.cpu[cpu], a);
}

/** flush_slab() on CPU `cpu` (it must have a cpu slab). */
export function flush(w: World, cpu: number): void {
  expect(cpuSlab(w.s, cpu), `CPU${cpu} has a cpu slab to flush`).not.toBe(NIL);
  flushSlab(w.s, w.cpu[cpu]);
}

// ---- where things are ----

export const slabOf = (w: World, addr: number): number => virtToHeadPfn(w.m, addr);

export const cpuSlab = (s: KmemCache, cpu: number): number => s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.page];
export const cpuFreelist = (s: KmemCache, cpu: number): number => s.m.u32[cpuSlabOff(s, cpu) + CPU_FREELIST];
export const cpuTid = (s: KmemCache, cpu: number): number => s.m.u32[cpuSlabOff(s, cpu) + CPU_TID];

/** c->partial, walked through page->next: head first. */
export function cpuPartialList(s: KmemCache, cpu: number): number[] {
  const m = s.m;
  const out: number[] = [];
  for (let pfn = m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.partial]; pfn !== NIL && out.length <= m.totalPfns;) {
    out.push(pfn);
    pfn = m.u32[pageOff(m, pfn) + PAGE.next];
  }
  return out;
}

/**
 * The counters kept in the head of a cpu-partial list: 5.4 page->pages/pobjects,
 * 6.6 slab->slabs (stored in PAGE.pages). null for an empty list.
 */
export function partialHeadCounts(s: KmemCache, cpu: number): { pages: number; pobjects: number } | { slabs: number } | null {
  const head = s.m.u32[cpuSlabOff(s, cpu) + CACHE_CPU.partial];
  if (head === NIL) return null;
  const p = pageOff(s.m, head);
  return s.v66 ? { slabs: s.m.u32[p + PAGE.pages] } : { pages: s.m.u32[p + PAGE.pages], pobjects: s.m.u32[p + PAGE.pobjects] };
}

const nodeBase = (s: KmemCache, node = 0): number => s.node0 + node * CACHE_NODE.STRIDE;

/** n->partial in list order, head first. */
export const nodePartial = (s: KmemCache, node = 0): number[] =>
  listPfns(s.m, s.m.u32[nodeBase(s, node) + CACHE_NODE.partialHead]);

/** nr_partial, nr_slabs and total_objects of a node. */
export function nodeCounts(s: KmemCache, node = 0): { nrPartial: number; nrSlabs: number; totalObjects: number } {
  const n = nodeBase(s, node);
  const u = s.m.u32;
  return {
    nrPartial: u[n + CACHE_NODE.nrPartial],
    nrSlabs: u[n + CACHE_NODE.nrSlabs],
    totalObjects: u[n + CACHE_NODE.totalObjects],
  };
}

export const placeOf = (s: KmemCache, pfn: number): SlabPlace => slabPlaces(s).get(pfn) ?? { kind: 'none' };

/** The walk's record of a slab of `s`, or undefined once the slab went back to the page allocator. */
export const recordOf = (s: KmemCache, pfn: number): SlabRecord | undefined => slabRecords(s).find((r) => r.pfn === pfn);

/** The pfns of every slab `s` holds. */
export const slabPfnsOf = (s: KmemCache): number[] => slabRecords(s).map((r) => r.pfn);

export function expectValid(s: KmemCache): void {
  expect(validateCache(s)).toEqual({ errors: 0, messages: [] });
}

/**
 * The geometry the scenario expectations were worked out for (size 1024, 4 CPUs):
 * order 2, 16 objects of 1024 bytes, min_partial = clamp(ilog2(1024)/2, 5, 10) = 5;
 * cpu_partial 6 (5.4, size >= 1024) or 24 (6.6), cpu_partial_slabs = DIV_ROUND_UP(24*2, 16) = 3.
 */
export function expectGeometry1024(w: World, profile: Profile): void {
  const { s } = w;
  expect([s.order, s.objects, s.size, minPartial(s)]).toEqual([2, 16, 1024, 5]);
  if (profile === '5.4') expect(cpuPartial(s)).toBe(6);
  else expect([cpuPartial(s), cpuPartialSlabs(s)]).toEqual([24, 3]);
  expect(s.hasCpuPartial).toBe(true);
}

// ---- setups ----

export interface SetupSlab {
  pfn: number;
  /** the slab's objects in allocation (address) order */
  objs: number[];
}

/**
 * `count` full slabs, unfrozen, on no list: CPU `cpu` allocates count * objects objects
 * (each time its cpu slab runs out, get_freelist finds nothing: DEACTIVATE_BYPASS and a
 * new slab), then flush_slab() deactivates the last one (DEACTIVATE_FULL).
 * Precondition: `cpu` has no cpu slab and no partials, and the node partial list is
 * empty (otherwise get_partial_node would hand out those slabs instead of new ones).
 */
export function fullSlabs(w: World, count: number, cpu: number): SetupSlab[] {
  const { s } = w;
  expect(cpuSlab(s, cpu)).toBe(NIL);
  expect(cpuPartialList(s, cpu)).toEqual([]);
  expect(nodePartial(s)).toEqual([]);
  const objs = alloc(w, cpu, count * s.objects);
  flush(w, cpu);
  const bySlab = new Map<number, number[]>();
  for (const a of objs) {
    const pfn = slabOf(w, a);
    bySlab.set(pfn, [...(bySlab.get(pfn) ?? []), a]);
  }
  const out = [...bySlab].map(([pfn, o]) => ({ pfn, objs: o }));
  expect(out.map((x) => x.objs.length)).toEqual(Array(count).fill(s.objects));
  for (const x of out) {
    expect(recordOf(s, x.pfn)).toMatchObject({ frozen: false, inuse: s.objects, slabFree: 0, place: { kind: 'none' } });
  }
  return out;
}

export interface NodePartialSlab extends SetupSlab {
  /** objects still allocated (the first `inuse` of objs) */
  live: number[];
  /** objects freed while building (the rest), in the order they were freed */
  freed: number[];
}

/**
 * `count` slabs on the node partial list, in this order, each with `inuse` objects
 * allocated (1 <= inuse < objects): fullSlabs() on `cpu`, then for each slab in turn
 * CPU `cpu` frees all but the first `inuse` objects (the first free puts the full slab on
 * its cpu partial list, CPU_PARTIAL_FREE) and unfreeze_partials() moves it to the tail
 * of the node list (FREE_ADD_PARTIAL). Same precondition as fullSlabs().
 */
export function nodePartialSlabs(w: World, count: number, inuse: number, cpu = 3): NodePartialSlab[] {
  const { s } = w;
  if (!(inuse >= 1 && inuse < s.objects)) throw new Error(`nodePartialSlabs: inuse ${inuse} out of 1..${s.objects - 1}`);
  const before = nodePartial(s);
  const out = fullSlabs(w, count, cpu).map((x) => ({ ...x, live: x.objs.slice(0, inuse), freed: x.objs.slice(inuse) }));
  for (const x of out) {
    free(w, cpu, x.freed);
    expect(cpuPartialList(s, cpu)).toEqual([x.pfn]);
    unfreezePartials(s, w.cpu[cpu]);
  }
  expect(nodePartial(s)).toEqual([...before, ...out.map((x) => x.pfn)]);
  for (const x of out) {
    expect(recordOf(s, x.pfn)).toMatchObject({
      frozen: false,
      inuse,
      slabFree: s.objects - inuse,
      place: { kind: 'node_partial' },
    });
  }
  return out;
}

/** The sysfs min_partial write: the live tunable in struct kmem_cache. */
export function setMinPartial(s: KmemCache, value: number): void {
  s.m.u32[s.base + KMEM_CACHE.minPartial] = value;
  expect(minPartial(s)).toBe(value);
}
