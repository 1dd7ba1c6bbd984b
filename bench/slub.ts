// SLUB benchmarks: the fast path (one alloc + one free on one CPU) against the
// calibration loop, and worker scaling from 1 to 2 CPUs on private objects.
import { makeCpu } from '../src/mm/cpu.js';
import { slabAllocNode as allocSched } from '../src/mm/slub/alloc.sched.js';
import { slabAllocNode } from '../src/mm/slub/alloc.fast.js';
import { kmemCacheCreate, slubInit } from '../src/mm/slub/cache.js';
import { doSlabFree as freeSched } from '../src/mm/slub/free.sched.js';
import { doSlabFree, kmemCacheFree } from '../src/mm/slub/free.fast.js';
import { cacheById } from '../src/mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../src/mm/slub/objects.js';
import type { Step } from '../src/sched/step.js';
import { create } from '../src/shm/machine.js';
import { runWorkload } from '../src/workload/run.js';
import { CpuPool } from '../src/workload/workers.js';
import { type BenchCase, opaque } from './harness.js';

const BATCH = 1000;

function drain<T>(g: Step<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

export function slubCases(): BenchCase[] {
  const m = create({ cpus: 1, memory: 16 << 20 });
  slubInit(m);
  const s = cacheById(m, kmemCacheCreate(m, 'bench-64', 64, { flags: ['no_merge'] }));
  const cpu = makeCpu(m, 0);
  // Warm the cpu slab so the loop stays on the fast path.
  kmemCacheFree(s, cpu, slabAllocNode(s, cpu, -1));
  // The cache and CPU reach each call as values, as in the simulator (see opaque()).
  const at = opaque({ s, cpu });
  return [
    {
      name: 'slub fast path: alloc + do_slab_free',
      unit: 'alloc+free',
      batch: BATCH,
      fn: () => {
        const { s, cpu } = at.v;
        for (let i = 0; i < BATCH; i++) {
          const obj = slabAllocNode(s, cpu, -1);
          doSlabFree(s, cpu, virtToHeadPfn(s.m, obj), obj, obj, 1);
        }
      },
    },
    {
      name: 'slub fast path: alloc + kmem_cache_free (with misuse checks)',
      unit: 'alloc+free',
      batch: BATCH,
      fn: () => {
        const { s, cpu } = at.v;
        for (let i = 0; i < BATCH; i++) kmemCacheFree(s, cpu, slabAllocNode(s, cpu, -1));
      },
    },
    {
      name: 'slub fast path, same code as generators',
      unit: 'alloc+free',
      form: 'scheduled',
      batch: BATCH,
      fn: () => {
        const { s, cpu } = at.v;
        for (let i = 0; i < BATCH; i++) {
          const obj = drain(allocSched(s, cpu, -1));
          drain(freeSched(s, cpu, virtToHeadPfn(s.m, obj), obj, obj, 1));
        }
      },
    },
  ];
}

/**
 * threadtest on private objects (one 64-byte cache, batches of 16: the fast path) on 1
 * and 2 workers: `pairs` paired runs (1 CPU, then 2) after one warm-up pair, each run's
 * steady rate (the second half of a 1 s run) on worker threads kept between runs; the
 * median of the pairs' ratios.
 */
export async function scaling(
  pairs = 5,
  durationMs = 1000,
): Promise<{ one: number; two: number; ratio: number; ratios: number[] }> {
  const pools = [new CpuPool(1), new CpuPool(2)];
  const run = async (cpus: 1 | 2): Promise<number> => {
    const r = await runWorkload({
      workload: 'threadtest',
      machine: { cpus },
      ops: 1e9,
      durationMs,
      seed: 1,
      cache: 'scale',
      maxSize: 64,
      batch: 16,
      pool: pools[cpus - 1],
    });
    if (!r.checks.ok) throw new Error(`scaling run on ${cpus} CPUs failed its checks: ${r.checks.messages.join('; ')}`);
    return r.steady_rate?.ops_per_sec ?? r.ops_per_sec;
  };
  const ones: number[] = [];
  const twos: number[] = [];
  try {
    await run(1);
    await run(2);
    for (let i = 0; i < pairs; i++) {
      ones.push(await run(1));
      twos.push(await run(2));
    }
  } finally {
    await Promise.all(pools.map((p) => p.destroy()));
  }
  const ratios = ones.map((one, i) => Math.round((twos[i] / one) * 100) / 100);
  return { one: median(ones), two: median(twos), ratio: median(ratios), ratios };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

/**
 * threadtest on 2 workers, one fixed size: SLUB (one cache) against the lock-based
 * GlusterFS pool and the tagged Treiber stack, same seed, same run. Best of 3 each.
 */
export async function againstPools(ops = 4_000_000): Promise<Record<string, number>> {
  const best = async (allocator: 'slub' | 'glusterfs' | 'haproxy-tagged') => {
    let top = 0;
    for (let i = 0; i < 3; i++) {
      const r = await runWorkload({
        workload: 'threadtest',
        allocator,
        machine: { cpus: 2 },
        ops,
        seed: 1,
        batch: 16,
        maxSize: 64,
        ...(allocator === 'slub' ? { cache: 'bench' } : {}),
      });
      top = Math.max(top, r.ops_per_sec);
    }
    return top;
  };
  const slub = await best('slub');
  const glusterfs = await best('glusterfs');
  const tagged = await best('haproxy-tagged');
  const ratio = (x: number) => Math.round((slub / x) * 100) / 100;
  return {
    slub,
    glusterfs,
    haproxy_tagged: tagged,
    slub_over_glusterfs: ratio(glusterfs),
    slub_over_haproxy_tagged: ratio(tagged),
  };
}
