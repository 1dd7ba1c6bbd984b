/* @two-way */
// The allocation slow path. slub.c: ___slab_alloc(), get_freelist(), new_slab_objects()
// (5.4), get_partial(), get_partial_node(), acquire_slab(), get_any_partial().
// 5.4 runs all of it with irqs off; 6.6 takes c->lock only around the parts that touch c.

import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, CPU_FREELIST, CPU_TID, NIL, PAGE, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { frozenOf, inuseOf, makeCounters, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { allocDebugProcessing, setTrack, TRACK_ALLOC } from './debug.js';
import { allocSingleFromNewSlab, getPartialNodeSingle } from './debug_path.js';
import { deactivateSlab, flushSlab, nextTid } from './deactivate.js';
import { getFreepointer } from './freeptr.js';
import {
  cpuPartial,
  cpuPartialSlabs,
  cpuSlabOff,
  type KmemCache,
  minPartial,
  remoteNodeDefragRatio,
  stat,
} from './kmem_cache.js';
import { listLock, listUnlock, removePartial } from './list.js';
import { checkLive } from './misuse.js';
import { localLock, localUnlock, putCpuPartial } from './partial.js';
import { liveReporter } from './report.js';
import { allocateSlab, cmpxchgDoubleSlab, incSlabsNode, NUMA_NO_NODE, slabNode } from './slab.js';
import { slabAllocSlow70 } from './alloc_slow70.js';
import { GFP_KERNEL } from './gfp.js';

const S_SLOW = site('___slab_alloc');
const S_GET_FREELIST = site('get_freelist');
const S_ACQUIRE = site('acquire_slab');
const S_PARTIAL = site('get_partial_node');
const S_LIST_LOCK = site('get_partial_node:list_lock');

/** node_match(): does the slab at `pfn` satisfy the node constraint? */
export const nodeMatch = (s: KmemCache, pfn: number, node: number): boolean =>
  node === NUMA_NO_NODE || slabNode(s.m, pfn) === node;

/**
 * ___slab_alloc(): the slow path. Returns an object, or 0 when no memory is left
 * (slab_out_of_memory: the kernel prints a warning; here the count of ALLOC_SLOWPATH
 * without a matching fastpath or refill tells it). `origSize` is the size kmalloc() was
 * asked for (0: s->object_size), which 6.6 debug caches record. A destroyed cache is
 * refused here: it has no cpu slabs, so its allocations never pass the fast path.
 */
export function* slabAllocSlow(s: KmemCache, cpu: Cpu, node: number, origSize = 0, gfp = GFP_KERNEL): Step<number> {
  checkLive(s, 'kmem_cache_alloc');
  if (s.sheafOnly) return yield* slabAllocSlow70(s, cpu, node, origSize, gfp);
  if (s.v66) return s.debug ? yield* slabAllocDebug66(s, cpu, node, origSize) : yield* slabAllocSlow66(s, cpu, node);
  return yield* slabAllocSlow54(s, cpu, node);
}

/**
 * ___slab_alloc() of a 6.6 debug cache: no cpu slab and no cpu partials ever, so it goes
 * straight to new_objects: one object from a partial slab (alloc_single_from_partial(),
 * inside get_partial_node()) or from a new one (alloc_single_from_new_slab()), then its
 * allocation track.
 */
function* slabAllocDebug66(s: KmemCache, cpu: Cpu, node: number, origSize: number): Step<number> {
  const c = cpuSlabOff(s, cpu.id);
  stat(s, c, ST.alloc_slowpath);
  for (;;) {
    // new_objects:
    let object = yield* getPartial(s, cpu, node, origSize);
    if (object === 0) {
      const pfn = yield* allocateSlab(s, cpu, node);
      if (pfn === 0) return 0; // slab_out_of_memory()
      stat(s, c, ST.alloc_slab);
      object = yield* allocSingleFromNewSlab(s, cpu, pfn, origSize);
      if (object === 0) continue; // goto new_objects
    }
    if (s.storeUser) setTrack(s, object, TRACK_ALLOC, cpu);
    return object;
  }
}

/** load_freelist: the rest of `freelist` becomes the cpu freelist; `freelist` is returned. */
function* loadFreelist(s: KmemCache, c: number, freelist: number): Step<number> {
  const m = s.m;
  const next = yield* getFreepointer(s, freelist, S_SLOW);
  const tid = yield* load32(m, c + CPU_TID, S_SLOW);
  yield* store32(m, c + CPU_FREELIST, next, S_SLOW);
  yield* store32(m, c + CPU_TID, nextTid(s, tid), S_SLOW);
  return freelist;
}

function* slabAllocSlow54(s: KmemCache, cpu: Cpu, node: number): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  stat(s, c, ST.alloc_slowpath);
  let page = yield* load32(m, c + CACHE_CPU.page, S_SLOW);
  for (;;) {
    // (page is NIL after a debug check failed: `goto new_slab`, with c->page still set)
    if (page !== NIL) {
      // redo:
      if (!nodeMatch(s, page, node)) {
        stat(s, c, ST.alloc_node_mismatch);
        yield* deactivateSlab(s, cpu, page, yield* load32(m, c + CPU_FREELIST, S_SLOW));
      } else {
        // An interrupt (or a race) may have refilled the cpu freelist.
        let freelist = yield* load32(m, c + CPU_FREELIST, S_SLOW);
        if (freelist !== 0) return yield* loadFreelist(s, c, freelist);
        freelist = yield* getFreelist(s, cpu, page);
        if (freelist !== 0) {
          stat(s, c, ST.alloc_refill);
          return yield* loadFreelist(s, c, freelist);
        }
        // The slab had nothing left: it is now unfrozen and full, on no list.
        yield* store32(m, c + CACHE_CPU.page, NIL, S_SLOW);
        stat(s, c, ST.deactivate_bypass);
      }
    }
    // new_slab:
    const partial = yield* load32(m, c + CACHE_CPU.partial, S_SLOW);
    if (partial !== NIL) {
      page = partial;
      yield* store32(m, c + CACHE_CPU.page, page, S_SLOW);
      yield* store32(m, c + CACHE_CPU.partial, m.u32[pageOff(m, page) + PAGE.next], S_SLOW);
      stat(s, c, ST.cpu_partial_alloc);
      continue; // goto redo: the slab is frozen with its objects on page->freelist
    }
    const freelist = yield* newSlabObjects54(s, cpu, node);
    if (freelist === 0) return 0; // slab_out_of_memory()
    if (!s.debug) return yield* loadFreelist(s, c, freelist);
    // Only entered in the debug case: check the first object, then give the slab back
    // with the rest of its objects at once, so every debug allocation is a slow path.
    const slab = yield* load32(m, c + CACHE_CPU.page, S_SLOW);
    if (!allocDebugProcessing(liveReporter, s, cpu, slab, freelist, 0)) {
      page = NIL; // goto new_slab: slab failed checks, next slab needed
      continue;
    }
    yield* deactivateSlab(s, cpu, slab, yield* getFreepointer(s, freelist, S_SLOW));
    return freelist;
  }
}

