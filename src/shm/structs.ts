// Every structure that lives in the SharedArrayBuffer, with the invariants it keeps.
// This module and machine.ts are the only code that knows offsets.
import { defineStruct } from './struct.js';

export const MAGIC = 0x534c4142; // 'SLAB'
/** Bumped whenever any table below changes; attach() refuses other versions. */
export const LAYOUT_VERSION = 7;

/** MAX_ORDER in the 5.4 sense: orders 0..MAX_ORDER-1 exist. */
export const MAX_ORDER = 11;
/** pfn 0 is the reserved null page: address 0 plays NULL and pfn 0 terminates lists. */
export const NIL = 0;

/** Machine header, at word 0. Written once by create(), read by attach(). */
export const GLOBAL = defineStruct('GLOBAL', {
  magic: 'u32',
  version: 'u32',
  totalWords: 'u32',
  cpus: 'u32',
  nodes: 'u32',
  pageSize: 'u32',
  pageShift: 'u32',
  memory: 'u32', // config.memory in bytes, as given (pages per node round it down)
  profile: 'u32', // index into PROFILES
  pagesPerNode: 'u32',
  totalPfns: 'u32', // 1 (null page) + nodes * pagesPerNode
  nodeBase: 'u32', // word offset of NODE[0]
  pageBase: 'u32', // word offset of PAGE[0]
  cpuBase: 'u32', // word offset of CPU[0]
  memBase: 'u32', // word offset of simulated physical address 0
  nextCpuId: 'u32', // Atomics.add counter: each worker takes its CPU id from it
  started: 'u32', // start barrier: CPUs that have arrived
  stop: 'u32', // set to 1 by the main thread when a --duration run's time is up
  cacheBase: 'u32', // word offset of KMEM_CACHE[0]
  cacheCpuBase: 'u32', // word offset of CACHE_CPU[cache 0][cpu 0]
  cacheNodeBase: 'u32', // word offset of CACHE_NODE[cache 0][node 0]
  nrCaches: 'u32', // cache ids 0..nrCaches-1 have been used (ids are never reused)
  pcpBase: 'u32', // word offset of PCP[node 0][cpu 0]
  pcp: 'u32', // 1: small orders go through the per-CPU page lists; 0: straight to the zone (--no-pcp)
  pcpDrainMutex: 'u32', // pcpu_drain_mutex: 1 while a drain_all_pages() runs (only ever trylocked)
  // A controller of free-running CPUs (the viewer's live mode), read by each CPU between
  // operations when it publishes its progress (mm/cpu.ts controlPoint()):
  pause: 'u32', // 1: CPUs wait (Atomics.wait on this word) until it is 0 again
  irqRate: 'u32', // 0: each CPU keeps its own rate; else 1 + the interrupt rate in millionths
});

/** Most caches one machine can hold (ids are never reused, destroyed ones included). */
export const MAX_CACHES = 64;

/**
 * One zone per node (the buddy allocator's `struct zone`, ZONE_NORMAL only).
 * Invariants, for each order k, under `lock`:
 *   nr_free[k] == length of the list at free_head[k]
 *   every page on that list has PG_buddy, private == k, and lies in [startPfn, startPfn + nrPages)
 *   Σ_k nr_free[k] << k  +  pages allocated from this node == nrPages
 */
export const NODE = defineStruct(
  'NODE',
  {
    lock: 'u32', // zone->lock: 0 free, 1 held, 2 held with waiters
    startPfn: 'u32',
    nrPages: 'u32',
    freePages: 'u32', // Σ_k nr_free[k] << k
    nrFree: ['u32', MAX_ORDER], // free_area[k].nr_free
    freeHead: ['u32', MAX_ORDER], // free_area[k].free_list, NIL-terminated
  },
  128,
);

