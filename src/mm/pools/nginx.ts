/* @two-way */
// nginx's pool: a region allocator. Small requests move a bump pointer in fixed-size
// blocks and are never freed one by one; large ones come from the heap and are recorded
// in a list whose nodes are small allocations; everything goes at destroy.
// src/core/ngx_palloc.c: ngx_create_pool(), ngx_destroy_pool(), ngx_reset_pool(),
// ngx_palloc(), ngx_pnalloc(), ngx_palloc_small(), ngx_palloc_block(),
// ngx_palloc_large(), ngx_pmemalign(), ngx_pfree(), ngx_pcalloc(), ngx_pool_cleanup_add().
//
// A pool is owned by one CPU (one per connection or request), so there is no lock; it
// still lives in simulated memory and every field access is a schedule point, so pools
// of several CPUs interleave (through the page allocator) under the scheduler.
// A pool is named by its address, the first block's.
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, store32 } from '../../shm/atomic.js';
import { addrWord, type Machine, pageOff, validAddr } from '../../shm/machine.js';
import { PAGE, PG } from '../../shm/structs.js';
import { heapAlloc, heapBlockPfn, heapFree, zeroBytes } from './heap.js';
import { ngxCleanupHandler } from './ngx_cleanup.js';
import {
  alignUp,
  NGX_ALIGNMENT,
  NGX_MIN_POOL_SIZE,
  NGX_POOL,
  NGX_POOL_CLEANUP,
  NGX_POOL_DATA_BYTES,
  NGX_POOL_LARGE,
  sizeofStruct,
} from './structs.js';
import { checkAddr, checkCpuId, checkSize, hex, result, type ValidateResult } from './util.js';

const S_CREATE = site('ngx_create_pool');
const S_SMALL = site('ngx_palloc_small');
const S_BLOCK = site('ngx_palloc_block');
const S_LARGE = site('ngx_palloc_large');
const S_MEMALIGN = site('ngx_pmemalign');
const S_PFREE = site('ngx_pfree');
const S_ZERO = site('ngx_pcalloc');
const S_CLEANUP = site('ngx_pool_cleanup_add');
const S_DESTROY = site('ngx_destroy_pool');
const S_RESET = site('ngx_reset_pool');

export const NGX_OK = 0;
export const NGX_DECLINED = -5;

const SIZEOF_POOL = sizeofStruct(NGX_POOL);
const SIZEOF_LARGE = sizeofStruct(NGX_POOL_LARGE);
const SIZEOF_CLEANUP = sizeofStruct(NGX_POOL_CLEANUP);

/** Word of field `f` of the structure at address `a`. */
const fw = (m: Machine, a: number, f: number): number => addrWord(m, a) + f;

function checkPool(m: Machine, pool: number, what: string): void {
  checkAddr(m, what, pool);
  const u = m.u32;
  const end = u[fw(m, pool, NGX_POOL.end)];
  const last = u[fw(m, pool, NGX_POOL.last)];
  if (heapBlockPfn(m, pool) < 0 || end <= pool || last < pool || last > end) {
    throw new SlabError('EINVAL', `${what}: no ngx_pool_t at ${hex(pool)}`);
  }
}

/**
 * ngx_create_pool(size): a pool whose blocks are `size` bytes (NGX_MIN_POOL_SIZE at
 * least: EINVAL below). Returns its address, or 0 when memory is short.
 * max = min(size - sizeof(ngx_pool_t), NGX_MAX_ALLOC_FROM_POOL = pagesize - 1).
 */
export function* ngxCreatePool(m: Machine, size: number, cpu: number): Step<number> {
  checkCpuId(m, 'ngx_create_pool', cpu);
  checkSize('ngx_create_pool', 'size', size, NGX_MIN_POOL_SIZE);
  const p = yield* heapAlloc(m, size, cpu); // ngx_memalign(NGX_POOL_ALIGNMENT, size): page aligned here
  if (p === 0) return 0;
  yield S_CREATE; // private until returned
  const u = m.u32;
  u[fw(m, p, NGX_POOL.last)] = p + SIZEOF_POOL;
  u[fw(m, p, NGX_POOL.end)] = p + size;
  u[fw(m, p, NGX_POOL.next)] = 0;
  u[fw(m, p, NGX_POOL.failed)] = 0;
  u[fw(m, p, NGX_POOL.max)] = Math.min(size - SIZEOF_POOL, m.cfg.pageSize - 1);
  u[fw(m, p, NGX_POOL.current)] = p;
  u[fw(m, p, NGX_POOL.chain)] = 0;
  u[fw(m, p, NGX_POOL.large)] = 0;
  u[fw(m, p, NGX_POOL.cleanup)] = 0;
  u[fw(m, p, NGX_POOL.log)] = 0;
  return p;
}

