/* @two-way */
// GlusterFS's mem_pool: one region of `count` padded chunks taken up front, a free list
// of chunks, one lock per pool, and a fallback to the general heap when the region is
// exhausted. libglusterfs/src/mem-pool.c (3.x): mem_pool_new_fn(), mem_get(), mem_get0(),
// mem_put(), __is_member(), mem_pool_destroy().
//
// Chunk layout: [list link][pointer to owning pool][in_use flag][object of real size]
// (GF_CHUNK, GF_MEM_POOL_PAD_BOUNDARY bytes of header). The free list is a struct
// list_head anchored in the pool head, used as a stack (list_add / first entry), as in
// the original. Pool state is read and written plainly under `lock`; the lock operations
// and one point per step are the schedule points (as in page_alloc.ts).
// Lock order: ctx->lock > mem_pool->lock > zone->lock (the general heap is called under
// the pool lock, as GF_CALLOC is in the original).
import { SlabError } from '../../errors.js';
import { type Step, site } from '../../sched/step.js';
import { load32, spinLock, spinUnlock } from '../../shm/atomic.js';
import { addrWord, type Machine, validAddr } from '../../shm/machine.js';
import { heapAlloc, heapBlockPfn, heapFree, heapOrder, zeroBytes } from './heap.js';
import {
  GF_CHUNK,
  GF_CTX,
  GF_CTX_MAGIC,
  GF_MAGIC,
  GF_MEM_POOL_PAD_BOUNDARY,
  GF_NAME_BYTES,
  GF_POOL,
  gfChunk2Ptr,
  gfListAnchor,
  gfPtr2Chunk,
  LIST_HEAD,
  sizeofStruct,
  WORD_BYTES,
} from './structs.js';
import { checkCpuId, hex, readCString, result, type ValidateResult, writeCString } from './util.js';

const S_NEW = site('mem_pool_new_fn');
const S_CTX_LOCK = site('mem_pool_new_fn:ctx->lock');
const S_GET_LOCK = site('mem_get:lock');
const S_GET = site('mem_get');
const S_PUT_HDR = site('mem_put:header');
const S_PUT_LOCK = site('mem_put:lock');
const S_PUT = site('mem_put');
const S_DESTROY = site('mem_pool_destroy');

/** What mem_put did: returned a region chunk, released a heap chunk, or found a double free. */
export type MemPutResult = 'pool' | 'heap' | 'double_free';

/** The counters of struct mem_pool, under their original names. */
export interface MemPoolStats {
  name: string;
  count: number;
  hot_count: number;
  cold_count: number;
  padded_sizeof_type: number;
  real_sizeof_type: number;
  pool: number;
  pool_end: number;
  alloc_count: number;
  pool_misses: number;
  max_alloc: number;
  curr_stdalloc: number;
  max_stdalloc: number;
  double_free: number;
}

// ---------------------------------------------------------------- struct list_head

const next = (m: Machine, lh: number): number => m.u32[addrWord(m, lh) + LIST_HEAD.next];
const prev = (m: Machine, lh: number): number => m.u32[addrWord(m, lh) + LIST_HEAD.prev];
function setLinks(m: Machine, lh: number, n: number, p: number): void {
  m.u32[addrWord(m, lh) + LIST_HEAD.next] = n;
  m.u32[addrWord(m, lh) + LIST_HEAD.prev] = p;
}
/** INIT_LIST_HEAD() */
const initListHead = (m: Machine, lh: number): void => setLinks(m, lh, lh, lh);
/** list_add(entry, head): insert after head. */
function listAdd(m: Machine, entry: number, head: number): void {
  const first = next(m, head);
  setLinks(m, entry, first, head);
  m.u32[addrWord(m, first) + LIST_HEAD.prev] = entry;
  m.u32[addrWord(m, head) + LIST_HEAD.next] = entry;
}
/** list_add_tail(entry, head): insert before head. */
const listAddTail = (m: Machine, entry: number, head: number): void => listAdd(m, entry, prev(m, head));
/** list_del(entry) */
function listDel(m: Machine, entry: number): void {
  const n = next(m, entry);
  const p = prev(m, entry);
  m.u32[addrWord(m, p) + LIST_HEAD.next] = n;
  m.u32[addrWord(m, n) + LIST_HEAD.prev] = p;
  setLinks(m, entry, 0, 0); // LIST_POISON
}