/** struct page flags (page->flags), bit values. */
export const PG = {
  buddy: 1 << 0, // head of a free block in the buddy allocator; private == order
  pcp: 1 << 5, // head of a free block on a per-CPU page list (not in the buddy); private == order
  head: 1 << 1, // head of an allocated block; private == order
  tail: 1 << 2, // inside an allocated block of order > 0; compoundHead == head pfn
  slab: 1 << 3, // owned by a slab cache
  reserved: 1 << 4, // the null page
} as const;

/**
 * struct page, one per pfn. Buddy fields now; SLUB's (freelist+counters, next,
 * pages/pobjects or slabs, slab_cache) come with the allocator and share `lru`.
 */
export const PAGE = defineStruct('PAGE', {
  flags: 'u32',
  private: 'u32', // order of the free block (PG_buddy) or of the allocated block (PG_head)
  lruNext: 'u32', // free_area list link (buddy), pcp list link, or slab_list link (node partial/full list); pfn or NIL
  lruPrev: 'u32',
  compoundHead: 'u32', // head pfn, for PG_tail pages
  owner: 'u32', // CPU id + 1 of the allocator of this block, 0 if free (for reports)
  slabCache: 'u32', // page->slab_cache: cache id + 1, 0 if not a slab
  next: 'u32', // page->next: the cpu-partial chain (NIL-terminated)
  pages: 'u32', // 5.4 page->pages / 6.6 slab->slabs: slabs on the cpu-partial list from here (head only)
  pobjects: 'u32', // 5.4 page->pobjects: free objects on the cpu-partial list from here (head only)
  fc: 'u64', // cmpxchg_double_slab target: lo = counters, hi = freelist (SLAB_COUNTERS / SLAB_FREELIST)
});

/**
 * The slab word pair, updated only as a pair by cmpxchg_double_slab:
 *   counters = inuse:16 | objects:15 << 16 | frozen:1 << 31 (see shm/word.ts)
 * Slab states (<= 6.7, spec section 1), for a slab of cache s with pfn p:
 *   cpu slab:     frozen, on no list; its free objects are c->freelist + p->freelist
 *   cpu partial:  frozen, on one CPU's c->partial chain (through PAGE.next)
 *   node partial: !frozen, on n->partial, freelist != NULL
 *   full:         !frozen, freelist == NULL, on n->full only with SLAB_STORE_USER
 *   inuse + |p->freelist| == objects   (objects on a cpu freelist count as inuse)
 *   live objects == inuse - |c->freelist| for a cpu slab, == inuse otherwise
 */
export const SLAB_COUNTERS = PAGE.fc;
export const SLAB_FREELIST = PAGE.fc + 1;

/** Bytes of a cache name in the buffer, NUL included. */
export const CACHE_NAME_BYTES = 48;

/**
 * struct kmem_cache. Written by kmem_cache_create (main thread, before or between runs);
 * read by every CPU. min_partial and cpu_partial may change through sysfs-style writes;
 * slabErrors is bumped atomically by whoever reports a debug error (mm/slub/report.ts).
 */
export const KMEM_CACHE = defineStruct(
  'KMEM_CACHE',
  {
    state: 'u32', // CACHE_STATE
    flags: 'u32', // SLAB_* bits (mm/slub/geometry.ts)
    objectSize: 'u32', // s->object_size
    size: 'u32', // s->size: the slot stride
    align: 'u32',
    inuse: 'u32', // s->inuse: where metadata starts
    offset: 'u32', // s->offset: free pointer offset in the slot
    redLeftPad: 'u32',
    order: 'u32', // oo_order(s->oo)
    objects: 'u32', // oo_objects(s->oo)
    minOrder: 'u32', // oo_order(s->min)
    minObjects: 'u32', // oo_objects(s->min)
    minPartial: 'u32',
    cpuPartial: 'u32', // objects
    cpuPartialSlabs: 'u32', // 6.6 only
    refcount: 'u32',
    random: 'u32', // s->random, for CONFIG_SLAB_FREELIST_HARDENED (0: hardening off)
    ctor: 'u32', // constructor id + 1, 0 for none
    remoteNodeDefragRatio: 'u32',
    name: ['u32', CACHE_NAME_BYTES / 4], // NUL-terminated UTF-8
    randomSeq: 'u32', // CONFIG_SLAB_FREELIST_RANDOM: seed of s->random_seq (0: no shuffled freelists)
    slabErrors: 'u32', // reports (slab_err, object_err, slab_fix) made about this cache: what KUnit counts
  },
  256,
);

