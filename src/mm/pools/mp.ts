/* @two-way */
// The per-connection pool with block reference counts, from a C tutorial (a simpler
// nginx pool): mp_create_pool(), mp_malloc(), mp_malloc_block(), mp_malloc_large(),
// mp_calloc(), mp_free(), mp_reset_pool(), mp_destroy_pool(), monitor_mp_poll().
// Blocks are one page; the first also holds the pool header (mp_pool_s, then its
// mp_node_s). A block counts its live small allocations in `quote`; when the last one is
// freed the block is rewound (last to its start, failed = 0, current back to the head).
//
// A pool is owned by one CPU: no lock, but it lives in simulated memory and every field
// access is a schedule point. Where the tutorial leaves a hole the simulator closes it,
// and says so: a new block's quote and failed start at 1 and 0 (posix_memalign leaves
// them uninitialised); the large threshold leaves room for the aligned start of a new
// block (the tutorial's `PAGE_SIZE - sizeof(mp_node_s)` overruns it by up to 15 bytes);
// mp_reset_pool also sets current back to the head; freeing a pointer in no block, or
// in a block whose quote is already 0, is EBADFREE (the tutorial ignores the first and
// lets quote go negative on the second).
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { addrWord, type Machine, validAddr } from '../../shm/machine.js';
import { heapAlloc, heapBlockPfn, heapFree, zeroBytes } from './heap.js';
import { alignUp, MP_ALIGNMENT, MP_LARGE, MP_NODE, MP_POOL, mpHeadNode, mpNodeStart, sizeofStruct } from './structs.js';
import { checkAddr, checkCpuId, hex, result, type ValidateResult } from './util.js';

const S_CREATE = site('mp_create_pool');
const S_MALLOC = site('mp_malloc');
const S_BLOCK = site('mp_malloc_block');
const S_LARGE = site('mp_malloc_large');
const S_CALLOC = site('mp_calloc');
const S_FREE = site('mp_free');
const S_RESET = site('mp_reset_pool');
const S_DESTROY = site('mp_destroy_pool');

const SIZEOF_NODE = sizeofStruct(MP_NODE);
const SIZEOF_LARGE = sizeofStruct(MP_LARGE);

const fw = (m: Machine, a: number, f: number): number => addrWord(m, a) + f;

/** Largest small request: a new block must hold it after its aligned header. */
export const mpMaxSmall = (m: Machine): number => m.cfg.pageSize - alignUp(SIZEOF_NODE, MP_ALIGNMENT);

function checkPool(m: Machine, pool: number, what: string): void {
  checkAddr(m, what, pool);
  if (heapBlockPfn(m, pool) < 0 || m.u32[fw(m, pool, MP_POOL.head)] !== mpHeadNode(pool)) {
    throw new SlabError('EINVAL', `${what}: no mp_pool_s at ${hex(pool)}`);
  }
}

/**
 * mp_create_pool(size): size is rounded as the tutorial does (below a page or not a
 * multiple of one: one page), but only the first page is used as the first block.
 * Returns the pool's address, or 0 when memory is short.
 */
export function* mpCreatePool(m: Machine, size: number, cpu: number): Step<number> {
  checkCpuId(m, 'mp_create_pool', cpu);
  const page = m.cfg.pageSize;
  if (!Number.isInteger(size) || size < page || size % page !== 0) size = page;
  const pool = yield* heapAlloc(m, size, cpu);
  if (pool === 0) return 0;
  yield S_CREATE; // private until returned
  const u = m.u32;
  const head = mpHeadNode(pool);
  u[fw(m, pool, MP_POOL.large)] = 0;
  u[fw(m, pool, MP_POOL.head)] = head;
  u[fw(m, pool, MP_POOL.current)] = head;
  u[fw(m, head, MP_NODE.last)] = mpNodeStart(head);
  u[fw(m, head, MP_NODE.end)] = pool + page;
  u[fw(m, head, MP_NODE.next)] = 0;
  u[fw(m, head, MP_NODE.quote)] = 0;
  u[fw(m, head, MP_NODE.failed)] = 0;
  return pool;
}

