// Stress on 4 CPU workers for every pool model meant to be thread-safe, on the workloads
// that fit it: the ledger balances, the pool's own validate passes, nothing is lost.
import { describe, expect, it } from 'vitest';
import type { AllocatorName } from '../src/workload/allocators.js';
import { runWorkload } from '../src/workload/run.js';
import type { WorkloadName } from '../src/workload/task.js';
import { keptPools } from './helpers.js';

const pools = keptPools();

const CASES: Array<[AllocatorName, WorkloadName[]]> = [
  ['haproxy', ['threadtest', 'connections', 'cache-thrash']], // unshared per-CPU pools: no remote frees
  ['haproxy-tagged', ['threadtest', 'xmalloc', 'larson', 'mstress']],
  ['haproxy-percpu', ['threadtest', 'xmalloc', 'larson', 'mstress']],
  ['glusterfs', ['threadtest', 'xmalloc', 'larson', 'mstress']],
  ['nginx', ['connections']],
  ['mp', ['connections']],
];

describe.each(CASES)('--allocator %s on 4 CPU workers', (allocator, workloads) => {
  it.each(workloads.map((w) => [w]))('%s: ledger-clean, validate clean, nothing lost', async (workload) => {
    const r = await runWorkload({
      workload,
      allocator,
      machine: { cpus: 4, memory: 32 << 20 },
      ops: 100_000,
      seed: 3,
      maxSize: 128,
      slots: 64,
      pool: await pools(4),
    });
    expect(r.checks.messages).toEqual([]);
    expect(r.checks).toMatchObject({ ok: true, double_issue: 0, bad_free: 0, lost: 0, live: 0 });
    expect(r.ops).toBeGreaterThan(50_000);
    if (r.pool) expect(r.pool.in_use).toBe(0);
  });
});

describe('misfits are refused before anything runs', () => {
  it.each([
    ['haproxy', 'xmalloc', /unshared per-CPU pool/],
    ['nginx', 'threadtest', /runs --workload connections only/],
  ] as Array<[AllocatorName, WorkloadName, RegExp]>)('%s with %s', async (allocator, workload, message) => {
    await expect(runWorkload({ workload, allocator, machine: { cpus: 2 }, ops: 1000, seed: 1 })).rejects.toThrow(message);
  });

  it('interrupts need SLUB', async () => {
    await expect(
      runWorkload({ workload: 'threadtest', allocator: 'glusterfs', machine: { cpus: 2 }, ops: 1000, seed: 1, irqRate: 0.1 }),
    ).rejects.toThrow(/--irq-rate needs --allocator slub/);
  });
});
