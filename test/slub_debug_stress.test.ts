// slub_debug=FZPU under load: 4 worker threads (free-running) and 3 scheduled CPUs,
// every object red-zoned, poisoned and tracked, every allocation and free through the
// debug paths, and every run ends ledger-clean with no error reported or validated.
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import { type RunOptions, type RunReport, runWorkload } from '../src/workload/run.js';
import { cli, expectRunClean, keptPools, totalStat } from './helpers.js';
import { runScheduledReport } from './scheduled_run.js';

const pools = keptPools();

/** slub_debug=FZPU runs: clean, and every allocation and free went through the debug paths. */
function expectClean(r: RunReport): void {
  expectRunClean(r);
  // debug caches never take the fast paths: no cpu freelist is ever filled
  expect(totalStat(r, 'alloc_fastpath')).toBe(0);
  expect(totalStat(r, 'free_fastpath')).toBe(0);
  expect(totalStat(r, 'alloc_slowpath')).toBeGreaterThan(0);
  for (const c of r.caches.filter((x) => x.stats.alloc_slowpath.total > 0)) {
    expect(c.flag_names).toEqual(expect.arrayContaining(['consistency_checks', 'red_zone', 'poison', 'store_user']));
  }
}

describe.each(['5.4', '6.6'] as Profile[])('slub_debug=FZPU on 4 worker threads, profile %s', (profile) => {
  it.each([
    ['xmalloc (remote frees), kmalloc', { workload: 'xmalloc', irqRate: 0.02 }],
    ['larson (frees of objects other CPUs allocated), kmalloc', { workload: 'larson', irqRate: 0.01, slots: 128, epochs: 6 }],
    ['threadtest through one named cache', { workload: 'threadtest', cache: 'obj', maxSize: 96 }],
  ] as const)('%s: ledger-clean, 0 errors', async (_, extra) => {
    const r = await runWorkload({
      machine: { cpus: 4, profile, memory: 64 << 20 },
      ops: 200_000,
      seed: 4,
      debug: 'FZPU',
      pool: await pools(4),
      ...extra,
    });
    expect(r.ops).toBe(200_000);
    expectClean(r);
  });

  it('scheduled at every shared access, 3 CPUs, 3 seeds: clean', () => {
    for (const [seed, workload] of [
      [1, 'xmalloc'],
      [2, 'larson'],
      [3, 'threadtest'],
    ] as const) {
      const opts: RunOptions = {
        workload,
        machine: { cpus: 3, profile, memory: 8 << 20 },
        ops: 1500,
        seed,
        irqRate: 0.05,
        flushEvery: 100,
        slots: 16,
        batch: 8,
        debug: 'FZPU',
      };
      expectClean(runScheduledReport(opts, new RandomStrategy(seed)).report);
    }
  });
});

describe('slabsim run --debug', () => {
  it('applies slub_debug and the freelist options to the run and stays clean; a bad letter, or the options on pages, are refused', () => {
    const r = cli(
      'run',
      '--workload',
      'threadtest',
      '--cpus',
      '2',
      '--ops',
      '20000',
      '--profile',
      '6.6',
      '--debug',
      'FZPU,kmalloc-64',
      '--hardened',
      '--random-freelist',
      '--json',
      '-',
    );
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as RunReport;
    expect(j.checks.ok).toBe(true);
    expect(j.caches.find((c) => c.name === 'kmalloc-64')?.flag_names).toContain('red_zone');
    expect(j.caches.find((c) => c.name === 'kmalloc-32')?.flag_names).not.toContain('red_zone');
    expect(j.slub).toEqual({ debug: 'FZPU,kmalloc-64', hardened: true, random_freelist: true });
    const bad = cli('run', '--workload', 'threadtest', '--cpus', '1', '--ops', '100', '--debug', 'FX');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/slub_debug option 'X' unknown/);
    const pages = cli('run', '--workload', 'pages', '--cpus', '1', '--ops', '100', '--hardened');
    expect(pages.status).toBe(2);
    expect(pages.stderr.trim().split('\n')).toHaveLength(1);
    expect(pages.stderr).toMatch(/SLUB boot options: they need --allocator slub and an object workload/);
  });
});
