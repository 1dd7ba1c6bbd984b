/* @two-way */
// The "general heap" of the pool models: malloc()/calloc()/free() (GF_CALLOC, ngx_alloc,
// posix_memalign) as blocks of whole pages from the page allocator. A heap block starts
// at a page boundary; its size is remembered by the page allocator (the order in the
// head page's descriptor), as malloc remembers it in its chunk header.
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { addrByte, addrToPfn, cpuNode, type Machine, pageOff, pfnToAddr, validAddr } from '../../shm/machine.js';
import { MAX_ORDER, PAGE, PG } from '../../shm/structs.js';
import { allocPages, freePages } from '../page_alloc.js';

const S_ZERO = site('memset');

/** The smallest order whose block holds `bytes`, or -1 when no block is that large. */
export function heapOrder(m: Machine, bytes: number): number {
  const pages = Math.max(1, Math.ceil(bytes / m.cfg.pageSize));
  const order = Math.ceil(Math.log2(pages));
  return order < MAX_ORDER ? order : -1;
}

/**
 * malloc(bytes) on `cpu`'s node: the address of a fresh block, or 0 when memory is short
 * (or `bytes` exceeds the largest block). `zero`: calloc().
 */
export function* heapAlloc(m: Machine, bytes: number, cpu: number, zero = false): Step<number> {
  const order = heapOrder(m, bytes);
  if (order < 0) return 0;
  const pfn = yield* allocPages(m, cpuNode(m, cpu), order, cpu);
  if (pfn === 0) return 0;
  const addr = pfnToAddr(m, pfn);
  if (zero) {
    yield S_ZERO; // the block is private until returned
    zeroBytes(m, addr, bytes);
  }
  return addr;
}

/** free(addr): `what` names the caller for the message when addr is not a heap block. */
export function* heapFree(m: Machine, addr: number, what: string): Step {
  const pfn = heapBlockPfn(m, addr);
  if (pfn < 0) throw new SlabError('EBADFREE', `${what}: 0x${addr.toString(16)} is not the start of a heap block`);
  yield* freePages(m, pfn, m.u32[pageOff(m, pfn) + PAGE.private]);
}

/** The head pfn of the heap block starting at `addr`, or -1 (racy read, for checks). */
export function heapBlockPfn(m: Machine, addr: number): number {
  if (!validAddr(m, addr) || addr % m.cfg.pageSize !== 0) return -1;
  const pfn = addrToPfn(m, addr);
  return m.u32[pageOff(m, pfn) + PAGE.flags] & PG.head ? pfn : -1;
}

/** Bytes in the heap block starting at `addr` (its pages), for checks. */
export const heapBlockBytes = (m: Machine, pfn: number): number => m.cfg.pageSize << m.u32[pageOff(m, pfn) + PAGE.private];

/** memset(addr, 0, bytes) on memory the caller owns alone. */
export function zeroBytes(m: Machine, addr: number, bytes: number): void {
  const start = addrByte(m, addr);
  m.u8.fill(0, start, start + bytes);
}