/** new_slab_objects() (5.4): a partial slab, or a new one, installed as the cpu slab. */
function* newSlabObjects54(s: KmemCache, cpu: Cpu, node: number): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const freelist = yield* getPartial(s, cpu, node);
  if (freelist !== 0) return freelist;
  const pfn = yield* allocateSlab(s, cpu, node);
  if (pfn === 0) return 0;
  if ((yield* load32(m, c + CACHE_CPU.page, S_SLOW)) !== NIL) yield* flushSlab(s, cpu);
  const p = pageOff(m, pfn);
  const first = m.u32[p + SLAB_FREELIST];
  m.u32[p + SLAB_FREELIST] = 0; // not yet visible to anyone: a plain store
  stat(s, c, ST.alloc_slab);
  yield* store32(m, c + CACHE_CPU.page, pfn, S_SLOW);
  return first;
}

function* slabAllocSlow66(s: KmemCache, cpu: Cpu, node: number): Step<number> {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  stat(s, c, ST.alloc_slowpath);
  for (;;) {
    // reread_slab:
    const slab = yield* load32(m, c + CACHE_CPU.page, S_SLOW);
    while (slab !== NIL) {
      // redo:
      if (!nodeMatch(s, slab, node)) {
        stat(s, c, ST.alloc_node_mismatch);
        // deactivate_slab: detach under the lock, deactivate outside it.
        localLock(s, c);
        const freelist = yield* load32(m, c + CPU_FREELIST, S_SLOW);
        yield* store32(m, c + CACHE_CPU.page, NIL, S_SLOW);
        yield* store32(m, c + CPU_FREELIST, 0, S_SLOW);
        yield* store32(m, c + CPU_TID, nextTid(s, yield* load32(m, c + CPU_TID, S_SLOW)), S_SLOW);
        localUnlock(s, c);
        yield* deactivateSlab(s, cpu, slab, freelist);
        break;
      }
      localLock(s, c);
      let freelist = yield* load32(m, c + CPU_FREELIST, S_SLOW);
      if (freelist === 0) freelist = yield* getFreelist(s, cpu, slab);
      else {
        const r = yield* loadFreelist(s, c, freelist);
        localUnlock(s, c);
        return r;
      }
      if (freelist !== 0) {
        stat(s, c, ST.alloc_refill);
        const r = yield* loadFreelist(s, c, freelist);
        localUnlock(s, c);
        return r;
      }
      yield* store32(m, c + CACHE_CPU.page, NIL, S_SLOW);
      yield* store32(m, c + CPU_TID, nextTid(s, yield* load32(m, c + CPU_TID, S_SLOW)), S_SLOW);
      localUnlock(s, c);
      stat(s, c, ST.deactivate_bypass);
      break;
    }
    // new_slab:
    const partial = yield* load32(m, c + CACHE_CPU.partial, S_SLOW);
    if (partial !== NIL) {
      localLock(s, c);
      yield* store32(m, c + CACHE_CPU.page, partial, S_SLOW);
      yield* store32(m, c + CACHE_CPU.partial, m.u32[pageOff(m, partial) + PAGE.next], S_SLOW);
      localUnlock(s, c);
      stat(s, c, ST.cpu_partial_alloc);
      continue;
    }
    // new_objects:
    let freelist = yield* getPartial(s, cpu, node);
    let pfn: number;
    if (freelist !== 0) {
      pfn = getPartialSlab;
    } else {
      pfn = yield* allocateSlab(s, cpu, node);
      if (pfn === 0) return 0; // slab_out_of_memory()
      stat(s, c, ST.alloc_slab);
      // No other reference to the slab yet: take its freelist without a CAS.
      const p = pageOff(m, pfn);
      freelist = m.u32[p + SLAB_FREELIST];
      const objects = objectsOf(m.u32[p + SLAB_COUNTERS]);
      m.u32[p + SLAB_FREELIST] = 0;
      m.u32[p + SLAB_COUNTERS] = makeCounters(objects, objects, 1);
      yield* incSlabsNode(s, slabNode(m, pfn), objects);
    }
    // retry_load_slab: a cpu slab installed meanwhile (by an interrupt) is flushed first.
    for (;;) {
      localLock(s, c);
      const old = yield* load32(m, c + CACHE_CPU.page, S_SLOW);
      if (old === NIL) break;
      const oldFreelist = yield* load32(m, c + CPU_FREELIST, S_SLOW);
      yield* store32(m, c + CACHE_CPU.page, NIL, S_SLOW);
      yield* store32(m, c + CPU_FREELIST, 0, S_SLOW);
      yield* store32(m, c + CPU_TID, nextTid(s, yield* load32(m, c + CPU_TID, S_SLOW)), S_SLOW);
      localUnlock(s, c);
      yield* deactivateSlab(s, cpu, old, oldFreelist);
      stat(s, c, ST.cpuslab_flush);
    }
    yield* store32(m, c + CACHE_CPU.page, pfn, S_SLOW);
    const r = yield* loadFreelist(s, c, freelist);
    localUnlock(s, c);
    return r;
  }
}