/** ngx_palloc(): aligned to NGX_ALIGNMENT; small from the blocks, large from the heap. 0: no memory. */
export function* ngxPalloc(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  checkPool(m, pool, 'ngx_palloc');
  checkSize('ngx_palloc', 'size', size);
  const max = yield* load32(m, fw(m, pool, NGX_POOL.max), S_SMALL);
  if (size <= max) return yield* ngxPallocSmall(m, pool, size, true, cpu);
  return yield* ngxPallocLarge(m, pool, size, cpu);
}

/** ngx_pnalloc(): as ngx_palloc() without aligning small requests (strings). */
export function* ngxPnalloc(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  checkPool(m, pool, 'ngx_pnalloc');
  checkSize('ngx_pnalloc', 'size', size);
  const max = yield* load32(m, fw(m, pool, NGX_POOL.max), S_SMALL);
  if (size <= max) return yield* ngxPallocSmall(m, pool, size, false, cpu);
  return yield* ngxPallocLarge(m, pool, size, cpu);
}

/** ngx_pcalloc(): ngx_palloc() and zero the bytes. */
export function* ngxPcalloc(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const p = yield* ngxPalloc(m, pool, size, cpu);
  if (p !== 0) {
    yield S_ZERO; // the bytes are the caller's
    zeroBytes(m, p, size);
  }
  return p;
}

/**
 * ngx_palloc_small(): from `current` on, the first block where (aligned) `last` leaves
 * `size` bytes; else a new block. (The original compares as size_t, so an aligned `last`
 * past an unaligned `end` would "fit"; here it does not.)
 */
function* ngxPallocSmall(m: Machine, pool: number, size: number, align: boolean, cpu: number): Step<number> {
  let p = yield* load32(m, fw(m, pool, NGX_POOL.current), S_SMALL);
  do {
    let a = yield* load32(m, fw(m, p, NGX_POOL.last), S_SMALL);
    if (align) a = alignUp(a, NGX_ALIGNMENT);
    const end = yield* load32(m, fw(m, p, NGX_POOL.end), S_SMALL);
    if (end - a >= size) {
      yield* store32(m, fw(m, p, NGX_POOL.last), a + size, S_SMALL);
      return a;
    }
    p = yield* load32(m, fw(m, p, NGX_POOL.next), S_SMALL);
  } while (p !== 0);
  return yield* ngxPallocBlock(m, pool, size, cpu);
}

/**
 * ngx_palloc_block(): a new block of the pool's block size, linked at the end; carve
 * `size` from it (aligned). Every block from `current` to the one before the new block
 * gets failed++, and `current` moves past each whose failed was already above 4
 * (`if (p->d.failed++ > 4) pool->current = p->d.next;`).
 */
function* ngxPallocBlock(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const psize = (yield* load32(m, fw(m, pool, NGX_POOL.end), S_BLOCK)) - pool;
  const b = yield* heapAlloc(m, psize, cpu);
  if (b === 0) return 0;
  yield S_BLOCK; // the new block is private until linked
  const u = m.u32;
  u[fw(m, b, NGX_POOL.end)] = b + psize;
  u[fw(m, b, NGX_POOL.next)] = 0;
  u[fw(m, b, NGX_POOL.failed)] = 0;
  const a = alignUp(b + NGX_POOL_DATA_BYTES, NGX_ALIGNMENT);
  u[fw(m, b, NGX_POOL.last)] = a + size;
  let p = yield* load32(m, fw(m, pool, NGX_POOL.current), S_BLOCK);
  for (;;) {
    const next = yield* load32(m, fw(m, p, NGX_POOL.next), S_BLOCK);
    if (next === 0) break;
    const failed = yield* load32(m, fw(m, p, NGX_POOL.failed), S_BLOCK);
    yield* store32(m, fw(m, p, NGX_POOL.failed), failed + 1, S_BLOCK);
    if (failed > 4) yield* store32(m, fw(m, pool, NGX_POOL.current), next, S_BLOCK);
    p = next;
  }
  yield* store32(m, fw(m, p, NGX_POOL.next), b, S_BLOCK);
  return a;
}

