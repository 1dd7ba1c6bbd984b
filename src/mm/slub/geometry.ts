// Cache geometry: what kmem_cache_create() computes before the first object exists
// (slot layout, order, objects per slab, min_partial, cpu_partial), kmalloc size
// classes, and cache merging. Pure functions of their arguments: nothing here touches
// the machine.
//
// Sources read for this module:
//   5.4: mm/slub.c (calculate_sizes, slab_order, calculate_order, set_min_partial,
//        set_cpu_partial, create_unique_id, struct track) and mm/slab_common.c
//        (calculate_alignment, slab_unmergeable, find_mergeable, size_index,
//        kmalloc_slab, kmalloc_info, create_boot_cache) of a 5.4/5.6-era tree;
//   6.6: mm/slub.c of a 6.5/6.6 tree (freelist_aba_t, so >= 6.5; calculate_order()
//        before the 6.7 rewrite; MAX_ORDER inclusive; track with a stackdepot handle)
//        and mm/slab_common.c of a later 6.x tree (calculate_alignment, find_mergeable
//        and slab_unmergeable read the same as 6.6 apart from the flag set);
//   6.18, 7.0: mm/slub.c of a 7.0-era tree (calculate_order() as rewritten in 6.7,
//        calculate_sizes() with kmem_cache_args.freeptr_offset, calculate_sheaf_capacity())
//        and the 6.18 opt-in sheaves series (sheaf_capacity used as given); the 7.0
//        changes after 6.18 (orig_size an unsigned long, freeptr_offset allowed with a
//        constructor) from their patches ("mm/slab: use unsigned long for orig_size ...",
//        "mm/slab: allow specifying free pointer offset when using constructor", Jan 2026).
// Model: x86_64, sizeof(void *) = 8, cache line 64, ARCH_SLAB_MINALIGN 8, no KASAN,
// CONFIG_SLUB_DEBUG=y, CONFIG_SLUB_CPU_PARTIAL=y, no slub_min_order/slub_max_order/
// slub_min_objects/slub_debug boot options, slab merging enabled.
import { hasSheaves, PROFILES, type Profile } from '../../config.js';
import { SlabError } from '../../errors.js';

// ---------------------------------------------------------------------------------
// Machine constants of the 64-bit model

/** sizeof(void *): the free pointer, the right red zone word, the alignment of `inuse`. */
export const POINTER_SIZE = 8;
/** cache_line_size() on x86_64 (L1_CACHE_BYTES). */
export const CACHE_LINE_SIZE = 64;
/** ARCH_SLAB_MINALIGN on x86_64: __alignof__(unsigned long long). */
export const ARCH_SLAB_MINALIGN = 8;
/** ARCH_KMALLOC_MINALIGN on x86_64 (= ARCH_DMA_MINALIGN default = 8). */
export const ARCH_KMALLOC_MINALIGN = 8;
export const DEFAULT_PAGE_SIZE = 4096;
/** KMALLOC_MAX_CACHE_SIZE with 4 KiB pages (KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1). */
const KMALLOC_MAX_CACHE_SIZE_BYTES = 8192;
/**
 * The kmalloc orig_size word of a debug cache: sizeof(unsigned int) through 6.18, an
 * unsigned long in 7.0 ("use unsigned long for orig_size to ensure proper metadata
 * align"). 5.4 has none.
 */
export const ORIG_SIZE_BYTES: Readonly<Record<Profile, number>> = { '5.4': 0, '6.6': 4, '6.18': 4, '7.0': 8 };
/** enum track_item: TRACK_ALLOC and TRACK_FREE, stored back to back. */
const TRACKS_PER_OBJECT = 2;

/**
 * sizeof(struct track) on x86_64, per profile.
 * - 5.4 (CONFIG_STACKTRACE=y): addr 8 + addrs[TRACK_ADDRS_COUNT=16] 128 + cpu 4 + pid 4
 *   + when 8 = 152.
 * - 6.6 (SLUB_DEBUG selects STACKDEPOT): addr 8 + depot_stack_handle_t 4 + cpu 4 + pid 4
 *   + 4 padding before the 8-aligned `when` 8 = 32.
 */
export const TRACK_SIZE: Readonly<Record<Profile, number>> = { '5.4': 152, '6.6': 32, '6.18': 32, '7.0': 32 };

// slub.c tunables and limits
/** slub_min_order default. */
const SLUB_MIN_ORDER = 0;
/** slub_max_order default = PAGE_ALLOC_COSTLY_ORDER. */
export const SLUB_MAX_ORDER = 3;
/** slub.c: MAX_OBJS_PER_PAGE, because page->objects is a 15-bit field. */
export const MAX_OBJS_PER_PAGE = 32767;
/** slub.c: MIN_PARTIAL / MAX_PARTIAL, the clamp of min_partial. */
export const MIN_PARTIAL = 5;
export const MAX_PARTIAL = 10;
/** calculate_order(): min_objects = 4 * (fls(nr_cpus) + 1). */
const MIN_OBJECTS_FACTOR = 4;
/** calculate_order(): waste fractions tried in turn, 1/16 then 1/8 then 1/4. */
const FRACTION_FIRST = 16;
const FRACTION_LAST = 4;
/** Fraction 1 accepts any waste: used once min_objects is given up. */
const ANY_WASTE = 1;
/**
 * The last-resort order limit. 5.4: MAX_ORDER = 11 is exclusive (`order < MAX_ORDER`);
 * 6.4+ renamed the meaning so MAX_ORDER = 10 is inclusive (`order <= MAX_ORDER`); 6.8+
 * calls it MAX_PAGE_ORDER. All allow orders 0..10; the loop bounds differ, so they are
 * kept as written.
 */
