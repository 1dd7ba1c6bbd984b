import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SLAB_FLAGS } from '../src/mm/slub/geometry.js';
import { procBuddyinfo, procSlabinfo } from '../src/report/procfs.js';
import { sysfsTree, writeSysfsTree } from '../src/report/sysfs.js';
import { PROFILE_STAT_ITEMS } from '../src/shm/structs.js';
import type { RunReport } from '../src/workload/run.js';
import { procRows, savedRun, sum } from './report_helpers.js';
import { tempDir } from './temp.js';

/** show_slab_objects(): the total, then " N<node>=<n>" for the nodes that have some. */
const SLAB_OBJECTS = /^(\d+)((?: N\d+=[1-9]\d*)*)\n$/;
/** show_stat(): the sum, then " C<cpu>=<n>" for the CPUs that counted some. */
const STAT = /^(\d+)((?: C\d+=[1-9]\d*)*)\n$/;

const read = (dir: string, cache: string, file: string): string => readFileSync(join(dir, cache, file), 'utf8');

/** A slab-objects file: its total and its per-node parts (absent nodes 0). */
function perNode(text: string, nodes: number): { total: number; nodes: number[] } {
  const m = SLAB_OBJECTS.exec(text);
  expect(m, `not a show_slab_objects text: ${JSON.stringify(text)}`).not.toBeNull();
  const out = new Array<number>(nodes).fill(0);
  for (const [, node, n] of (m?.[2] ?? '').matchAll(/ N(\d+)=(\d+)/g)) out[Number(node)] = Number(n);
  return { total: Number(m?.[1]), nodes: out };
}

const freshDir = (): string => tempDir('slabsim-sysfs-');