// ---------------------------------------------------------------- ctx and creation

/** glusterfs_ctx_t: holds the global list of mem pools. Its address, or 0 when memory is short. */
export function* gfCtxCreate(m: Machine, cpu: number): Step<number> {
  checkCpuId(m, 'glusterfs ctx', cpu);
  const addr = yield* heapAlloc(m, sizeofStruct(GF_CTX), cpu, true);
  if (addr !== 0) m.u32[addrWord(m, addr) + GF_CTX.magic] = GF_CTX_MAGIC;
  return addr;
}

/** Pools on ctx->mempool_list, most recent first. */
export function ctxPools(m: Machine, ctx: number): number[] {
  const out: number[] = [];
  for (
    let p = m.u32[addrWord(m, ctx) + GF_CTX.mempool_list];
    p !== 0 && out.length < 1 << 16;
    p = m.u32[addrWord(m, p) + GF_POOL.global_list]
  ) {
    out.push(p);
  }
  return out;
}

/**
 * mem_pool_new_fn(sizeof_type, count, name): a pool named "<owner>:<name>" with a region
 * of `count` chunks, every chunk on the free list (in address order), registered on
 * `ctx` (0: none). Size 0 or count 0 is EINVAL ("invalid argument"); returns 0 when
 * memory is short or the region exceeds the largest block the page allocator has.
 */
export function* memPoolNewFn(
  m: Machine,
  ctx: number,
  sizeofType: number,
  count: number,
  name: string,
  owner: string,
  cpu: number,
): Step<number> {
  checkCpuId(m, 'mem_pool_new_fn', cpu);
  if (!Number.isInteger(sizeofType) || !Number.isInteger(count) || sizeofType <= 0 || count <= 0) {
    throw new SlabError(
      'EINVAL',
      `mem_pool_new_fn(${String(sizeofType)}, ${String(count)}, ${name}): invalid argument (expected a size and a count > 0)`,
    );
  }
  if (ctx !== 0 && (!validAddr(m, ctx) || m.u32[addrWord(m, ctx) + GF_CTX.magic] !== GF_CTX_MAGIC)) {
    throw new SlabError('EINVAL', `mem_pool_new_fn(${name}): no glusterfs ctx at ${hex(ctx)}`);
  }
  // padded_sizeof_type = sizeof_type + GF_MEM_POOL_PAD_BOUNDARY; rounded to a word so that
  // every chunk header is addressable (the original relies on unaligned access).
  const padded = Math.ceil(sizeofType / WORD_BYTES) * WORD_BYTES + GF_MEM_POOL_PAD_BOUNDARY;
  const bytes = padded * count;
  if (heapOrder(m, bytes) < 0) return 0;
  const head = yield* heapAlloc(m, sizeofStruct(GF_POOL), cpu, true);
  if (head === 0) return 0;
  const region = yield* heapAlloc(m, bytes, cpu, true); // GF_CALLOC
  if (region === 0) {
    yield* heapFree(m, head, 'mem_pool_new_fn');
    return 0;
  }
  yield S_NEW; // head and region are private until registered
  const u = m.u32;
  const h = addrWord(m, head);
  u[h + GF_POOL.padded_sizeof_type] = padded;
  u[h + GF_POOL.real_sizeof_type] = sizeofType;
  u[h + GF_POOL.pool] = region;
  u[h + GF_POOL.pool_end] = region + bytes;
  u[h + GF_POOL.cold_count] = count;
  u[h + GF_POOL.count] = count;
  u[h + GF_POOL.regionOrder] = heapOrder(m, bytes);
  u[h + GF_POOL.ctx] = ctx;
  writeCString(m, head + GF_POOL.name * WORD_BYTES, GF_NAME_BYTES, `${owner}:${name}`);
  const anchor = gfListAnchor(head);
  initListHead(m, anchor);
  for (let i = 0; i < count; i++) listAddTail(m, region + i * padded, anchor);
  u[h + GF_POOL.magic] = GF_MAGIC;
  if (ctx !== 0) {
    const c = addrWord(m, ctx);
    yield* spinLock(m, c + GF_CTX.lock, S_CTX_LOCK);
    yield S_NEW;
    u[h + GF_POOL.global_list] = u[c + GF_CTX.mempool_list];
    u[c + GF_CTX.mempool_list] = head;
    u[c + GF_CTX.nr]++;
    yield* spinUnlock(m, c + GF_CTX.lock, S_CTX_LOCK);
  }
  return head;
}