export const CACHE_STATE = { unused: 0, live: 1, destroyed: 2 } as const;

/** enum stat_item, in kernel order (include/linux/slub_def.h, mm/slub.c). */
export const STAT_ITEMS = [
  'alloc_fastpath',
  'alloc_slowpath',
  'free_fastpath',
  'free_slowpath',
  'free_frozen',
  'free_add_partial',
  'free_remove_partial',
  'alloc_from_partial',
  'alloc_slab',
  'alloc_refill',
  'alloc_node_mismatch',
  'free_slab',
  'cpuslab_flush',
  'deactivate_full',
  'deactivate_empty',
  'deactivate_to_head',
  'deactivate_to_tail',
  'deactivate_remote_frees',
  'deactivate_bypass',
  'order_fallback',
  'cmpxchg_double_cpu_fail',
  'cmpxchg_double_fail',
  'cpu_partial_alloc',
  'cpu_partial_free',
  'cpu_partial_node',
  'cpu_partial_drain',
] as const;
export type StatItem = (typeof STAT_ITEMS)[number];
/** Stat index by kernel name: ST.alloc_fastpath === 0, ... */
export const ST = Object.freeze(Object.fromEntries(STAT_ITEMS.map((n, i) => [n, i]))) as { readonly [K in StatItem]: number };

/**
 * struct kmem_cache_cpu, one per cache per CPU, padded to 128 bytes. Only CPU i writes
 * its own (flush requests are carried out by CPU i itself, as the kernel's work item is).
 */
export const CACHE_CPU = defineStruct(
  'CACHE_CPU',
  {
    ft: 'u64', // this_cpu_cmpxchg_double target: lo = tid, hi = freelist (CPU_TID / CPU_FREELIST)
    page: 'u32', // c->page (5.4) / c->slab (6.6): the cpu slab's pfn or NIL
    partial: 'u32', // c->partial: head pfn of the cpu-partial chain or NIL
    lock: 'u32', // 6.6 c->lock (local_lock_t): 1 while held
    flushReq: 'u32', // flush_all: 1 = requested, the owner sets 0 when done
    stat: ['u32', STAT_ITEMS.length], // per-CPU counters, bumped without atomics
  },
  128,
);
export const CPU_TID = CACHE_CPU.ft;
export const CPU_FREELIST = CACHE_CPU.ft + 1;

/** The kernel's names of the halves of the CAS'd pairs, for traces and pictures. */
export const HALF_NAMES: Readonly<Record<string, string>> = {
  'PAGE.fc.lo': 'counters',
  'PAGE.fc.hi': 'freelist',
  'CACHE_CPU.ft.lo': 'tid',
  'CACHE_CPU.ft.hi': 'freelist',
};

/**
 * struct kmem_cache_node, one per cache per node. Under list_lock:
 *   nr_partial == length of the partial list; every slab on it is !frozen with freelist != NULL
 *   (a slab may be briefly empty on it: kept while nr_partial < min_partial)
 *   nrSlabs, totalObjects: Σ over all slabs of this node (CONFIG_SLUB_DEBUG accounting, atomics)
 */
export const CACHE_NODE = defineStruct(
  'CACHE_NODE',
  {
    listLock: 'u32',
    nrPartial: 'u32',
    partialHead: 'u32',
    partialTail: 'u32',
    fullHead: 'u32', // SLAB_STORE_USER only
    fullTail: 'u32',
    nrSlabs: 'u32',
    totalObjects: 'u32',
  },
  128,
);

