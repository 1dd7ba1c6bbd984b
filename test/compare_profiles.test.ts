// slabsim compare --profiles: one workload on SLUB of each kernel profile, with the
// lock and CAS counts per operation that tell the cmpxchg_double era from the sheaves.
import { describe, expect, inject, it } from 'vitest';
import { builtDir, importBuilt } from './built.js';
import { cli } from './helpers.js';

// compare() starts its own worker threads, one pool per row: loaded from the compiled
// tree (test/built.ts), they start in a quarter of the CPU time a thread from source
// spends in tsx, and the rows are the same code's.
const built = () =>
  importBuilt(builtDir(inject('built')), 'workload/compare.js') as Promise<typeof import('../src/workload/compare.js')>;

describe('compare --profiles', () => {
  it('one row per profile; the sheaf profiles take barn->lock and hardly CAS, the others CAS on every operation', async () => {
    const { compare, compareHtml } = await built();
    const r = await compare(
      {
        workload: 'xmalloc',
        machine: { memory: 32 << 20 },
        ops: 60_000,
        seed: 3,
        maxSize: 128,
        cache: 'compare',
        sheafCapacity: 32,
      },
      [2],
      undefined,
      undefined,
      ['5.4', '6.6', '6.18', '7.0'],
    );
    expect(r.profiles).toEqual(['5.4', '6.6', '6.18', '7.0']);
    expect(r.rows.map((x) => [x.allocator, x.profile, x.cpus])).toEqual([
      ['slub', '5.4', 2],
      ['slub', '6.6', 2],
      ['slub', '6.18', 2],
      ['slub', '7.0', 2],
    ]);
    const by = Object.fromEntries(r.rows.map((x) => [x.profile, x]));
    for (const x of r.rows) {
      expect(x.checks_ok).toBe(true);
      expect(x.slab_pages_peak).toBeGreaterThan(0);
      expect(x.list_locks_per_op).toBeGreaterThan(0); // xmalloc frees remotely: slabs go on and off the lists
    }
    // Every object of the cpu-slab profiles passes a this_cpu_cmpxchg_double: at least one CAS per operation.
    expect(by['5.4'].cas_per_op).toBeGreaterThanOrEqual(1);
    expect(by['6.6'].cas_per_op).toBeGreaterThanOrEqual(1);
    expect(by['5.4'].barn_locks_per_op).toBe(0);
    // With sheaves most operations touch only the CPU's own sheaf: no CAS, the barn now and then.
    for (const p of ['6.18', '7.0']) {
      expect(by[p].cas_per_op).toBeLessThan(0.5);
      expect(by[p].barn_locks_per_op).toBeGreaterThan(0);
    }
    const html = compareHtml(r);
    expect(html).toContain('<th>barn_lock/op</th>');
    expect(html).toContain('<td>7.0</td>');
  });

  it('the CLI: columns in the text, JSON rows, and one line with exit 2 for a bad profile', () => {
    const r = cli('compare', '--profiles', '6.6,7.0', '--cpus', '1', '--ops', '20000', '--workload', 'threadtest', '--json', '-');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { profile: string }) => x.profile)).toEqual(['6.6', '7.0']);
    const text = cli('compare', '--profiles', '7.0', '--cpus', '1', '--ops', '20000');
    expect(text.stdout).toMatch(/list_lock\/op +barn_lock\/op +CAS\/op +slab pages peak/);
    const bad = cli('compare', '--profiles', '6.6,8.0');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const both = cli('compare', '--profiles', '6.6', '--allocators', 'slub');
    expect(both.status).toBe(2);
  });
});