function checkPool(m: Machine, pool: number, what: string): number {
  if (pool === 0) throw new SlabError('EINVAL', `${what}: invalid argument (NULL pool)`);
  if (!validAddr(m, pool) || m.u32[addrWord(m, pool) + GF_POOL.magic] !== GF_MAGIC) {
    throw new SlabError('EINVAL', `${what}: no mem_pool at ${hex(pool)}`);
  }
  return addrWord(m, pool);
}

// ---------------------------------------------------------------- mem_get / mem_put

/**
 * mem_get(): an object of the pool, or 0 when the region is exhausted and the general
 * heap is out of memory too (pool_misses counted). Under the pool lock.
 */
export function* memGet(m: Machine, pool: number, cpu: number): Step<number> {
  const h = checkPool(m, pool, 'mem_get');
  checkCpuId(m, 'mem_get', cpu);
  const u = m.u32;
  yield* spinLock(m, h + GF_POOL.lock, S_GET_LOCK);
  yield S_GET;
  u[h + GF_POOL.alloc_count]++;
  if (u[h + GF_POOL.cold_count] > 0) {
    const chunk = next(m, gfListAnchor(pool));
    listDel(m, chunk);
    u[h + GF_POOL.hot_count]++;
    u[h + GF_POOL.cold_count]--;
    if (u[h + GF_POOL.max_alloc] < u[h + GF_POOL.hot_count]) u[h + GF_POOL.max_alloc] = u[h + GF_POOL.hot_count];
    const c = addrWord(m, chunk);
    u[c + GF_CHUNK.in_use] = 1;
    u[c + GF_CHUNK.pool] = pool; // fwd_addr_out
    yield* spinUnlock(m, h + GF_POOL.lock, S_GET_LOCK);
    return gfChunk2Ptr(chunk);
  }
  // The region is exhausted: a padded chunk from the general heap, zeroed (GF_CALLOC),
  // so in_use stays 0 and __is_member will find it outside the region.
  u[h + GF_POOL.pool_misses]++;
  const chunk = yield* heapAlloc(m, u[h + GF_POOL.padded_sizeof_type], cpu, true);
  yield S_GET;
  if (chunk === 0) {
    yield* spinUnlock(m, h + GF_POOL.lock, S_GET_LOCK);
    return 0;
  }
  u[h + GF_POOL.curr_stdalloc]++;
  if (u[h + GF_POOL.max_stdalloc] < u[h + GF_POOL.curr_stdalloc]) u[h + GF_POOL.max_stdalloc] = u[h + GF_POOL.curr_stdalloc];
  u[addrWord(m, chunk) + GF_CHUNK.pool] = pool;
  yield* spinUnlock(m, h + GF_POOL.lock, S_GET_LOCK);
  return gfChunk2Ptr(chunk);
}