/**
 * mp_malloc(size): size <= 0 fails (returns 0). Small: from `current` on, the first
 * block where the 16-aligned `last` leaves `size` bytes, quote++; else a new block.
 * Large (> mpMaxSmall): from the heap, recorded in the large list. 0: no memory.
 */
export function* mpMalloc(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  checkPool(m, pool, 'mp_malloc');
  checkCpuId(m, 'mp_malloc', cpu);
  if (!Number.isFinite(size) || size <= 0) return 0;
  if (!Number.isInteger(size)) throw new SlabError('EINVAL', `mp_malloc: size ${size}: expected an integer`);
  if (size > mpMaxSmall(m)) return yield* mpMallocLarge(m, pool, size, cpu);
  for (
    let cur = yield* load32(m, fw(m, pool, MP_POOL.current), S_MALLOC);
    cur !== 0;
    cur = yield* load32(m, fw(m, cur, MP_NODE.next), S_MALLOC)
  ) {
    const a = alignUp(yield* load32(m, fw(m, cur, MP_NODE.last), S_MALLOC), MP_ALIGNMENT);
    if ((yield* load32(m, fw(m, cur, MP_NODE.end), S_MALLOC)) - a >= size) {
      const quote = yield* load32(m, fw(m, cur, MP_NODE.quote), S_MALLOC);
      yield* store32(m, fw(m, cur, MP_NODE.quote), quote + 1, S_MALLOC);
      yield* store32(m, fw(m, cur, MP_NODE.last), a + size, S_MALLOC);
      return a;
    }
  }
  return yield* mpMallocBlock(m, pool, size, cpu);
}

/** mp_calloc(): mp_malloc() and zero the bytes. */
export function* mpCalloc(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const p = yield* mpMalloc(m, pool, size, cpu);
  if (p !== 0) {
    yield S_CALLOC; // the bytes are the caller's
    zeroBytes(m, p, size);
  }
  return p;
}

/**
 * mp_malloc_block(): a new one-page block at the end, carve `size` (aligned), quote = 1.
 * Blocks from `current` to the one before the new block get failed++; current moves
 * past each whose failed was above 4.
 */
function* mpMallocBlock(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const page = m.cfg.pageSize;
  const block = yield* heapAlloc(m, page, cpu);
  if (block === 0) return 0;
  yield S_BLOCK; // private until linked
  const u = m.u32;
  const a = alignUp(mpNodeStart(block), MP_ALIGNMENT);
  u[fw(m, block, MP_NODE.end)] = block + page;
  u[fw(m, block, MP_NODE.next)] = 0;
  u[fw(m, block, MP_NODE.last)] = a + size;
  u[fw(m, block, MP_NODE.quote)] = 1;
  u[fw(m, block, MP_NODE.failed)] = 0;
  let current = yield* load32(m, fw(m, pool, MP_POOL.current), S_BLOCK);
  let cur = current;
  for (;;) {
    const next = yield* load32(m, fw(m, cur, MP_NODE.next), S_BLOCK);
    if (next === 0) break;
    const failed = yield* load32(m, fw(m, cur, MP_NODE.failed), S_BLOCK);
    yield* store32(m, fw(m, cur, MP_NODE.failed), failed + 1, S_BLOCK);
    if (failed > 4) current = next;
    cur = next;
  }
  yield* store32(m, fw(m, cur, MP_NODE.next), block, S_BLOCK);
  yield* store32(m, fw(m, pool, MP_POOL.current), current, S_BLOCK);
  return a;
}

/**
 * mp_malloc_large(): `size` bytes from the heap; reuse a node whose allocation was
 * freed among the first five (`if (n++ > 3) break;`), else a new node (mp_malloc, so
 * it counts in its block's quote) at the head of the list.
 */
