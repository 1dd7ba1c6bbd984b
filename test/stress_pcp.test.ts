// Per-CPU page lists on real worker threads: 4 CPUs allocating and freeing through their
// own lists (pages directly, and SLUB's new and discarded slabs) must end clean, with the
// pages left on the lists counted free and drained back at the end.
import { describe, expect, it } from 'vitest';
import { PCP_STATS } from '../src/shm/structs.js';
import { type RunReport, runWorkload } from '../src/workload/run.js';
import { expectRunClean, keptPools } from './helpers.js';

const pools = keptPools();

const MiB = 1024 * 1024;

/** Σ of one pageset counter over every zone and CPU. */
const pcpStat = (r: RunReport, s: (typeof PCP_STATS)[number]): number =>
  (r.pcp?.zones ?? []).reduce((sum, z) => sum + z.pagesets.reduce((t, p) => t + p.stats[s], 0), 0);

describe('stress: per-CPU page lists on 4 worker threads', () => {
  it.each(['5.4', '6.6'] as const)(
    'pages, profile %s: ledger and zones clean, lists used, drained at the end',
    async (profile) => {
      const r = await runWorkload({
        workload: 'pages',
        machine: { cpus: 4, nodes: 2, memory: 64 * MiB, profile },
        ops: 400_000,
        seed: 5,
        maxOrder: 3,
        maxHeld: 64,
        pool: await pools(4),
      });
      expect(r.checks.messages).toEqual([]);
      expect(r.checks).toMatchObject({ ok: true, double_issue: 0, lost: 0, live: 0, validate_errors: 0 });
      expect(r.pages.free).toBe(r.pages.total);
      expect(r.pcp?.enabled).toBe(true);
      expect(pcpStat(r, 'alloc')).toBeGreaterThan(50_000);
      expect(pcpStat(r, 'free')).toBe(pcpStat(r, 'alloc'));
      expect(r.pcp?.drained).toBe(r.pages.pcp);
      // after the end-of-run drain every page is back in the buddy allocator, merged
      expect(r.pages.buddyinfo.reduce((s, b) => s + b.nr_free.reduce((t, n, k) => t + (n << k), 0), 0)).toBe(r.pages.total);
    },
  );

  it.each(['5.4', '6.6'] as const)(
    "pages, profile %s, CPU 0 draining every CPU's lists every 500 operations: clean",
    async (profile) => {
      const r = await runWorkload({
        workload: 'pages',
        machine: { cpus: 4, memory: 64 * MiB, profile },
        ops: 200_000,
        seed: 8,
        maxOrder: 3,
        maxHeld: 64,
        drainEvery: 500,
        pool: await pools(4),
      });
      expect(r.checks.messages).toEqual([]);
      expect(r.pages.free).toBe(r.pages.total);
      // CPU 0 drained 100 times; the other CPUs' lists were drained too (5.4 by each owner, 6.6 by CPU 0)
      const drains = (r.pcp?.zones[0].pagesets ?? []).map((p) => p.stats.drain);
      expect(drains.every((d) => d > 0)).toBe(true);
    },
  );

  it('threadtest on SLUB, profile 6.6: new and discarded slabs go through the lists, the run ends clean', async () => {
    const r = await runWorkload({
      workload: 'threadtest',
      machine: { cpus: 4, memory: 64 * MiB, profile: '6.6' },
      ops: 400_000,
      seed: 9,
      pool: await pools(4),
    });
    expectRunClean(r);
    expect(pcpStat(r, 'refill')).toBeGreaterThan(0);
    expect(pcpStat(r, 'alloc')).toBeGreaterThan(0);
  });

  it('memory pressure, 6.6 on 1 MiB: failures stay clean, pages left on lists are free, not lost', async () => {
    const r = await runWorkload({
      workload: 'pages',
      machine: { cpus: 4, memory: MiB, profile: '6.6' },
      ops: 40_000,
      seed: 3,
      maxOrder: 3,
      maxHeld: 64,
      pool: await pools(4),
    });
    expect(r.per_cpu.reduce((s, c) => s + c.failed, 0)).toBeGreaterThan(0);
    expect(r.checks.messages).toEqual([]);
    expect(r.pages.free).toBe(r.pages.total);
  });

  it('--no-pcp: the same run goes through the zones only', async () => {
    const r = await runWorkload({
      workload: 'pages',
      machine: { cpus: 4, memory: 64 * MiB, pcp: false },
      ops: 100_000,
      seed: 5,
      pool: await pools(4),
    });
    expect(r.checks.ok).toBe(true);
    expect(r.pcp?.enabled).toBe(false);
    expect(r.pcp?.orders).toEqual([]);
    for (const s of PCP_STATS) expect(pcpStat(r, s)).toBe(0);
  });
});
