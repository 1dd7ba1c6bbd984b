import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sprintf } from '../src/report/printf.js';
import { procBuddyinfo, procSlabinfo, SLABINFO_HEADER } from '../src/report/procfs.js';
import type { RunReport } from '../src/workload/run.js';
import { procRows, savedRun, sum } from './report_helpers.js';
import { tempDir } from './temp.js';

// The kernel's header lines (mm/slab_common.c print_slabinfo_header), written out whole.
const HEADER_1 = 'slabinfo - version: 2.1';
const HEADER_2 =
  '# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>';

describe('/proc/slabinfo from a saved run', () => {
  let run: RunReport;
  let text: string;
  beforeAll(async () => {
    // A cache of 64-byte objects merges into kmalloc-64: an alias that must get no row.
    run = await savedRun({ workload: 'threadtest', cache: 'report_objs', maxSize: 64 });
    text = procSlabinfo(run);
  });

  it('starts with the kernel header lines', () => {
    const lines = text.split('\n');
    expect(lines[0]).toBe(HEADER_1);
    expect(lines[1]).toBe(HEADER_2);
    expect(SLABINFO_HEADER).toBe(`${HEADER_1}\n${HEADER_2}\n`);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('has one row per cache, newest first (list_add at the head of slab_caches), none for aliases', () => {
    const merged = run.caches.find((c) => c.aliases.includes('report_objs'));
    expect(merged?.name).toBe('kmalloc-64');
    const names = procRows(text).map((r) => r.name);
    expect(names).toEqual(run.caches.map((c) => c.name).reverse());
    expect(names).not.toContain('report_objs');
  });

  it('prints every row with the kernel format and column widths', () => {
    const row =
      /^(.{17}) ([ \d]{5}\d) ([ \d]{5}\d) ([ \d]{5}\d) ([ \d]{3}\d) ([ \d]{3}\d) : tunables {4}0 {4}0 {4}0 : slabdata ([ \d]{5}\d) ([ \d]{5}\d) {6}0$/;
    const lines = text.split('\n').slice(2, -1);
    expect(lines).toHaveLength(run.caches.length);
    for (const line of lines) expect(line).toMatch(row);
    for (const c of run.caches) {
      const expected = sprintf(
        '%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu',
        c.name,
        c.objects,
        c.total_objects,
        c.slab_size,
        c.objs_per_slab,
        1 << c.order,
        0,
        0,
        0,
        c.slabs,
        c.slabs,
        0,
      );
      expect(lines).toContain(expected);
    }
  });

  it('agrees with the JSON: active objects, objects, sizes and slabs per cache', () => {
    const rows = procRows(text);
    for (const c of run.caches) {
      const r = rows.find((x) => x.name === c.name);
      expect(r).toEqual({
        name: c.name,
        active_objs: c.objects,
        num_objs: c.total_objects,
        objsize: c.slab_size,
        objperslab: c.objs_per_slab,
        pagesperslab: 1 << c.order,
        active_slabs: c.slabs,
        num_slabs: c.slabs,
      });
    }
    // and with the page accounting: slab pages are what the buddy allocator is missing
    expect(sum(run.caches.map((c) => c.slabs << c.order))).toBe(run.pages.slab);
    expect(sum(rows.map((r) => r.num_slabs * r.pagesperslab))).toBe(run.pages.slab);
    expect(sum(rows.map((r) => r.active_objs))).toBeGreaterThan(0);
  });

  it('rebuilds /proc/buddyinfo from the counts in the JSON', () => {
    const lines = procBuddyinfo(run).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(run.config.nodes);
    run.pages.buddyinfo.forEach((b, i) => {
      expect(lines[i]).toBe(`Node ${b.node}, zone   Normal ${b.nr_free.map((n) => sprintf('%6lu ', n)).join('')}`);
      expect(lines[i]).toMatch(/^Node \d+, zone {3}Normal ( {0,5}\d+ ){11}$/);
    });
    const free = sum(
      lines.flatMap((l) =>
        l
          .split(/\s+/)
          .slice(4, -1)
          .map((n, k) => Number(n) << k),
      ),
    );
    expect(free).toBe(run.pages.free);
    expect(run.pages.total - free).toBe(run.pages.slab);
  });

  it('is empty, header included, when the run had no caches (slab_show prints it with the first row)', async () => {
    const pages = await savedRun({ workload: 'pages' });
    expect(pages.caches).toEqual([]);
    expect(procSlabinfo(pages)).toBe('');
  });

  it('is read by the real slabtop (procps) with the same object, slab and cache totals', () => {
    const which = spawnSync('sh', ['-c', 'command -v slabtop'], { encoding: 'utf8' });
    expect(
      which.status,
      'slabtop is missing: it comes with the Debian package procps (scripts/install-system-deps.sh installs it)',
    ).toBe(0);
    const dir = tempDir('slabsim-proc-');
    const file = join(dir, 'slabinfo');
    writeFileSync(file, text);
    // slabtop reads /proc/slabinfo only: show it our file in a private mount namespace.
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "${file}" /proc/slabinfo && exec slabtop -o`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr, 'unshare -m + mount --bind needs root (CAP_SYS_ADMIN)').toBe('');
    expect(r.status).toBe(0);
    const totals = (label: string): [number, number] => {
      const m = new RegExp(`Active / Total ${label} \\(% used\\)\\s*: (\\d+) / (\\d+)`).exec(r.stdout);
      expect(m, `slabtop printed no "${label}" line:\n${r.stdout}`).not.toBeNull();
      return [Number(m?.[1]), Number(m?.[2])];
    };
    expect(totals('Objects')).toEqual([sum(run.caches.map((c) => c.objects)), sum(run.caches.map((c) => c.total_objects))]);
    const slabs = sum(run.caches.map((c) => c.slabs));
    expect(totals('Slabs')).toEqual([slabs, slabs]);
    expect(totals('Caches')[1]).toBe(run.caches.length);
    // and each cache's own line: OBJS ACTIVE USE OBJ-SIZE SLABS OBJ/SLAB CACHE-SIZE NAME
    for (const c of run.caches) {
      const line = r.stdout.split('\n').find((l) => l.trim().split(/\s+/)[7] === c.name);
      expect(line, `slabtop has no line for ${c.name}`).toBeDefined();
      const f = (line as string).trim().split(/\s+/);
      expect([Number(f[0]), Number(f[1]), Number(f[4]), Number(f[5])]).toEqual([
        c.total_objects,
        c.objects,
        c.slabs,
        c.objs_per_slab,
      ]);
    }
  });
});