/** mem_get0(): mem_get() and zero the object (real_sizeof_type bytes). */
export function* memGet0(m: Machine, pool: number, cpu: number): Step<number> {
  const ptr = yield* memGet(m, pool, cpu);
  if (ptr !== 0) {
    yield S_GET; // the object is the caller's
    zeroBytes(m, ptr, m.u32[addrWord(m, pool) + GF_POOL.real_sizeof_type]);
  }
  return ptr;
}

/**
 * __is_member(): 1 when `ptr` is inside the region at a chunk boundary, -1 when inside
 * but not at a boundary, 0 when outside (from the general heap, or a wrong pointer).
 */
export function isMember(m: Machine, pool: number, ptr: number): 1 | 0 | -1 {
  const h = addrWord(m, pool);
  const start = m.u32[h + GF_POOL.pool];
  if (ptr < start || ptr >= m.u32[h + GF_POOL.pool_end]) return 0;
  return (gfPtr2Chunk(ptr) - start) % m.u32[h + GF_POOL.padded_sizeof_type] === 0 ? 1 : -1;
}

/**
 * mem_put(ptr): find the header, then the pool, then, under its lock, classify the
 * pointer (__is_member):
 *  1: a region chunk: back on the list; if it is already free, a double free: counted
 *     in double_free and nothing else changes ("mem_put called on freed ptr");
 * -1: inside the region but not at a chunk boundary: EBADFREE, state unchanged (the
 *     original abort()s);
 *  0: a general heap chunk: released, curr_stdalloc--.
 * NULL, a pointer outside memory, or a header without a pool is an error (the original
 * logs and returns): EINVAL / EBADFREE, nothing changes.
 */
export function* memPut(m: Machine, ptr: number, cpu: number): Step<MemPutResult> {
  checkCpuId(m, 'mem_put', cpu);
  if (ptr === 0) throw new SlabError('EINVAL', 'mem_put: invalid argument (NULL pointer)');
  const head = gfPtr2Chunk(ptr);
  if (!validAddr(m, head) || ptr % WORD_BYTES !== 0) {
    throw new SlabError('EBADFREE', `mem_put(${hex(ptr)}): ptr header is corrupted (outside simulated memory)`);
  }
  const pool = yield* load32(m, addrWord(m, head) + GF_CHUNK.pool, S_PUT_HDR);
  if (pool === 0) throw new SlabError('EBADFREE', `mem_put(${hex(ptr)}): mem-pool ptr is NULL`);
  if (!validAddr(m, pool) || m.u32[addrWord(m, pool) + GF_POOL.magic] !== GF_MAGIC) {
    throw new SlabError('EBADFREE', `mem_put(${hex(ptr)}): ptr header is corrupted (no mem_pool at ${hex(pool)})`);
  }
  const u = m.u32;
  const h = addrWord(m, pool);
  yield* spinLock(m, h + GF_POOL.lock, S_PUT_LOCK);
  yield S_PUT;
  const member = isMember(m, pool, ptr);
  if (member === 1) {
    const c = addrWord(m, head);
    if (u[c + GF_CHUNK.in_use] === 0) {
      // GF_LOG_CRITICAL "mem_put called on freed ptr %p of mem pool %p"
      u[h + GF_POOL.double_free]++;
      yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
      return 'double_free';
    }
    u[h + GF_POOL.hot_count]--;
    u[h + GF_POOL.cold_count]++;
    u[c + GF_CHUNK.in_use] = 0;
    listAdd(m, head, gfListAnchor(pool));
    yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
    return 'pool';
  }
  if (member === -1) {
    yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
    throw new SlabError(
      'EBADFREE',
      `mem_put(${hex(ptr)}): inside the region of ${readName(m, pool)} but not at a chunk boundary (the original aborts)`,
    );
  }
  // Outside the region: from the general heap (or a wrong pointer, which free() refuses).
  if (u[h + GF_POOL.curr_stdalloc] === 0 || heapBlockPfn(m, head) < 0) {
    yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
    throw new SlabError(
      'EBADFREE',
      `mem_put(${hex(ptr)}): outside the region of ${readName(m, pool)} and not a live heap chunk of it`,
    );
  }
  try {
    yield* heapFree(m, head, 'mem_put');
  } catch (e) {
    yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
    throw e;
  }
  u[h + GF_POOL.curr_stdalloc]--;
  yield* spinUnlock(m, h + GF_POOL.lock, S_PUT_LOCK);
  return 'heap';
}

