/* @two-way */
// A CPU's two sheaves in front of the slabs (struct slub_percpu_sheaves, CACHE_CPU.main
// and .spare): allocation pops the main sheaf, free pushes onto it, and when it runs
// empty or full the spare, the node's barn, a refill from the slabs or a flush to them
// takes over. slub.c: alloc_from_pcs(), __pcs_replace_empty_main(), free_to_pcs(),
// __pcs_replace_full_main(), __pcs_install_empty_sheaf(), alloc_from_pcs_bulk(),
// free_to_pcs_bulk(), pcs_flush_all(), has_pcs_used().
// The local trylock is held from the first look at main to the last write; an interrupt
// may strike in between (irqPoint), finds it taken and goes to the slabs.
import { irqPoint } from '../../sched/irq.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { CACHE_CPU, ST } from '../../shm/structs.js';
import type { Cpu } from '../cpu.js';
import {
  barnGetEmptySheaf,
  barnPutEmptySheaf,
  barnPutFullSheaf,
  barnReplaceEmptySheaf,
  barnReplaceFullSheaf,
  E2BIG,
  getBarn,
} from './barn.js';
import { GFP_NOWAIT, gfpflagsAllowBlocking } from './gfp.js';
import { cpuSlabOff, type KmemCache, stat, statAdd } from './kmem_cache.js';
import {
  allocEmptySheaf,
  allocFullSheaf,
  freeEmptySheaf,
  kmemCacheFreeBulkInternal,
  loadSheafSize,
  localLockPcs,
  localTrylock,
  localUnlockPcs,
  PCS_BATCH_MAX,
  refillSheaf,
  setSheafObject,
  sheafFlushMain,
  sheafFlushUnused,
  sheafObject,
  sheafSize,
  storeSheafSize,
} from './sheaf.js';
import { NUMA_NO_NODE, slabNode } from './slab.js';
import { virtToHeadPfn } from './objects.js';

const S_ALLOC = site('alloc_from_pcs');
const S_ALLOC_IRQ = site('alloc_from_pcs:irq');
const S_EMPTY = site('__pcs_replace_empty_main');
const S_EMPTY_IRQ = site('__pcs_replace_empty_main:irq');
const S_FREE = site('free_to_pcs');
const S_FREE_IRQ = site('free_to_pcs:irq');
const S_FULL = site('__pcs_replace_full_main');
const S_FULL_IRQ = site('__pcs_replace_full_main:irq');
const S_BULK = site('pcs_bulk');
const S_FLUSH = site('pcs_flush_all');

/** The stat of a sheaf hit: ALLOC_PCS/FREE_PCS on 6.18, the fast paths themselves on 7.0. */
const allocStat = (s: KmemCache): number => (s.sheafOnly ? ST.alloc_fastpath : ST.alloc_cpu_sheaf);
const freeStat = (s: KmemCache): number => (s.sheafOnly ? ST.free_fastpath : ST.free_cpu_sheaf);

function* loadMain(s: KmemCache, c: number, where: number): Step<number> {
  return yield* load32(s.m, c + CACHE_CPU.main, where);
}

function* loadSpare(s: KmemCache, c: number, where: number): Step<number> {
  return yield* load32(s.m, c + CACHE_CPU.spare, where);
}

function* setMain(s: KmemCache, c: number, sheaf: number, where: number): Step {
  yield* store32(s.m, c + CACHE_CPU.main, sheaf, where);
}

function* setSpare(s: KmemCache, c: number, sheaf: number, where: number): Step {
  yield* store32(s.m, c + CACHE_CPU.spare, sheaf, where);
}

/** swap(pcs->main, pcs->spare). */
function* swapMainSpare(s: KmemCache, c: number, main: number, spare: number, where: number): Step {
  yield* setMain(s, c, spare, where);
  yield* setSpare(s, c, main, where);
}

/**
 * alloc_from_pcs(): an object off this CPU's main sheaf, or 0 to go to the slabs. The
 * sheaves are assumed to hold local objects: a request for another node bypasses them
 * (6.18 says nothing; 7.0 counts ALLOC_NODE_MISMATCH), and an object of the wrong node
 * found on top (after a migration) sends a node request to the slabs too.
 */
