/* @two-way */
// Per-CPU partial lists. slub.c: put_cpu_partial(), unfreeze_partials(),
// __unfreeze_partials() (<= 6.7: cpu-partial slabs are frozen).

import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { cas32Relaxed, load32, store32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NODE, NIL, PAGE, SLAB_COUNTERS, SLAB_FREELIST, ST } from '../../shm/structs.js';
import { frozenOf, inuseOf, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { cpuPartial, cpuPartialSlabs, cpuSlabOff, type KmemCache, minPartial, stat } from './kmem_cache.js';
import { addPartial, listLock, listUnlock } from './list.js';
import { mutant } from './mutants.js';
import { cmpxchgDoubleSlab, discardSlab, slabNode } from './slab.js';

const S_PUT = site('put_cpu_partial');
const S_UNFREEZE = site('unfreeze_partials');
const S_LIST_LOCK = site('unfreeze_partials:list_lock');

/**
 * put_cpu_partial(s, slab, drain): push a frozen slab on this CPU's partial list. With
 * `drain`, a full list is first unfrozen onto the node lists (CPU_PARTIAL_DRAIN).
 * 5.4 limits the list by free objects (pobjects > cpu_partial); 6.6 by slabs.
 */
export function* putCpuPartial(s: KmemCache, cpu: Cpu, pfn: number, drain: boolean): Step {
  if (s.v66) yield* putCpuPartial66(s, cpu, pfn, drain);
  else yield* putCpuPartial54(s, cpu, pfn, drain);
}

function* putCpuPartial54(s: KmemCache, cpu: Cpu, pfn: number, drain: boolean): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  const p = pageOff(m, pfn);
  // this_cpu_cmpxchg(c->partial): only an interrupt on this CPU can change it meanwhile,
  // and it orders nothing (a per-CPU operation).
  for (;;) {
    let pages = 0;
    let pobjects = 0;
    let old = yield* load32(m, c + CACHE_CPU.partial, S_PUT);
    if (old !== NIL) {
      const op = pageOff(m, old);
      pobjects = m.u32[op + PAGE.pobjects];
      pages = m.u32[op + PAGE.pages];
      if (drain && pobjects > cpuPartial(s)) {
        // Partial array is full. Move the existing set to the per node partial list.
        yield* unfreezePartials(s, cpu);
        old = NIL;
        pobjects = 0;
        pages = 0;
        stat(s, c, ST.cpu_partial_drain);
      }
    }
    pages++;
    const counters = m.u32[p + SLAB_COUNTERS];
    pobjects += objectsOf(counters) - inuseOf(counters);
    m.u32[p + PAGE.pages] = pages;
    m.u32[p + PAGE.pobjects] = pobjects;
    m.u32[p + PAGE.next] = old;
    if (yield* cas32Relaxed(m, c + CACHE_CPU.partial, old, pfn, S_PUT)) break;
  }
  // cpu_partial == 0 (set through sysfs): nothing may stay on the list.
  if (cpuPartial(s) === 0) yield* unfreezePartials(s, cpu);
}

function* putCpuPartial66(s: KmemCache, cpu: Cpu, pfn: number, drain: boolean): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  localLock(s, c);
  let old = yield* load32(m, c + CACHE_CPU.partial, S_PUT);
  let slabs = 0;
  let toUnfreeze = NIL;
  if (old !== NIL) {
    const have = m.u32[pageOff(m, old) + PAGE.pages];
    if (drain && have >= cpuPartialSlabs(s)) {
      // Partial array is full: detach it whole, unfreeze it after dropping the lock.
      toUnfreeze = old;
      old = NIL;
    } else {
      slabs = have;
    }
  }
  const p = pageOff(m, pfn);
  m.u32[p + PAGE.pages] = slabs + 1;
  m.u32[p + PAGE.next] = old;
  yield* store32(m, c + CACHE_CPU.partial, pfn, S_PUT);
  localUnlock(s, c);
  if (toUnfreeze !== NIL) {
    yield* unfreezePartialList(s, cpu, toUnfreeze);
    stat(s, c, ST.cpu_partial_drain);
  }
}

/** unfreeze_partials(s, c): take this CPU's whole partial list and unfreeze it. */
export function* unfreezePartials(s: KmemCache, cpu: Cpu): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  if (s.v66) localLock(s, c);
  const head = yield* load32(m, c + CACHE_CPU.partial, S_UNFREEZE);
  yield* store32(m, c + CACHE_CPU.partial, NIL, S_UNFREEZE);
  if (s.v66) localUnlock(s, c);
  yield* unfreezePartialList(s, cpu, head);
}

/**
 * __unfreeze_partials(): unfreeze each slab of a detached chain, switching list_lock
 * when the node changes. An empty slab is discarded when its node already has
 * min_partial partial slabs; every other one goes to the tail of its node's list.
 */
function* unfreezePartialList(s: KmemCache, cpu: Cpu, head: number): Step {
  const m = s.m;
  const c = cpuSlabOff(s, cpu.id);
  let n = -1;
  const discard: number[] = [];
  for (let pfn = head; pfn !== NIL;) {
    const p = pageOff(m, pfn);
    const next = m.u32[p + PAGE.next];
    const n2 = s.node0 + slabNode(m, pfn) * CACHE_NODE.STRIDE;
    if (n !== n2) {
      if (n >= 0) yield* listUnlock(s, n, S_LIST_LOCK);
      n = n2;
      yield* listLock(s, n, S_LIST_LOCK);
    }
    let inuse: number;
    for (;;) {
      const freelist = yield* load32(m, p + SLAB_FREELIST, S_UNFREEZE);
      const counters = yield* load32(m, p + SLAB_COUNTERS, S_UNFREEZE);
      if (!frozenOf(counters)) throw new InvariantError('cpu partial slab is frozen', `pfn ${pfn} of ${s.name}`);
      inuse = inuseOf(counters);
      const unfrozen = (counters & 0x7fffffff) >>> 0;
      if (mutant.plainUnfreeze) {
        // Mutant: a plain store loses any remote free that lands between the load and here.
        yield* store32(m, p + SLAB_COUNTERS, unfrozen, S_UNFREEZE);
        break;
      }
      if (yield* cmpxchgDoubleSlab(s, cpu, pfn, freelist, counters, freelist, unfrozen, S_UNFREEZE)) break;
    }
    m.u32[p + PAGE.next] = NIL;
    if (inuse === 0 && m.u32[n + CACHE_NODE.nrPartial] >= minPartial(s)) {
      discard.push(pfn);
    } else {
      yield* addPartial(s, n, pfn, true);
      stat(s, c, ST.free_add_partial);
    }
    pfn = next;
  }
  if (n >= 0) yield* listUnlock(s, n, S_LIST_LOCK);
  for (const pfn of discard) {
    stat(s, c, ST.deactivate_empty);
    yield* discardSlab(s, pfn);
    stat(s, c, ST.free_slab);
  }
}

/**
 * 6.6's local_lock(&s->cpu_slab->lock): protects this CPU's slow-path fields against
 * its own interrupts. Interrupts here only strike fast paths, so it never contends;
 * finding it held means the slow path was re-entered, which would deadlock the kernel.
 */
export function localLock(s: KmemCache, c: number): void {
  if (s.m.u32[c + CACHE_CPU.lock] !== 0) throw new InvariantError('local_lock not re-entered', `${s.name}`);
  s.m.u32[c + CACHE_CPU.lock] = 1;
}

export function localUnlock(s: KmemCache, c: number): void {
  s.m.u32[c + CACHE_CPU.lock] = 0;
}
