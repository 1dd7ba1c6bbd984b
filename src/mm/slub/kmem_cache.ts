// A thread's view of one cache: the constants of struct kmem_cache read once from the
// buffer, plus the offsets of its per-CPU and per-node regions. Fields that can change
// after creation (min_partial, cpu_partial, refcount, state) are read live from the buffer.
import type { Profile } from '../../config.js';
import { SlabError } from '../../errors.js';
import { cacheCpuOff, cacheNodeOff, cacheOff, keepWithImage, type Machine } from '../../shm/machine.js';
import { CACHE_CPU, CACHE_NAME_BYTES, CACHE_STATE, KMEM_CACHE } from '../../shm/structs.js';
import { tidStep } from '../../shm/word.js';
import { Rng } from '../../rng.js';
import { getInfoEnd, SLAB_DEBUG_FLAGS, SLAB_FLAGS, slubDebugOrigSize, TRACK_SIZE } from './geometry.js';

/** A thread's view of one SLUB cache (struct kmem_cache), from `cacheById(m, id)`. */
export interface KmemCache {
  /** the machine the cache lives on */
  readonly m: Machine;
  /** the cache id, as kmemCacheCreate() returned it */
  readonly id: number;
  /** word offset of this cache's struct kmem_cache */
  readonly base: number;
  /** word offset of CPU 0's kmem_cache_cpu; CPU i's is cpu0 + i * CACHE_CPU.STRIDE */
  readonly cpu0: number;
  /** word offset of node 0's kmem_cache_node; node k's is node0 + k * CACHE_NODE.STRIDE */
  readonly node0: number;
  /** s->name */
  readonly name: string;
  /** s->flags: the SLAB_* bits */
  readonly flags: number;
  /** s->object_size: the size a user asked for */
  readonly objectSize: number;
  /** s->size: the bytes one object takes in a slab, metadata included */
  readonly size: number;
  /** s->reciprocal_size: 1 / size, so that __obj_to_index() multiplies instead of dividing */
  readonly reciprocalSize: number;
  /** s->inuse: the offset of the metadata after the object */
  readonly inuse: number;
  /** s->offset: where the free pointer sits in a free object */
  readonly offset: number;
  /** s->red_left_pad: the left red zone's size (debug caches) */
  readonly redLeftPad: number;
  /** the page order of a slab (oo_order(s->oo)) */
  readonly order: number;
  /** objects per slab (oo_objects(s->oo)) */
  readonly objects: number;
  /** the fallback order when a slab of `order` cannot be had (oo_order(s->min)) */
  readonly minOrder: number;
  /** objects per slab of the fallback order */
  readonly minObjects: number;
  /** s->random, or 0 when freelist hardening is off */
  readonly random: number;
  /** the constructor's index in CTORS (0: none) */
  readonly ctor: number;
  /** the machine's kernel profile */
  readonly profile: Profile;
  /** a 6.x profile (6.6, 6.18, 7.0: struct slab, local_lock, the 6.x debug paths), else 5.4 */
  readonly v66: boolean;
  /** profile 7.0: sheaves in front of slabs, no cpu slabs or cpu partial lists */
  readonly sheafOnly: boolean;
  /** s->sheaf_capacity: objects per sheaf; 0 when the cache has no sheaves (cache_has_sheaves()) */
  readonly sheafCapacity: number;
  /**
   * The cpu slab's fast path comes first (5.4, 6.6, a 6.18 cache without sheaves): what
   * slab_alloc_node() and kmem_cache_free() test, once, before anything else.
   */
  readonly cpuSlabFirst: boolean;
  /** TID_STEP: how far a CPU's tid moves per operation (the kernel's roundup_pow_of_two(NR_CPUS)) */
  readonly tidStep: number;
  /** kmem_cache_debug(s) */
  readonly debug: boolean;
  /** kmem_cache_has_cpu_partial(s): CONFIG_SLUB_CPU_PARTIAL and not a debug cache */
  readonly hasCpuPartial: boolean;
  /** SLAB_CONSISTENCY_CHECKS (slub_debug=F) */
  readonly checks: boolean;
  /** SLAB_RED_ZONE (Z) */
  readonly redZone: boolean;
  /** SLAB_POISON (P) */
  readonly poison: boolean;
  /** __OBJECT_POISON: POISON without TYPESAFE_BY_RCU and without a ctor (calculate_sizes()) */
  readonly objectPoison: boolean;
  /** SLAB_STORE_USER (U) */
  readonly storeUser: boolean;
  /** slub_debug_orig_size(s): 6.6 kmalloc caches with STORE_USER keep the requested size */
  readonly origSizeTracked: boolean;
  /** get_info_end(s): where the track records start, from the object */
  readonly infoEnd: number;
  /** sizeof(struct track) of the profile */
  readonly trackSize: number;
  /**
   * s->random_seq (CONFIG_SLAB_FREELIST_RANDOM): a permutation of 0..objects-1, built
   * on each thread from the seed in struct kmem_cache; null when freelists are not shuffled
   */
  readonly randomSeq: Uint32Array | null;
}

