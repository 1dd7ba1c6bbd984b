/* @two-way */
// kmem_cache_shrink() after its flush_all(): slub.c __kmem_cache_do_shrink(). Per node,
// the barn is emptied (6.18, 7.0: its full sheaves flushed to the slabs, every sheaf
// freed), then under list_lock the empty partial slabs are taken off for freeing and
// the others sorted by free objects, the fullest first: new allocations fill those,
// and the emptiest, last, have the best chance to empty and go.
import { InvariantError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32 } from '../../shm/atomic.js';
import { pageOff } from '../../shm/machine.js';
import { CACHE_NODE, NIL, PAGE, SLAB_COUNTERS } from '../../shm/structs.js';
import { inuseOf, objectsOf } from '../../shm/word.js';
import type { Cpu } from '../cpu.js';
import { barnShrink } from './barn.js';
import type { KmemCache } from './kmem_cache.js';
import { addPartial, listLock, listUnlock, removePartial } from './list.js';
import { decSlabsNode, freeSlab, slabNode } from './slab.js';

const S_SHRINK = site('__kmem_cache_do_shrink');

/** SHRINK_PROMOTE_MAX: slabs with up to this many free objects are sorted; the rest stay behind them. */
export const SHRINK_PROMOTE_MAX = 32;

/** __kmem_cache_do_shrink(): returns 1 if any node still has slabs. */
export function* kmemCacheDoShrink(s: KmemCache, cpu: Cpu): Step<number> {
  const m = s.m;
  let ret = 0;
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    if (s.sheafCapacity !== 0) yield* barnShrink(s, cpu, n);
    const discard: number[] = [];
    const promote: number[][] = Array.from({ length: SHRINK_PROMOTE_MAX }, () => []);
    yield* listLock(s, n, S_SHRINK);
    // Concurrent frees may occur while we hold the list_lock: slab->inuse is an upper limit.
    for (let pfn = m.u32[n + CACHE_NODE.partialHead]; pfn !== NIL;) {
      const next = m.u32[pageOff(m, pfn) + PAGE.lruNext];
      const counters = yield* load32(m, pageOff(m, pfn) + SLAB_COUNTERS, S_SHRINK);
      const free = objectsOf(counters) - inuseOf(counters);
      if (free <= 0) throw new InvariantError('a node partial slab has a free object', `shrink of ${s.name}, pfn ${pfn}`);
      if (free === objectsOf(counters)) {
        yield* removePartial(s, n, pfn);
        yield* decSlabsNode(s, slabNode(m, pfn), objectsOf(counters));
        discard.push(pfn);
      } else if (free <= SHRINK_PROMOTE_MAX) {
        yield* removePartial(s, n, pfn);
        promote[free - 1].push(pfn);
      }
      pfn = next;
    }
    // Promote the slabs filled up most to the head of the partial list: list_move() put
    // each at the head of its bucket, list_splice() each bucket at the head of the list.
    for (let i = SHRINK_PROMOTE_MAX - 1; i >= 0; i--) for (const pfn of promote[i]) yield* addPartial(s, n, pfn, false);
    yield* listUnlock(s, n, S_SHRINK);
    // Release empty slabs (not counted as FREE_SLAB).
    for (const pfn of discard) yield* freeSlab(s, pfn);
    if ((yield* load32(m, n + CACHE_NODE.nrSlabs, S_SHRINK)) !== 0) ret = 1;
  }
  return ret;
}
