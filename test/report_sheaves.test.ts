// The kernel-format reports of runs on the sheaf profiles: the sysfs files 6.18 and 7.0
// show (sheaf_capacity; 7.0's cpu_partial 0, slabs_cpu_partial "0(0)", cpu_slabs 0;
// each profile's stat files and no others), /proc/slabinfo, the slabinfo tool and JSON.
import { beforeAll, describe, expect, it } from 'vitest';
import { procSlabinfo } from '../src/report/procfs.js';
import { slabinfoTool } from '../src/report/slabinfo_tool.js';
import { sysfsTree } from '../src/report/sysfs.js';
import { PROFILE_STAT_ITEMS, STAT_ITEMS } from '../src/shm/structs.js';
import type { RunReport } from '../src/workload/run.js';
import { procRows, savedRun } from './report_helpers.js';

describe.each(['6.18', '7.0'] as const)('reports of a %s run', (profile) => {
  let run: RunReport;
  beforeAll(async () => {
    run = await savedRun({ workload: 'xmalloc', machine: { cpus: 2, profile }, cache: 'objs', sheafCapacity: 32, maxSize: 64 });
  });

  it('sysfs: sheaf_capacity, and exactly the stat files of the profile', () => {
    const tree = sysfsTree(run);
    // 6.18: a cache with sheaves is unmergeable, so named by its name. 7.0: unmerged only
    // because it asked for sheaves; its unique id ":0000064" is kmalloc-64's already, so
    // kobject_init_and_add() fails and it has no directory (nor a link).
    const dir = tree.dirs.find((d) => d.name === (profile === '6.18' ? 'objs' : ':0000064'));
    expect(dir).toBeDefined();
    expect(tree.links.some((l) => l.name === 'objs')).toBe(false);
    const files = dir?.files ?? {};
    // 6.18: the creator's 32; 7.0 (kmalloc-64): 60 for 64-byte objects
    expect(files.sheaf_capacity).toBe(profile === '6.18' ? '32\n' : '60\n');
    for (const item of STAT_ITEMS) expect(item in files, item).toBe(PROFILE_STAT_ITEMS[profile].includes(item));
    expect('alloc_cpu_sheaf' in files).toBe(profile === '6.18');
    expect('cpuslab_flush' in files).toBe(profile === '6.18');
    const kmalloc8 = tree.dirs.find((d) => d.name === ':0000008')?.files ?? {};
    // 6.18: no sheaves for kmalloc caches; 7.0: all of them (capacity 60 below 256 bytes)
    expect(kmalloc8.sheaf_capacity).toBe(profile === '6.18' ? '0\n' : '60\n');
    if (profile === '7.0') {
      expect([files.cpu_partial, files.slabs_cpu_partial, files.cpu_slabs]).toEqual(['0\n', '0(0)\n', '0\n']);
    } else {
      expect(files.cpu_partial).toBe('120\n');
    }
  });

  it('the JSON: sheaf counts per CPU and barns per node, the profile stat items, sheaf hits counted', () => {
    const c = run.caches.find((x) => x.name === 'objs');
    expect(c?.sheaf_capacity).toBe(profile === '6.18' ? 32 : 60);
    expect(Object.keys(c?.stats ?? {})).toEqual([...PROFILE_STAT_ITEMS[profile]]);
    expect(c?.per_cpu.every((p) => p.main_sheaf >= 0 && p.main_sheaf <= (c?.sheaf_capacity ?? 0))).toBe(true);
    expect(c?.per_node[0].barn_full).toBeGreaterThanOrEqual(0);
    const hits = profile === '6.18' ? c?.stats.alloc_cpu_sheaf?.total : c?.stats.alloc_fastpath.total;
    expect(hits).toBeGreaterThan(0);
  });

  it('/proc/slabinfo and the slabinfo tool read it as they read any run', () => {
    const rows = procRows(procSlabinfo(run));
    const objs = rows.find((r) => r.name === 'objs');
    expect(objs).toMatchObject({ objsize: 64, objperslab: 64 });
    // Objects cached in sheaves are allocated from the slabs' point of view: active.
    const c = run.caches.find((x) => x.name === 'objs');
    expect(objs?.active_objs).toBe(c?.objects);
    // The tool reads sysfs: 7.0's objs has no directory there.
    expect(/^objs +\d+ +64 /m.test(slabinfoTool(run))).toBe(profile === '6.18');
  });
});
