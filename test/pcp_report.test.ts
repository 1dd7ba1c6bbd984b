// What a run says about its per-CPU page lists: RunReport.pcp and pages.pcp when the CPUs
// stopped, the end-of-run drain, /proc/zoneinfo in the kernel's format, and the
// command line's --zoneinfo and --no-pcp.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { procZoneinfo } from '../src/report/procfs.js';
import { RandomStrategy } from '../src/sched/strategies/random.js';
import type { CpuCounts } from '../src/workload/pages.js';
import { finishRun, type RunOptions, runWorkloadScheduled } from '../src/workload/run.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const MiB = 1024 * 1024;

/** A pages run under the scheduler, finished into its report. */
function scheduledPages(opts: Partial<RunOptions>) {
  const o: RunOptions = {
    workload: 'pages',
    machine: { cpus: 2, memory: 64 * MiB },
    ops: 2000,
    seed: 4,
    maxOrder: 0,
    maxHeld: 40,
    ...opts,
  };
  const { prep, result } = runWorkloadScheduled(o, new RandomStrategy(4));
  expect(result.outcome).toBe('ok');
  const counts = result.results as CpuCounts[];
  return finishRun(
    prep,
    o,
    counts.map((c) => ({ ...c, node: 0, elapsedMs: 1 })),
    1,
  );
}

describe('the end of a run', () => {
  it('reports the lists as the CPUs left them, counts their pages free, and drains them into the zones', () => {
    const r = scheduledPages({});
    expect(r.checks.messages).toEqual([]);
    const counts = r.pcp?.zones[0].pagesets.map((p) => p.count) ?? [];
    expect(counts.some((c) => c > 0)).toBe(true);
    expect(r.pages.pcp).toBe(counts.reduce((a, b) => a + b, 0));
    expect(r.pcp?.pages).toBe(r.pages.pcp);
    expect(r.pcp?.drained).toBe(r.pages.pcp);
    expect(r.pages.free).toBe(r.pages.total);
    // the zone's free pages when the CPUs stopped did not count the lists; after the drain the buddy has them all
    expect(r.pcp?.zones[0].free).toBe(r.pages.total - (r.pages.pcp ?? 0));
    expect(r.pages.buddyinfo[0].nr_free).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]);
    for (const p of r.pcp?.zones[0].pagesets ?? []) {
      expect([p.high, p.batch]).toEqual([18, 3]);
      expect(p.stats.alloc).toBeGreaterThan(0);
    }
  });

  it('with --no-pcp nothing was on a list and nothing is drained', () => {
    const r = scheduledPages({ machine: { cpus: 2, memory: 64 * MiB, pcp: false } });
    expect(r.checks.ok).toBe(true);
    expect(r.pcp).toMatchObject({ enabled: false, pages: 0, drained: 0 });
    expect(r.pages.pcp).toBe(0);
  });
});

describe('/proc/zoneinfo', () => {
  it("prints each zone and the pagesets of every CPU in zoneinfo_show_print()'s format", () => {
    const r = scheduledPages({ machine: { cpus: 2, nodes: 2, memory: 64 * MiB, profile: '6.6' } });
    const z = r.pcp?.zones ?? [];
    const p = (node: number, cpu: number) => z[node].pagesets[cpu];
    const expected = [0, 1]
      .map(
        (node) =>
          `Node ${node}, zone   Normal\n` +
          `  pages free     ${z[node].free}\n` +
          `        min      128\n        low      160\n        high     192\n` +
          `        spanned  8192\n        present  8192\n        managed  8192\n` +
          '  pagesets\n' +
          [0, 1]
            .map(
              (cpu) =>
                `    cpu: ${cpu}\n              count: ${p(node, cpu).count}\n` +
                `              high:  ${p(node, cpu).high}\n              batch: 1\n`,
            )
            .join('') +
          `  node_unreclaimable:  0\n  start_pfn:           ${1 + node * 8192}\n`,
      )
      .join('');
    expect(procZoneinfo(r)).toBe(expected);
    // 6.6: each node's low watermark over its one CPU
    expect(p(0, 0).high).toBe(160);
    expect(p(1, 1).high).toBe(160);
  });

  it('is empty for a run saved before the simulator had per-CPU lists', () => {
    const r = scheduledPages({});
    delete r.pcp;
    expect(procZoneinfo(r)).toBe('');
  });
});

describe('slabsim run --zoneinfo, --no-pcp', () => {
  it('writes /proc/zoneinfo that agrees with the JSON, and the summary names the lists', () => {
    const dir = tempDir('slabsim-');
    const [json, zone] = ['run.json', 'zoneinfo'].map((f) => join(dir, f));
    const r = cli(
      'run',
      '--workload',
      'pages',
      '--cpus',
      '2',
      '--ops',
      '20000',
      '--profile',
      '6.6',
      '--json',
      json,
      '--zoneinfo',
      zone,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/pcp \(orders 0,1,2,3,9\): \d+ allocs and \d+ frees on the lists/);
    expect(readdirSync(dir).sort()).toEqual(['run.json', 'zoneinfo']);
    const j = JSON.parse(readFileSync(json, 'utf8'));
    expect(readFileSync(zone, 'utf8')).toBe(procZoneinfo(j));
    const cpu0 = j.pcp.zones[0].pagesets[0];
    expect(readFileSync(zone, 'utf8')).toContain(
      `\n  pagesets\n    cpu: 0\n              count: ${cpu0.count}\n              high:  160\n              batch: 3\n`,
    );
    expect(j.config.pcp).toBe(true);
  });

  it('--no-pcp, or "no-pcp": true in a spec file, turns the lists off', () => {
    const dir = tempDir('slabsim-');
    const flag = cli('run', '--workload', 'pages', '--cpus', '2', '--ops', '2000', '--no-pcp', '--json', '-');
    expect(flag.status).toBe(0);
    const j = JSON.parse(flag.stdout);
    expect([j.config.pcp, j.pcp.enabled]).toEqual([false, false]);
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ workload: 'pages', 'no-pcp': true, ops: 2000 }));
    const fromSpec = cli('run', '--spec', spec);
    expect(fromSpec.status).toBe(0);
    expect(fromSpec.stdout).toMatch(/pcp: off \(--no-pcp\)/);
    writeFileSync(spec, JSON.stringify({ workload: 'pages', 'no-pcp': false, ops: 2000 }));
    expect(cli('run', '--spec', spec).stdout).toMatch(/pcp \(orders 0\):/);
  });
});