const MAX_ORDER_5_4 = 11;
const MAX_ORDER_6_6 = 10;
const LAST_RESORT_ORDER: Readonly<Record<'5.4' | '6.6', { loopMax: number; ok: (order: number) => boolean }>> = {
  '5.4': { loopMax: MAX_ORDER_5_4, ok: (order) => order < MAX_ORDER_5_4 },
  '6.6': { loopMax: MAX_ORDER_6_6, ok: (order) => order <= MAX_ORDER_6_6 },
};
/** 6.8+: MAX_PAGE_ORDER, the inclusive limit of calculate_order()'s get_order(size) fallback. */
const MAX_PAGE_ORDER = 10;

/**
 * set_cpu_partial() thresholds on s->size and the object counts they give. 7.0 has no
 * cpu partial lists: sysfs cpu_partial reads 0 and accepts only 0.
 */
const CPU_PARTIAL_OBJECTS: Readonly<Record<Profile, { page: number; k1: number; b256: number; small: number }>> = {
  '5.4': { page: 2, k1: 6, b256: 13, small: 30 },
  '6.6': { page: 6, k1: 24, b256: 52, small: 120 },
  '6.18': { page: 6, k1: 24, b256: 52, small: 120 },
  '7.0': { page: 0, k1: 0, b256: 0, small: 0 },
};
const CPU_PARTIAL_K1 = 1024;
const CPU_PARTIAL_B256 = 256;
/** slub_set_cpu_partial(): the slab limit assumes half-full slabs. */
const HALF_FULL = 2;

// ---------------------------------------------------------------------------------
// Flags

/** The kmem_cache flag bits used here, with the kernel's values (include/linux/slab.h). */
export const SLAB_FLAGS = {
  /** SLAB_CONSISTENCY_CHECKS: slub_debug=F */
  consistency_checks: 0x0000_0100,
  /** SLAB_RED_ZONE: slub_debug=Z */
  red_zone: 0x0000_0400,
  /** SLAB_POISON: slub_debug=P */
  poison: 0x0000_0800,
  /** SLAB_KMALLOC (6.x, internal): the cache is a kmalloc cache; 5.4 has no such bit and ignores it */
  kmalloc: 0x0000_1000,
  /** SLAB_HWCACHE_ALIGN */
  hwcache_align: 0x0000_2000,
  /** SLAB_CACHE_DMA */
  cache_dma: 0x0000_4000,
  /** SLAB_CACHE_DMA32 */
  cache_dma32: 0x0000_8000,
  /** SLAB_STORE_USER: slub_debug=U */
  store_user: 0x0001_0000,
  /** SLAB_RECLAIM_ACCOUNT */
  reclaim_account: 0x0002_0000,
  /** SLAB_TYPESAFE_BY_RCU */
  typesafe_by_rcu: 0x0008_0000,
  /** SLAB_TRACE: slub_debug=T */
  trace: 0x0020_0000,
  /** SLAB_NOLEAKTRACE */
  noleaktrace: 0x0080_0000,
  /** SLAB_NO_MERGE (6.5+); honoured by the 5.4 profile too, as a simulator extension */
  no_merge: 0x0100_0000,
  /** SLAB_FAILSLAB: slub_debug=A (fault injection; here it only keeps the cache from merging) */
  failslab: 0x0200_0000,
  /** SLAB_ACCOUNT (CONFIG_MEMCG_KMEM=y) */
  account: 0x0400_0000,
  /**
   * SLAB_NO_USER_FLAGS (6.1+): slub_debug does not apply to this cache (lib/slub_kunit.c
   * creates its caches with it). Honoured by the 5.4 profile too, as a simulator extension.
   */
  no_user_flags: 0x1000_0000,
} as const;

export type SlabFlagName = keyof typeof SLAB_FLAGS;
const F = SLAB_FLAGS;

/** mm/slab.h: SLAB_DEBUG_FLAGS (CONFIG_SLUB_DEBUG), the same in 5.4 and 6.6. */
export const SLAB_DEBUG_FLAGS = F.red_zone | F.poison | F.store_user | F.trace | F.consistency_checks;

/**
 * slab_common.c: SLAB_NEVER_MERGE. 5.4: RED_ZONE|POISON|STORE_USER|TRACE|TYPESAFE_BY_RCU|
 * NOLEAKTRACE|FAILSLAB|KASAN; 6.6 adds NO_MERGE. CONSISTENCY_CHECKS is not in it in
 * either version (only a 2025 patch switched to SLAB_DEBUG_FLAGS), so a cache created
 * with only SLAB_CONSISTENCY_CHECKS can alias onto a cache without checks.
 */