export function* allocFromPcs(s: KmemCache, cpu: Cpu, gfp: number, node: number): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const nodeRequested = node !== NUMA_NO_NODE;
  if (nodeRequested && node !== cpu.node) {
    if (s.sheafOnly) stat(s, c, ST.alloc_node_mismatch);
    return 0;
  }
  if (!(yield* localTrylock(s, c))) return 0;
  let main = yield* loadMain(s, c, S_ALLOC);
  if (main === 0) return yield* destroyed(s, c);
  let size = yield* loadSheafSize(m, main, S_ALLOC);
  if (size === 0) {
    if (!(yield* pcsReplaceEmptyMain(s, cpu, gfp))) return 0;
    main = yield* loadMain(s, c, S_ALLOC);
    size = yield* loadSheafSize(m, main, S_ALLOC);
  }
  const object = sheafObject(m, main, size - 1);
  // Between taking the top object and shrinking the sheaf: irqs are on, preemption off.
  yield* irqPoint(cpu, S_ALLOC_IRQ);
  if (nodeRequested && slabNode(m, virtToHeadPfn(m, object)) !== node) {
    yield* localUnlockPcs(s, c);
    if (s.sheafOnly) stat(s, c, ST.alloc_node_mismatch);
    return 0;
  }
  yield* storeSheafSize(m, main, size - 1, S_ALLOC);
  yield* localUnlockPcs(s, c);
  stat(s, c, allocStat(s));
  return object;
}

/**
 * A destroyed cache: pcs_destroy() took its sheaves (the view `s` predates it). To the
 * slow path, which refuses the destroyed cache.
 */
function* destroyed(s: KmemCache, c: number): Step<number> {
  yield* localUnlockPcs(s, c);
  return 0;
}

/**
 * __pcs_replace_empty_main(): with the local lock held and main empty, make main a
 * sheaf with objects: the spare if it has any, else a full sheaf traded at the barn for
 * the empty main (BARN_GET, no limit check), else, if the caller may block, a sheaf
 * refilled from the slabs with the lock dropped (the spare, an empty one of the barn, or
 * a new one). True with the lock held again; false with it dropped.
 */
function* pcsReplaceEmptyMain(s: KmemCache, cpu: Cpu, gfp: number): Step<boolean> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  let spare = yield* loadSpare(s, c, S_EMPTY);
  let main = yield* loadMain(s, c, S_EMPTY);
  if (spare !== 0 && (yield* loadSheafSize(m, spare, S_EMPTY)) > 0) {
    yield* swapMainSpare(s, c, main, spare, S_EMPTY);
    return true;
  }
  const barn = getBarn(s, cpu);
  let full = yield* barnReplaceEmptySheaf(s, barn, main);
  if (full !== 0) {
    stat(s, c, ST.barn_get);
    yield* setMain(s, c, full, S_EMPTY);
    return true;
  }
  stat(s, c, ST.barn_get_fail);
  const canAlloc = gfpflagsAllowBlocking(gfp, cpu);
  let empty = 0;
  if (canAlloc) {
    if (spare !== 0) {
      empty = spare;
      yield* setSpare(s, c, 0, S_EMPTY);
    } else {
      empty = yield* barnGetEmptySheaf(s, barn);
    }
  }
  yield* localUnlockPcs(s, c);
  if (!canAlloc) return false;
  yield* irqPoint(cpu, S_EMPTY_IRQ);
  if (empty !== 0) {
    if (yield* refillSheaf(s, cpu, empty, gfp)) {
      full = empty;
    } else {
      // we must be very low on memory so don't bother with the barn
      yield* sheafFlushUnused(s, cpu, empty);
      yield* freeEmptySheaf(s, cpu, empty);
    }
  } else {
    full = yield* allocFullSheaf(s, cpu, gfp);
  }
  if (full === 0) return false;
  // Only a caller that may block gets here, so not an interrupt: the blocking form.
  // While the lock was dropped, this CPU's interrupts may have changed both sheaves;
  // breaching the barn's limits to put one back is rare enough to ignore them.
  yield* localLockPcs(s, c);
  main = yield* loadMain(s, c, S_EMPTY);
  spare = yield* loadSpare(s, c, S_EMPTY);
  if ((yield* loadSheafSize(m, main, S_EMPTY)) === 0) {
    if (spare === 0) yield* setSpare(s, c, main, S_EMPTY);
    else yield* barnPutEmptySheaf(s, barn, main);
    yield* setMain(s, c, full, S_EMPTY);
    return true;
  }
  if (spare === 0) {
    yield* setSpare(s, c, full, S_EMPTY);
    return true;
  }
  if ((yield* loadSheafSize(m, spare, S_EMPTY)) === 0) {
    yield* barnPutEmptySheaf(s, barn, spare);
    yield* setSpare(s, c, full, S_EMPTY);
    return true;
  }
  yield* barnPutFullSheaf(s, barn, full);
  stat(s, c, ST.barn_put);
  return true;
}