/**
 * ngx_palloc_large(): `size` bytes from the heap, recorded in the large list. A node
 * whose allocation was freed is reused; the search gives up after the node where
 * `n++ > 3` holds, i.e. it looks at the first five nodes. Otherwise a new node (a small
 * allocation) goes on the head of the list.
 */
function* ngxPallocLarge(m: Machine, pool: number, size: number, cpu: number): Step<number> {
  const p = yield* heapAlloc(m, size, cpu);
  if (p === 0) return 0;
  let n = 0;
  for (
    let l = yield* load32(m, fw(m, pool, NGX_POOL.large), S_LARGE);
    l !== 0;
    l = yield* load32(m, fw(m, l, NGX_POOL_LARGE.next), S_LARGE)
  ) {
    if ((yield* load32(m, fw(m, l, NGX_POOL_LARGE.alloc), S_LARGE)) === 0) {
      yield* store32(m, fw(m, l, NGX_POOL_LARGE.alloc), p, S_LARGE);
      return p;
    }
    if (n++ > 3) break;
  }
  return yield* addLarge(m, pool, p, cpu);
}

/** A new large node for `p` at the head of the list; frees `p` and returns 0 when there is no room. */
function* addLarge(m: Machine, pool: number, p: number, cpu: number): Step<number> {
  const l = yield* ngxPallocSmall(m, pool, SIZEOF_LARGE, true, cpu);
  if (l === 0) {
    yield* heapFree(m, p, 'ngx_palloc_large');
    return 0;
  }
  yield* store32(m, fw(m, l, NGX_POOL_LARGE.alloc), p, S_LARGE);
  yield* store32(m, fw(m, l, NGX_POOL_LARGE.next), yield* load32(m, fw(m, pool, NGX_POOL.large), S_LARGE), S_LARGE);
  yield* store32(m, fw(m, pool, NGX_POOL.large), l, S_LARGE);
  return p;
}

/**
 * ngx_pmemalign(): a large allocation aligned to `alignment` (a power of two up to the
 * page size: heap blocks are page aligned), always with a new node.
 */
export function* ngxPmemalign(m: Machine, pool: number, size: number, alignment: number, cpu: number): Step<number> {
  checkPool(m, pool, 'ngx_pmemalign');
  checkSize('ngx_pmemalign', 'size', size, 1);
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0 || alignment > m.cfg.pageSize) {
    throw new SlabError(
      'EINVAL',
      `ngx_pmemalign: alignment ${String(alignment)}: expected a power of two up to ${m.cfg.pageSize}`,
    );
  }
  const p = yield* heapAlloc(m, size, cpu);
  if (p === 0) return 0;
  yield S_MEMALIGN;
  return yield* addLarge(m, pool, p, cpu);
}

/**
 * ngx_pfree(): release a large allocation, keeping its node (alloc = NULL) for reuse.
 * NGX_DECLINED for anything else (small allocations are never freed one by one).
 */
export function* ngxPfree(m: Machine, pool: number, p: number): Step<number> {
  checkPool(m, pool, 'ngx_pfree');
  for (
    let l = yield* load32(m, fw(m, pool, NGX_POOL.large), S_PFREE);
    l !== 0;
    l = yield* load32(m, fw(m, l, NGX_POOL_LARGE.next), S_PFREE)
  ) {
    const a = yield* load32(m, fw(m, l, NGX_POOL_LARGE.alloc), S_PFREE);
    if (p === a) {
      if (a !== 0) yield* heapFree(m, a, 'ngx_pfree');
      yield* store32(m, fw(m, l, NGX_POOL_LARGE.alloc), 0, S_PFREE);
      return NGX_OK;
    }
  }
  return NGX_DECLINED;
}