function* mpMallocLarge(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const big = yield* heapAlloc(m, size, cpu);
  if (big === 0) return 0;
  let n = 0;
  for (
    let l = yield* load32(m, fw(m, pool, MP_POOL.large), S_LARGE);
    l !== 0;
    l = yield* load32(m, fw(m, l, MP_LARGE.next), S_LARGE)
  ) {
    if ((yield* load32(m, fw(m, l, MP_LARGE.alloc), S_LARGE)) === 0) {
      yield* store32(m, fw(m, l, MP_LARGE.size), size, S_LARGE);
      yield* store32(m, fw(m, l, MP_LARGE.alloc), big, S_LARGE);
      return big;
    }
    if (n++ > 3) break;
  }
  const l = yield* mpMalloc(m, pool, SIZEOF_LARGE, cpu);
  if (l === 0) {
    yield* heapFree(m, big, 'mp_malloc_large');
    return 0;
  }
  yield* store32(m, fw(m, l, MP_LARGE.size), size, S_LARGE);
  yield* store32(m, fw(m, l, MP_LARGE.alloc), big, S_LARGE);
  yield* store32(m, fw(m, l, MP_LARGE.next), yield* load32(m, fw(m, pool, MP_POOL.large), S_LARGE), S_LARGE);
  yield* store32(m, fw(m, pool, MP_POOL.large), l, S_LARGE);
  return big;
}

/**
 * mp_free(p): a large allocation is released and its node cleared (kept for reuse).
 * Otherwise the block containing p (node <= p <= end, as the tutorial tests it) gets
 * quote--, and at 0 is rewound: last = start, failed = 0, current = head. NULL is
 * ignored; a pointer in no block, or in a block with quote 0, is EBADFREE (unchanged).
 */
export function* mpFree(m: Machine, pool: number, p: number): Step {
  checkPool(m, pool, 'mp_free');
  if (p === 0) return;
  for (
    let l = yield* load32(m, fw(m, pool, MP_POOL.large), S_FREE);
    l !== 0;
    l = yield* load32(m, fw(m, l, MP_LARGE.next), S_FREE)
  ) {
    if ((yield* load32(m, fw(m, l, MP_LARGE.alloc), S_FREE)) === p) {
      yield* heapFree(m, p, 'mp_free');
      yield* store32(m, fw(m, l, MP_LARGE.size), 0, S_FREE);
      yield* store32(m, fw(m, l, MP_LARGE.alloc), 0, S_FREE);
      return;
    }
  }
  const head = mpHeadNode(pool);
  for (let cur = head; cur !== 0; cur = yield* load32(m, fw(m, cur, MP_NODE.next), S_FREE)) {
    const end = yield* load32(m, fw(m, cur, MP_NODE.end), S_FREE);
    if (cur <= p && p <= end) {
      const quote = yield* load32(m, fw(m, cur, MP_NODE.quote), S_FREE);
      if (quote === 0) {
        throw new SlabError(
          'EBADFREE',
          `mp_free(${hex(pool)}, ${hex(p)}): block ${hex(cur)} has no live allocation (quote == 0): a double free`,
        );
      }
      yield* store32(m, fw(m, cur, MP_NODE.quote), quote - 1, S_FREE);
      if (quote === 1) {
        yield* store32(m, fw(m, cur, MP_NODE.last), mpNodeStart(cur), S_FREE);
        yield* store32(m, fw(m, cur, MP_NODE.failed), 0, S_FREE);
        yield* store32(m, fw(m, pool, MP_POOL.current), head, S_FREE);
      }
      return;
    }
  }
  throw new SlabError('EBADFREE', `mp_free(${hex(pool)}, ${hex(p)}): not an allocation of this pool`);
}

function* freeLarge(m: Machine, pool: number, at: number): Step {
  for (let l = yield* load32(m, fw(m, pool, MP_POOL.large), at); l !== 0; l = yield* load32(m, fw(m, l, MP_LARGE.next), at)) {
    const a = yield* load32(m, fw(m, l, MP_LARGE.alloc), at);
    if (a !== 0) yield* heapFree(m, a, 'mp_free_large');
  }
}

