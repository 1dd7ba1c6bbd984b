// slabsim compare: each row is several runs on the same worker threads; the row shows the
// median of their steady rates with the slowest and fastest beside it, and says how the
// rate was taken.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CompareReport } from '../src/workload/compare.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

describe('slabsim compare', () => {
  it('prints and writes the median of the repeated runs with their spread, and how the rate was taken', () => {
    const out = join(tempDir('cmp-'), 'c.json');
    const r = cli(
      'compare',
      '--workload',
      'threadtest',
      '--cpus',
      '1,2',
      '--allocators',
      'slub,glusterfs',
      '--duration',
      '300ms',
      '--repeat',
      '2',
      '--json',
      out,
    );
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8')) as CompareReport;
    expect(j).toMatchObject({ schema: 'slabsim-compare/2', duration_ms: 300, repeat: 2, interrupted: false, cpus: [1, 2] });
    expect(j.rate).toMatch(/second half/);
    expect(j.rows.map((x) => `${x.allocator}/${x.cpus}`)).toEqual(['slub/1', 'slub/2', 'glusterfs/1', 'glusterfs/2']);
    for (const x of j.rows) {
      expect(x.runs).toBe(2);
      expect(x.checks_ok).toBe(true);
      expect(x.ops_per_sec_min).toBeGreaterThan(0);
      expect(x.ops_per_sec_min).toBeLessThanOrEqual(x.ops_per_sec);
      expect(x.ops_per_sec).toBeLessThanOrEqual(x.ops_per_sec_max);
    }
    expect(j.rows[0].scaling).toBe(1);
    expect(j.rows[1].scaling).toBeCloseTo(j.rows[1].ops_per_sec / j.rows[0].ops_per_sec, 2);
    expect(r.stdout).toMatch(/2 runs of 0\.3 s per row/);
    expect(r.stdout).toMatch(/ops\/s: each run's steady rate/);
    expect(r.stdout).toMatch(/^slub\s+5\.4\s+1\s+[\d,]+\s+\d+\.\d\d-\d+\.\d\dM\s+1\.00/m);
  });

  it('with --ops and no --duration, runs a fixed count and says so', () => {
    const out = join(tempDir('cmp-'), 'c.json');
    const r = cli('compare', '--cpus', '1', '--allocators', 'slub', '--ops', '20000', '--repeat', '1', '--json', out);
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(out, 'utf8')) as CompareReport;
    expect(j).toMatchObject({ duration_ms: null, ops: 20000, repeat: 1 });
    expect(j.rows[0]).toMatchObject({ runs: 1, ops: 20000, checks_ok: true });
    expect(r.stdout).toMatch(/1 run of 20000 ops per row/);
  });
});
