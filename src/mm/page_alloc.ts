/* @two-way */
// The page allocator: one zone per node, free areas for orders 0..MAX_ORDER-1, split on
// allocation, coalescing with the buddy on free; small orders go through the per-CPU
// page lists of the CPU the caller runs as (pcp.ts) when the machine has them.
// mm/page_alloc.c: alloc_pages_node(), rmqueue(), __free_pages(), free_the_page().
//
// Lock order: pcp->lock -> zone->lock; zone->lock is the innermost lock of the machine.
// Zone state is read and written plainly under the lock; the lock operations and one
// point per list operation are the schedule points.
//
// Code that runs as no CPU (thisCpu.id < 0: machine setup, the harness, a test calling
// the allocator directly) always uses the zones. A failed allocation does not drain the
// per-CPU lists: the kernel drains them in __alloc_pages_direct_reclaim() only after
// reclaim made progress, and nothing here is reclaimable, so pages on other CPUs' lists
// stay there, as they would until the OOM killer freed memory.
import { SlabError } from '../errors.js';
import { type Step, site } from '../sched/step.js';
import { thisCpu } from '../sched/this_cpu.js';
import { cas32, spinLock, spinUnlock } from '../shm/atomic.js';
import { type Machine, nodeOff, pageOff, pfnNode } from '../shm/machine.js';
import { MAX_ORDER, NIL, NODE, PAGE, PG } from '../shm/structs.js';
import { freeOnePage, rmqueueSmallest } from './free_area.js';
import { checkFreeable, freePagesPrepare, prepNewPage } from './page_state.js';
import { freeUnrefPage, rmqueuePcplist } from './pcp.js';
import { pcpAllowedOrder } from './pcp_setup.js';

const S_RMQUEUE_LOCK = site('rmqueue:zone->lock');
const S_RMQUEUE = site('__rmqueue_smallest');
const S_FREE_LOCK = site('free_one_page:zone->lock');
const S_FREE = site('__free_one_page');
const S_PUT_PAGE = site('put_page_testzero');

/**
 * alloc_pages_node(): a block of 2^order pages on `node`, as the pfn of its head page,
 * or 0 (NIL) when the node has no free block that large. Never throws for lack of memory.
 * `cpu` is recorded as the owner (for reports).
 */
export function* allocPages(m: Machine, node: number, order: number, cpu: number): Step<number> {
  if (!(validOrder(order) && Number.isInteger(node) && node >= 0 && node < m.cfg.nodes)) throw badAlloc(m, node, order);
  const me = thisCpu.id;
  let pfn = NIL;
  if (me >= 0 && m.cfg.pcp && pcpAllowedOrder(m, order)) {
    pfn = yield* rmqueuePcplist(m, node, order, me);
    // rmqueue(): 5.4 gives order 0 from the pcp lists or not at all; 6.6 goes to the zone
    // when they give nothing (a drain held pcp->lock, or the zone was empty anyway).
    if (pfn === NIL && m.cfg.profile !== '5.4') pfn = yield* rmqueueBuddy(m, node, order);
  } else {
    pfn = yield* rmqueueBuddy(m, node, order);
  }
  if (pfn !== NIL) prepNewPage(m, pfn, order, cpu);
  return pfn;
}

/** rmqueue_buddy(): a block straight from the zone's free areas. */
function* rmqueueBuddy(m: Machine, node: number, order: number): Step<number> {
  const zone = nodeOff(m, node);
  yield* spinLock(m, zone + NODE.lock, S_RMQUEUE_LOCK);
  yield S_RMQUEUE;
  const pfn = rmqueueSmallest(m, zone, order);
  yield* spinUnlock(m, zone + NODE.lock, S_RMQUEUE_LOCK);
  return pfn;
}

/**
 * __free_pages(): give back the block at `pfn` allocated with `order`. A pfn that is not
 * the head of an allocated block, or the wrong order, is a SlabError and changes nothing.
 * The block becomes ours with one atomic on its head's flags, the put_page_testzero() of
 * the kernel (whose refcount is what makes two racing frees of one block free it once).
 */
export function* freePages(m: Machine, pfn: number, order: number): Step {
  if (!(validOrder(order) && Number.isInteger(pfn) && pfn >= 1 && pfn < m.totalPfns)) throw badFreeArgs(m, pfn, order);
  yield* putPageTestzero(m, pfn, order);
  freePagesPrepare(m, pfn, order);
  const node = m.cfg.nodes === 1 ? 0 : pfnNode(m, pfn);
  const me = thisCpu.id;
  // free_the_page(): through this CPU's lists if the order has one (a false return: 6.6
  // found pcp->lock held by a drain), else straight into the zone.
  if (me >= 0 && m.cfg.pcp && pcpAllowedOrder(m, order) && (yield* freeUnrefPage(m, node, pfn, order, me))) return;
  yield* freeOnePageLocked(m, node, pfn, order);
}

/** Check the block, then take it with a CAS on its head's flags; a SlabError (nothing changed) if either fails. */
function* putPageTestzero(m: Machine, pfn: number, order: number): Step {
  const p = pageOff(m, pfn);
  const flags = m.u32[p + PAGE.flags];
  if (!(flags & PG.head) || m.u32[p + PAGE.private] !== order || !(yield* cas32(m, p + PAGE.flags, flags, 0, S_PUT_PAGE)))
    throw badFree(m, pfn, order);
}

/** Why a free was refused: the block as it is now (another free may have just taken it). */
const badFree = (m: Machine, pfn: number, order: number): SlabError =>
  new SlabError(
    'EBADFREE',
    `freePages(pfn ${pfn}, order ${order}): ${checkFreeable(m, pfn, order) ?? 'another free of this block came first'}`,
  );

const badFreeArgs = (m: Machine, pfn: number, order: number): SlabError =>
  validOrder(order)
    ? new SlabError('EBADFREE', `freePages: pfn ${pfn} is outside memory (expected 1..${m.totalPfns - 1})`)
    : badOrder(order);

const badAlloc = (m: Machine, node: number, order: number): SlabError =>
  validOrder(order)
    ? new SlabError('EINVAL', `allocPages: node ${node} out of range (expected 0..${m.cfg.nodes - 1})`)
    : badOrder(order);

/** free_one_page(): a prepared block straight into the zone. */
function* freeOnePageLocked(m: Machine, node: number, pfn: number, order: number): Step {
  const zone = nodeOff(m, node);
  yield* spinLock(m, zone + NODE.lock, S_FREE_LOCK);
  yield S_FREE;
  freeOnePage(m, zone, pfn, order);
  yield* spinUnlock(m, zone + NODE.lock, S_FREE_LOCK);
}

const validOrder = (order: number): boolean => Number.isInteger(order) && order >= 0 && order < MAX_ORDER;

const badOrder = (order: number): SlabError =>
  new SlabError('EINVAL', `order ${order} out of range (expected 0..${MAX_ORDER - 1})`);
