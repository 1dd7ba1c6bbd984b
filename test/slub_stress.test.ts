import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { type RunReport, runWorkload } from '../src/workload/run.js';

/** Σ over caches of one stat. */
const total = (r: RunReport, item: keyof RunReport['caches'][number]['stats']): number =>
  r.caches.reduce((s, c) => s + c.stats[item].total, 0);

function expectClean(r: RunReport): void {
  expect(r.checks.messages).toEqual([]);
  expect(r.checks).toMatchObject({ ok: true, double_issue: 0, bad_free: 0, lost: 0, live: 0, validate_errors: 0 });
  // every slab accounted for: the pages not free are exactly the slab pages
  expect(r.pages.total - r.pages.free).toBe(r.pages.slab);
  // counter identities: every allocation attempt enters the fast or the slow path once,
  // every free leaves by one of the two paths
  const sum = (k: 'allocs' | 'failed' | 'frees' | 'irq_allocs' | 'irq_frees') => r.per_cpu.reduce((s, c) => s + c[k], 0);
  expect(total(r, 'alloc_fastpath') + total(r, 'alloc_slowpath')).toBe(sum('allocs') + sum('failed') + sum('irq_allocs'));
  expect(total(r, 'free_fastpath') + total(r, 'free_slowpath')).toBe(sum('frees') + sum('irq_frees'));
}

describe.each(['5.4', '6.6'] as Profile[])('SLUB stress on worker threads, profile %s', (profile) => {
  it.each([2, 4, 8])('%i workers, 10^6 operations of xmalloc (remote frees) with interrupts: clean', async (cpus) => {
    const r = await runWorkload({
      workload: 'xmalloc',
      machine: { cpus, profile, memory: 64 << 20 },
      ops: 1_000_000,
      seed: cpus,
      irqRate: 0.02,
    });
    expect(r.ops).toBe(1_000_000);
    expectClean(r);
    expect(total(r, 'free_slowpath')).toBeGreaterThan(r.ops / 4); // remote frees really happened
    expect(total(r, 'cmpxchg_double_cpu_fail')).toBeGreaterThan(0); // interrupts really struck between tid and CAS
    expect(r.per_cpu.reduce((s, c) => s + c.irq_allocs, 0)).toBeGreaterThan(0);
  });

  it('larson on 4 workers (frees of objects other CPUs allocated) with interrupts: clean', async () => {
    const r = await runWorkload({
      workload: 'larson',
      machine: { cpus: 4, profile },
      ops: 400_000,
      seed: 9,
      irqRate: 0.01,
      slots: 256,
      epochs: 8,
    });
    expectClean(r);
  });

  it('threadtest on 4 workers through one named cache: clean, fast paths dominate', async () => {
    const r = await runWorkload({
      workload: 'threadtest',
      machine: { cpus: 4, profile },
      ops: 400_000,
      seed: 5,
      cache: 'obj',
      maxSize: 96,
    });
    expectClean(r);
    const obj = r.caches.find((c) => c.name === 'obj' || c.aliases.includes('obj'));
    expect(obj).toBeDefined();
    expect(total(r, 'alloc_fastpath')).toBeGreaterThan(total(r, 'alloc_slowpath') * 10);
  });
});