/**
 * The slab get_partial() found, for 6.6 (`pc->slab`): set right before get_partial
 * returns and read right after, with no schedule point between, so no other CPU can
 * overwrite it in between (the scheduler runs one CPU at a time).
 */
let getPartialSlab = NIL;

/**
 * get_freelist(): take the slab's whole freelist; the slab stays frozen if it had one
 * and becomes unfrozen (full, on no list) if not.
 */
function* getFreelist(s: KmemCache, cpu: Cpu, pfn: number): Step<number> {
  const p = pageOff(s.m, pfn);
  for (;;) {
    const freelist = yield* load32(s.m, p + SLAB_FREELIST, S_GET_FREELIST);
    const counters = yield* load32(s.m, p + SLAB_COUNTERS, S_GET_FREELIST);
    if (!frozenOf(counters)) throw new InvariantError('the cpu slab is frozen', `get_freelist on pfn ${pfn} of ${s.name}`);
    const objects = objectsOf(counters);
    const next = makeCounters(objects, objects, freelist !== 0 ? 1 : 0);
    if (yield* cmpxchgDoubleSlab(s, cpu, pfn, freelist, counters, 0, next, S_GET_FREELIST)) return freelist;
  }
}

/** get_partial(): the local (or requested) node first, then any node if unconstrained. */
function* getPartial(s: KmemCache, cpu: Cpu, node: number, origSize = 0): Step<number> {
  const search = node === NUMA_NO_NODE ? cpu.node : node;
  const object = yield* getPartialNode(s, cpu, search, origSize);
  if (object !== 0 || node !== NUMA_NO_NODE) return object;
  return yield* getAnyPartial(s, cpu, origSize);
}