export const SLAB_NEVER_MERGE =
  F.red_zone | F.poison | F.store_user | F.trace | F.typesafe_by_rcu | F.noleaktrace | F.failslab | F.no_merge;

/** slub.c: DEBUG_DEFAULT_FLAGS, what a bare `slub_debug` (or `slub_debug=,cache`) turns on: FZPU. */
export const DEBUG_DEFAULT_FLAGS = F.consistency_checks | F.red_zone | F.poison | F.store_user;

/** slub.c: DEBUG_METADATA_FLAGS, the debug flags that add metadata to a slot (dropped by slub_debug=O). */
export const DEBUG_METADATA_FLAGS = F.red_zone | F.poison | F.store_user;

/** slab_common.c: SLAB_MERGE_SAME, flags that must be equal for two caches to merge. */
export const SLAB_MERGE_SAME = F.reclaim_account | F.cache_dma | F.cache_dma32 | F.account;

/** Flag names to bits; throws EINVAL naming an unknown flag and listing the known ones. */
export function parseFlags(list: readonly string[]): number {
  let flags = 0;
  for (const name of list) {
    if (!Object.hasOwn(SLAB_FLAGS, name)) {
      throw new SlabError('EINVAL', `unknown slab flag '${name}' (expected one of ${Object.keys(SLAB_FLAGS).join(', ')})`);
    }
    flags |= SLAB_FLAGS[name as SlabFlagName];
  }
  return flags;
}

// ---------------------------------------------------------------------------------
// Arithmetic helpers with the kernel's names

/** ALIGN(x, a) for a power-of-two a. */
export const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
/** ALIGN_DOWN(x, a). */
export const alignDown = (x: number, a: number): number => Math.floor(x / a) * a;
const isPowerOfTwo = (x: number): boolean => Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;

