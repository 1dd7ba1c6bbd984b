import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SlabError } from '../src/errors.js';
import { sprintf } from '../src/report/printf.js';
import { procSlabinfo } from '../src/report/procfs.js';
import { slabinfoTool, storeSize } from '../src/report/slabinfo_tool.js';
import type { CacheReport } from '../src/report/caches.js';
import type { RunReport } from '../src/workload/run.js';
import { procRows, savedRun, sum } from './report_helpers.js';
import { cli } from './helpers.js';
import { tempDir } from './temp.js';

const HEADER = 'Name                   Objects Objsize           Space Slabs/Part/Cpu  O/S O %Fr %Ef Flg';
const ACTIVITY_HEADER = 'Name                   Objects      Alloc       Free   %Fast Fallb O CmpX   UL';
/** "%-21s %8ld %7d %15s %14s %4d %1d %3ld %3ld %s" */
const ROW = /^(.{21}) (.{7}\d) (.{6}\d) (.{15}) (.{14}) (.{3}\d) (\d) (.{2}\d) (.{2}\d) (.*)$/;

/** The name the tool shows: a ":" directory with one name shows under it, with more it keeps its id. */
const shownName = (c: CacheReport): string => (c.sysfs_name.startsWith(':') && c.aliases.length > 0 ? c.sysfs_name : c.name);

describe('slabinfo helpers', () => {
  it('store_size() humanises like slabinfo.c: one truncated decimal over 1000', () => {
    expect(storeSize(0)).toBe('0');
    expect(storeSize(1000)).toBe('1000');
    expect(storeSize(1001)).toBe('1.0K');
    expect(storeSize(8192)).toBe('8.1K');
    expect(storeSize(12345)).toBe('12.3K');
    expect(storeSize(999_999)).toBe('999.9K');
    expect(storeSize(1_000_001)).toBe('1.0M');
    expect(storeSize(67_108_864)).toBe('67.1M');
    expect(storeSize(1_500_000_000)).toBe('1.5G');
    expect(storeSize(12345, true)).toBe('12345');
  });

  it('sprintf() follows C for the conversions the formats use', () => {
    expect(sprintf('%-5s|%5s|%05d|%3ld|%%', 'ab', 'cd', -42, 7)).toBe('ab   |   cd|-0042|  7|%');
    expect(sprintf('%lu %u', -1, -1)).toBe('18446744073709551615 4294967295');
    expect(sprintf('%-3s', 'longer')).toBe('longer');
  });
});

