/* @two-way */
// The node lists, linked through page->slab_list (PAGE.lruNext/lruPrev).
// Precondition for every function here: the caller holds n->list_lock. The schedule
// points let a CPU that does not hold it (a broken variant) be caught mid-update.
import { type Step, site } from '../../sched/step.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_NODE, NIL, PAGE } from '../../shm/structs.js';
import type { KmemCache } from './kmem_cache.js';

const S_ADD = site('add_partial');
const S_REMOVE = site('remove_partial');

/** add_partial(n, slab, tail): tail is DEACTIVATE_TO_TAIL (true) or DEACTIVATE_TO_HEAD. */
export function* addPartial(s: KmemCache, n: number, pfn: number, tail: boolean): Step {
  yield S_ADD;
  linkIn(s, n + CACHE_NODE.partialHead, n + CACHE_NODE.partialTail, pfn, tail);
  yield S_ADD;
  s.m.u32[n + CACHE_NODE.nrPartial]++;
}

/** remove_partial(n, slab). */
export function* removePartial(s: KmemCache, n: number, pfn: number): Step {
  yield S_REMOVE;
  unlink(s, n + CACHE_NODE.partialHead, n + CACHE_NODE.partialTail, pfn);
  yield S_REMOVE;
  s.m.u32[n + CACHE_NODE.nrPartial]--;
}

/** add_full(): only SLAB_STORE_USER caches keep a full list. */
export function addFull(s: KmemCache, n: number, pfn: number): void {
  linkIn(s, n + CACHE_NODE.fullHead, n + CACHE_NODE.fullTail, pfn, false);
}

export function removeFull(s: KmemCache, n: number, pfn: number): void {
  unlink(s, n + CACHE_NODE.fullHead, n + CACHE_NODE.fullTail, pfn);
}

function linkIn(s: KmemCache, headW: number, tailW: number, pfn: number, tail: boolean): void {
  const u = s.m.u32;
  const p = pageOff(s.m, pfn);
  if (tail) {
    const last = u[tailW];
    u[p + PAGE.lruPrev] = last;
    u[p + PAGE.lruNext] = NIL;
    if (last === NIL) u[headW] = pfn;
    else u[pageOff(s.m, last) + PAGE.lruNext] = pfn;
    u[tailW] = pfn;
  } else {
    const first = u[headW];
    u[p + PAGE.lruNext] = first;
    u[p + PAGE.lruPrev] = NIL;
    if (first === NIL) u[tailW] = pfn;
    else u[pageOff(s.m, first) + PAGE.lruPrev] = pfn;
    u[headW] = pfn;
  }
}

function unlink(s: KmemCache, headW: number, tailW: number, pfn: number): void {
  const u = s.m.u32;
  const p = pageOff(s.m, pfn);
  const next = u[p + PAGE.lruNext];
  const prev = u[p + PAGE.lruPrev];
  if (prev === NIL) u[headW] = next;
  else u[pageOff(s.m, prev) + PAGE.lruNext] = next;
  if (next === NIL) u[tailW] = prev;
  else u[pageOff(s.m, next) + PAGE.lruPrev] = prev;
  u[p + PAGE.lruNext] = NIL;
  u[p + PAGE.lruPrev] = NIL;
}
