/* @two-way */
// The node lists, linked through page->slab_list (PAGE.lruNext/lruPrev).
// Precondition for every function here: the caller holds n->list_lock. The schedule
// points between each operation's reads and writes let a CPU that does not hold it (a
// broken variant) be caught mid-update.
import { type Step, site } from '../../sched/step.js';
import { spinLock, spinTrylock, spinUnlock } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { mutant } from './mutants.js';
import { CACHE_NODE, NIL, PAGE, PG } from '../../shm/structs.js';
import type { KmemCache } from './kmem_cache.js';
import { lockCounts } from './lock_counts.js';

const S_ADD = site('add_partial');
const S_REMOVE = site('remove_partial');

/** spin_lock(&n->list_lock). (Mutant unlocked-partial: not taken.) */
export function* listLock(s: KmemCache, n: number, where: number): Step {
  lockCounts.listLock++;
  if (mutant.unlockedPartial) return;
  yield* spinLock(s.m, n + CACHE_NODE.listLock, where);
}

/** spin_trylock(&n->list_lock): true when taken. */
export function* listTrylock(s: KmemCache, n: number, where: number): Step<boolean> {
  if (mutant.unlockedPartial) return true;
  if (!(yield* spinTrylock(s.m, n + CACHE_NODE.listLock, where))) return false;
  lockCounts.listLock++;
  return true;
}

/** spin_unlock(&n->list_lock). */
export function* listUnlock(s: KmemCache, n: number, where: number): Step {
  if (mutant.unlockedPartial) return;
  yield* spinUnlock(s.m, n + CACHE_NODE.listLock, where);
}

/**
 * add_partial(n, slab, tail): tail is DEACTIVATE_TO_TAIL / ADD_TO_TAIL (true) or the
 * head. 7.0 also sets SL_partial, which __slab_free() reads under the lock.
 */
export function* addPartial(s: KmemCache, n: number, pfn: number, tail: boolean): Step {
  yield* linkIn(s, n + CACHE_NODE.partialHead, n + CACHE_NODE.partialTail, pfn, tail, S_ADD);
  yield* bumpNrPartial(s, n, 1, S_ADD);
  if (s.sheafOnly) s.m.u32[pageOff(s.m, pfn) + PAGE.flags] |= PG.partial;
}

/** remove_partial(n, slab); 7.0 clears SL_partial. */
export function* removePartial(s: KmemCache, n: number, pfn: number): Step {
  yield* unlink(s, n + CACHE_NODE.partialHead, n + CACHE_NODE.partialTail, pfn, S_REMOVE);
  yield* bumpNrPartial(s, n, -1, S_REMOVE);
  if (s.sheafOnly) s.m.u32[pageOff(s.m, pfn) + PAGE.flags] &= ~PG.partial;
}

/** add_full(): only SLAB_STORE_USER caches keep a full list. */
export function* addFull(s: KmemCache, n: number, pfn: number): Step {
  yield* linkIn(s, n + CACHE_NODE.fullHead, n + CACHE_NODE.fullTail, pfn, false, S_ADD);
}

export function* removeFull(s: KmemCache, n: number, pfn: number): Step {
  yield* unlink(s, n + CACHE_NODE.fullHead, n + CACHE_NODE.fullTail, pfn, S_REMOVE);
}

/** n->nr_partial += delta: a read and a write, as the kernel's non-atomic update is. */
function* bumpNrPartial(s: KmemCache, n: number, delta: number, where: number): Step {
  const nr = s.m.u32[n + CACHE_NODE.nrPartial];
  yield where;
  s.m.u32[n + CACHE_NODE.nrPartial] = nr + delta;
}

function* linkIn(s: KmemCache, headW: number, tailW: number, pfn: number, tail: boolean, where: number): Step {
  const u = s.m.u32;
  const p = pageOff(s.m, pfn);
  if (tail) {
    const last = u[tailW];
    yield where;
    u[p + PAGE.lruPrev] = last;
    u[p + PAGE.lruNext] = NIL;
    if (last === NIL) u[headW] = pfn;
    else u[pageOff(s.m, last) + PAGE.lruNext] = pfn;
    u[tailW] = pfn;
  } else {
    const first = u[headW];
    yield where;
    u[p + PAGE.lruNext] = first;
    u[p + PAGE.lruPrev] = NIL;
    if (first === NIL) u[tailW] = pfn;
    else u[pageOff(s.m, first) + PAGE.lruPrev] = pfn;
    u[headW] = pfn;
  }
}

function* unlink(s: KmemCache, headW: number, tailW: number, pfn: number, where: number): Step {
  const u = s.m.u32;
  const p = pageOff(s.m, pfn);
  const next = u[p + PAGE.lruNext];
  const prev = u[p + PAGE.lruPrev];
  yield where;
  if (prev === NIL) u[headW] = next;
  else u[pageOff(s.m, prev) + PAGE.lruNext] = next;
  if (next === NIL) u[tailW] = prev;
  else u[pageOff(s.m, next) + PAGE.lruPrev] = prev;
  u[p + PAGE.lruNext] = NIL;
  u[p + PAGE.lruPrev] = NIL;
}
