// The packed words SLUB updates with cmpxchg_double. Pure bit arithmetic; offsets of
// the words themselves live in structs.ts (SLAB_COUNTERS/SLAB_FREELIST, CPU_TID/CPU_FREELIST).
//
// counters (little-endian bitfields of struct page / struct slab):
//   inuse   bits 0..15
//   objects bits 16..30
//   frozen  bit 31

export const MAX_OBJS_PER_PAGE = 32767; // objects:15

export const inuseOf = (counters: number): number => counters & 0xffff;
export const objectsOf = (counters: number): number => (counters >>> 16) & 0x7fff;
export const frozenOf = (counters: number): number => counters >>> 31;

export const makeCounters = (inuse: number, objects: number, frozen: number): number =>
  (inuse | (objects << 16) | (frozen << 31)) >>> 0;

/** TID_STEP = roundup_pow_of_two(NR_CPUS): tid % TID_STEP is the CPU, so tids never repeat across CPUs. */
export const tidStep = (cpus: number): number => 2 ** Math.ceil(Math.log2(cpus));