/** mp_reset_pool(): release the large allocations, large = NULL, rewind every block (quote = failed = 0), current = head. */
export function* mpResetPool(m: Machine, pool: number): Step {
  checkPool(m, pool, 'mp_reset_pool');
  yield* freeLarge(m, pool, S_RESET);
  yield* store32(m, fw(m, pool, MP_POOL.large), 0, S_RESET);
  const head = mpHeadNode(pool);
  for (let cur = head; cur !== 0; cur = yield* load32(m, fw(m, cur, MP_NODE.next), S_RESET)) {
    yield* store32(m, fw(m, cur, MP_NODE.last), mpNodeStart(cur), S_RESET);
    yield* store32(m, fw(m, cur, MP_NODE.failed), 0, S_RESET);
    yield* store32(m, fw(m, cur, MP_NODE.quote), 0, S_RESET);
  }
  yield* store32(m, fw(m, pool, MP_POOL.current), head, S_RESET);
}

/** mp_destroy_pool(): release the large allocations, then the blocks after the first, then the pool. */
export function* mpDestroyPool(m: Machine, pool: number): Step {
  checkPool(m, pool, 'mp_destroy_pool');
  yield* freeLarge(m, pool, S_DESTROY);
  let cur = yield* load32(m, fw(m, mpHeadNode(pool), MP_NODE.next), S_DESTROY);
  while (cur !== 0) {
    const next = yield* load32(m, fw(m, cur, MP_NODE.next), S_DESTROY);
    yield* heapFree(m, cur, 'mp_destroy_pool');
    cur = next;
  }
  yield* store32(m, fw(m, pool, MP_POOL.head), 0, S_DESTROY);
  yield* heapFree(m, pool, 'mp_destroy_pool');
}

// ---------------------------------------------------------------- monitor and checks

export interface MpBlockUsage {
  /** 1-based, as monitor_mp_poll prints it */
  index: number;
  node: number;
  /** bytes used: last - pool for the first block, last - node for the others */
  used: number;
  /** end - last */
  free: number;
  quote: number;
  failed: number;
  current: boolean;
}

export interface MpMonitor {
  blocks: MpBlockUsage[];
  /** live large allocations (alloc != NULL), 1-based positions in the list */
  large: { index: number; size: number; alloc: number }[];
}

/** monitor_mp_poll(): every block's usage and the live large allocations. */
export function mpMonitor(m: Machine, pool: number): MpMonitor {
  checkPool(m, pool, 'monitor_mp_poll');
  const u = m.u32;
  const current = u[fw(m, pool, MP_POOL.current)];
  const blocks: MpBlockUsage[] = [];
  for (let cur = mpHeadNode(pool), i = 1; cur !== 0 && i <= 1 << 16; cur = u[fw(m, cur, MP_NODE.next)], i++) {
    const last = u[fw(m, cur, MP_NODE.last)];
    blocks.push({
      index: i,
      node: cur,
      used: last - (i === 1 ? pool : cur),
      free: u[fw(m, cur, MP_NODE.end)] - last,
      quote: u[fw(m, cur, MP_NODE.quote)] | 0,
      failed: u[fw(m, cur, MP_NODE.failed)] | 0,
      current: cur === current,
    });
  }
  const large: MpMonitor['large'] = [];
  for (let l = u[fw(m, pool, MP_POOL.large)], i = 1; l !== 0 && i <= 1 << 16; l = u[fw(m, l, MP_LARGE.next)], i++) {
    const alloc = u[fw(m, l, MP_LARGE.alloc)];
    if (alloc !== 0) large.push({ index: i, size: u[fw(m, l, MP_LARGE.size)], alloc });
  }
  return { blocks, large };
}

/** monitor_mp_poll() as text, in the tutorial's layout (in English). */
export function mpMonitorText(m: Machine, pool: number, tk = ''): string {
  const { blocks, large } = mpMonitor(m, pool);
  const lines = [`------start monitor poll------${tk}`];
  for (const b of blocks) {
    if (b.current) lines.push(`current==>block ${b.index}`);
    lines.push(
      `block ${String(b.index).padStart(2, '0')} small block  used:${String(b.used).padStart(4)}  free:${String(b.free).padStart(4)}  quote:${String(b.quote).padStart(4)}  failed:${String(b.failed).padStart(4)}`,
    );
  }
  for (const l of large) lines.push(`block ${l.index} large block  size=${l.size}`);
  lines.push('------stop monitor poll------');
  return `${lines.join('\n')}\n`;
}