/**
 * free_to_pcs(): push the object onto this CPU's main sheaf; false to free it to its
 * slab instead (the lock was taken, or no sheaf with room could be had).
 */
export function* freeToPcs(s: KmemCache, cpu: Cpu, object: number): Step<boolean> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (!(yield* localTrylock(s, c))) return false;
  let main = yield* loadMain(s, c, S_FREE);
  if (main === 0) return (yield* destroyed(s, c)) !== 0;
  let size = yield* loadSheafSize(m, main, S_FREE);
  if (size === s.sheafCapacity) {
    if (!(yield* pcsReplaceFullMain(s, cpu))) return false;
    main = yield* loadMain(s, c, S_FREE);
    size = yield* loadSheafSize(m, main, S_FREE);
  }
  // Between finding the slot and filling it: irqs are on, preemption off.
  yield* irqPoint(cpu, S_FREE_IRQ);
  setSheafObject(m, main, size, object);
  yield* storeSheafSize(m, main, size + 1, S_FREE);
  yield* localUnlockPcs(s, c);
  stat(s, c, freeStat(s));
  return true;
}

/**
 * __pcs_replace_full_main(): with the local lock held and main full, make main a sheaf
 * with room: an empty one of the barn (the full main becomes the spare), the spare if it
 * has room, or an empty one traded at the barn for the full main (BARN_PUT). A barn with
 * MAX_FULL_SHEAVES full ones refuses (BARN_PUT_FAIL): the full spare is flushed to the
 * slabs and becomes the empty one. No empty sheaf at all: a new one (GFP_NOWAIT), or, if
 * that fails too, main is flushed. True with the lock held; false with it dropped.
 */
function* pcsReplaceFullMain(s: KmemCache, cpu: Cpu): Step<boolean> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const barn = getBarn(s, cpu);
  for (;;) {
    // restart:
    const main = yield* loadMain(s, c, S_FULL);
    const spare = yield* loadSpare(s, c, S_FULL);
    let putFail = false;
    let empty = 0;
    if (spare === 0) {
      empty = yield* barnGetEmptySheaf(s, barn);
      if (empty !== 0) {
        yield* setSpare(s, c, main, S_FULL);
        yield* setMain(s, c, empty, S_FULL);
        return true;
      }
    } else if ((yield* loadSheafSize(m, spare, S_FULL)) < s.sheafCapacity) {
      yield* swapMainSpare(s, c, main, spare, S_FULL);
      return true;
    } else {
      empty = yield* barnReplaceFullSheaf(s, barn, main);
      if (empty > 0) {
        stat(s, c, ST.barn_put);
        yield* setMain(s, c, empty, S_FULL);
        return true;
      }
      if (empty === E2BIG) {
        // Since we got here, spare exists and is full.
        stat(s, c, ST.barn_put_fail);
        yield* setSpare(s, c, 0, S_FULL);
        yield* localUnlockPcs(s, c);
        yield* sheafFlushUnused(s, cpu, spare);
        return yield* installEmpty(s, cpu, spare);
      }
      // No empty sheaf in the barn: allocate one, and put the full main in the barn
      // after all in __pcs_install_empty_sheaf(); count the failure if that fails.
      putFail = true;
    }
    // alloc_empty:
    yield* localUnlockPcs(s, c);
    yield* irqPoint(cpu, S_FULL_IRQ);
    empty = yield* allocEmptySheaf(s, cpu, GFP_NOWAIT);
    if (empty !== 0) return yield* installEmpty(s, cpu, empty);
    if (putFail) stat(s, c, ST.barn_put_fail);
    if (!(yield* sheafFlushMain(s, cpu))) return false;
    if (!(yield* localTrylock(s, c))) return false;
    // Flushed, so main should have room now, unless an interrupt filled it again.
    if (sheafSize(m, yield* loadMain(s, c, S_FULL)) === s.sheafCapacity) continue;
    return true;
  }
}

