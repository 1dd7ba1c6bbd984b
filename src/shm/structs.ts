// Every structure that lives in the SharedArrayBuffer, with the invariants it keeps.
// This module and machine.ts are the only code that knows offsets.
import type { Profile } from '../config.js';
import { defineStruct } from './struct.js';

export const MAGIC = 0x534c4142; // 'SLAB'
/** Bumped whenever any table below changes; attach() refuses other versions. */
export const LAYOUT_VERSION = 8;

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
  partial: 1 << 5, // 7.0 SL_partial (PG_workingset): the slab is on its node's partial list
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
    sheafCapacity: 'u32', // s->sheaf_capacity (6.18, 7.0): objects per sheaf, 0 for a cache without sheaves
  },
  256,
);

export const CACHE_STATE = { unused: 0, live: 1, destroyed: 2 } as const;

/**
 * Every stat item of every profile, in storage order: the 26 of 5.4/6.6 first (their
 * indices never change), then those the sheaves brought. Which of them a profile has,
 * and in what order its sysfs lists them, is PROFILE_STAT_ITEMS.
 */
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
  'alloc_cpu_sheaf',
  'free_cpu_sheaf',
  'free_rcu_sheaf',
  'free_rcu_sheaf_fail',
  'sheaf_flush',
  'sheaf_refill',
  'sheaf_alloc',
  'sheaf_free',
  'barn_get',
  'barn_get_fail',
  'barn_put',
  'barn_put_fail',
  'sheaf_prefill_fast',
  'sheaf_prefill_slow',
  'sheaf_prefill_oversize',
  'sheaf_return_fast',
  'sheaf_return_slow',
] as const;
export type StatItem = (typeof STAT_ITEMS)[number];
/** Stat index by kernel name: ST.alloc_fastpath === 0, ... */
export const ST = Object.freeze(Object.fromEntries(STAT_ITEMS.map((n, i) => [n, i]))) as { readonly [K in StatItem]: number };

/** enum stat_item of 5.4 (include/linux/slub_def.h) and 6.6 (mm/slub.c): the same 26. */
const CLASSIC_STAT_ITEMS = STAT_ITEMS.slice(0, ST.cpu_partial_drain + 1) as StatItem[];
/** The items the sheaves added after CPU_PARTIAL_DRAIN (6.18) or CMPXCHG_DOUBLE_FAIL (7.0). */
const SHEAF_STAT_ITEMS = STAT_ITEMS.slice(ST.sheaf_flush) as StatItem[];

/**
 * enum stat_item of each profile, in kernel order (= the order of the sysfs files).
 * 6.18 ("slab: add opt-in caching layer of percpu sheaves" and its series) put
 * ALLOC_PCS and FREE_PCS (sysfs alloc_cpu_sheaf, free_cpu_sheaf) beside the cpu-slab
 * fast paths and FREE_RCU_SHEAF(_FAIL) after FREE_PCS. 7.0 removed the cpu-slab items
 * and the _PCS ones: ALLOC_FASTPATH and FREE_FASTPATH mean a sheaf hit there, the slow
 * paths an object from or to a slab.
 */
export const PROFILE_STAT_ITEMS: Readonly<Record<Profile, readonly StatItem[]>> = {
  '5.4': CLASSIC_STAT_ITEMS,
  '6.6': CLASSIC_STAT_ITEMS,
  '6.18': [
    'alloc_cpu_sheaf',
    'alloc_fastpath',
    'alloc_slowpath',
    'free_cpu_sheaf',
    'free_rcu_sheaf',
    'free_rcu_sheaf_fail',
    ...CLASSIC_STAT_ITEMS.slice(ST.free_fastpath),
    ...SHEAF_STAT_ITEMS,
  ],
  '7.0': [
    'alloc_fastpath',
    'alloc_slowpath',
    'free_rcu_sheaf',
    'free_rcu_sheaf_fail',
    'free_fastpath',
    'free_slowpath',
    'free_add_partial',
    'free_remove_partial',
    'alloc_slab',
    'alloc_node_mismatch',
    'free_slab',
    'order_fallback',
    'cmpxchg_double_fail',
    ...SHEAF_STAT_ITEMS,
  ],
};

/** The stat items every profile has: what code reading any run may rely on. */
export const COMMON_STAT_ITEMS = [
  'alloc_fastpath',
  'alloc_slowpath',
  'free_fastpath',
  'free_slowpath',
  'free_add_partial',
  'free_remove_partial',
  'alloc_slab',
  'alloc_node_mismatch',
  'free_slab',
  'order_fallback',
  'cmpxchg_double_fail',
] as const satisfies readonly StatItem[];
export type CommonStatItem = (typeof COMMON_STAT_ITEMS)[number];