/** This thread's cache views of each buffer, by cache id. */
const views = new WeakMap<SharedArrayBuffer, KmemCache[]>();
/** The last buffer looked up and its views: every operation of a run asks for the same one. */
let lastSab: SharedArrayBuffer | null = null;
let lastViews: KmemCache[] = [];
// A restored machine has the caches of its image, so the views of its image.
keepWithImage<KmemCache[]>({
  save: (sab) => views.get(sab)?.slice(),
  restore: (sab, saved) => {
    const perMachine = saved?.slice() ?? [];
    views.set(sab, perMachine);
    if (lastSab === sab) lastViews = perMachine;
  },
});

/** The view of cache `id` on this thread (built once per thread and buffer). */
export function cacheById(m: Machine, id: number): KmemCache {
  const perMachine = m.sab === lastSab ? lastViews : viewsOf(m.sab);
  return perMachine[id] ?? (perMachine[id] = readCache(m, id));
}

function viewsOf(sab: SharedArrayBuffer): KmemCache[] {
  let perMachine = views.get(sab);
  if (!perMachine) {
    perMachine = [];
    views.set(sab, perMachine);
  }
  lastSab = sab;
  lastViews = perMachine;
  return perMachine;
}

function readCache(m: Machine, id: number): KmemCache {
  const base = cacheOff(m, id);
  const u = m.u32;
  if (u[base + KMEM_CACHE.state] === CACHE_STATE.unused) throw new SlabError('EINVAL', `no cache with id ${id}`);
  const flags = u[base + KMEM_CACHE.flags];
  const debug = (flags & SLAB_DEBUG_FLAGS) !== 0;
  const profile = m.cfg.profile;
  const layout = { offset: u[base + KMEM_CACHE.offset], inuse: u[base + KMEM_CACHE.inuse] };
  const ctor = u[base + KMEM_CACHE.ctor];
  return {
    m,
    id,
    base,
    cpu0: cacheCpuOff(m, id, 0),
    node0: cacheNodeOff(m, id, 0),
    name: readName(m, base),
    flags,
    objectSize: u[base + KMEM_CACHE.objectSize],
    size: u[base + KMEM_CACHE.size],
    reciprocalSize: 1 / u[base + KMEM_CACHE.size],
    inuse: u[base + KMEM_CACHE.inuse],
    offset: u[base + KMEM_CACHE.offset],
    redLeftPad: u[base + KMEM_CACHE.redLeftPad],
    order: u[base + KMEM_CACHE.order],
    objects: u[base + KMEM_CACHE.objects],
    minOrder: u[base + KMEM_CACHE.minOrder],
    minObjects: u[base + KMEM_CACHE.minObjects],
    random: u[base + KMEM_CACHE.random],
    ctor: u[base + KMEM_CACHE.ctor],
    profile,
    v66: profile !== '5.4',
    sheafOnly: profile === '7.0',
    sheafCapacity: u[base + KMEM_CACHE.sheafCapacity],
    cpuSlabFirst: profile !== '7.0' && u[base + KMEM_CACHE.sheafCapacity] === 0,
    tidStep: tidStep(m.cfg.cpus),
    debug,
    hasCpuPartial: !debug && profile !== '7.0',
    checks: (flags & SLAB_FLAGS.consistency_checks) !== 0,
    redZone: (flags & SLAB_FLAGS.red_zone) !== 0,
    poison: (flags & SLAB_FLAGS.poison) !== 0,
    objectPoison: (flags & SLAB_FLAGS.poison) !== 0 && !(flags & SLAB_FLAGS.typesafe_by_rcu) && ctor === 0,
    storeUser: (flags & SLAB_FLAGS.store_user) !== 0,
    origSizeTracked: slubDebugOrigSize(flags, profile),
    infoEnd: getInfoEnd(layout),
    trackSize: TRACK_SIZE[profile],
    randomSeq: buildRandomSeq(u[base + KMEM_CACHE.randomSeq], u[base + KMEM_CACHE.objects]),
  };
}