/**
 * The equations beside MP_NODE: every block is a one-page heap block (the first is the
 * pool's) with start <= last <= end, quote and failed >= 0, quote == 0 <=> last == start;
 * the block list is acyclic and holds `current`; the large list is acyclic, its nodes lie
 * in the carved part of a block, each alloc is 0 (then size == 0) or a distinct live heap block.
 */
export function validateMpPool(m: Machine, pool: number): ValidateResult {
  const u = m.u32;
  if (!validAddr(m, pool) || heapBlockPfn(m, pool) < 0 || u[fw(m, pool, MP_POOL.head)] !== mpHeadNode(pool)) {
    return result([`no mp_pool_s at ${hex(pool)}`]);
  }
  const at = `mp_pool ${hex(pool)}`;
  const out: string[] = [];
  const page = m.cfg.pageSize;
  const current = u[fw(m, pool, MP_POOL.current)];
  let sawCurrent = false;
  const blocks: { start: number; last: number }[] = [];
  const seen = new Set<number>();
  for (let cur = mpHeadNode(pool); cur !== 0; cur = u[fw(m, cur, MP_NODE.next)]) {
    if (seen.has(cur)) {
      out.push(`${at}: block list is cyclic at ${hex(cur)}`);
      break;
    }
    seen.add(cur);
    const base = cur === mpHeadNode(pool) ? pool : cur;
    if (heapBlockPfn(m, base) < 0) {
      out.push(`${at}: block ${hex(cur)} is not a live heap block`);
      break;
    }
    const start = mpNodeStart(cur);
    const last = u[fw(m, cur, MP_NODE.last)];
    const end = u[fw(m, cur, MP_NODE.end)];
    const quote = u[fw(m, cur, MP_NODE.quote)] | 0;
    const failed = u[fw(m, cur, MP_NODE.failed)] | 0;
    if (end !== base + page) out.push(`${at}: block ${hex(cur)} end ${hex(end)} != ${hex(base + page)}`);
    if (last < start || last > end) out.push(`${at}: block ${hex(cur)} last ${hex(last)} outside [${hex(start)}, ${hex(end)}]`);
    if (quote < 0 || failed < 0) out.push(`${at}: block ${hex(cur)} quote ${quote} failed ${failed}`);
    if ((quote === 0) !== (last === start))
      out.push(`${at}: block ${hex(cur)} quote ${quote} but last - start == ${last - start}`);
    if (cur === current) sawCurrent = true;
    blocks.push({ start, last });
  }
  if (!sawCurrent) out.push(`${at}: current ${hex(current)} is not one of its blocks`);
  const nodes = new Set<number>();
  const allocs = new Set<number>();
  for (let l = u[fw(m, pool, MP_POOL.large)]; l !== 0; l = u[fw(m, l, MP_LARGE.next)]) {
    if (nodes.has(l)) {
      out.push(`${at}: large list is cyclic at ${hex(l)}`);
      break;
    }
    nodes.add(l);
    if (!blocks.some((b) => l >= b.start && l + SIZEOF_LARGE <= b.last))
      out.push(`${at}: large node ${hex(l)} is not inside a block's carved bytes`);
    const a = u[fw(m, l, MP_LARGE.alloc)];
    if (a === 0) {
      if (u[fw(m, l, MP_LARGE.size)] !== 0) out.push(`${at}: free large node ${hex(l)} has size ${u[fw(m, l, MP_LARGE.size)]}`);
      continue;
    }
    if (heapBlockPfn(m, a) < 0) out.push(`${at}: large allocation ${hex(a)} is not a live heap block`);
    if (allocs.has(a)) out.push(`${at}: large allocation ${hex(a)} recorded twice`);
    allocs.add(a);
  }
  return result(out);
}

export const validate = validateMpPool;
