// Every structure that lives in the SharedArrayBuffer, with the invariants it keeps.
// This module and machine.ts are the only code that knows offsets.
import { defineStruct } from './struct.js';

export const MAGIC = 0x534c4142; // 'SLAB'
/** Bumped whenever any table below changes; attach() refuses other versions. */
export const LAYOUT_VERSION = 1;

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
  profile: 'u32', // index into PROFILES
  pagesPerNode: 'u32',
  totalPfns: 'u32', // 1 (null page) + nodes * pagesPerNode
  nodeBase: 'u32', // word offset of NODE[0]
  pageBase: 'u32', // word offset of PAGE[0]
  cpuBase: 'u32', // word offset of CPU[0]
  memBase: 'u32', // word offset of simulated physical address 0
  nextCpuId: 'u32', // Atomics.add counter: each worker takes its CPU id from it
  started: 'u32', // start barrier: CPUs that have arrived
});

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
  lruNext: 'u32', // free_area list link (buddy), pfn or NIL
  lruPrev: 'u32',
  compoundHead: 'u32', // head pfn, for PG_tail pages
  owner: 'u32', // CPU id + 1 of the allocator of this block, 0 if free (for reports)
});

/**
 * Per-CPU machine region, padded to 128 bytes against false sharing.
 * Only CPU i writes CPU[i] (except `node`, written by create()).
 */
export const CPU = defineStruct(
  'CPU',
  {
    node: 'u32',
    opsDone: 'u32', // progress, published with a plain store every few thousand ops
  },
  128,
);