/** __pcs_replace_full_main()'s got_empty: retake the lock and install `empty`, or give it to the barn. */
function* installEmpty(s: KmemCache, cpu: Cpu, empty: number): Step<boolean> {
  const c = cpuSlabOff(s, cpu.id);
  const barn = getBarn(s, cpu);
  if (!(yield* localTrylock(s, c))) {
    yield* barnPutEmptySheaf(s, barn, empty);
    return false;
  }
  yield* pcsInstallEmptySheaf(s, cpu, empty, barn);
  return true;
}

/**
 * __pcs_install_empty_sheaf(): the lock is held again and `empty` in hand; normally the
 * full main becomes the spare. What an interrupt may have changed meanwhile is undone
 * through the barn, ignoring its limits.
 */
function* pcsInstallEmptySheaf(s: KmemCache, cpu: Cpu, empty: number, barn: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const main = yield* loadMain(s, c, S_FULL);
  const spare = yield* loadSpare(s, c, S_FULL);
  if (spare === 0) {
    yield* setSpare(s, c, main, S_FULL);
    yield* setMain(s, c, empty, S_FULL);
    return;
  }
  if ((yield* loadSheafSize(m, main, S_FULL)) < s.sheafCapacity) {
    yield* barnPutEmptySheaf(s, barn, empty);
    return;
  }
  if ((yield* loadSheafSize(m, spare, S_FULL)) < s.sheafCapacity) {
    yield* swapMainSpare(s, c, main, spare, S_FULL);
    yield* barnPutEmptySheaf(s, barn, empty);
    return;
  }
  // barn_replace_full_sheaf() found no empty sheaf, we allocated one: finish the job.
  yield* barnPutFullSheaf(s, barn, main);
  stat(s, c, ST.barn_put);
  yield* setMain(s, c, empty, S_FULL);
}

/**
 * alloc_from_pcs_bulk(): up to `size` objects into p from the main sheaf, the spare and
 * full sheaves of the barn; once those are used up the caller goes to the slabs rather
 * than copying arrays of pointers twice. Returns how many.
 */
export function* allocFromPcsBulk(s: KmemCache, cpu: Cpu, size: number, p: number[]): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  let allocated = 0;
  while (allocated < size) {
    if (!(yield* localTrylock(s, c))) return allocated;
    let main = yield* loadMain(s, c, S_BULK);
    let msize = yield* loadSheafSize(m, main, S_BULK);
    if (msize === 0) {
      const spare = yield* loadSpare(s, c, S_BULK);
      if (spare !== 0 && (yield* loadSheafSize(m, spare, S_BULK)) > 0) {
        yield* swapMainSpare(s, c, main, spare, S_BULK);
        main = spare;
      } else {
        const full = yield* barnReplaceEmptySheaf(s, getBarn(s, cpu), main);
        if (full === 0) {
          stat(s, c, ST.barn_get_fail);
          yield* localUnlockPcs(s, c);
          return allocated;
        }
        stat(s, c, ST.barn_get);
        yield* setMain(s, c, full, S_BULK);
        main = full;
      }
      msize = yield* loadSheafSize(m, main, S_BULK);
    }
    // do_alloc:
    const batch = Math.min(size - allocated, msize);
    for (let i = 0; i < batch; i++) p[allocated + i] = sheafObject(m, main, msize - batch + i);
    yield* storeSheafSize(m, main, msize - batch, S_BULK);
    yield* localUnlockPcs(s, c);
    statAdd(s, c, allocStat(s), batch);
    allocated += batch;
  }
  return allocated;
}

/**
 * free_to_pcs_bulk(): objects of another node go to their slabs (in batches of
 * PCS_BATCH_MAX), the local ones into the main sheaf, a batch per sheaf with room
 * (the spare, an empty one of the barn, or one traded for the full main); when no such
 * sheaf can be had the rest go to the slabs. 7.0 counts the objects freed to slabs as
 * FREE_SLOWPATH; 6.18's do_slab_free() counts them itself.
 */
