// The pool models' structures in simulated memory: their heads (each in a page taken
// from the page allocator, since the machine header has no region for them) and the
// headers they write into their blocks. This module is the only code of the pool
// models that knows an offset: the others call the helpers below and add a field name.
//
// Sizes: the simulated machine has 32-bit pointers, so `sizeof` of a C struct is
// STRIDE * 4 here (defineStruct pads strides to 8 bytes). Names keep the originals'
// spelling (`free_list`, `hot_count`, `d.last`, `quote`); simulator-only fields are
// camelCase.
import { defineStruct } from '../../shm/struct.js';

/** Bytes of a 32-bit simulated word; `sizeof(void *)` in the simulated machine. */
export const WORD_BYTES = 4;
export const sizeofStruct = (s: { readonly STRIDE: number }): number => s.STRIDE * WORD_BYTES;
export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

// ============================== HAProxy: pool_head ==============================

export const HA_MAGIC = 0x48415030; // 'HAP0'
export const HA_REGISTRY_MAGIC = 0x48415052; // 'HAPR'

/** The four variants of the HAProxy pool the simulator offers (HA_GROUP.kind). */
export const HA_KIND = {
  /** one pool_head per CPU, no atomics: the original (one process per core) */
  percpu: 0,
  /** one shared pool_head, Treiber stack with a 32-bit CAS on free_list: ABA-prone on purpose */
  shared: 1,
  /** one shared pool_head, free_list + tag in one 64-bit CAS word: the ABA fix */
  tagged: 2,
  /** a per-CPU cache (pool_cache_head) in front of the tagged shared list */
  cached: 3,
} as const;
export type HaKindName = keyof typeof HA_KIND;
export const HA_KIND_NAMES = Object.keys(HA_KIND) as HaKindName[];

/** pool_head.flags: pools of equal size may be shared by different types. */
export const MEM_F_SHARED = 0x1;
/** create_pool(): sizes are rounded up to this (a power of two). */
export const HA_POOL_ALIGN = 16;
/** char name[12] */
export const HA_NAME_BYTES = 12;

/**
 * What all heads of one pool have in common, at the start of the head block.
 * Written once by pool_create, read-only afterwards except `next`, `users` (under the
 * registry lock).
 */
export const HA_GROUP = defineStruct(
  'HA_GROUP',
  {
    magic: 'u32',
    kind: 'u32', // HA_KIND
    nheads: 'u32', // cpus for percpu, 1 otherwise
    cpus: 'u32',
    cacheMax: 'u32', // cached: a CPU's cache holds at most this many blocks
    lowPages: 'u32', // pool_gc2_ifneed: memory is short when the zone has fewer free pages
    order: 'u32', // order of the head block
    registry: 'u32', // address of the registry (pools list) or 0
    next: 'u32', // next pool in the registry, ascending size
    users: 'u32', // how many types share this pool (pool->users, the same for every head)
  },
  128,
);

/**
 * struct pool_head, one per CPU (percpu) or one shared, padded to 128 bytes.
 * Invariants, when no operation is under way:
 *   used + |free_list| == allocated                  (cached: the caches' blocks count in used)
 *   allocated == Σ nblocks over the page list;  nr_pages == length of the page list
 *   limit == 0 || allocated <= limit
 *   every block on free_list lies in a page of this head, at a block boundary; no repeats
 */
export const HA_POOL = defineStruct(
  'HA_POOL',
  {
    free_list: 'u64', // lo: first free block, whose first word links to the next; hi: ABA tag (tagged, cached)
    used: 'u32', // blocks handed out (cached: outside the shared list)
    allocated: 'u32', // blocks carved from pages and not yet released
    limit: 'u32', // upper bound on allocated, 0 = none
    minavail: 'u32', // keep at least this many free blocks when trimming
    size: 'u32', // block size, a multiple of HA_POOL_ALIGN
    flags: 'u32', // MEM_F_SHARED
    failed: 'u32', // allocations refused (limit reached or no memory)
    lock: 'u32', // simulator: protects pages, nr_pages and trimming (not the free list)
    pages: 'u32', // simulator: address of the first page carved for this head
    nr_pages: 'u32',
    name: ['u32', HA_NAME_BYTES / 4],
  },
  128,
);
export const HA_FREE_PTR = HA_POOL.free_list;
export const HA_FREE_TAG = HA_POOL.free_list + 1;