// ---------------------------------------------------------------- destroy

/**
 * mem_pool_destroy(): unregister the pool and release its region and head. The original
 * frees the region under live objects; the simulator refuses (EBUSY, nothing changed)
 * while chunks are in use or heap chunks are outstanding, since they would dangle.
 * Call when no CPU operates on the pool.
 */
export function* memPoolDestroy(m: Machine, pool: number, cpu: number): Step {
  const h = checkPool(m, pool, 'mem_pool_destroy');
  checkCpuId(m, 'mem_pool_destroy', cpu);
  const u = m.u32;
  yield* spinLock(m, h + GF_POOL.lock, S_DESTROY);
  const hot = u[h + GF_POOL.hot_count];
  const std = u[h + GF_POOL.curr_stdalloc];
  yield* spinUnlock(m, h + GF_POOL.lock, S_DESTROY);
  if (hot + std > 0) {
    throw new SlabError('EBUSY', `mem_pool_destroy(${readName(m, pool)}): ${hot} chunks and ${std} heap objects still in use`);
  }
  const ctx = u[h + GF_POOL.ctx];
  if (ctx !== 0) {
    const c = addrWord(m, ctx);
    yield* spinLock(m, c + GF_CTX.lock, S_CTX_LOCK);
    yield S_DESTROY;
    let link = c + GF_CTX.mempool_list;
    while (u[link] !== 0 && u[link] !== pool) link = addrWord(m, u[link]) + GF_POOL.global_list;
    if (u[link] === pool) {
      u[link] = u[h + GF_POOL.global_list];
      u[c + GF_CTX.nr]--;
    }
    yield* spinUnlock(m, c + GF_CTX.lock, S_CTX_LOCK);
  }
  u[h + GF_POOL.magic] = 0;
  yield* heapFree(m, u[h + GF_POOL.pool], 'mem_pool_destroy');
  yield* heapFree(m, pool, 'mem_pool_destroy');
}

// ---------------------------------------------------------------- reports and checks

const readName = (m: Machine, pool: number): string => readCString(m, pool + GF_POOL.name * WORD_BYTES, GF_NAME_BYTES);

/** The pool's counters (racy snapshot, as a statedump reads them). */
export function memPoolStats(m: Machine, pool: number): MemPoolStats {
  const h = checkPool(m, pool, 'mem_pool_stats');
  const u = m.u32;
  return {
    name: readName(m, pool),
    count: u[h + GF_POOL.count],
    hot_count: u[h + GF_POOL.hot_count],
    cold_count: u[h + GF_POOL.cold_count],
    padded_sizeof_type: u[h + GF_POOL.padded_sizeof_type],
    real_sizeof_type: u[h + GF_POOL.real_sizeof_type],
    pool: u[h + GF_POOL.pool],
    pool_end: u[h + GF_POOL.pool_end],
    alloc_count: u[h + GF_POOL.alloc_count],
    pool_misses: u[h + GF_POOL.pool_misses],
    max_alloc: u[h + GF_POOL.max_alloc],
    curr_stdalloc: u[h + GF_POOL.curr_stdalloc],
    max_stdalloc: u[h + GF_POOL.max_stdalloc],
    double_free: u[h + GF_POOL.double_free],
  };
}

/**
 * The equations beside GF_POOL, on a quiet pool: hot_count + cold_count == count;
 * |list| == cold_count, the list well linked (next/prev agree), acyclic, every entry a
 * chunk of the region with in_use == 0; chunks with in_use == 1 number hot_count and name
 * this pool; in_use is 0 or 1; max_alloc >= hot_count; max_stdalloc >= curr_stdalloc;
 * the pool is on its ctx's list.
 */