describe('tools/mm/slabinfo reports from a saved run', () => {
  let run: RunReport;
  let withSlabs: CacheReport[];
  beforeAll(async () => {
    run = await savedRun({ workload: 'xmalloc', cache: 'report_objs', maxSize: 64 });
    withSlabs = run.caches.filter((c) => c.slabs > 0);
  });

  it('lists the caches with slabs under the exact header, sorted as strcasecmp sorts', () => {
    const lines = slabinfoTool(run).split('\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines.pop()).toBe('');
    const names = lines.slice(1).map((l) => l.slice(0, 21).trimEnd());
    const expected = withSlabs.map(shownName);
    expect([...names].sort()).toEqual([...expected].sort());
    // strcasecmp order: ':' sorts before letters, "kmalloc-128" before "kmalloc-16"
    const key = (n: string): string => n.toLowerCase();
    expect(names).toEqual([...names].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)));
  });

  it('prints each row in the tool format with the sysfs numbers of its cache', () => {
    const ps = run.config.pageSize;
    const lines = slabinfoTool(run).trimEnd().split('\n').slice(1);
    for (const c of withSlabs) {
      const line = lines.find((l) => l.slice(0, 21).trimEnd() === shownName(c));
      expect(line, `no row for ${c.name}`).toBeDefined();
      const m = ROW.exec(line as string);
      expect(m, line).not.toBeNull();
      const f = (m as RegExpExecArray).slice(1).map((x) => x.trim());
      const bytes = c.slabs * (ps << c.order);
      expect(f.slice(1)).toEqual([
        String(c.objects),
        String(c.object_size),
        storeSize(bytes),
        `${c.slabs - c.cpu_slabs}/${c.partial}/${c.cpu_slabs}`,
        String(c.objs_per_slab),
        String(c.order),
        String(Math.floor((c.partial * 100) / c.slabs)),
        String(Math.floor((c.objects * c.object_size * 100) / bytes)),
        c.aliases.length > 0 ? '*' : '',
      ]);
      expect(line).toBe(
        sprintf(
          '%-21s %8ld %7d %15s %14s %4d %1d %3ld %3ld %s',
          shownName(c),
          c.objects,
          c.object_size,
          storeSize(bytes),
          `${c.slabs - c.cpu_slabs}/${c.partial}/${c.cpu_slabs}`,
          c.objs_per_slab,
          c.order,
          Math.floor((c.partial * 100) / c.slabs),
          Math.floor((c.objects * c.object_size * 100) / bytes),
          c.aliases.length > 0 ? '*' : '',
        ),
      );
    }
    // the merged cache keeps its ":" id and is flagged '*'
    expect(lines.some((l) => l.startsWith(':0000064 ') && l.endsWith(' *'))).toBe(true);
  });

  it('agrees with the JSON and /proc/slabinfo on the object and slab totals', () => {
    const lines = slabinfoTool(run).trimEnd().split('\n').slice(1);
    const objects = sum(lines.map((l) => Number(l.slice(22, 30))));
    expect(objects).toBe(sum(run.caches.map((c) => c.objects)));
    const rows = procRows(procSlabinfo(run));
    expect(objects).toBe(sum(rows.map((r) => r.active_objs)));
    const total = sum(
      lines.map((l) => {
        const [full, , cpu] = l.slice(55, 69).trim().split('/').map(Number);
        return full + cpu;
      }),
    );
    expect(total).toBe(sum(rows.map((r) => r.num_slabs)));
    expect(total).toBe(sum(run.caches.map((c) => c.slabs)));
  });

  it('skips caches with no slabs unless -z', () => {
    const plain = slabinfoTool(run).trimEnd().split('\n').length - 1;
    const all = slabinfoTool(run, { zero: true }).trimEnd().split('\n').slice(1);
    expect(plain).toBe(withSlabs.length);
    expect(all).toHaveLength(run.caches.length);
    const empty = all.find((l) => l.startsWith('kmalloc-8k '));
    // no slabs: %Fr and %Ef are 100 by the tool's rule
    expect(empty).toMatch(/^kmalloc-8k {19}0 {4}8192 {15}0 {10}0\/0\/0 {4}4 3 100 100 $/);
  });

  it('-D lists activity: allocations, frees, fast path shares, order fallbacks, CAS redos', () => {
    const lines = slabinfoTool(run, { activity: true }).trimEnd().split('\n');
    expect(lines[0]).toBe(ACTIVITY_HEADER);
    for (const c of withSlabs) {
      const s = c.stats;
      const alloc = s.alloc_fastpath.total + s.alloc_slowpath.total;
      const free = s.free_fastpath.total + s.free_slowpath.total;
      expect(lines).toContain(
        sprintf(
          '%-21s %8ld %10ld %10ld %3ld %3ld %5ld %1d %4ld %4ld',
          shownName(c),
          c.objects,
          alloc,
          free,
          alloc ? Math.floor((s.alloc_fastpath.total * 100) / alloc) : 0,
          free ? Math.floor((s.free_fastpath.total * 100) / free) : 0,
          s.order_fallback.total,
          c.order,
          s.cmpxchg_double_fail.total,
          s.cmpxchg_double_cpu_fail?.total ?? 0,
        ),
      );
    }
    expect(sum(lines.slice(1).map((l) => Number(l.slice(31, 41))))).toBe(
      sum(run.caches.map((c) => c.stats.alloc_fastpath.total + c.stats.alloc_slowpath.total)),
    );
  });

  it('-r prints the report of one cache: title, table, perf counters, deactivations', () => {
    const c = run.caches.find((x) => x.aliases.includes('report_objs')) as CacheReport;
    const text = slabinfoTool(run, { report: 'report_objs' });
    const lines = text.split('\n');
    const ps = run.config.pageSize << c.order;
    expect(lines[0]).toBe('');
    expect(lines[1]).toBe(
      sprintf('Slabcache: %-15s  Aliases: %2d Order : %2d Objects: %lu', 'report_objs', 1, c.order, c.objects),
    );
    expect(lines.slice(3, 10)).toEqual([
      'Sizes (bytes)     Slabs              Debug                Memory',
      '------------------------------------------------------------------------',
      sprintf('Object : %7d  Total  : %7ld   Sanity Checks : %s  Total: %7ld', c.object_size, c.slabs, 'Off', c.slabs * ps),
      sprintf(
        'SlabObj: %7d  Full   : %7ld   Redzoning     : %s  Used : %7ld',
        c.slab_size,
        c.slabs - c.partial - c.cpu_slabs,
        'Off',
        c.objects * c.object_size,
      ),
      sprintf(
        'SlabSiz: %7d  Partial: %7ld   Poisoning     : %s  Loss : %7ld',
        ps,
        c.partial,
        'Off',
        c.slabs * ps - c.objects * c.object_size,
      ),
      sprintf(
        'Loss   : %7d  CpuSlab: %7d   Tracking      : %s  Lalig: %7ld',
        c.slab_size - c.object_size,
        c.cpu_slabs,
        'Off',
        (c.slab_size - c.object_size) * c.objects,
      ),
      sprintf(
        'Align  : %7d  Objects: %7d   Tracing       : %s  Lpadd: %7ld',
        c.align,
        c.objs_per_slab,
        'Off',
        (ps - c.objs_per_slab * c.slab_size) * c.slabs,
      ),
    ]);
    expect(text).toContain('\nreport_objs has no kmem_cache operations\n');
    expect(text).toContain('\nreport_objs: Kernel object allocation\n' + '-'.repeat(71) + '\nNo Data\n');
    expect(text).toContain('\nreport_objs: Kernel object freeing\n' + '-'.repeat(72) + '\nNo Data\n');
    expect(text).toContain('\nreport_objs: No NUMA information available.\n'); // one node
    const s = c.stats;
    const alloc = s.alloc_fastpath.total + s.alloc_slowpath.total;
    const free = s.free_fastpath.total + s.free_slowpath.total;
    expect(s.alloc_slab.total).toBeGreaterThan(0);
    expect(text).toContain('\nSlab Perf Counter       Alloc     Free %Al %Fr\n' + '-'.repeat(50) + '\n');
    expect(text).toContain(
      `\n${sprintf('Fastpath             %8lu %8lu %3lu %3lu', s.alloc_fastpath.total, s.free_fastpath.total, Math.floor((s.alloc_fastpath.total * 100) / alloc), free ? Math.floor((s.free_fastpath.total * 100) / free) : 0)}\n`,
    );
    expect(text).toContain(`\n${sprintf('Total                %8lu %8lu', alloc, free)}\n\n`);
    expect(text.includes('\nFlushes ')).toBe((s.cpuslab_flush?.total ?? 0) > 0);
    const deact =
      (s.deactivate_full?.total ?? 0) +
      (s.deactivate_empty?.total ?? 0) +
      (s.deactivate_to_head?.total ?? 0) +
      (s.deactivate_to_tail?.total ?? 0) +
      (s.deactivate_bypass?.total ?? 0);
    expect(text.includes('\nSlab Deactivation             Occurrences %\n' + '-'.repeat(49) + '\n')).toBe(deact > 0);
    expect(text.includes('\nCmpxchg_double Looping\n------------------------\n')).toBe(
      s.cmpxchg_double_fail.total + (s.cmpxchg_double_cpu_fail?.total ?? 0) > 0,
    );
  });

  it('-r shows a NUMA table when a second node has slabs, and skips perf counters of an unused cache', async () => {
    const two = await savedRun({ workload: 'xmalloc', machine: { cpus: 2, nodes: 2 } });
    const c = two.caches.find((x) => x.per_node.some((n) => n.node === 1 && n.slabs > 0)) as CacheReport;
    expect(c).toBeDefined();
    const text = slabinfoTool(two, { report: c.name });
    const n = c.per_node;
    expect(text).toContain(
      `\nNUMA nodes           :    0    1\n--------------------------------\n${sprintf('%-21s  %4s %4s', 'All slabs', storeSize(n[0].slabs), storeSize(n[1].slabs))}\n${sprintf('%-21s  %4s %4s', 'Partial slabs', storeSize(n[0].partial), storeSize(n[1].partial))}\n`,
    );
    const unused = slabinfoTool(two, { report: 'kmalloc-8k' });
    expect(unused).toContain('Slabcache: kmalloc-8k       Aliases:  0 Order :  3 Objects: 0\n');
    expect(unused).not.toContain('Slab Perf Counter');
  });

  it('-r of an unknown cache is a SlabError EINVAL', () => {
    expect(() => slabinfoTool(run, { report: 'no_such_cache' })).toThrow(SlabError);
    expect(slabinfoTool(run, { report: ':0000064' })).toContain('Slabcache: kmalloc-64 ');
  });
});