/** struct pool_cache_head: one CPU's cache (cached variant). Only that CPU touches it. */
export const HA_CACHE = defineStruct(
  'HA_CACHE',
  {
    list: 'u32', // first cached block, linked through its first word
    count: 'u32', // |list|
  },
  128,
);

/**
 * Header at the start of every page a head carves into blocks. `pool` identifies the
 * owning head (a free into another head is refused); nblocks is fixed when carved.
 */
export const HA_PAGE = defineStruct(
  'HA_PAGE',
  {
    pool: 'u32', // address of the owning pool_head
    nblocks: 'u32',
    next: 'u32', // next page of the same head, or 0
  },
  16,
);

/** The global `pools` list, kept sorted by size. */
export const HA_REGISTRY = defineStruct(
  'HA_REGISTRY',
  {
    magic: 'u32',
    lock: 'u32',
    first: 'u32', // address of the first pool (HA_GROUP)
    nr: 'u32',
  },
  128,
);

/** Bytes of a head block for `nheads` heads and, for the cached variant, `cpus` caches. */
export const haGroupBytes = (nheads: number, caches: number): number =>
  sizeofStruct(HA_GROUP) + nheads * sizeofStruct(HA_POOL) + caches * sizeofStruct(HA_CACHE);
/** Address of head `i` of the pool whose head block is at `group`. */
export const haHeadAddr = (group: number, i: number): number => group + sizeofStruct(HA_GROUP) + i * sizeofStruct(HA_POOL);
/** Address of CPU `cpu`'s pool_cache_head (caches follow the heads). */
export const haCacheAddr = (group: number, nheads: number, cpu: number): number =>
  haHeadAddr(group, nheads) + cpu * sizeofStruct(HA_CACHE);
/** The head a page header names, back to its index; -1 when it is not a head of `group`. */
export function haHeadIndex(group: number, nheads: number, head: number): number {
  const off = head - haHeadAddr(group, 0);
  const i = off / sizeofStruct(HA_POOL);
  return Number.isInteger(i) && i >= 0 && i < nheads ? i : -1;
}
/** First block of a carved page (blocks follow the page header, 16-byte aligned). */
export const haFirstBlock = (page: number): number => page + sizeofStruct(HA_PAGE);
/** Blocks of `size` bytes one page holds after its header. */
export const haBlocksPerPage = (pageSize: number, size: number): number => Math.floor((pageSize - sizeofStruct(HA_PAGE)) / size);

// ============================== GlusterFS: struct mem_pool ==============================

export const GF_MAGIC = 0x47465030; // 'GFP0'
export const GF_CTX_MAGIC = 0x47464358; // 'GFCX'
/** "<owner>:<name>", NUL-terminated */
export const GF_NAME_BYTES = 64;

/** struct list_head: a circular doubly linked list; links hold list_head addresses. */
export const LIST_HEAD = defineStruct('LIST_HEAD', { next: 'u32', prev: 'u32' });

/** glusterfs_ctx_t, the part that matters: the global list of mem pools. */
export const GF_CTX = defineStruct(
  'GF_CTX',
  {
    magic: 'u32',
    lock: 'u32', // ctx->lock: protects mempool_list
    mempool_list: 'u32', // first pool (address), linked through GF_POOL.global_list
    nr: 'u32',
  },
  128,
);

/**
 * struct mem_pool. Under `lock`:
 *   hot_count + cold_count == count
 *   |list| == cold_count; every chunk on list has in_use == 0
 *   chunks of the region with in_use == 1: exactly hot_count, each naming this pool
 *   max_alloc >= hot_count;  max_stdalloc >= curr_stdalloc
 */
export const GF_POOL = defineStruct(
  'GF_POOL',
  {
    magic: 'u32',
    lock: 'u32',
    list: ['u32', 2], // struct list_head: free chunks (next, prev)
    hot_count: 'u32',
    cold_count: 'u32',
    padded_sizeof_type: 'u32',
    real_sizeof_type: 'u32',
    pool: 'u32', // the region's first chunk
    pool_end: 'u32', // pool + count * padded_sizeof_type
    alloc_count: 'u32',
    pool_misses: 'u32',
    max_alloc: 'u32',
    curr_stdalloc: 'u32',
    max_stdalloc: 'u32',
    double_free: 'u32', // simulator: mem_put on a chunk already free ("mem_put called on freed ptr")
    global_list: 'u32', // next pool on ctx->mempool_list
    ctx: 'u32', // the ctx this pool is registered with, or 0
    count: 'u32', // simulator: chunks in the region
    regionOrder: 'u32', // simulator: page order of the region
    name: ['u32', GF_NAME_BYTES / 4],
  },
  128,
);