/**
 * get_any_partial(): other nodes' partial slabs, only when the defrag ratio allows
 * (get_cycles() % 1024 <= remote_node_defrag_ratio) and from nodes that have more
 * than min_partial of them. Nodes are tried in zonelist order: local, then by id.
 */
function* getAnyPartial(s: KmemCache, cpu: Cpu, origSize: number): Step<number> {
  const m = s.m;
  const ratio = remoteNodeDefragRatio(s);
  if (ratio === 0 || m.cfg.nodes === 1 || cpu.rng.below(1024) > ratio) return 0;
  for (let i = 0; i < m.cfg.nodes; i++) {
    const node = (cpu.node + i) % m.cfg.nodes;
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    if (m.u32[n + CACHE_NODE.nrPartial] > minPartial(s)) {
      const object = yield* getPartialNode(s, cpu, node, origSize);
      if (object !== 0) return object;
    }
  }
  return 0;
}

/**
 * get_partial_node(): under list_lock, freeze the first partial slab with its whole
 * freelist (it becomes the cpu slab) and move more slabs, frozen with their objects, to
 * this CPU's partial list, until enough are held: 5.4 counts free objects
 * (available > cpu_partial / 2), 6.6 counts extra slabs (> cpu_partial_slabs / 2).
 */
function* getPartialNode(s: KmemCache, cpu: Cpu, node: number, origSize: number): Step<number> {
  // 6.6 debug caches take a single object under the lock (alloc_single_from_partial()).
  if (s.v66 && s.debug) return yield* getPartialNodeSingle(s, cpu, node, origSize);
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const n = s.node0 + node * CACHE_NODE.STRIDE;
  // Racy check: if we mistakenly see no partial slabs we allocate a new one.
  if ((yield* load32(m, n + CACHE_NODE.nrPartial, S_PARTIAL)) === 0) return 0;
  yield* listLock(s, n, S_LIST_LOCK);
  let object = 0;
  let available = 0;
  let partialSlabs = 0;
  for (let pfn = m.u32[n + CACHE_NODE.partialHead]; pfn !== NIL;) {
    const next = m.u32[pageOff(m, pfn) + PAGE.lruNext];
    const acquired = yield* acquireSlab(s, cpu, n, pfn, object === 0);
    if (acquired.freelist === 0) break;
    available += acquired.objects;
    if (object === 0) {
      if (s.v66) getPartialSlab = pfn;
      else yield* store32(m, c + CACHE_CPU.page, pfn, S_PARTIAL);
      stat(s, c, ST.alloc_from_partial);
      object = acquired.freelist;
    } else {
      yield* putCpuPartial(s, cpu, pfn, false);
      stat(s, c, ST.cpu_partial_node);
      partialSlabs++;
    }
    if (!s.hasCpuPartial) break;
    if (s.v66 ? partialSlabs > cpuPartialSlabs(s) / 2 : available > cpuPartial(s) / 2) break;
    pfn = next;
  }
  yield* listUnlock(s, n, S_LIST_LOCK);
  return object;
}

/**
 * acquire_slab(): freeze a node partial slab and take it off the list. `whole` (the
 * first slab) also takes its freelist, inuse = objects. Returns freelist 0 when the CAS
 * failed (a free raced): get_partial_node then stops its walk. Caller holds list_lock.
 */
function* acquireSlab(
  s: KmemCache,
  cpu: Cpu,
  n: number,
  pfn: number,
  whole: boolean,
): Step<{ freelist: number; objects: number }> {
  const p = pageOff(s.m, pfn);
  const freelist = yield* load32(s.m, p + SLAB_FREELIST, S_ACQUIRE);
  const counters = yield* load32(s.m, p + SLAB_COUNTERS, S_ACQUIRE);
  const objects = objectsOf(counters);
  const free = objects - inuseOf(counters);
  if (frozenOf(counters)) throw new InvariantError('a node partial slab is not frozen', `pfn ${pfn} of ${s.name}`);
  const next = makeCounters(whole ? objects : inuseOf(counters), objects, 1);
  if (!(yield* cmpxchgDoubleSlab(s, cpu, pfn, freelist, counters, whole ? 0 : freelist, next, S_ACQUIRE))) {
    return { freelist: 0, objects: 0 };
  }
  yield* removePartial(s, n, pfn);
  return { freelist, objects: free };
}
