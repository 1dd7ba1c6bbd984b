/* @two-way */
// The buddy page allocator: one zone per node, free areas for orders 0..MAX_ORDER-1,
// split on allocation, coalescing with the buddy on free. mm/page_alloc.c
//
// Lock order: zone->lock is the innermost lock of the machine; nothing else is taken
// while holding it. Zone state is read and written plainly under the lock; the lock
// operations and one point per list operation are the schedule points.
import { SlabError } from '../errors.js';
import { type Step, site } from '../sched/step.js';
import { spinLock, spinUnlock } from '../shm/atomic.js';
import { type Machine, nodeOff, pageOff, pfnNode } from '../shm/machine.js';
import { MAX_ORDER, NIL, NODE, PAGE, PG } from '../shm/structs.js';
import { addToFreeList, delFromFreeList } from './free_area.js';

const S_RMQUEUE_LOCK = site('rmqueue:zone->lock');
const S_RMQUEUE = site('__rmqueue_smallest');
const S_FREE_LOCK = site('free_one_page:zone->lock');
const S_FREE = site('__free_one_page');

/**
 * alloc_pages_node(): a block of 2^order pages on `node`, as the pfn of its head page,
 * or 0 (NIL) when the node has no free block that large. Never throws for lack of memory.
 * `cpu` is recorded as the owner (for reports).
 */
export function* allocPages(m: Machine, node: number, order: number, cpu: number): Step<number> {
  checkOrder(order);
  if (!(Number.isInteger(node) && node >= 0 && node < m.cfg.nodes)) {
    throw new SlabError('EINVAL', `allocPages: node ${node} out of range (expected 0..${m.cfg.nodes - 1})`);
  }
  const zone = nodeOff(m, node);
  yield* spinLock(m, zone + NODE.lock, S_RMQUEUE_LOCK);
  yield S_RMQUEUE;
  const pfn = rmqueueSmallest(m, zone, order);
  if (pfn !== NIL) prepNewPage(m, pfn, order, cpu);
  yield* spinUnlock(m, zone + NODE.lock, S_RMQUEUE_LOCK);
  return pfn;
}

/**
 * __free_pages(): give back the block at `pfn` allocated with `order`. A pfn that is not
 * the head of an allocated block, or the wrong order, is a SlabError and changes nothing.
 */
export function* freePages(m: Machine, pfn: number, order: number): Step {
  checkOrder(order);
  if (!(Number.isInteger(pfn) && pfn >= 1 && pfn < m.totalPfns)) {
    throw new SlabError('EBADFREE', `freePages: pfn ${pfn} is outside memory (expected 1..${m.totalPfns - 1})`);
  }
  const zone = nodeOff(m, pfnNode(m, pfn));
  yield* spinLock(m, zone + NODE.lock, S_FREE_LOCK);
  const problem = checkFreeable(m, pfn, order);
  if (problem !== null) {
    yield* spinUnlock(m, zone + NODE.lock, S_FREE_LOCK);
    throw new SlabError('EBADFREE', `freePages(pfn ${pfn}, order ${order}): ${problem}`);
  }
  yield S_FREE;
  freeOnePage(m, zone, pfn, order);
  yield* spinUnlock(m, zone + NODE.lock, S_FREE_LOCK);
}

function checkOrder(order: number): void {
  if (!(Number.isInteger(order) && order >= 0 && order < MAX_ORDER)) {
    throw new SlabError('EINVAL', `order ${order} out of range (expected 0..${MAX_ORDER - 1})`);
  }
}

/** Why `pfn` cannot be freed with `order`, or null. Caller holds the zone lock. */
function checkFreeable(m: Machine, pfn: number, order: number): string | null {
  const p = pageOff(m, pfn);
  const flags = m.u32[p + PAGE.flags];
  if (flags & PG.head) {
    const held = m.u32[p + PAGE.private];
    return held === order ? null : `block was allocated with order ${held}`;
  }
  if (flags & PG.tail) return `page is inside the block at pfn ${m.u32[p + PAGE.compoundHead]}, not its head`;
  if (flags & PG.buddy) return 'page is free';
  return 'page is not allocated';
}

/** __rmqueue_smallest(): take the smallest free block >= order and split it down. */
function rmqueueSmallest(m: Machine, zone: number, order: number): number {
  const u = m.u32;
  for (let k = order; k < MAX_ORDER; k++) {
    const pfn = u[zone + NODE.freeHead + k];
    if (pfn === NIL) continue;
    delFromFreeList(m, zone, pfn, k);
    // expand(): hand the upper halves back, largest first.
    for (let half = k - 1; half >= order; half--) addToFreeList(m, zone, pfn + (1 << half), half);
    return pfn;
  }
  return NIL;
}

/** prep_new_page() with __GFP_COMP: mark the head and its tails. */
function prepNewPage(m: Machine, pfn: number, order: number, cpu: number): void {
  m.touched?.fill(1, pfn, pfn + (1 << order)); // restore() rewrites these pages
  const u = m.u32;
  const p = pageOff(m, pfn);
  u[p + PAGE.flags] = PG.head;
  u[p + PAGE.private] = order;
  u[p + PAGE.owner] = cpu + 1;
  for (let i = 1; i < 1 << order; i++) {
    const t = pageOff(m, pfn + i);
    u[t + PAGE.flags] = PG.tail;
    u[t + PAGE.compoundHead] = pfn;
  }
}

/** __free_one_page(): clear the block, then merge with free buddies while possible. */
function freeOnePage(m: Machine, zone: number, pfn: number, order: number): void {
  const u = m.u32;
  for (let i = 0; i < 1 << order; i++) {
    const t = pageOff(m, pfn + i);
    u[t + PAGE.flags] = 0;
    u[t + PAGE.private] = 0;
    u[t + PAGE.compoundHead] = 0;
    u[t + PAGE.owner] = 0;
  }
  const start = u[zone + NODE.startPfn];
  const nr = u[zone + NODE.nrPages];
  let idx = pfn - start;
  while (order < MAX_ORDER - 1) {
    const buddyIdx = idx ^ (1 << order);
    if (buddyIdx + (1 << order) > nr) break;
    const bp = pageOff(m, start + buddyIdx);
    if (!(u[bp + PAGE.flags] & PG.buddy) || u[bp + PAGE.private] !== order) break;
    delFromFreeList(m, zone, start + buddyIdx, order);
    idx &= buddyIdx;
    order++;
  }
  addToFreeList(m, zone, start + idx, order);
}