/** fls(x): 1-based index of the highest set bit; fls(0) = 0. */
export function fls(x: number): number {
  return x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/** ilog2(x) for x >= 1. */
export function ilog2(x: number): number {
  return fls(x) - 1;
}

/** get_order(size): the smallest order whose block of pages holds `size` bytes. */
export function getOrder(size: number, pageSize = DEFAULT_PAGE_SIZE): number {
  let order = 0;
  while (pageSize * 2 ** order < size) order++;
  return order;
}

/** slub.c: order_objects(): objects of `size` in a slab of `order`. */
export function orderObjects(order: number, size: number, pageSize = DEFAULT_PAGE_SIZE): number {
  return Math.floor((pageSize * 2 ** order) / size);
}

// ---------------------------------------------------------------------------------
// Alignment and layout

/** slab_common.c: calculate_alignment(). */
export function calculateAlignment(flags: number, align: number, size: number): number {
  if (flags & F.hwcache_align) {
    // A small object does not need a whole line: halve while two still fit in one.
    let ralign = CACHE_LINE_SIZE;
    while (size <= ralign / 2) ralign /= 2;
    align = Math.max(align, ralign);
  }
  align = Math.max(align, ARCH_SLAB_MINALIGN);
  return alignUp(align, POINTER_SIZE);
}

/** The part of struct kmem_cache that calculate_sizes() fills. */
export interface SlotLayout {
  /** s->size: slot stride */
  size: number;
  /** s->inuse: where metadata starts */
  inuse: number;
  /** s->offset: free pointer offset from the object start */
  offset: number;
  /** s->red_left_pad */
  redLeftPad: number;
}

/**
 * slub.c (6.x): slub_debug_orig_size(): kmalloc caches with SLAB_STORE_USER remember the
 * requested size. 5.4 has no orig_size.
 */
export function slubDebugOrigSize(flags: number, profile: Profile): boolean {
  return profile !== '5.4' && (flags & F.store_user) !== 0 && (flags & F.kmalloc) !== 0;
}

/**
 * Whether the free pointer must live after the object instead of overlaying it.
 * `freeptrOffset` >= 0 is kmem_cache_args.freeptr_offset (use_freeptr_offset).
 */
function freeptrMustMove(objectSize: number, flags: number, ctor: boolean, profile: Profile, freeptrOffset: number): boolean {
  if (profile === '5.4') return (flags & (F.typesafe_by_rcu | F.poison)) !== 0 || ctor;
  if (profile === '6.6') {
    if (flags & (F.typesafe_by_rcu | F.poison) || ctor) return true;
    // 6.6 also moves it for a red-zoned object too small to hold it, and (odd, fixed in
    // 6.11) for orig_size tracking even without a red zone: the condition tests
    // slub_debug_orig_size(s) on its own, not under SLAB_RED_ZONE.
    return slubDebugOrigSize(flags, profile) || ((flags & F.red_zone) !== 0 && objectSize < POINTER_SIZE);
  }
  // 6.18, 7.0: a creator-chosen offset keeps it inside a TYPESAFE_BY_RCU object (7.0:
  // also one with a constructor); the red-zone condition as fixed in 6.11.
  const useOffset = freeptrOffset >= 0;
  const ctorMoves = ctor && !(useOffset && profile === '7.0');
  return (
    ((flags & F.typesafe_by_rcu) !== 0 && !useOffset) ||
    (flags & F.poison) !== 0 ||
    ctorMoves ||
    ((flags & F.red_zone) !== 0 && (objectSize < POINTER_SIZE || slubDebugOrigSize(flags, profile)))
  );
}

/**
 * slub.c: calculate_sizes(), the layout part (the order part is calculateOrder()).
 * `align` is s->align, already through calculateAlignment().
 */
export function calculateSizes(
  objectSize: number,
  align: number,
  flags: number,
  ctor: boolean,
  profile: Profile,
  freeptrOffset = -1,
): SlotLayout {
  let size = alignUp(objectSize, POINTER_SIZE);
  // A red zone needs at least one byte after the object: add a word when none is spare.
  if (flags & F.red_zone && size === objectSize) size += POINTER_SIZE;
  const inuse = size;
  let offset: number;
  if (freeptrMustMove(objectSize, flags, ctor, profile, freeptrOffset)) {
    offset = size;
    size += POINTER_SIZE;
  } else if (freeptrOffset >= 0 && (flags & F.typesafe_by_rcu || ctor)) {
    // The creator keeps a word of the object for it (vm_area_struct's vm_freeptr):
    // no word is added after the object.
    offset = freeptrOffset;
  } else {
    // 5.4 overlays the first word (s->offset stays 0 from kmem_cache_zalloc); 5.7+ puts
    // it mid-object so that small overflows from the previous object miss it.
    // 5.4 does this even for a red-zoned object smaller than a pointer, so the pointer
    // overwrites the right red zone; 6.x moves it out (freeptrMustMove).
    offset = profile === '5.4' ? 0 : alignDown(Math.floor(objectSize / 2), POINTER_SIZE);
  }
  if (flags & F.store_user) {
    size += TRACKS_PER_OBJECT * TRACK_SIZE[profile];
    if (slubDebugOrigSize(flags, profile)) size += ORIG_SIZE_BYTES[profile];
  }
  let redLeftPad = 0;
  if (flags & F.red_zone) {
    // A word after the metadata catches overwrites from the next object's left side.
    size += POINTER_SIZE;
    redLeftPad = alignUp(POINTER_SIZE, align);
    size += redLeftPad;
  }
  return { size: alignUp(size, align), inuse, offset, redLeftPad };
}

/** slub.c: freeptr_outside_object(). */
export const freeptrOutsideObject = (g: Pick<SlotLayout, 'offset' | 'inuse'>): boolean => g.offset >= g.inuse;

/**
 * slub.c (6.x): get_info_end(), where the track records start. 5.4's get_track() tests
 * `s->offset ? offset + 8 : inuse`, which gives the same answer because 5.4's offset
 * is either 0 (overlay) or inuse.
 */
export function getInfoEnd(g: Pick<SlotLayout, 'offset' | 'inuse'>): number {
  return freeptrOutsideObject(g) ? g.inuse + POINTER_SIZE : g.inuse;
}

// ---------------------------------------------------------------------------------
// Order

/** slub.c: slab_order() (5.4) / calc_slab_order() (6.6); the same code in both. */
export function calcSlabOrder(
  size: number,
  minObjects: number,
  maxOrder: number,
  fractLeftover: number,
  pageSize = DEFAULT_PAGE_SIZE,
): number {
  if (orderObjects(SLUB_MIN_ORDER, size, pageSize) > MAX_OBJS_PER_PAGE) {
    return getOrder(size * MAX_OBJS_PER_PAGE, pageSize) - 1;
  }
  let order = Math.max(SLUB_MIN_ORDER, getOrder(minObjects * size, pageSize));
  for (; order <= maxOrder; order++) {
    const slabSize = pageSize * 2 ** order;
    if (slabSize % size <= Math.floor(slabSize / fractLeftover)) break;
  }
  return order;
}

/** calculate_order(): the default min_objects for `cpus` CPUs. */
export function defaultMinObjects(cpus: number): number {
  // 5.4 counts nr_cpu_ids; 6.6 counts num_present_cpus(), or nr_cpu_ids when that is
  // <= 1. The simulator's CPUs are all possible and present, so both are `cpus`.
  return MIN_OBJECTS_FACTOR * (fls(cpus) + 1);
}

/**
 * slub.c: calculate_order(); returns -1 where the kernel returns -ENOSYS.
 * v6.6 runs the same loop as 5.4 (waste 1/16, 1/8, 1/4 while lowering min_objects,
 * then one object, then any order): the rewrite that starts from
 * get_order(min_objects * size) and tries 1/2 is the slab/for-6.7/orders-cleanup
 * branch, first in 6.7, so 6.18 and 7.0 have it (calculateOrder67()).
 */
export function calculateOrder(size: number, cpus: number, profile: Profile, pageSize = DEFAULT_PAGE_SIZE): number {
  if (profile === '6.18' || profile === '7.0') return calculateOrder67(size, cpus, pageSize);
  const maxObjects = orderObjects(SLUB_MAX_ORDER, size, pageSize);
  let minObjects = Math.min(defaultMinObjects(cpus), maxObjects);
  for (; minObjects > 1; minObjects--) {
    for (let fraction = FRACTION_FIRST; fraction >= FRACTION_LAST; fraction /= 2) {
      const order = calcSlabOrder(size, minObjects, SLUB_MAX_ORDER, fraction, pageSize);
      if (order <= SLUB_MAX_ORDER) return order;
    }
  }
  const single = calcSlabOrder(size, 1, SLUB_MAX_ORDER, ANY_WASTE, pageSize);
  if (single <= SLUB_MAX_ORDER) return single;
  const last = LAST_RESORT_ORDER[profile];
  const order = calcSlabOrder(size, 1, last.loopMax, ANY_WASTE, pageSize);
  return last.ok(order) ? order : -1;
}

/** calculate_order() as of 6.7: min_objects fixes the smallest order, waste 1/16 .. 1/2. */
function calculateOrder67(size: number, cpus: number, pageSize: number): number {
  // min_objects can't be 0 because get_order(0) is undefined
  const maxObjects = Math.max(orderObjects(SLUB_MAX_ORDER, size, pageSize), 1);
  const minObjects = Math.min(defaultMinObjects(cpus), maxObjects);
  const minOrder = Math.max(SLUB_MIN_ORDER, getOrder(minObjects * size, pageSize));
  if (orderObjects(minOrder, size, pageSize) > MAX_OBJS_PER_PAGE) return getOrder(size * MAX_OBJS_PER_PAGE, pageSize) - 1;
  for (let fraction = FRACTION_FIRST; fraction > 1; fraction /= 2) {
    let order = minOrder;
    for (; order <= SLUB_MAX_ORDER; order++) {
      const slabSize = pageSize * 2 ** order;
      if (slabSize % size <= Math.floor(slabSize / fraction)) break;
    }
    if (order <= SLUB_MAX_ORDER) return order;
  }
  const order = getOrder(size, pageSize);
  return order <= MAX_PAGE_ORDER ? order : -1;
}

// ---------------------------------------------------------------------------------
// Partial list limits

/** slub.c: set_min_partial() (5.4) / the inlined clamp in kmem_cache_open() (6.6). */
export function setMinPartial(size: number): number {
  return Math.min(MAX_PARTIAL, Math.max(MIN_PARTIAL, Math.floor(ilog2(size) / 2)));
}

/** slub.c: kmem_cache_has_cpu_partial(): no per-cpu partial lists for debug caches. */
export const kmemCacheHasCpuPartial = (flags: number): boolean => (flags & SLAB_DEBUG_FLAGS) === 0;

/**
 * slub.c: set_cpu_partial() with slub_set_cpu_partial(). 5.4 keeps an object count only
 * (cpuPartialSlabs 0); 6.6 also limits slabs, assuming half-full ones.
 */
export function setCpuPartial(
  size: number,
  flags: number,
  objects: number,
  profile: Profile,
  pageSize = DEFAULT_PAGE_SIZE,
): { cpuPartial: number; cpuPartialSlabs: number } {
  const t = CPU_PARTIAL_OBJECTS[profile];
  let cpuPartial: number;
  if (!kmemCacheHasCpuPartial(flags)) cpuPartial = 0;
  else if (size >= pageSize) cpuPartial = t.page;
  else if (size >= CPU_PARTIAL_K1) cpuPartial = t.k1;
  else if (size >= CPU_PARTIAL_B256) cpuPartial = t.b256;
  else cpuPartial = t.small;
  const cpuPartialSlabs = profile === '5.4' || profile === '7.0' ? 0 : Math.ceil((cpuPartial * HALF_FULL) / objects);
  return { cpuPartial, cpuPartialSlabs };
}

// ---------------------------------------------------------------------------------
// Sheaves (6.18 opt-in, 7.0 almost every cache)

/** sizeof(struct slab_sheaf) without objects: the union (16), cache (8), size (4), node (4). */
export const SHEAF_HEADER_BYTES = 32;
/** struct_size(sheaf, objects, capacity): the kzalloc() a sheaf of `capacity` objects takes. */
export const sheafBytes = (capacity: number): number => SHEAF_HEADER_BYTES + POINTER_SIZE * capacity;
/**
 * The largest sheaf the simulator allows (a creator's sheaf_capacity, a prefill request):
 * one that still fits the largest kmalloc cache, (8192 - 32) / 8. The kernel's bound is
 * only what kzalloc() can give.
 */
export const MAX_SHEAF_CAPACITY = (KMALLOC_MAX_CACHE_SIZE_BYTES - SHEAF_HEADER_BYTES) / POINTER_SIZE;

/** calculate_sheaf_capacity() thresholds on s->size: 4 pages-or-more, 12, 26, 60 objects. */
const SHEAF_CAPACITY_BY_SIZE = { page: 4, k1: 12, b256: 26, small: 60 } as const;

/**
 * slub.c: calculate_sheaf_capacity() (7.0): 0 for debug and SLAB_NOLEAKTRACE caches,
 * else by s->size (half of what the cpu partial lists held, there being two sheaves),
 * grown until the sheaf fills its kmalloc bucket (4, 12, 28, 60), then at least the
 * creator's request. 6.18 (do_kmem_cache_create()): the creator's value as given, for
 * a cache without debug flags; 0 means no sheaves. 5.4 and 6.6 have none.
 */
export function calculateSheafCapacity(
  size: number,
  flags: number,
  requested: number,
  profile: Profile,
  pageSize = DEFAULT_PAGE_SIZE,
): number {
  if (profile === '5.4' || profile === '6.6' || flags & (SLAB_DEBUG_FLAGS | F.noleaktrace)) return 0;
  if (profile === '6.18') return requested;
  const t = SHEAF_CAPACITY_BY_SIZE;
  let capacity = size >= pageSize ? t.page : size >= CPU_PARTIAL_K1 ? t.k1 : size >= CPU_PARTIAL_B256 ? t.b256 : t.small;
  // Increment capacity to make sheaf exactly a kmalloc size bucket (kmalloc_size_roundup()).
  capacity = (kmallocCacheSize(sheafBytes(capacity)) - SHEAF_HEADER_BYTES) / POINTER_SIZE;
  return Math.max(capacity, requested);
}

// ---------------------------------------------------------------------------------
// The whole geometry

export interface GeometryInput {
  /** requested object size in bytes */
  size: number;
  /** requested alignment, 0 or a power of two (default 0) */
  align?: number;
  /** SLAB_FLAGS bits (default 0) */
  flags?: number;
  /** whether the cache has a constructor */
  ctor?: boolean;
  /** CPUs (nr_cpu_ids) */
  cpus: number;
  profile: Profile;
  /** default 4096 */
  pageSize?: number;
  /** kmem_cache_args.freeptr_offset (6.18+): the free pointer inside the object, -1 (default) for none */
  freeptrOffset?: number;
  /** kmem_cache_args.sheaf_capacity (6.18+): 0 (default) for none requested */
  sheafCapacity?: number;
}

export interface Geometry {
  /** s->object_size */
  objectSize: number;
  /** s->size: slot stride, sysfs slab_size */
  size: number;
  /** s->align */
  align: number;
  /** s->inuse */
  inuse: number;
  /** s->offset: free pointer offset */
  offset: number;
  /** s->red_left_pad */
  redLeftPad: number;
  /** oo_order(s->oo), sysfs order */
  order: number;
  /** oo_objects(s->oo), sysfs objs_per_slab */
  objects: number;
  /** oo_order(s->min) = get_order(size), used by ORDER_FALLBACK */
  minOrder: number;
  /** oo_objects(s->min) */
  minObjects: number;
  /** s->min_partial */
  minPartial: number;
  /** s->cpu_partial, in objects */
  cpuPartial: number;
  /** s->cpu_partial_slabs (6.x); 0 for 5.4 and 7.0 */
  cpuPartialSlabs: number;
  /** s->sheaf_capacity (6.18, 7.0; 0: no sheaves) */
  sheafCapacity: number;
}

const invalid = (msg: string): SlabError => new SlabError('EINVAL', msg);

function checkInput(input: GeometryInput): void {
  const { size, align = 0, cpus, pageSize = DEFAULT_PAGE_SIZE, flags = 0 } = input;
  if (!Number.isInteger(size) || size < 1) throw invalid(`size = ${String(size)}: expected a positive integer`);
  if (!Number.isInteger(align) || align < 0 || (align !== 0 && !isPowerOfTwo(align))) {
    throw invalid(`align = ${String(align)}: expected 0 or a power of two`);
  }
  if (!Number.isInteger(cpus) || cpus < 1) throw invalid(`cpus = ${String(cpus)}: expected a positive integer`);
  if (!isPowerOfTwo(pageSize) || pageSize < DEFAULT_PAGE_SIZE) {
    throw invalid(`pageSize = ${String(pageSize)}: expected a power of two >= ${DEFAULT_PAGE_SIZE}`);
  }
  if (!Number.isInteger(flags) || flags < 0) throw invalid(`flags = ${String(flags)}: expected SLAB_FLAGS bits`);
  const { profile, freeptrOffset = -1, sheafCapacity = 0 } = input;
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw invalid(`profile = ${String(profile)}: expected one of ${PROFILES.join(', ')}`);
  }
  if (sheafCapacity !== 0) {
    if (!hasSheaves(profile))
      throw invalid(`sheaf_capacity = ${sheafCapacity}: profile ${profile} has no sheaves (6.18 and 7.0 do)`);
    if (!Number.isInteger(sheafCapacity) || sheafCapacity < 0 || sheafCapacity > MAX_SHEAF_CAPACITY) {
      throw invalid(`sheaf_capacity = ${String(sheafCapacity)}: expected an integer in 0..${MAX_SHEAF_CAPACITY}`);
    }
  }
  if (freeptrOffset !== -1) checkFreeptrOffset(freeptrOffset, size, flags, input.ctor ?? false, profile);
}

