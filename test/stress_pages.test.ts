import { describe, expect, it } from 'vitest';
import { runWorkload } from '../src/workload/run.js';
import { keptPools } from './helpers.js';

const pools = keptPools();

describe('stress: page allocator on real worker threads', () => {
  it('4 workers, 10^6 page operations: everything freed, ledger clean, no hang', async () => {
    const r = await runWorkload({
      workload: 'pages',
      machine: { cpus: 4, memory: 16 << 20 },
      ops: 1_000_000,
      seed: 42,
      maxOrder: 3,
      maxHeld: 64,
      pool: await pools(4),
    });
    expect(r.ops).toBe(1_000_000);
    expect(r.per_cpu.map((c) => c.cpu)).toEqual([0, 1, 2, 3]);
    expect(r.per_cpu.every((c) => c.ops === 250_000 && c.allocs === c.frees)).toBe(true);
    expect(r.pages.free).toBe(r.pages.total);
    expect(r.checks).toMatchObject({ ok: true, double_issue: 0, lost: 0, live: 0, validate_errors: 0 });
  });

  it('memory pressure: allocations fail cleanly (0, never a throw) and the ledger still balances', async () => {
    // 1 MiB = 256 pages; 4 CPUs holding up to 64 blocks of up to 8 pages each must run dry.
    const r = await runWorkload({
      workload: 'pages',
      machine: { cpus: 4, memory: 1 << 20 },
      ops: 40_000,
      seed: 3,
      maxOrder: 3,
      maxHeld: 64,
      pool: await pools(4),
    });
    expect(r.per_cpu.reduce((s, c) => s + c.failed, 0)).toBeGreaterThan(0);
    expect(r.pages.free).toBe(r.pages.total);
    expect(r.checks.ok).toBe(true);
  });
});