export function validateMemPool(m: Machine, pool: number): ValidateResult {
  const u = m.u32;
  if (!validAddr(m, pool) || u[addrWord(m, pool) + GF_POOL.magic] !== GF_MAGIC) return result([`no mem_pool at ${hex(pool)}`]);
  const h = addrWord(m, pool);
  const s = memPoolStats(m, pool);
  const at = `mem_pool ${s.name}`;
  const out: string[] = [];
  if (s.hot_count + s.cold_count !== s.count)
    out.push(`${at}: hot_count ${s.hot_count} + cold_count ${s.cold_count} != count ${s.count}`);
  if (s.pool_end - s.pool !== s.count * s.padded_sizeof_type) out.push(`${at}: pool_end - pool != count * padded_sizeof_type`);
  const anchor = gfListAnchor(pool);
  const onList = new Set<number>();
  let back = anchor;
  for (let lh = next(m, anchor); lh !== anchor; lh = next(m, lh)) {
    if (onList.size > s.count) {
      out.push(`${at}: list longer than count ${s.count} (a cycle)`);
      break;
    }
    const off = lh - s.pool;
    if (lh < s.pool || lh >= s.pool_end || off % s.padded_sizeof_type !== 0) {
      out.push(`${at}: list holds ${hex(lh)}, not a chunk of the region`);
      break;
    }
    if (onList.has(lh)) {
      out.push(`${at}: chunk ${hex(lh)} twice on the list`);
      break;
    }
    if (prev(m, lh) !== back) out.push(`${at}: chunk ${hex(lh)} prev ${hex(prev(m, lh))} != ${hex(back)}`);
    onList.add(lh);
    back = lh;
  }
  if (prev(m, anchor) !== back) out.push(`${at}: list tail ${hex(prev(m, anchor))} != last entry ${hex(back)}`);
  if (onList.size !== s.cold_count) out.push(`${at}: |list| ${onList.size} != cold_count ${s.cold_count}`);
  let hot = 0;
  for (let i = 0; i < s.count; i++) {
    const chunk = s.pool + i * s.padded_sizeof_type;
    const c = addrWord(m, chunk);
    const inUse = u[c + GF_CHUNK.in_use];
    if (inUse > 1) out.push(`${at}: chunk ${i} in_use == ${inUse}`);
    if (inUse === 1) {
      hot++;
      if (onList.has(chunk)) out.push(`${at}: chunk ${i} is on the free list with in_use == 1`);
      if (u[c + GF_CHUNK.pool] !== pool) out.push(`${at}: chunk ${i} in use names pool ${hex(u[c + GF_CHUNK.pool])}`);
    } else if (!onList.has(chunk)) {
      out.push(`${at}: chunk ${i} is free (in_use == 0) but not on the list`);
    }
  }
  if (hot !== s.hot_count) out.push(`${at}: ${hot} chunks have in_use == 1 but hot_count == ${s.hot_count}`);
  if (s.max_alloc < s.hot_count) out.push(`${at}: max_alloc ${s.max_alloc} < hot_count ${s.hot_count}`);
  if (s.max_stdalloc < s.curr_stdalloc) out.push(`${at}: max_stdalloc ${s.max_stdalloc} < curr_stdalloc ${s.curr_stdalloc}`);
  if (s.alloc_count < s.hot_count + s.curr_stdalloc) out.push(`${at}: alloc_count ${s.alloc_count} < objects out`);
  if (u[h + GF_POOL.lock] !== 0) out.push(`${at}: lock held`);
  const ctx = u[h + GF_POOL.ctx];
  if (ctx !== 0 && !ctxPools(m, ctx).includes(pool)) out.push(`${at}: not on its ctx's mempool_list`);
  return result(out);
}

export const validate = validateMemPool;