/**
 * slab_common.c: create_cache()'s check of a creator-chosen free pointer: inside the
 * object, aligned to __alignof__(freeptr_t), and only for SLAB_TYPESAFE_BY_RCU (7.0:
 * or a constructor). kmem_cache_args.freeptr_offset first appeared in 6.12.
 */
function checkFreeptrOffset(offset: number, size: number, flags: number, ctor: boolean, profile: Profile): void {
  const bad = (why: string) => invalid(`freeptr_offset = ${String(offset)}: ${why}`);
  if (profile === '5.4' || profile === '6.6')
    throw bad(`profile ${profile} has no kmem_cache_args.freeptr_offset (6.18 and 7.0 do)`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= size || offset % POINTER_SIZE !== 0) {
    throw bad(`expected a multiple of ${POINTER_SIZE} below the object size ${size}`);
  }
  if (!(flags & F.typesafe_by_rcu) && !(ctor && profile === '7.0')) {
    throw bad(`needs typesafe_by_rcu${profile === '7.0' ? ' or a constructor' : ''}`);
  }
}

/**
 * kmem_cache_create() up to the first slab: calculate_alignment(), calculate_sizes(),
 * calculate_order(), set_min_partial(), set_cpu_partial(). Throws EINVAL where
 * kmem_cache_open() fails (no order up to the last resort fits one object).
 */