/**
 * ngx_pool_cleanup_add(pool, size): a cleanup record (with `size` bytes of data from the
 * pool when size > 0) at the head of the cleanup list. `handler` is an id from the
 * cleanup registry (ngx_cleanup.ts), 0 for none yet. Returns the record, 0 on no memory.
 */
export function* ngxPoolCleanupAdd(m: Machine, pool: number, size: number, handler: number, cpu: number): Step<number> {
  checkPool(m, pool, 'ngx_pool_cleanup_add');
  checkSize('ngx_pool_cleanup_add', 'size', size);
  checkHandler(handler);
  const c = yield* ngxPalloc(m, pool, SIZEOF_CLEANUP, cpu);
  if (c === 0) return 0;
  let data = 0;
  if (size > 0) {
    data = yield* ngxPalloc(m, pool, size, cpu);
    if (data === 0) return 0;
  }
  yield* store32(m, fw(m, c, NGX_POOL_CLEANUP.data), data, S_CLEANUP);
  yield* store32(m, fw(m, c, NGX_POOL_CLEANUP.handler), handler, S_CLEANUP);
  yield* store32(m, fw(m, c, NGX_POOL_CLEANUP.next), yield* load32(m, fw(m, pool, NGX_POOL.cleanup), S_CLEANUP), S_CLEANUP);
  yield* store32(m, fw(m, pool, NGX_POOL.cleanup), c, S_CLEANUP);
  return c;
}

/** `cln->handler = h` */
export function* ngxCleanupSetHandler(m: Machine, c: number, handler: number): Step {
  checkAddr(m, 'ngx_pool_cleanup_t', c);
  checkHandler(handler);
  yield* store32(m, fw(m, c, NGX_POOL_CLEANUP.handler), handler, S_CLEANUP);
}

/** `cln->data` */
export const ngxCleanupData = (m: Machine, c: number): number => m.u32[fw(m, c, NGX_POOL_CLEANUP.data)];

function checkHandler(handler: number): void {
  if (handler !== 0 && ngxCleanupHandler(handler) === undefined) {
    throw new SlabError('EINVAL', `ngx_pool_cleanup_t: handler id ${String(handler)} is not registered on this thread`);
  }
}

/**
 * ngx_destroy_pool(): run the cleanup handlers (most recent first), release the large
 * allocations, then every block. Every handler id is checked first, so an unknown one
 * is an EINVAL that changes nothing.
 */
export function* ngxDestroyPool(m: Machine, pool: number): Step {
  checkPool(m, pool, 'ngx_destroy_pool');
  const u = m.u32;
  for (let c = u[fw(m, pool, NGX_POOL.cleanup)], n = 0; c !== 0 && n < 1 << 20; c = u[fw(m, c, NGX_POOL_CLEANUP.next)], n++) {
    checkHandler(u[fw(m, c, NGX_POOL_CLEANUP.handler)]);
  }
  for (
    let c = yield* load32(m, fw(m, pool, NGX_POOL.cleanup), S_DESTROY);
    c !== 0;
    c = yield* load32(m, fw(m, c, NGX_POOL_CLEANUP.next), S_DESTROY)
  ) {
    const h = yield* load32(m, fw(m, c, NGX_POOL_CLEANUP.handler), S_DESTROY);
    if (h !== 0) {
      const data = yield* load32(m, fw(m, c, NGX_POOL_CLEANUP.data), S_DESTROY);
      ngxCleanupHandler(h)?.(m, data);
    }
  }
  yield* freeLarge(m, pool, S_DESTROY);
  let p = pool;
  let n = yield* load32(m, fw(m, pool, NGX_POOL.next), S_DESTROY);
  for (;;) {
    yield* heapFree(m, p, 'ngx_destroy_pool');
    if (n === 0) break;
    p = n;
    n = yield* load32(m, fw(m, n, NGX_POOL.next), S_DESTROY);
  }
}

