/* @two-way */
// The allocation and free paths of debug caches (kmem_cache_debug(s): any of F Z P U T).
// 6.6 (slub.c since 6.2): a debug cache never has a cpu slab; every allocation takes one
// object under n->list_lock (alloc_single_from_partial(), alloc_single_from_new_slab())
// and every free puts it back under the same lock (free_to_partial_list()), so that
// validation, which holds it too, sees consistent slabs. 5.4: the allocation goes
// through the ordinary slow path and deactivates the slab at once (alloc_slow.ts);
// the free runs free_debug_processing() under n->list_lock, then the ordinary __slab_free.
import { type Step, site } from '../../sched/step.js';
import { load32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_NODE, NIL, PAGE, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { inuseOf, makeCounters, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { allocDebugProcessing, freeDebugProcessing, readFreepointer, writeFreepointer } from './debug.js';
import { cpuSlabOff, type KmemCache, minPartial, stat } from './kmem_cache.js';
import { addFull, addPartial, listLock, listUnlock, removeFull, removePartial } from './list.js';
import { liveReporter } from './report.js';
import { doubleFree } from './misuse.js';
import { decSlabsNode, freeSlab, incSlabsNode, slabNode } from './slab.js';

const S_PARTIAL = site('get_partial_node:alloc_single_from_partial');
const S_NEW = site('alloc_single_from_new_slab');
const S_FREE = site('free_to_partial_list');
const S_FREE54 = site('free_debug_processing');

/** The slab pair of a debug slab, read and written plainly: under n->list_lock nothing else touches it (6.6). */
const counters = (s: KmemCache, pfn: number): number => s.m.u32[pageOff(s.m, pfn) + SLAB_COUNTERS];
const freelist = (s: KmemCache, pfn: number): number => s.m.u32[pageOff(s.m, pfn) + SLAB_FREELIST];
function setPair(s: KmemCache, pfn: number, fl: number, c: number): void {
  const p = pageOff(s.m, pfn);
  s.m.u32[p + SLAB_FREELIST] = fl;
  s.m.u32[p + SLAB_COUNTERS] = c;
}

/**
 * get_partial_node() of a 6.6 debug cache: under n->list_lock, alloc_single_from_partial()
 * on each partial slab in turn until one hands out an object (a slab that fails its
 * checks is taken off the list and the walk goes on).
 */
export function* getPartialNodeSingle(s: KmemCache, cpu: Cpu, node: number, origSize: number): Step<number> {
  const m = s.m;
  const n = s.node0 + node * CACHE_NODE.STRIDE;
  if ((yield* load32(m, n + CACHE_NODE.nrPartial, S_PARTIAL)) === 0) return 0;
  yield* listLock(s, n, S_PARTIAL);
  let object = 0;
  for (let pfn = m.u32[n + CACHE_NODE.partialHead]; pfn !== NIL;) {
    const next = m.u32[pageOff(m, pfn) + PAGE.lruNext];
    object = yield* allocSingleFromPartial(s, cpu, n, pfn, origSize);
    if (object !== 0) break;
    pfn = next;
  }
  yield* listUnlock(s, n, S_PARTIAL);
  return object;
}

/** alloc_single_from_partial(): one object off a node partial slab (caller holds list_lock). */
function* allocSingleFromPartial(s: KmemCache, cpu: Cpu, n: number, pfn: number, origSize: number): Step<number> {
  const object = freelist(s, pfn);
  // A partial slab has a freelist, unless on_freelist() cleared a corrupt one and left
  // the slab on the list; the kernel would dereference NULL here, the simulator skips it.
  if (object === 0) return 0;
  const c = counters(s, pfn);
  setPair(s, pfn, readFreepointer(s, object), c + 1); // inuse++
  yield S_PARTIAL;
  if (!allocDebugProcessing(liveReporter, s, cpu, pfn, object, origSize)) {
    // The slab was marked all used: off the list, on none (the kernel leaks it too).
    yield* removePartial(s, n, pfn);
    return 0;
  }
  const now = counters(s, pfn);
  if (inuseOf(now) === objectsOf(now)) {
    yield* removePartial(s, n, pfn);
    if (s.storeUser) yield* addFull(s, n, pfn);
  }
  return object;
}

/**
 * alloc_single_from_new_slab(): the first object of a fresh slab (6.6 allocate_slab()
 * returns it unfrozen, inuse 0), then the slab goes on the partial list's head (or the
 * full list) and is counted on its node. If the checks fail (only a concurrent
 * corruption could do that) the slab is simply dropped, uncounted, as the kernel does.
 */
export function* allocSingleFromNewSlab(s: KmemCache, cpu: Cpu, pfn: number, origSize: number): Step<number> {
  const m = s.m;
  const n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
  const object = freelist(s, pfn);
  const objects = objectsOf(counters(s, pfn));
  setPair(s, pfn, readFreepointer(s, object), makeCounters(1, objects, 0));
  if (!allocDebugProcessing(liveReporter, s, cpu, pfn, object, origSize)) return 0;
  yield* listLock(s, n, S_NEW);
  if (objects === 1) {
    if (s.storeUser) yield* addFull(s, n, pfn);
  } else {
    yield* addPartial(s, n, pfn, false); // DEACTIVATE_TO_HEAD
  }
  yield* incSlabsNode(s, slabNode(m, pfn), objects);
  yield* listUnlock(s, n, S_NEW);
  return object;
}

/**
 * free_to_partial_list() (6.6): under n->list_lock, free_debug_processing() and then the
 * free itself. An emptied slab is discarded when the node has min_partial partial slabs
 * (from whichever list it is on); a previously full slab goes to the partial list's tail.
 */
export function* freeToPartialList(s: KmemCache, cpu: Cpu, pfn: number, head: number, tail: number, cnt: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const n = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
  let slabFree = false;
  yield* listLock(s, n, S_FREE);
  if (!s.checks && freelist(s, pfn) === tail) {
    // Without consistency checks the naive double-free check is all there is; made
    // before free_debug_processing() rewrites the object (the kernel BUGs after it).
    yield* listUnlock(s, n, S_FREE);
    throw doubleFree(s, tail);
  }
  const freed = freeDebugProcessing(liveReporter, s, cpu, pfn, head, tail, cnt);
  if (freed >= 0) {
    const prior = freelist(s, pfn);
    const old = counters(s, pfn);
    const inuse = inuseOf(old) - freed;
    writeFreepointer(s, tail, prior);
    setPair(s, pfn, head, makeCounters(inuse, objectsOf(old), 0));
    yield S_FREE;
    if (inuse === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) slabFree = true;
    if (prior === 0) {
      // was on the full list
      if (s.storeUser) yield* removeFull(s, n, pfn);
      if (!slabFree) {
        yield* addPartial(s, n, pfn, true); // DEACTIVATE_TO_TAIL
        stat(s, c, ST.free_add_partial);
      }
    } else if (slabFree) {
      yield* removePartial(s, n, pfn);
      stat(s, c, ST.free_remove_partial);
    }
  }
  // Update the counters while still holding n->list_lock to prevent spurious
  // validation warnings.
  if (slabFree) yield* decSlabsNode(s, slabNode(m, pfn), objectsOf(counters(s, pfn)));
  yield* listUnlock(s, n, S_FREE);
  if (slabFree) {
    stat(s, c, ST.free_slab);
    yield* freeSlab(s, pfn);
  }
}

/**
 * free_debug_processing() of 5.4 with its locking: n->list_lock (and slab_lock, see
 * debug.ts) around the checks; the message about a dropped free comes after unlocking.
 * Returns whether the free may go on.
 */
export function* freeDebugProcessing54(
  s: KmemCache,
  cpu: Cpu,
  pfn: number,
  head: number,
  tail: number,
  cnt: number,
): Step<boolean> {
  const n = s.node0 + slabNode(s.m, pfn) * CACHE_NODE.STRIDE;
  yield* listLock(s, n, S_FREE54);
  const freed = freeDebugProcessing(liveReporter, s, cpu, pfn, head, tail, cnt);
  yield* listUnlock(s, n, S_FREE54);
  return freed >= 0;
}
