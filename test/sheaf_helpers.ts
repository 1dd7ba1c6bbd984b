// Shared setup for the sheaf scenario tests: a machine driven from the main thread with
// explicit CPU ids through the fast twins, and read-only views of every CPU's sheaves
// and every node's barn. Nothing here writes SLUB state directly.
import { expect } from 'vitest';
import type { Profile } from '../src/config.js';
import { type Cpu, makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheCreate, leakedObjects, liveCacheIds, slubInit } from '../src/mm/slub/cache.js';
import { kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { cacheById, cpuSlabOff, type KmemCache } from '../src/mm/slub/kmem_cache.js';
import { sheafObject, sheafSize } from '../src/mm/slub/sheaf.js';
import { NUMA_NO_NODE } from '../src/mm/slub/slab.js';
import { validateCache } from '../src/mm/slub/validate.js';
import { create, type Machine } from '../src/shm/machine.js';
import { CACHE_CPU, CACHE_NODE } from '../src/shm/structs.js';

export const SHEAF_PROFILES = ['6.18', '7.0'] as const satisfies readonly Profile[];

export interface SheafWorld {
  m: Machine;
  s: KmemCache;
  id: number;
  cpu: Cpu[];
}

/**
 * A fresh machine (16 MiB, 4 KiB pages) with the kmalloc caches and one unmerged cache
 * 'shv' of `size` bytes asking for sheaves of `capacity` objects. With the defaults,
 * 1024 bytes on 4 CPUs: order 2, 16 objects per slab, sheaf capacity 12 on both
 * profiles (7.0's formula gives 12 for 1024 bytes too).
 */
export function sheafWorld(
  profile: Profile,
  opts: { size?: number; capacity?: number; cpus?: number; nodes?: number } = {},
): SheafWorld {
  const { size = 1024, capacity = 12, cpus = 4, nodes = 1 } = opts;
  const m = create({ cpus, nodes, memory: 16 << 20, profile });
  slubInit(m);
  const id = kmemCacheCreate(m, 'shv', size, { flags: ['no_merge'], sheafCapacity: capacity });
  const s = cacheById(m, id);
  return { m, s, id, cpu: Array.from({ length: cpus }, (_, i) => makeCpu(m, i)) };
}

/** `n` allocations on CPU `cpu` (node: NUMA_NO_NODE unless given); fails the test on OOM. */
export function alloc(w: SheafWorld, cpu: number, n = 1, node = NUMA_NO_NODE): number[] {
  return Array.from({ length: n }, (_, i) => {
    const a = slabAllocNode(w.s, w.cpu[cpu], node);
    if (a === 0) throw new Error(`unexpected OOM after ${i} of ${n} allocations on CPU${cpu}`);
    return a;
  });
}

export function free(w: SheafWorld, cpu: number, objs: readonly number[]): void {
  for (const o of objs) kmemCacheFree(w.s, w.cpu[cpu], o);
}

export interface SheafView {
  addr: number;
  size: number;
  /** objects[0 .. size), bottom first */
  objects: number[];
}

const view = (m: Machine, addr: number): SheafView | null =>
  addr === 0
    ? null
    : { addr, size: sheafSize(m, addr), objects: Array.from({ length: sheafSize(m, addr) }, (_, i) => sheafObject(m, addr, i)) };

/** A CPU's main and spare sheaf. */
export function pcs(w: SheafWorld, cpu: number): { main: SheafView | null; spare: SheafView | null } {
  const c = cpuSlabOff(w.s, cpu);
  return { main: view(w.m, w.m.u32[c + CACHE_CPU.main]), spare: view(w.m, w.m.u32[c + CACHE_CPU.spare]) };
}

/** A node's barn: its counts. */
export function barn(w: SheafWorld, node = 0): { full: number; empty: number } {
  const n = w.s.node0 + node * CACHE_NODE.STRIDE;
  return { full: w.m.u32[n + CACHE_NODE.nrFull], empty: w.m.u32[n + CACHE_NODE.nrEmpty] };
}

/** Every live cache validates clean (the kmalloc caches hold the sheaves), and the objects users hold are exactly `held`. */
export function expectClean(w: SheafWorld, held: readonly number[]): void {
  for (const id of liveCacheIds(w.m))
    expect(validateCache(cacheById(w.m, id)), cacheById(w.m, id).name).toEqual({ errors: 0, messages: [] });
  expect(new Set(leakedObjects(w.s))).toEqual(new Set(held));
}