function* freeLarge(m: Machine, pool: number, at: number): Step {
  for (
    let l = yield* load32(m, fw(m, pool, NGX_POOL.large), at);
    l !== 0;
    l = yield* load32(m, fw(m, l, NGX_POOL_LARGE.next), at)
  ) {
    const a = yield* load32(m, fw(m, l, NGX_POOL_LARGE.alloc), at);
    if (a !== 0) yield* heapFree(m, a, 'ngx_destroy_pool');
  }
}

/**
 * ngx_reset_pool(): release the large allocations, rewind every block's `last` to
 * block + sizeof(ngx_pool_t) (also for blocks after the first, as the original does),
 * failed = 0, current = the pool, large = chain = NULL. The original leaves `cleanup`
 * pointing into the rewound memory; the simulator drops the list (no handler runs, as
 * in the original) so that a later destroy does not read recycled bytes as records.
 */
export function* ngxResetPool(m: Machine, pool: number): Step {
  checkPool(m, pool, 'ngx_reset_pool');
  yield* freeLarge(m, pool, S_RESET);
  for (let p = pool; p !== 0; p = yield* load32(m, fw(m, p, NGX_POOL.next), S_RESET)) {
    yield* store32(m, fw(m, p, NGX_POOL.last), p + SIZEOF_POOL, S_RESET);
    yield* store32(m, fw(m, p, NGX_POOL.failed), 0, S_RESET);
  }
  yield* store32(m, fw(m, pool, NGX_POOL.current), pool, S_RESET);
  yield* store32(m, fw(m, pool, NGX_POOL.chain), 0, S_RESET);
  yield* store32(m, fw(m, pool, NGX_POOL.large), 0, S_RESET);
  yield* store32(m, fw(m, pool, NGX_POOL.cleanup), 0, S_RESET);
}

// ---------------------------------------------------------------- reports and checks

export interface NgxBlockInfo {
  addr: number;
  last: number;
  end: number;
  failed: number;
  /** bytes carved from the block */
  used: number;
  current: boolean;
}

/** The pool's blocks, large allocations and cleanup records (a snapshot). */
export function ngxPoolInfo(m: Machine, pool: number) {
  checkPool(m, pool, 'ngx_pool_info');
  const u = m.u32;
  const current = u[fw(m, pool, NGX_POOL.current)];
  const blocks: NgxBlockInfo[] = [];
  for (let p = pool; p !== 0 && blocks.length < 1 << 16; p = u[fw(m, p, NGX_POOL.next)]) {
    const last = u[fw(m, p, NGX_POOL.last)];
    blocks.push({
      addr: p,
      last,
      end: u[fw(m, p, NGX_POOL.end)],
      failed: u[fw(m, p, NGX_POOL.failed)],
      used: last - p,
      current: p === current,
    });
  }
  const large: { node: number; alloc: number }[] = [];
  for (let l = u[fw(m, pool, NGX_POOL.large)]; l !== 0 && large.length < 1 << 16; l = u[fw(m, l, NGX_POOL_LARGE.next)]) {
    large.push({ node: l, alloc: u[fw(m, l, NGX_POOL_LARGE.alloc)] });
  }
  const cleanup: { node: number; handler: number; data: number }[] = [];
  for (let c = u[fw(m, pool, NGX_POOL.cleanup)]; c !== 0 && cleanup.length < 1 << 16; c = u[fw(m, c, NGX_POOL_CLEANUP.next)]) {
    cleanup.push({ node: c, handler: u[fw(m, c, NGX_POOL_CLEANUP.handler)], data: u[fw(m, c, NGX_POOL_CLEANUP.data)] });
  }
  return { max: u[fw(m, pool, NGX_POOL.max)], current, blocks, large, cleanup };
}

/**
 * The equations beside NGX_POOL: every block is a heap block of the pool's block size
 * with b + sizeof(ngx_pool_data_t) <= last <= end; the block list is acyclic; `current`
 * is on it and every block before it has failed > 4; max <= block size - sizeof(ngx_pool_t)
 * and < pagesize; the large and cleanup lists are acyclic, their nodes lie in the carved
 * part of a block, every large allocation is a distinct live heap block, every handler
 * id is registered.
 */
