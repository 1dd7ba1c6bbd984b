// The buddy allocator's free lists (zone->free_area[order]), as plain helpers.
// Precondition for every function here: the caller holds the zone lock, or is
// create() before any CPU runs (or the end of a run, after every CPU stopped).
import { type Machine, nodeOff, nodeStartPfn, pageOff } from '../shm/machine.js';
import { MAX_ORDER, NIL, NODE, PAGE, PG } from '../shm/structs.js';

/** add_to_free_list(): push the block at `pfn` of `order` on the head of its list. */
export function addToFreeList(m: Machine, zone: number, pfn: number, order: number): void {
  const u = m.u32;
  const p = pageOff(m, pfn);
  const head = u[zone + NODE.freeHead + order];
  u[p + PAGE.flags] = PG.buddy;
  u[p + PAGE.private] = order;
  u[p + PAGE.lruNext] = head;
  u[p + PAGE.lruPrev] = NIL;
  if (head !== NIL) u[pageOff(m, head) + PAGE.lruPrev] = pfn;
  u[zone + NODE.freeHead + order] = pfn;
  u[zone + NODE.nrFree + order]++;
  u[zone + NODE.freePages] += 1 << order;
}

/** del_page_from_free_list(): unlink a free block; it stops being PG_buddy. */
export function delFromFreeList(m: Machine, zone: number, pfn: number, order: number): void {
  const u = m.u32;
  const p = pageOff(m, pfn);
  const next = u[p + PAGE.lruNext];
  const prev = u[p + PAGE.lruPrev];
  if (prev === NIL) u[zone + NODE.freeHead + order] = next;
  else u[pageOff(m, prev) + PAGE.lruNext] = next;
  if (next !== NIL) u[pageOff(m, next) + PAGE.lruPrev] = prev;
  u[p + PAGE.flags] = 0;
  u[p + PAGE.private] = 0;
  u[p + PAGE.lruNext] = NIL;
  u[p + PAGE.lruPrev] = NIL;
  u[zone + NODE.nrFree + order]--;
  u[zone + NODE.freePages] -= 1 << order;
}

/** __rmqueue_smallest(): take the smallest free block >= order and split it down; NIL if none. */
export function rmqueueSmallest(m: Machine, zone: number, order: number): number {
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

/**
 * __free_one_page(): merge the block with free buddies while possible and put the
 * result on its free list. The block's pages are blank (free_pages_prepare()) but for
 * the head's flags and private, which may still say where it came from (a pcp list).
 */
export function freeOnePage(m: Machine, zone: number, pfn: number, order: number): void {
  const u = m.u32;
  const head = pageOff(m, pfn);
  u[head + PAGE.flags] = 0;
  u[head + PAGE.private] = 0;
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

/** Initial state of a node's zone: its pages carved into maximal aligned blocks. */
export function initZone(m: Machine, node: number): void {
  const zone = nodeOff(m, node);
  const start = nodeStartPfn(m, node);
  m.u32[zone + NODE.startPfn] = start;
  m.u32[zone + NODE.nrPages] = m.pagesPerNode;
  for (let k = 0; k < MAX_ORDER; k++) m.u32[zone + NODE.freeHead + k] = NIL;
  const blocks: Array<[number, number]> = [];
  for (let idx = 0; idx < m.pagesPerNode;) {
    let k = MAX_ORDER - 1;
    while (k > 0 && (idx % (1 << k) !== 0 || idx + (1 << k) > m.pagesPerNode)) k--;
    blocks.push([start + idx, k]);
    idx += 1 << k;
  }
  // Pushed in reverse so that each list runs in ascending address order.
  for (let i = blocks.length - 1; i >= 0; i--) addToFreeList(m, zone, blocks[i][0], blocks[i][1]);
}