export function calculateGeometry(input: GeometryInput): Geometry {
  checkInput(input);
  const { size: objectSize, flags = 0, ctor = false, cpus, profile, pageSize = DEFAULT_PAGE_SIZE } = input;
  const align = calculateAlignment(flags, input.align ?? 0, objectSize);
  const layout = calculateSizes(objectSize, align, flags, ctor, profile, input.freeptrOffset ?? -1);
  const order = calculateOrder(layout.size, cpus, profile, pageSize);
  if (order < 0) throw invalid(`size = ${objectSize}: a ${layout.size}-byte slot does not fit any slab order`);
  const objects = orderObjects(order, layout.size, pageSize);
  const minOrder = getOrder(layout.size, pageSize);
  return {
    objectSize,
    ...layout,
    align,
    order,
    objects,
    minOrder,
    minObjects: orderObjects(minOrder, layout.size, pageSize),
    minPartial: setMinPartial(layout.size),
    ...setCpuPartial(layout.size, flags, objects, profile, pageSize),
    sheafCapacity: calculateSheafCapacity(layout.size, flags, input.sheafCapacity ?? 0, profile, pageSize),
  };
}

// ---------------------------------------------------------------------------------
// kmalloc size classes (4 KiB pages: KMALLOC_SHIFT_HIGH = PAGE_SHIFT + 1)