/**
 * The chunk header, GF_MEM_POOL_PAD_BOUNDARY bytes before every object:
 * [list link][pointer to owning pool][in_use flag].
 */
export const GF_CHUNK = defineStruct('GF_CHUNK', {
  list: ['u32', 2], // GF_MEM_POOL_LIST_BOUNDARY: struct list_head
  pool: 'u32', // GF_MEM_POOL_PTR: struct mem_pool *
  in_use: 'u32',
});
/** GF_MEM_POOL_PAD_BOUNDARY */
export const GF_MEM_POOL_PAD_BOUNDARY = sizeofStruct(GF_CHUNK);
/** The list_head embedded in a pool head (the anchor of its free list). */
export const gfListAnchor = (pool: number): number => pool + GF_POOL.list * WORD_BYTES;
/** mem_pool_chunkhead2ptr() / mem_pool_ptr2chunkhead() */
export const gfChunk2Ptr = (head: number): number => head + GF_MEM_POOL_PAD_BOUNDARY;
export const gfPtr2Chunk = (ptr: number): number => ptr - GF_MEM_POOL_PAD_BOUNDARY;

// ============================== nginx: ngx_pool_t ==============================

/** NGX_ALIGNMENT: sizeof(unsigned long) on the 64-bit hosts nginx targets. */
export const NGX_ALIGNMENT = 8;
/** NGX_POOL_ALIGNMENT */
export const NGX_POOL_ALIGNMENT = 16;

/**
 * struct ngx_pool_s, whose first four fields are the block header ngx_pool_data_t `d`
 * that every block starts with. For every block b of a pool:
 *   b + sizeof(ngx_pool_data_t) <= b.last <= b.end == b + (pool.end - pool)
 *   every block before `current` has failed > 4
 */
export const NGX_POOL = defineStruct('NGX_POOL', {
  last: 'u32', // d.last: next free byte
  end: 'u32', // d.end
  next: 'u32', // d.next: next block
  failed: 'u32', // d.failed
  max: 'u32',
  current: 'u32',
  chain: 'u32',
  large: 'u32',
  cleanup: 'u32',
  log: 'u32',
});
/** sizeof(ngx_pool_data_t): the header of every block after the first. */
export const NGX_POOL_DATA_BYTES = NGX_POOL.max * WORD_BYTES;

/** struct ngx_pool_large_s */
export const NGX_POOL_LARGE = defineStruct('NGX_POOL_LARGE', { next: 'u32', alloc: 'u32' });

/** struct ngx_pool_cleanup_s; `handler` is an id from the cleanup registry (0: NULL). */
export const NGX_POOL_CLEANUP = defineStruct('NGX_POOL_CLEANUP', { handler: 'u32', data: 'u32', next: 'u32' });

/** NGX_MIN_POOL_SIZE: ngx_align(sizeof(ngx_pool_t) + 2 * sizeof(ngx_pool_large_t), NGX_POOL_ALIGNMENT) */
export const NGX_MIN_POOL_SIZE = alignUp(sizeofStruct(NGX_POOL) + 2 * sizeofStruct(NGX_POOL_LARGE), NGX_POOL_ALIGNMENT);

// ============================== per-connection pool: mp_pool_s ==============================

/** MP_ALIGNMENT */
export const MP_ALIGNMENT = 16;

/** struct mp_pool_s: at the start of the first block; `head` follows it. */
export const MP_POOL = defineStruct('MP_POOL', { large: 'u32', head: 'u32', current: 'u32' });

/**
 * struct mp_node_s, at the start of every block (the first block: after mp_pool_s).
 *   start <= last <= end, start = node + sizeof(mp_node_s)
 *   quote == 0  <=>  last == start   (a block is rewound when its last allocation goes)
 */
export const MP_NODE = defineStruct('MP_NODE', { last: 'u32', end: 'u32', next: 'u32', quote: 'u32', failed: 'u32' });

/** struct mp_large_s */
export const MP_LARGE = defineStruct('MP_LARGE', { next: 'u32', alloc: 'u32', size: 'u32' });

/** Where the first block's node lives: just after the pool header. */
export const mpHeadNode = (pool: number): number => pool + sizeofStruct(MP_POOL);
/** A block's data start, where `last` is rewound to. */
export const mpNodeStart = (node: number): number => node + sizeofStruct(MP_NODE);
