// The allocators a run can use: SLUB, or one of the classic pools (src/mm/pools/) set up
// by the main thread before the CPUs start. Region pools serve whole connections only.
import { SlabError } from '../errors.js';
import { gfCtxCreate, memPoolNewFn, memPoolStats, validateMemPool } from '../mm/pools/glusterfs.fast.js';
import { createPool, haPoolAt, poolHeadStats, poolRegistryCreate, validateHaPool } from '../mm/pools/haproxy.fast.js';
import type { HaKindName } from '../mm/pools/structs.js';
import type { Machine } from '../shm/machine.js';

export const ALLOCATORS = [
  'slub',
  'haproxy',
  'haproxy-shared',
  'haproxy-tagged',
  'haproxy-percpu',
  'glusterfs',
  'nginx',
  'mp',
] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];

/** The HAProxy variants by name: unshared per-CPU pools, Treiber stack, tagged stack, per-CPU cache in front. */
export const HAPROXY_KIND: Partial<Record<AllocatorName, HaKindName>> = {
  haproxy: 'percpu',
  'haproxy-shared': 'shared',
  'haproxy-tagged': 'tagged',
  'haproxy-percpu': 'cached',
};

/** Region pools free everything at once: they serve the connections workload only. */
export const REGION_ALLOCATORS: readonly AllocatorName[] = ['nginx', 'mp'];

/** GlusterFS: chunks in the pool's region; requests beyond it go to the general heap (pool_misses). */
const GLUSTERFS_CHUNKS = 4096;

/** Workloads where a CPU frees objects another CPU allocated. */
const REMOTE_FREES = ['xmalloc', 'rptest', 'larson', 'mstress', 'cache-scratch'];

/** Refuse combinations that do not fit the model, before anything runs. */
export function checkAllocator(allocator: AllocatorName, workload: string, irqRate: number): void {
  if (allocator === 'haproxy' && REMOTE_FREES.includes(workload)) {
    throw new SlabError(
      'EINVAL',
      `--allocator haproxy is the unshared per-CPU pool (one process per core): ${workload} frees objects on other CPUs; use haproxy-tagged or haproxy-percpu`,
    );
  }
  if (REGION_ALLOCATORS.includes(allocator) && workload !== 'connections') {
    throw new SlabError(
      'EINVAL',
      `--allocator ${allocator} is a region pool (it frees everything at once): it runs --workload connections only`,
    );
  }
  if (allocator !== 'slub' && irqRate > 0) {
    throw new SlabError(
      'EINVAL',
      `--irq-rate needs --allocator slub: the pool models are not interrupt-safe (their originals run with no interrupts on the path)`,
    );
  }
}

/** Create the shared pool of `allocator` for objects of `size` bytes; its address, or 0 (SLUB, region pools). */
export function createAllocatorPool(m: Machine, allocator: AllocatorName, size: number): number {
  const kind = HAPROXY_KIND[allocator];
  if (kind) {
    const p = createPool(m, poolRegistryCreate(m, 0), { name: 'slabsim', size, kind }, 0);
    if (!p) throw new SlabError('EINVAL', `not enough simulated memory for the ${allocator} pool`);
    return p.addr;
  }
  if (allocator === 'glusterfs') {
    const pool = memPoolNewFn(m, gfCtxCreate(m, 0), size, GLUSTERFS_CHUNKS, 'slabsim', 'slabsim', 0);
    if (pool === 0) throw new SlabError('EINVAL', 'not enough simulated memory for the glusterfs pool');
    return pool;
  }
  return 0;
}

export interface PoolReport {
  allocator: AllocatorName;
  /** the original's counters, by the original's field names */
  counters: Record<string, number>;
  /** objects the pool counts as handed out at the end (0 when nothing was lost) */
  in_use: number;
  messages: string[];
}

/** The pool's counters and its own validate, after the run. */
export function poolReport(m: Machine, allocator: AllocatorName, pool: number): PoolReport | undefined {
  if (HAPROXY_KIND[allocator]) {
    const p = haPoolAt(m, pool);
    const heads = Array.from({ length: p.nheads }, (_, i) => poolHeadStats(p, i));
    const sum = (k: 'used' | 'allocated' | 'failed' | 'free' | 'nr_pages') => heads.reduce((s, h) => s + (h[k] | 0), 0);
    const cached = heads[0]?.cached ?? 0;
    const counters = {
      used: sum('used'),
      allocated: sum('allocated'),
      failed: sum('failed'),
      free: sum('free'),
      cached,
      nr_pages: sum('nr_pages'),
    };
    // Blocks parked in a CPU's cache count as used in pool_head (as in HAProxy) but nobody holds them.
    return { allocator, counters, in_use: counters.used - cached, messages: validateHaPool(p).messages };
  }
  if (allocator === 'glusterfs') {
    const { name: _name, ...counters } = memPoolStats(m, pool);
    return {
      allocator,
      counters,
      in_use: counters.hot_count + counters.curr_stdalloc,
      messages: validateMemPool(m, pool).messages,
    };
  }
  return undefined;
}
