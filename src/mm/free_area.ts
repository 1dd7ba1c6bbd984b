// The buddy allocator's free lists (zone->free_area[order]), as plain helpers.
// Precondition for every function here: the caller holds the zone lock, or is
// create() before any CPU runs.
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
