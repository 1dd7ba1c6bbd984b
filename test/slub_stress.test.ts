import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { runWorkload } from '../src/workload/run.js';
import { expectRunClean, keptPools, totalStat } from './helpers.js';

const pools = keptPools();

describe.each(['5.4', '6.6'] as Profile[])('SLUB stress on worker threads, profile %s', (profile) => {
  it.each([2, 4, 8])('%i workers, 10^6 operations of xmalloc (remote frees) with interrupts: clean', async (cpus) => {
    const r = await runWorkload({
      workload: 'xmalloc',
      machine: { cpus, profile, memory: 64 << 20 },
      ops: 1_000_000,
      seed: cpus,
      irqRate: 0.02,
      pool: await pools(cpus),
    });
    expect(r.ops).toBe(1_000_000);
    expectRunClean(r);
    expect(totalStat(r, 'free_slowpath')).toBeGreaterThan(r.ops / 4); // remote frees really happened
    expect(totalStat(r, 'cmpxchg_double_cpu_fail')).toBeGreaterThan(0); // interrupts really struck between tid and CAS
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
      pool: await pools(4),
    });
    expectRunClean(r);
  });

  it('threadtest on 4 workers through one named cache: clean, fast paths dominate', async () => {
    const r = await runWorkload({
      workload: 'threadtest',
      machine: { cpus: 4, profile },
      ops: 400_000,
      seed: 5,
      cache: 'obj',
      maxSize: 96,
      pool: await pools(4),
    });
    expectRunClean(r);
    const obj = r.caches.find((c) => c.name === 'obj' || c.aliases.includes('obj'));
    expect(obj).toBeDefined();
    expect(totalStat(r, 'alloc_fastpath')).toBeGreaterThan(totalStat(r, 'alloc_slowpath') * 10);
  });
});