describe('/sys/kernel/slab tree from a saved run (5.4, 2 nodes, a merged cache)', () => {
  let run: RunReport;
  let root: string;
  let dir: string;
  beforeAll(async () => {
    run = await savedRun({ workload: 'xmalloc', machine: { cpus: 2, nodes: 2 }, cache: 'report_objs', maxSize: 64 });
    root = freshDir();
    dir = join(root, 'slab');
    writeSysfsTree(run, dir);
  });

  it('has one directory per cache and a symlink for each name of a merged cache', () => {
    const entries = readdirSync(dir).sort();
    const dirs = run.caches.map((c) => c.sysfs_name);
    const links = run.caches.flatMap((c) => [c.name, ...c.aliases].filter((n) => n !== c.sysfs_name));
    expect(entries).toEqual([...dirs, ...links].sort());
    for (const c of run.caches) {
      expect(lstatSync(join(dir, c.sysfs_name)).isDirectory()).toBe(true);
      for (const name of [c.name, ...c.aliases]) {
        if (name === c.sysfs_name) continue;
        expect(readlinkSync(join(dir, name))).toBe(c.sysfs_name);
        expect(statSync(join(dir, name)).isDirectory()).toBe(true);
      }
    }
    const merged = run.caches.find((c) => c.aliases.includes('report_objs'));
    expect(merged?.sysfs_name).toBe(':0000064');
    expect(readlinkSync(join(dir, 'report_objs'))).toBe(':0000064');
    expect(read(dir, 'report_objs', 'aliases')).toBe('1\n');
    expect(readdirSync(root)).toEqual(['slab']); // no temporary directory left behind
  });

  it('agrees with the JSON and /proc/slabinfo: objects, slabs, partial, per node', () => {
    const nodes = run.config.nodes;
    const rows = procRows(procSlabinfo(run));
    for (const c of run.caches) {
      const d = c.sysfs_name;
      const slabs = perNode(read(dir, d, 'slabs'), nodes);
      const objects = perNode(read(dir, d, 'objects'), nodes);
      const total = perNode(read(dir, d, 'total_objects'), nodes);
      const partial = perNode(read(dir, d, 'partial'), nodes);
      const objPartial = perNode(read(dir, d, 'objects_partial'), nodes);
      const cpuSlabs = perNode(read(dir, d, 'cpu_slabs'), nodes);
      expect([slabs.total, objects.total, total.total, partial.total, objPartial.total, cpuSlabs.total]).toEqual([
        c.slabs,
        c.objects,
        c.total_objects,
        c.partial,
        c.objects_partial,
        c.cpu_slabs,
      ]);
      for (const f of [slabs, objects, total, partial, objPartial, cpuSlabs]) expect(sum(f.nodes)).toBe(f.total);
      for (const n of c.per_node) {
        expect([slabs.nodes[n.node], objects.nodes[n.node], total.nodes[n.node], partial.nodes[n.node]]).toEqual([
          n.slabs,
          n.objects,
          n.total_objects,
          n.partial,
        ]);
      }
      const row = rows.find((r) => r.name === c.name);
      expect([row?.active_objs, row?.num_objs, row?.num_slabs, row?.objsize, row?.objperslab]).toEqual([
        objects.total,
        total.total,
        slabs.total,
        Number(read(dir, d, 'slab_size')),
        Number(read(dir, d, 'objs_per_slab')),
      ]);
    }
    // Two nodes and slabs on both: the N1= parts are there.
    expect(run.caches.some((c) => /N1=/.test(read(dir, c.sysfs_name, 'slabs')))).toBe(true);
  });

  it('agrees with /proc/buddyinfo: the pages the slabs hold are the pages the buddy allocator lacks', () => {
    const slabPages = sum(
      run.caches.map((c) => Number(read(dir, c.sysfs_name, 'slabs').split(' ')[0]) << Number(read(dir, c.sysfs_name, 'order'))),
    );
    const free = sum(
      procBuddyinfo(run)
        .trim()
        .split('\n')
        .flatMap((l) =>
          l
            .trim()
            .split(/\s+/)
            .slice(4)
            .map((n, k) => Number(n) << k),
        ),
    );
    expect(slabPages).toBe(run.pages.slab);
    expect(run.pages.total - free).toBe(slabPages);
  });

  it('writes one file per stat item as "<sum> C<cpu>=<n>", listing only CPUs that counted', () => {
    for (const c of run.caches) {
      for (const item of PROFILE_STAT_ITEMS[run.config.profile]) {
        const text = read(dir, c.sysfs_name, item);
        const m = STAT.exec(text);
        expect(m, `${c.sysfs_name}/${item}: ${JSON.stringify(text)}`).not.toBeNull();
        const parts = [...(m?.[2] ?? '').matchAll(/ C(\d+)=(\d+)/g)].map(([, cpu, n]) => [Number(cpu), Number(n)]);
        const st = c.stats[item] ?? { total: -1, per_cpu: [] };
        expect(Number(m?.[1])).toBe(st.total);
        expect(sum(parts.map(([, n]) => n))).toBe(st.total);
        expect(parts).toEqual(st.per_cpu.flatMap((n, cpu) => (n ? [[cpu, n]] : [])));
      }
    }
    const busy = run.caches.find((c) => c.stats.alloc_fastpath.per_cpu.every((n) => n > 0));
    expect(busy && read(dir, busy.sysfs_name, 'alloc_fastpath')).toMatch(/^\d+ C0=\d+ C1=\d+\n$/);
  });

  it('writes the geometry and flag files as the *_show functions print them', () => {
    for (const c of run.caches) {
      const d = c.sysfs_name;
      for (const [file, value] of [
        ['object_size', c.object_size],
        ['slab_size', c.slab_size],
        ['align', c.align],
        ['order', c.order],
        ['objs_per_slab', c.objs_per_slab],
        ['min_partial', c.min_partial],
        ['cpu_partial', c.cpu_partial],
        ['aliases', c.aliases.length],
        ['remote_node_defrag_ratio', c.remote_node_defrag_ratio / 10],
      ] as const) {
        expect(read(dir, d, file), `${d}/${file}`).toBe(`${value}\n`);
      }
      for (const [file, bit] of [
        ['reclaim_account', SLAB_FLAGS.reclaim_account],
        ['hwcache_align', SLAB_FLAGS.hwcache_align],
        ['poison', SLAB_FLAGS.poison],
        ['red_zone', SLAB_FLAGS.red_zone],
        ['store_user', SLAB_FLAGS.store_user],
        ['sanity_checks', SLAB_FLAGS.consistency_checks],
        ['trace', SLAB_FLAGS.trace],
        ['cache_dma', SLAB_FLAGS.cache_dma],
        ['destroy_by_rcu', SLAB_FLAGS.typesafe_by_rcu],
      ] as const) {
        expect(read(dir, d, file), `${d}/${file}`).toBe(c.flags & bit ? '1\n' : '0\n');
      }
      // 5.4: Σ page->pobjects (Σ page->pages) over the cpu-partial heads, then per CPU
      expect(read(dir, d, 'slabs_cpu_partial')).toMatch(/^\d+\(\d+\)( C\d+=\d+\(\d+\))*\n$/);
      expect(read(dir, d, 'shrink')).toBe('');
    }
  });

  it('replaces an empty directory whole', () => {
    const target = join(freshDir(), 'slab');
    mkdirSync(target);
    writeSysfsTree(run, target);
    expect(readdirSync(target).length).toBeGreaterThan(run.caches.length);
  });

  it('refuses a non-empty directory and leaves it and its parent as they were', () => {
    const parent = freshDir();
    const target = join(parent, 'slab');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    expect(() => writeSysfsTree(run, target)).toThrow(/not empty/);
    expect(readdirSync(target)).toEqual(['keep']);
    expect(readdirSync(parent)).toEqual(['slab']);
  });

  it('writes nothing when building the tree fails half way (the temporary directory is removed)', () => {
    const parent = freshDir();
    const target = join(parent, 'slab');
    // A name that is also a directory: its symlink fails after every file was written.
    // (Two caches with one directory name no longer fail: the kernel skips the second.)
    const clash = { ...run.caches[3], name: 'other', sysfs_name: 'other', aliases: [run.caches[0].sysfs_name] };
    const broken: RunReport = { ...run, caches: [...run.caches, clash] };
    expect(() => writeSysfsTree(broken, target)).toThrow(/EEXIST/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('fails when the parent directory does not exist, leaving nothing', () => {
    const parent = freshDir();
    expect(() => writeSysfsTree(run, join(parent, 'missing', 'slab'))).toThrow(/ENOENT/);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('/sys/kernel/slab tree, profile 6.6', () => {
  it('estimates slabs_cpu_partial objects as half-full slabs (slabs * objs_per_slab / 2)', async () => {
    const run = await savedRun({ workload: 'threadtest', machine: { cpus: 2, profile: '6.6' } });
    const tree = sysfsTree(run);
    for (const c of run.caches) {
      const files = tree.dirs.find((d) => d.name === c.sysfs_name)?.files ?? {};
      const lists = c.per_cpu.filter((p) => p.partial_node !== null);
      const slabs = sum(lists.map((p) => p.partial_slabs));
      const half = (n: number): number => Math.floor((n * c.objs_per_slab) / 2);
      expect(files.slabs_cpu_partial).toBe(
        `${half(slabs)}(${slabs})${lists.map((p) => ` C${p.cpu}=${half(p.partial_slabs)}(${p.partial_slabs})`).join('')}\n`,
      );
      expect(files.cpu_partial).toBe(`${c.cpu_partial}\n`);
      // a CPU is counted only with a cpu slab, and then with its cpu-partial list
      const cpuSlabs = sum(
        c.per_cpu.map((p) => (p.cpu_slab_node === null ? 0 : 1 + (p.partial_node === null ? 0 : p.partial_slabs))),
      );
      expect(files.cpu_slabs).toBe(cpuSlabs ? `${cpuSlabs} N0=${cpuSlabs}\n` : '0\n');
    }
    expect(run.caches.some((c) => c.cpu_slabs > 0)).toBe(true);
  });
});