/**
 * Per-CPU machine region, padded to 128 bytes against false sharing.
 * Only CPU i writes CPU[i] (except `node`, written by create()).
 */
export const CPU = defineStruct(
  'CPU',
  {
    node: 'u32',
    opsDone: 'u32', // progress, published with a plain store every few thousand ops
    online: 'u32', // 1 while this CPU's program runs and will service work requests
    workPending: 'u32', // flush_all and drain_all_pages requests posted to this CPU and not yet carried out
    pcpDrain: 'u32', // 5.4 drain_all_pages() work item: 1 requested, 2 claimed (being carried out), 0 done
  },
  128,
);

/** The pcp lists hold these migrate types; every page the simulator allocates is MIGRATE_UNMOVABLE (GFP_KERNEL). */
export const MIGRATE_PCPTYPES = 3;
export const MIGRATE_UNMOVABLE = 0;
/** Orders above this are "costly"; 6.6 keeps pcp lists for orders 0..3 (and the THP order). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
/** NR_PCP_LISTS: 5.4 one list per migrate type (order 0 only); 6.6 one per (order <= 3, type) plus one for THP. */
export const NR_PCP_LISTS = { '5.4': MIGRATE_PCPTYPES, '6.6': MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1) + 1 } as const;
const NR_PCP_LISTS_MAX = NR_PCP_LISTS['6.6'];

/**
 * The simulator's counters of one pageset (the kernel has none per pageset; these are
 * the events its tracepoints and vmstat would show): pages handed out from the lists,
 * rmqueue_bulk() refills and the pages they moved, frees kept on the lists,
 * free_pcppages_bulk() calls because count reached high, drains (drain_pages_zone()
 * that found pages), pages moved back to the buddy for any reason, and 6.6's
 * pcp_spin_trylock() failures (the operation then went to the zone).
 */
export const PCP_STATS = [
  'alloc',
  'refill',
  'refill_pages',
  'free',
  'free_high',
  'drain',
  'bulk_free_pages',
  'lock_fail',
] as const;
export type PcpStat = (typeof PCP_STATS)[number];
export const PS = Object.freeze(Object.fromEntries(PCP_STATS.map((n, i) => [n, i]))) as { readonly [K in PcpStat]: number };

/**
 * struct per_cpu_pages: one per zone (node) per CPU, padded to 256 bytes. Lists are
 * doubly linked through PAGE.lruNext/lruPrev with a head and a tail (list_add puts a
 * freed page at the head, rmqueue_bulk appends at the tail; allocation takes the head,
 * free_pcppages_bulk the tail). Invariants, for PCP[node][cpu]:
 *   count == Σ_pindex len(lists[pindex]) << pindex_to_order(pindex)
 *   every page on lists[pindex] has PG_pcp, private == pindex_to_order(pindex), and lies in node's zone
 *   Σ_k nr_free[k] << k  +  Σ_cpu PCP[node][cpu].count  +  pages allocated from node == nrPages
 * Who writes it: CPU `cpu` only, except drains: 6.6 drains any CPU's lists under `lock`;
 * 5.4 drains them on their own CPU (a work item, CPU.pcpDrain), or those of a CPU whose
 * program has ended (page_alloc_cpu_dead()).
 */
export const PCP = defineStruct(
  'PCP',
  {
    lock: 'u32', // 6.6 pcp->lock: 0 free, 1 held, 2 held with waiters (5.4: unused, irq-off instead)
    count: 'u32', // pages on the lists
    high: 'u32', // free to the zone once count >= high
    batch: 'u32', // pages moved per refill / bulk free
    freeFactor: 'u32', // 6.6 pcp->free_factor: bulk frees double while frees run without allocations
    head: ['u32', NR_PCP_LISTS_MAX], // lists[pindex]: first pfn or NIL
    tail: ['u32', NR_PCP_LISTS_MAX], // lists[pindex]: last pfn or NIL
    stat: ['u32', PCP_STATS.length],
  },
  256,
);