export function* freeToPcsBulk(s: KmemCache, cpu: Cpu, size: number, objects: readonly number[]): Step {
  const m = s.m;
  const p = objects.slice(0, size);
  let n = size;
  let i = 0;
  for (;;) {
    // next_remote_batch:
    const remote: number[] = [];
    while (i < n && remote.length < PCS_BATCH_MAX) {
      if (slabNode(m, virtToHeadPfn(m, p[i])) !== cpu.node) {
        remote.push(p[i]);
        p[i] = p[--n];
        continue;
      }
      i++;
    }
    if (i < n) {
      // flush_remote, then classify on
      yield* freeToSlabs(s, cpu, remote);
      continue;
    }
    yield* localBatches(s, cpu, p.slice(0, n));
    yield* freeToSlabs(s, cpu, remote);
    return;
  }
}

/** free_to_pcs_bulk()'s fallback and flush_remote: straight to the slabs. */
function* freeToSlabs(s: KmemCache, cpu: Cpu, objs: number[]): Step {
  if (objs.length === 0) return;
  yield* kmemCacheFreeBulkInternal(s, cpu, objs.length, objs);
  if (s.sheafOnly) statAdd(s, cpuSlabOff(s, cpu.id), ST.free_slowpath, objs.length);
}

/** free_to_pcs_bulk()'s next_batch loop over the local objects. */
function* localBatches(s: KmemCache, cpu: Cpu, p: number[]): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const cap = s.sheafCapacity;
  let at = 0;
  while (at < p.length) {
    if (!(yield* localTrylock(s, c))) break; // fallback
    let main = yield* loadMain(s, c, S_BULK);
    let msize = yield* loadSheafSize(m, main, S_BULK);
    if (msize === cap) {
      const barn = getBarn(s, cpu);
      const spare = yield* loadSpare(s, c, S_BULK);
      let next = 0;
      if (spare === 0) {
        next = yield* barnGetEmptySheaf(s, barn);
        if (next !== 0) {
          yield* setSpare(s, c, main, S_BULK);
          yield* setMain(s, c, next, S_BULK);
        }
      } else if ((yield* loadSheafSize(m, spare, S_BULK)) < cap) {
        yield* swapMainSpare(s, c, main, spare, S_BULK);
        next = spare;
      } else {
        next = yield* barnReplaceFullSheaf(s, barn, main);
        if (next < 0) {
          stat(s, c, ST.barn_put_fail);
          next = 0;
        } else {
          stat(s, c, ST.barn_put);
          yield* setMain(s, c, next, S_BULK);
        }
      }
      if (next === 0) {
        // no_empty:
        yield* localUnlockPcs(s, c);
        break;
      }
      main = next;
      msize = yield* loadSheafSize(m, main, S_BULK);
    }
    // do_free:
    const batch = Math.min(p.length - at, cap - msize);
    for (let k = 0; k < batch; k++) setSheafObject(m, main, msize + k, p[at + k]);
    yield* storeSheafSize(m, main, msize + batch, S_BULK);
    yield* localUnlockPcs(s, c);
    statAdd(s, c, freeStat(s), batch);
    at += batch;
  }
  // fallback: the barn has no empty sheaf or too many full ones
  yield* freeToSlabs(s, cpu, p.slice(at));
}

/** has_pcs_used(): a spare, or objects in main (racy, as flush_all's condition is). */
export function hasPcsUsed(s: KmemCache, cpu: number): boolean {
  if (s.sheafCapacity === 0) return false;
  const c = cpuSlabOff(s, cpu);
  const main = s.m.u32[c + CACHE_CPU.main];
  return s.m.u32[c + CACHE_CPU.spare] !== 0 || (main !== 0 && sheafSize(s.m, main) !== 0);
}

/**
 * pcs_flush_all(): flush_all's work on this CPU. The spare is flushed and freed, main
 * flushed and kept; the barns are left alone (flushing goes to the slabs directly).
 */
export function* pcsFlushAll(s: KmemCache, cpu: Cpu): Step {
  const c = cpuSlabOff(s, cpu.id);
  yield* localLockPcs(s, c);
  const spare = yield* loadSpare(s, c, S_FLUSH);
  yield* setSpare(s, c, 0, S_FLUSH);
  yield* localUnlockPcs(s, c);
  if (spare !== 0) {
    yield* sheafFlushUnused(s, cpu, spare);
    yield* freeEmptySheaf(s, cpu, spare);
  }
  yield* sheafFlushMain(s, cpu);
}
