// struct page on its way out of the page allocator and back in: prep_new_page(),
// free_pages_prepare() and the checks that refuse a bad free. mm/page_alloc.c.
// Precondition of the writers: the caller owns the block (it took it off a free list,
// or won its put_page_testzero()).
import { type Machine, pageOff } from '../shm/machine.js';
import { PAGE, PG } from '../shm/structs.js';

/** prep_new_page() with __GFP_COMP: mark the head and its tails. */
export function prepNewPage(m: Machine, pfn: number, order: number, cpu: number): void {
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

/** free_pages_prepare(): every page of the block back to a blank struct page. */
export function freePagesPrepare(m: Machine, pfn: number, order: number): void {
  const u = m.u32;
  for (let i = 0; i < 1 << order; i++) {
    const t = pageOff(m, pfn + i);
    u[t + PAGE.flags] = 0;
    u[t + PAGE.private] = 0;
    u[t + PAGE.compoundHead] = 0;
    u[t + PAGE.owner] = 0;
  }
}

/** Why `pfn` cannot be freed with `order`, or null (a plain read: the claim that follows decides). */
export function checkFreeable(m: Machine, pfn: number, order: number): string | null {
  const p = pageOff(m, pfn);
  const flags = m.u32[p + PAGE.flags];
  if (flags & PG.head) {
    const held = m.u32[p + PAGE.private];
    return held === order ? null : `block was allocated with order ${held}`;
  }
  if (flags & PG.tail) return `page is inside the block at pfn ${m.u32[p + PAGE.compoundHead]}, not its head`;
  if (flags & (PG.buddy | PG.pcp)) return 'page is free';
  return 'page is not allocated';
}