/** The kmalloc cache sizes, ascending. */
export const KMALLOC_SIZES: readonly number[] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
/** KMALLOC_MAX_CACHE_SIZE for SLUB: larger requests go to the page allocator. */
export const KMALLOC_MAX_CACHE_SIZE = KMALLOC_MAX_CACHE_SIZE_BYTES;
/** slab_common.c: size_index_elem() covers sizes up to 192 in steps of 8. */
const SIZE_INDEX_MAX = 192;
const SIZE_INDEX_STEP = 8;

/**
 * slab_common.c: size_index[]: kmalloc_caches[] index for sizes 1..192 by (size-1)/8.
 * Index 1 is kmalloc-96 and 2 is kmalloc-192; from 3 on, index i is 2^i bytes.
 */
const SIZE_INDEX: readonly number[] = [3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2];

/** slab_common.c: kmalloc_info[].size, by kmalloc_caches[] index. */
const KMALLOC_INFO_SIZE: readonly number[] = [0, 96, 192, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

/**
 * slab_common.c: kmalloc_slab(): the kmalloc_caches[] index (1 = kmalloc-96, 2 =
 * kmalloc-192, i >= 3 = kmalloc-2^i) serving `size`; 0 for size 0 (ZERO_SIZE_PTR, no
 * cache), -1 above KMALLOC_MAX_CACHE_SIZE (kmalloc_large(), the page allocator).
 */
export function kmallocIndex(size: number): number {
  if (!Number.isInteger(size) || size < 0) throw invalid(`kmalloc size = ${String(size)}: expected a non-negative integer`);
  if (size === 0) return 0;
  if (size <= SIZE_INDEX_MAX) return SIZE_INDEX[Math.floor((size - 1) / SIZE_INDEX_STEP)];
  if (size > KMALLOC_MAX_CACHE_SIZE) return -1;
  return fls(size - 1);
}

/** kmalloc_info[index].size; throws for an index that has no cache. */
export function kmallocSize(index: number): number {
  if (!Number.isInteger(index) || index < 1 || index >= KMALLOC_INFO_SIZE.length) {
    throw invalid(`kmalloc index = ${String(index)}: expected 1..${KMALLOC_INFO_SIZE.length - 1}`);
  }
  return KMALLOC_INFO_SIZE[index];
}

/** The kmalloc cache size serving `size`: 0 for size 0, -1 for the page allocator. */
export function kmallocCacheSize(size: number): number {
  const index = kmallocIndex(size);
  return index <= 0 ? index : kmallocSize(index);
}

/**
 * slab_common.c: create_boot_cache(): the align a kmalloc cache is created with.
 * Power-of-two caches are naturally aligned (5.4+), so kmalloc-4096 has align 4096
 * and a red-zoned kmalloc-64 gets a 64-byte left red zone.
 */
export function kmallocAlign(cacheSize: number): number {
  return isPowerOfTwo(cacheSize) ? Math.max(ARCH_KMALLOC_MINALIGN, cacheSize) : ARCH_KMALLOC_MINALIGN;
}

// ---------------------------------------------------------------------------------
// Merging

/** The fields of an existing cache that merging reads. */
export interface MergeCandidate {
  /** s->size, the slot stride */
  size: number;
  /** s->align */
  align: number;
  flags: number;
  /** s->object_size */
  objectSize: number;
  ctor: boolean;
  /** s->refcount; < 0 marks a boot cache exempt from merging */
  refcount: number;
  /** s->usersize (CONFIG_HARDENED_USERCOPY); default 0 */
  usersize?: number;
  /** 6.18: s->cpu_sheaves, set only for a cache created with a sheaf capacity */
  cpuSheaves?: boolean;
}

export interface MergeInput {
  size: number;
  align?: number;
  flags?: number;
  ctor?: boolean;
  profile: Profile;
  /** the slab_nomerge boot option */
  slabNomerge?: boolean;
  /** kmem_cache_args.sheaf_capacity (6.18, 7.0): a cache asking for sheaves is never an alias */
  sheafCapacity?: number;
}

/**
 * slab_common.c: slab_unmergeable(). 6.18 adds `if (s->cpu_sheaves) return 1`; 7.0,
 * where every cache has them, dropped it again.
 */
export function slabUnmergeable(s: MergeCandidate, slabNomerge = false): boolean {
  // 5.4 also refuses non-root memcg caches; the simulator has only root caches.
  return (
    slabNomerge ||
    (s.flags & SLAB_NEVER_MERGE) !== 0 ||
    s.ctor ||
    (s.usersize ?? 0) > 0 ||
    s.refcount < 0 ||
    s.cpuSheaves === true
  );
}

/**
 * slab_common.c: find_mergeable(). `existing` is in creation order, oldest first. The
 * kernel walks slab_caches in reverse and list_add() puts new caches at the head, so it
 * too returns the oldest compatible cache. Returns its index, or -1.
 */
export function findMergeable(existing: readonly MergeCandidate[], input: MergeInput): number {
  const flags = input.flags ?? 0;
  // 6.18: __kmem_cache_create_args() skips the alias when sheaf_capacity is set; 7.0
  // moved the same test into find_mergeable().
  if (input.slabNomerge || input.ctor || (input.sheafCapacity ?? 0) > 0) return -1;
  if (flags & SLAB_NEVER_MERGE) return -1;
  let size = alignUp(input.size, POINTER_SIZE);
  const align = calculateAlignment(flags, input.align ?? 0, size);
  size = alignUp(size, align);
  return existing.findIndex(
    (s) =>
      !slabUnmergeable(s, input.slabNomerge) &&
      size <= s.size &&
      (flags & SLAB_MERGE_SAME) === (s.flags & SLAB_MERGE_SAME) &&
      s.size % align === 0 &&
      s.size - size < POINTER_SIZE,
  );
}

/**
 * slub.c: __kmem_cache_alias() after a hit: one more reference, and the object grows to
 * the larger request so that kzalloc() clears all of it.
 */
export function kmemCacheAlias(
  s: Pick<Geometry, 'objectSize' | 'inuse'> & { refcount: number },
  size: number,
): { objectSize: number; inuse: number; refcount: number } {
  return {
    refcount: s.refcount + 1,
    objectSize: Math.max(s.objectSize, size),
    inuse: Math.max(s.inuse, alignUp(size, POINTER_SIZE)),
  };
}

/** Width of the size field in create_unique_id()'s "%07u". */
const UNIQUE_ID_SIZE_DIGITS = 7;
/** create_unique_id(): flag letters, in the kernel's order. */
const UNIQUE_ID_LETTERS: ReadonlyArray<readonly [number, string]> = [
  [F.cache_dma, 'd'],
  [F.cache_dma32, 'D'],
  [F.reclaim_account, 'a'],
  [F.consistency_checks, 'F'],
  [F.account, 'A'],
];

/**
 * slub.c: create_unique_id(): the sysfs name of a mergeable cache, ':' then the flag
 * letters, '-' only if a letter was written, then s->size as %07u (":0000064",
 * ":a-0000104").
 */
export function aliasName(size: number, flags: number): string {
  const letters = UNIQUE_ID_LETTERS.filter(([bit]) => flags & bit)
    .map(([, letter]) => letter)
    .join('');
  return `:${letters}${letters ? '-' : ''}${String(size).padStart(UNIQUE_ID_SIZE_DIGITS, '0')}`;
}
