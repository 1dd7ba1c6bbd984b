/* @two-way */
// struct slab_sheaf: an array of free objects of one cache (layout: SHEAF in
// shm/structs.ts), kzalloc'd from the kmalloc caches as in the kernel, and the
// local trylock that guards a CPU's two sheaves. slub.c: __alloc_empty_sheaf(),
// free_empty_sheaf(), refill_sheaf(), alloc_full_sheaf(), sheaf_flush_unused(),
// sheaf_flush_main(), __kmem_cache_free_bulk().
//
// A sheaf has one owner at a time: the CPU whose main or spare it is (under that CPU's
// local lock), the barn that lists it (under barn->lock), or a user holding a prefilled
// sheaf. Its fields are read and written by the owner alone, so plainly; the owner's
// size update is the schedule point.
import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { addrWord, type Machine } from '../../shm/machine.js';
import { CACHE_CPU, SHEAF, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import { slabFreeSlow } from './free_slow.js';
import { doSlabFree } from './free.js';
import { __GFP_NO_OBJ_EXT } from './gfp.js';
import { SLAB_FLAGS, sheafBytes } from './geometry.js';
import { kfree, kmalloc } from './kmalloc.js';
import { cpuSlabOff, type KmemCache, stat, statAdd } from './kmem_cache.js';
import { mutant } from './mutants.js';
import { refillObjects } from './alloc_slow70.js';
import { buildDetachedFreelist, kmemCacheAllocBulkClassic } from './bulk.js';

const S_SHEAF = site('slab_sheaf');
const S_TRYLOCK = site('local_trylock');
const S_FLUSH_MAIN = site('sheaf_flush_main');

/** PCS_BATCH_MAX: objects sheaf_flush_main() moves to its on-stack array per batch. */
export const PCS_BATCH_MAX = 32;

// ---- the fields ----

const word = (m: Machine, sheaf: number, field: number): number => addrWord(m, sheaf) + field;

/** sheaf->size, read by its owner. */
export const sheafSize = (m: Machine, sheaf: number): number => m.u32[word(m, sheaf, SHEAF.size)];

/** sheaf->objects[i]. */
export const sheafObject = (m: Machine, sheaf: number, i: number): number =>
  m.u32[word(m, sheaf, SHEAF.objects + i * SHEAF.objectStride)];

export function setSheafObject(m: Machine, sheaf: number, i: number, object: number): void {
  m.u32[word(m, sheaf, SHEAF.objects + i * SHEAF.objectStride)] = object;
}

/** The cache id a sheaf belongs to (sheaf->cache), or -1 for a word that is no sheaf of any cache. */
export const sheafCache = (m: Machine, sheaf: number): number => m.u32[word(m, sheaf, SHEAF.cache)] - 1;

/** sheaf->capacity (a prefilled sheaf's; in a union with barn_list). */
export const sheafCapacity = (m: Machine, sheaf: number): number => m.u32[word(m, sheaf, SHEAF.capacity)];

export function setSheafCapacity(m: Machine, sheaf: number, capacity: number): void {
  m.u32[word(m, sheaf, SHEAF.capacity)] = capacity;
}

export function* loadSheafSize(m: Machine, sheaf: number, where: number): Step<number> {
  return yield* load32(m, word(m, sheaf, SHEAF.size), where);
}

export function* storeSheafSize(m: Machine, sheaf: number, size: number, where: number): Step {
  yield* store32(m, word(m, sheaf, SHEAF.size), size, where);
}

/** objects[from .. from + n) as an array (the kernel's memcpy() to an on-stack array). */
export function sheafObjects(m: Machine, sheaf: number, from: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = sheafObject(m, sheaf, from + i);
  return out;
}

// ---- the local trylock of s->cpu_sheaves ----

/**
 * local_trylock(&s->cpu_sheaves->lock). On a kernel without PREEMPT_RT it is no atomic:
 * it disables preemption and marks a per-CPU word, so only an interrupt on this CPU,
 * striking while the word is set, can find it taken (and then falls back to the slabs).
 * (Mutant sheaf-no-trylock: taken without looking, so the interrupt gets in too.)
 */
export function* localTrylock(s: KmemCache, c: number): Step<boolean> {
  if (!mutant.sheafNoTrylock && (yield* load32(s.m, c + CACHE_CPU.pcsLock, S_TRYLOCK)) !== 0) return false;
  yield* store32(s.m, c + CACHE_CPU.pcsLock, 1, S_TRYLOCK);
  return true;
}

/**
 * local_lock(): the blocking form, in process context only. No interrupt is under way
 * then, so the word must be free: finding it set means a path re-entered it.
 */
export function* localLockPcs(s: KmemCache, c: number): Step {
  if ((yield* load32(s.m, c + CACHE_CPU.pcsLock, S_TRYLOCK)) !== 0) {
    throw new InvariantError('cpu_sheaves->lock is not re-entered', `local_lock on ${s.name}`);
  }
  yield* store32(s.m, c + CACHE_CPU.pcsLock, 1, S_TRYLOCK);
}

export function* localUnlockPcs(s: KmemCache, c: number): Step {
  yield* store32(s.m, c + CACHE_CPU.pcsLock, 0, S_TRYLOCK);
}

// ---- sheaves from and back to kmalloc ----

/**
 * __alloc_empty_sheaf(): kzalloc(struct_size(sheaf, objects, capacity)), or 0. A sheaf
 * of a kmalloc cache is allocated with __GFP_NO_OBJ_EXT, and such an allocation gets no
 * sheaf of its own: that ends the recursion through the kmalloc caches.
 */
export function* allocEmptySheaf(s: KmemCache, cpu: Cpu, gfp: number, capacity = s.sheafCapacity): Step<number> {
  if (gfp & __GFP_NO_OBJ_EXT) return 0;
  const sheaf = yield* kmalloc(cpu, sheafBytes(capacity), s.flags & SLAB_FLAGS.kmalloc ? gfp | __GFP_NO_OBJ_EXT : gfp);
  if (sheaf === 0) return 0;
  initSheafHeader(s, sheaf);
  stat(s, cpuSlabOff(s, cpu.id), ST.sheaf_alloc);
  return sheaf;
}

/** A new sheaf's header: kzalloc() zeroes it (objects[] past size are never read), then sheaf->cache = s. */
export function initSheafHeader(s: KmemCache, sheaf: number): void {
  const m = s.m;
  for (let w = 0; w < SHEAF.objects; w++) m.u32[word(m, sheaf, w)] = 0;
  m.u32[word(m, sheaf, SHEAF.cache)] = s.id + 1;
}

/** free_empty_sheaf(): kfree() it. The cache word is cleared first, so a walk never takes freed memory for a sheaf. */
export function* freeEmptySheaf(s: KmemCache, cpu: Cpu, sheaf: number): Step {
  s.m.u32[word(s.m, sheaf, SHEAF.cache)] = 0;
  yield* kfree(cpu, sheaf);
  stat(s, cpuSlabOff(s, cpu.id), ST.sheaf_free);
}

// ---- filling and emptying ----

/**
 * refill_sheaf(): fill the sheaf to s->sheaf_capacity from the slabs; false when that
 * failed (-ENOMEM). 7.0: refill_objects(), which may fill it part of the way; 6.18:
 * the cpu-slab bulk allocation, all or nothing.
 */
export function* refillSheaf(s: KmemCache, cpu: Cpu, sheaf: number, gfp: number): Step<boolean> {
  const m = s.m;
  const size = yield* loadSheafSize(m, sheaf, S_SHEAF);
  const toFill = s.sheafCapacity - size;
  if (toFill === 0) return true;
  const p: number[] = [];
  const filled = s.sheafOnly
    ? yield* refillObjects(s, cpu, p, gfp, toFill, toFill)
    : yield* kmemCacheAllocBulkClassic(s, cpu, toFill, p);
  for (let i = 0; i < filled; i++) setSheafObject(m, sheaf, size + i, p[i]);
  yield* storeSheafSize(m, sheaf, size + filled, S_SHEAF);
  statAdd(s, cpuSlabOff(s, cpu.id), ST.sheaf_refill, filled);
  return filled === toFill;
}

/**
 * alloc_full_sheaf(): a new sheaf, refilled, or 0. When the refill falls short the
 * sheaf is flushed before it is freed, as the 7.1-era source does: the 7.0 source frees
 * it with the objects a partial refill put in it, which leaks them (refill_objects() can
 * fill part of the way; 6.18's all-or-nothing bulk could not). A lost object being a
 * failure here, the simulator takes the later form.
 */
export function* allocFullSheaf(s: KmemCache, cpu: Cpu, gfp: number): Step<number> {
  const sheaf = yield* allocEmptySheaf(s, cpu, gfp);
  if (sheaf === 0) return 0;
  if (!(yield* refillSheaf(s, cpu, sheaf, gfp))) {
    yield* sheafFlushUnused(s, cpu, sheaf);
    yield* freeEmptySheaf(s, cpu, sheaf);
    return 0;
  }
  return sheaf;
}

/**
 * sheaf_flush_unused(): every object of a sheaf no CPU uses (a spare taken off, a barn's,
 * a returned prefilled one) back to its slab, with no lock and no batching.
 */
export function* sheafFlushUnused(s: KmemCache, cpu: Cpu, sheaf: number): Step {
  const m = s.m;
  const size = yield* loadSheafSize(m, sheaf, S_SHEAF);
  if (size === 0) return;
  statAdd(s, cpuSlabOff(s, cpu.id), ST.sheaf_flush, size);
  yield* kmemCacheFreeBulkInternal(s, cpu, size, sheafObjects(m, sheaf, 0, size));
  yield* storeSheafSize(m, sheaf, 0, S_SHEAF);
}

/**
 * sheaf_flush_main(): empty this CPU's main sheaf to the slabs in batches of
 * PCS_BATCH_MAX, each taken off under the local trylock and freed after dropping it.
 * True when at least one batch went.
 */
export function* sheafFlushMain(s: KmemCache, cpu: Cpu): Step<boolean> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  let ret = false;
  for (;;) {
    if (!(yield* localTrylock(s, c))) return ret;
    const main = yield* load32(m, c + CACHE_CPU.main, S_FLUSH_MAIN);
    const size = yield* loadSheafSize(m, main, S_FLUSH_MAIN);
    const batch = Math.min(PCS_BATCH_MAX, size);
    const objects = sheafObjects(m, main, size - batch, batch);
    yield* storeSheafSize(m, main, size - batch, S_FLUSH_MAIN);
    yield* localUnlockPcs(s, c);
    yield* kmemCacheFreeBulkInternal(s, cpu, batch, objects);
    statAdd(s, c, ST.sheaf_flush, batch);
    ret = true;
    if (size - batch === 0) return ret;
  }
}

/**
 * __kmem_cache_free_bulk(): objects that never passed the free hooks (a sheaf's) back to
 * their slabs, a detached freelist per slab. 7.0: __slab_free() each, with no
 * FREE_SLOWPATH (a flush is counted by SHEAF_FLUSH); 6.18: do_slab_free(), which takes
 * the cpu slab's fast path when the slab is this CPU's.
 */
export function* kmemCacheFreeBulkInternal(s: KmemCache, cpu: Cpu, size: number, p: number[]): Step {
  let left = size;
  while (left > 0) {
    const df = yield* buildDetachedFreelist(s, left, p);
    left = df.next;
    if (df.pfn === 0) continue;
    if (s.sheafOnly) yield* slabFreeSlow(s, cpu, df.pfn, df.freelist, df.tail, df.cnt);
    else yield* doSlabFree(s, cpu, df.pfn, df.freelist, df.tail, df.cnt);
  }
}