/**
 * cache_random_seq_create() / freelist_randomize(): a Fisher-Yates shuffle of
 * 0..count-1 drawn from `seed` (0: none). init_cache_random_seq() then multiplies each
 * entry by s->size; here the indices are kept and objectAt() does the multiplication.
 */
export function buildRandomSeq(seed: number, count: number): Uint32Array | null {
  if (seed === 0 || count === 0) return null;
  const rng = new Rng(seed, 0x7a5d);
  const list = new Uint32Array(count);
  for (let i = 0; i < count; i++) list[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const r = rng.below(i + 1);
    const t = list[i];
    list[i] = list[r];
    list[r] = t;
  }
  return list;
}

/** Forget this thread's views of a buffer's caches (after a cache was created or re-read). */
export function forgetCacheViews(m: Machine): void {
  views.delete(m.sab);
  if (lastSab === m.sab) lastSab = null;
}

/** Byte index of the name of the struct kmem_cache at word `base`. */
const nameStart = (base: number): number => (base + KMEM_CACHE.name) * 4;

export function readName(m: Machine, base: number): string {
  const start = nameStart(base);
  const bytes = m.u8.slice(start, start + CACHE_NAME_BYTES);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? CACHE_NAME_BYTES : end));
}

/** Store `name` NUL-padded (kmem_cache_create checked that it fits). */
export function writeName(m: Machine, base: number, name: string): void {
  const start = nameStart(base);
  m.u8.fill(0, start, start + CACHE_NAME_BYTES);
  m.u8.set(new TextEncoder().encode(name), start);
}

export const cpuSlabOff = (s: KmemCache, cpu: number): number => s.cpu0 + cpu * CACHE_CPU.STRIDE;

/** Live tunables (writable through sysfs-style attributes). */
export const minPartial = (s: KmemCache): number => s.m.u32[s.base + KMEM_CACHE.minPartial];
export const cpuPartial = (s: KmemCache): number => s.m.u32[s.base + KMEM_CACHE.cpuPartial];
export const cpuPartialSlabs = (s: KmemCache): number => s.m.u32[s.base + KMEM_CACHE.cpuPartialSlabs];
export const remoteNodeDefragRatio = (s: KmemCache): number => s.m.u32[s.base + KMEM_CACHE.remoteNodeDefragRatio];

/** stat(s, item): a per-CPU counter, bumped without atomics (only CPU i writes row i). */
export function stat(s: KmemCache, c: number, item: number): void {
  s.m.u32[c + CACHE_CPU.stat + item]++;
}

/** stat_add(s, item, n). */
export function statAdd(s: KmemCache, c: number, item: number, n: number): void {
  s.m.u32[c + CACHE_CPU.stat + item] += n;
}