describe('slabsim slabinfo RUN.json', () => {
  let file: string;
  let run: RunReport;
  beforeAll(async () => {
    run = await savedRun({ workload: 'threadtest' });
    file = join(tempDir('slabsim-slabinfo-'), 'run.json');
    writeFileSync(file, JSON.stringify(run));
  });

  it('prints the listing, the activity listing and a report, offline from the file', () => {
    const r = cli('slabinfo', file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(slabinfoTool(run));
    expect(cli('slabinfo', file, '-D', '-z').stdout).toBe(slabinfoTool(run, { activity: true, zero: true }));
    expect(cli('slabinfo', file, '-r', 'kmalloc-64').stdout).toBe(slabinfoTool(run, { report: 'kmalloc-64' }));
  });

  it.each([
    [['slabinfo', '/nonexistent/run.json'], /cannot read '\/nonexistent\/run\.json'/],
    [['slabinfo', 'MALFORMED'], /not JSON/],
    [['slabinfo', 'WRONG'], /not a slabsim run/],
    [['slabinfo', 'RUN', '-r', 'no_such_cache'], /no cache named 'no_such_cache'/],
    [['slabinfo'], /missing required argument/],
  ])('bad input %j exits 2 with one line', (args, message) => {
    const dir = tempDir('slabsim-bad-');
    writeFileSync(join(dir, 'malformed.json'), '{"schema": ');
    writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ ...run, caches: [{ name: 'x' }] }));
    const real = args.map((a) =>
      a === 'MALFORMED' ? join(dir, 'malformed.json') : a === 'WRONG' ? join(dir, 'wrong.json') : a === 'RUN' ? file : a,
    );
    const r = cli(...real);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
