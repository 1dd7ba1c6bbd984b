// 4-CPU stress on the sheaf profiles, on worker threads with same-CPU interrupts: the
// ledger and validate clean, and every object counted once on exactly one path.
import { describe, expect, it } from 'vitest';
import type { CacheReport } from '../src/report/caches.js';
import type { StatItem } from '../src/shm/structs.js';
import type { RunReport } from '../src/workload/run.js';
import { runWorkload } from '../src/workload/run.js';
import { expectRunClean, keptPools } from './helpers.js';

const pools = keptPools();

const st = (c: CacheReport, item: StatItem): number => c.stats[item]?.total ?? 0;
const sumCaches = (r: RunReport, item: StatItem): number => r.caches.reduce((s, c) => s + st(c, item), 0);
const sumCpus = (r: RunReport, k: 'allocs' | 'failed' | 'frees' | 'irq_allocs' | 'irq_frees'): number =>
  r.per_cpu.reduce((s, c) => s + c[k], 0);

/**
 * The counter identities. 7.0: a sheaf hit is the fast path, every other object comes
 * from ___slab_alloc() (refills are counted by SHEAF_REFILL only), and every kmalloc of a
 * sheaf is an allocation like any other: Σ (alloc_fastpath + alloc_slowpath) over all
 * caches = the workload's allocations + every sheaf allocated; frees likewise.
 * 6.18: the sheaves sit above the cpu slab, whose bulk refills count each object on the
 * fast or slow path: for the sheaf cache, alloc_cpu_sheaf + alloc_fastpath +
 * alloc_slowpath - sheaf_refill = its allocations. A flush goes through do_slab_free(),
 * which counts once per detached freelist: free_cpu_sheaf + free_fastpath +
 * free_slowpath lies between its frees and its frees + sheaf_flush.
 */
function expectIdentities(r: RunReport, profile: '6.18' | '7.0'): void {
  const allocs = sumCpus(r, 'allocs') + sumCpus(r, 'failed') + sumCpus(r, 'irq_allocs');
  const frees = sumCpus(r, 'frees') + sumCpus(r, 'irq_frees');
  if (profile === '7.0') {
    expect(sumCaches(r, 'alloc_fastpath') + sumCaches(r, 'alloc_slowpath')).toBe(allocs + sumCaches(r, 'sheaf_alloc'));
    expect(sumCaches(r, 'free_fastpath') + sumCaches(r, 'free_slowpath')).toBe(frees + sumCaches(r, 'sheaf_free'));
    expect(sumCaches(r, 'alloc_fastpath')).toBeGreaterThan(sumCaches(r, 'alloc_slowpath') * 10);
    return;
  }
  const obj = r.caches.find((c) => c.name === 'obj') as CacheReport;
  expect(st(obj, 'alloc_cpu_sheaf') + st(obj, 'alloc_fastpath') + st(obj, 'alloc_slowpath') - st(obj, 'sheaf_refill')).toBe(
    allocs,
  );
  const sheafFrees = st(obj, 'free_cpu_sheaf') + st(obj, 'free_fastpath') + st(obj, 'free_slowpath');
  expect(sheafFrees).toBeGreaterThanOrEqual(frees);
  expect(sheafFrees).toBeLessThanOrEqual(frees + st(obj, 'sheaf_flush'));
  // The sheaves' own memory: kmalloc objects, each allocation counted on one path.
  const kmalloc = r.caches.filter((c) => c !== obj);
  const storage = kmalloc.reduce((s, c) => s + st(c, 'alloc_fastpath') + st(c, 'alloc_slowpath'), 0);
  expect(storage).toBe(st(obj, 'sheaf_alloc'));
  expect(st(obj, 'alloc_cpu_sheaf')).toBeGreaterThan(allocs / 2);
}

describe.each(['6.18', '7.0'] as const)('sheaves under 4-CPU stress with interrupts, profile %s', (profile) => {
  // 6.18 has sheaves only for a cache created with a capacity; 7.0 for every cache,
  // the kmalloc caches the workloads use included.
  const target = profile === '6.18' ? { cache: 'obj', sheafCapacity: 32 } : {};

  it('xmalloc (every free remote: the sheaves of the freeing CPUs fill, flush and trade through the barn): clean', async () => {
    const r = await runWorkload({
      workload: 'xmalloc',
      machine: { cpus: 4, profile, memory: 64 << 20 },
      ops: 300_000,
      seed: 4,
      irqRate: 0.02,
      maxSize: 128,
      pool: await pools(4),
      ...target,
    });
    expectRunClean(r, false);
    expectIdentities(r, profile);
    expect(sumCaches(r, 'barn_put') + sumCaches(r, 'barn_get')).toBeGreaterThan(0); // sheaves went through the barn
    expect(r.per_cpu.reduce((s, c) => s + c.irq_allocs, 0)).toBeGreaterThan(0);
  });

  it('larson (slots handed between CPUs) with interrupts and flush_all every 1000 operations: clean', async () => {
    const r = await runWorkload({
      workload: 'larson',
      machine: { cpus: 4, profile },
      ops: 200_000,
      seed: 9,
      irqRate: 0.01,
      slots: 256,
      epochs: 8,
      flushEvery: 1000,
      maxSize: 128,
      pool: await pools(4),
      ...target,
    });
    expectRunClean(r, false);
    expectIdentities(r, profile);
    expect(sumCaches(r, 'sheaf_flush')).toBeGreaterThan(0);
  });
});