/**
 * struct slab_sheaf, which lives in simulated memory: kzalloc(struct_size(sheaf, objects,
 * capacity)) from the kmalloc caches, as in the kernel, so the byte layout is the
 * kernel's on x86_64 (a 32-byte header, then one 8-byte pointer per object). Simulated
 * addresses are 32-bit: each pointer is stored in the low word of its 8 bytes. Word
 * offsets from the sheaf's address:
 *   0 <= size <= the sheaf's capacity; objects[0 .. size) are objects of `cache`, a stack
 *   (push and pop at objects[size]), each allocated from its slab's point of view
 */
export const SHEAF = Object.freeze({
  /** barn_list: the next sheaf on a barn list (0 ends it); in a union with `capacity` */
  barnNext: 0,
  /** capacity: a prefilled sheaf's own capacity (kmem_cache_prefill_sheaf()), in the same union */
  capacity: 0,
  /** cache: the owning cache's id + 1 (struct kmem_cache *) */
  cache: 4,
  /** size: objects held */
  size: 6,
  /** node: used only by kfree_rcu sheaves */
  node: 7,
  /** objects[0] */
  objects: 8,
  /** words per objects[] entry */
  objectStride: 2,
});

/**
 * One cache's per-CPU state, padded to 128-byte multiples: struct kmem_cache_cpu (5.4,
 * 6.6, 6.18; unused in 7.0, which removed it), struct slub_percpu_sheaves (6.18, 7.0:
 * s->cpu_sheaves) and the stat counters (7.0: s->cpu_stats). Only CPU i writes its own
 * (flush requests are carried out by CPU i itself, as the kernel's work item is).
 * Sheaves, with capacity C = s->sheaf_capacity > 0 (a sheaf: mm/slub/sheaf.ts):
 *   pcsLock is 0 whenever no code of this CPU is between local_trylock and local_unlock
 *   main != 0, 0 <= main->size <= C
 *   spare == 0, or 0 <= spare->size <= C (a returned prefill sheaf may be partly full)
 */
export const CACHE_CPU = defineStruct(
  'CACHE_CPU',
  {
    ft: 'u64', // this_cpu_cmpxchg_double target: lo = tid, hi = freelist (CPU_TID / CPU_FREELIST)
    page: 'u32', // c->page (5.4) / c->slab (6.6): the cpu slab's pfn or NIL
    partial: 'u32', // c->partial: head pfn of the cpu-partial chain or NIL
    lock: 'u32', // 6.6 c->lock (local_lock_t): 1 while held
    flushReq: 'u32', // flush_all: 1 = requested, the owner sets 0 when done
    pcsLock: 'u32', // cpu_sheaves->lock (local_trylock_t): 1 while held; only this CPU's interrupts contend
    main: 'u32', // pcs->main: address of the main sheaf (never 0 while the cache has sheaves)
    spare: 'u32', // pcs->spare: address of the spare sheaf, or 0
    rcuFree: 'u32', // pcs->rcu_free (kfree_rcu batching: not modeled, always 0)
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
 * struct kmem_cache_node, one per cache per node, with its struct node_barn (6.18, 7.0:
 * n->barn, for a cache with sheaves). Under list_lock:
 *   nr_partial == length of the partial list; every slab on it is !frozen with freelist != NULL
 *   (a slab may be briefly empty on it: kept while nr_partial < min_partial)
 *   7.0: a slab is on the partial list <=> its SL_partial flag (PG.partial) is set
 *   nrSlabs, totalObjects: Σ over all slabs of this node (CONFIG_SLUB_DEBUG accounting, atomics)
 * Under barnLock (the lists are LIFO stacks of sheaves linked through their first word):
 *   nrFull == length of the list at fullSheaves, each sheaf on it holds C objects
 *   nrEmpty == length of the list at emptySheaves, each sheaf on it holds none
 *   nrFull <= MAX_FULL_SHEAVES and nrEmpty <= MAX_EMPTY_SHEAVES only softly: the limits
 *   are read without the lock, and sheaves put back to undo a race ignore them
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
    barnLock: 'u32', // barn->lock (spinlock)
    fullSheaves: 'u32', // barn->sheaves_full: address of the first sheaf, 0 for none
    emptySheaves: 'u32', // barn->sheaves_empty
    nrFull: 'u32', // barn->nr_full
    nrEmpty: 'u32', // barn->nr_empty
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
/**
 * NR_PCP_LISTS: 5.4 one list per migrate type (order 0 only); from 6.6 one per
 * (order <= 3, type) plus one for THP (the sheaf-era kernels keep 6.6's lists).
 */
const NR_PCP_LISTS_6_6 = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1) + 1;
export const NR_PCP_LISTS: Readonly<Record<Profile, number>> = {
  '5.4': MIGRATE_PCPTYPES,
  '6.6': NR_PCP_LISTS_6_6,
  '6.18': NR_PCP_LISTS_6_6,
  '7.0': NR_PCP_LISTS_6_6,
};
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