export function validateNgxPool(m: Machine, pool: number): ValidateResult {
  const u = m.u32;
  const out: string[] = [];
  if (!validAddr(m, pool) || heapBlockPfn(m, pool) < 0) return result([`no ngx_pool_t at ${hex(pool)}`]);
  const at = `ngx_pool ${hex(pool)}`;
  const psize = u[fw(m, pool, NGX_POOL.end)] - pool;
  const max = u[fw(m, pool, NGX_POOL.max)];
  if (max > psize - SIZEOF_POOL || max > m.cfg.pageSize - 1)
    out.push(`${at}: max ${max} exceeds the block's room or pagesize - 1`);
  const current = u[fw(m, pool, NGX_POOL.current)];
  const blocks: { start: number; last: number }[] = [];
  const seen = new Set<number>();
  let beforeCurrent = true;
  for (let p = pool; p !== 0; p = u[fw(m, p, NGX_POOL.next)]) {
    if (seen.has(p)) {
      out.push(`${at}: block list is cyclic at ${hex(p)}`);
      break;
    }
    seen.add(p);
    const pfn = heapBlockPfn(m, p);
    if (pfn < 0) {
      out.push(`${at}: block ${hex(p)} is not a live heap block`);
      break;
    }
    if (u[pageOff(m, pfn) + PAGE.flags] & PG.buddy) out.push(`${at}: block ${hex(p)} is free in the page allocator`);
    const last = u[fw(m, p, NGX_POOL.last)];
    const end = u[fw(m, p, NGX_POOL.end)];
    if (end - p !== psize) out.push(`${at}: block ${hex(p)} is ${end - p} bytes, expected ${psize}`);
    if (last < p + NGX_POOL_DATA_BYTES || last > end)
      out.push(`${at}: block ${hex(p)} last ${hex(last)} outside [${hex(p + NGX_POOL_DATA_BYTES)}, ${hex(end)}]`);
    if (p === current) beforeCurrent = false;
    else if (beforeCurrent && u[fw(m, p, NGX_POOL.failed)] <= 4)
      out.push(`${at}: block ${hex(p)} before current has failed ${u[fw(m, p, NGX_POOL.failed)]} <= 4`);
    blocks.push({ start: p, last });
  }
  if (beforeCurrent) out.push(`${at}: current ${hex(current)} is not one of its blocks`);
  const carved = (a: number, bytes: number): boolean =>
    blocks.some((b) => a >= b.start + NGX_POOL_DATA_BYTES && a + bytes <= b.last);
  const nodes = new Set<number>();
  const allocs = new Set<number>();
  for (let l = u[fw(m, pool, NGX_POOL.large)]; l !== 0; l = u[fw(m, l, NGX_POOL_LARGE.next)]) {
    if (nodes.has(l)) {
      out.push(`${at}: large list is cyclic at ${hex(l)}`);
      break;
    }
    nodes.add(l);
    if (!carved(l, SIZEOF_LARGE)) out.push(`${at}: large node ${hex(l)} is not inside a block's carved bytes`);
    const a = u[fw(m, l, NGX_POOL_LARGE.alloc)];
    if (a === 0) continue;
    if (heapBlockPfn(m, a) < 0) out.push(`${at}: large allocation ${hex(a)} is not a live heap block`);
    if (allocs.has(a)) out.push(`${at}: large allocation ${hex(a)} recorded twice`);
    allocs.add(a);
  }
  const cleanups = new Set<number>();
  for (let c = u[fw(m, pool, NGX_POOL.cleanup)]; c !== 0; c = u[fw(m, c, NGX_POOL_CLEANUP.next)]) {
    if (cleanups.has(c)) {
      out.push(`${at}: cleanup list is cyclic at ${hex(c)}`);
      break;
    }
    cleanups.add(c);
    if (!carved(c, SIZEOF_CLEANUP)) out.push(`${at}: cleanup ${hex(c)} is not inside a block's carved bytes`);
    const h = u[fw(m, c, NGX_POOL_CLEANUP.handler)];
    if (h !== 0 && ngxCleanupHandler(h) === undefined) out.push(`${at}: cleanup ${hex(c)} has unregistered handler ${h}`);
  }
  return result(out);
}

export const validate = validateNgxPool;
