// Every object workload, both profiles, on 1, 2 and 4 CPU workers: ledger and validate
// clean, and the JSON, /proc/slabinfo, sysfs and buddyinfo views of the final state agree.
import { describe, expect, it } from 'vitest';
import type { Profile } from '../src/config.js';
import { procBuddyinfo, procSlabinfo } from '../src/report/procfs.js';
import { sysfsTree } from '../src/report/sysfs.js';
import { runWorkload } from '../src/workload/run.js';
import { OBJECT_WORKLOADS } from '../src/workload/task.js';
import { procRows, sum } from './report_helpers.js';
import { keptPools } from './helpers.js';

const pools = keptPools();

describe.each(OBJECT_WORKLOADS.map((w) => [w]))('workload %s', (workload) => {
  it.each(['5.4', '6.6'] as Profile[])('profile %s on 1, 2 and 4 CPUs: clean, and every output agrees', async (profile) => {
    for (const cpus of [1, 2, 4]) {
      const r = await runWorkload({
        workload,
        machine: { cpus, profile, memory: 16 << 20 },
        ops: 12_000,
        seed: cpus,
        irqRate: 0.01,
        slots: 32,
        pool: await pools(cpus),
      });
      expect(r.checks.messages, `${workload} ${profile} ${cpus} CPUs`).toEqual([]);
      expect(r.checks.ok).toBe(true);
      expect(r.pages.total - r.pages.free).toBe(r.pages.slab);
      // /proc/slabinfo: one row per cache, the same objects and slabs as the JSON
      const rows = procRows(procSlabinfo(r));
      expect(rows).toHaveLength(r.caches.length);
      expect(sum(rows.map((x) => x.active_objs))).toBe(sum(r.caches.map((c) => c.objects)));
      expect(sum(rows.map((x) => x.num_objs))).toBe(sum(r.caches.map((c) => c.total_objects)));
      expect(sum(rows.map((x) => x.num_slabs))).toBe(sum(r.caches.map((c) => c.slabs)));
      // sysfs: the slabs and objects files carry the same totals
      const tree = sysfsTree(r);
      const first = (text: string) => Number(text.trim().split(/\s+/)[0]);
      expect(sum(tree.dirs.map((d) => first(d.files.slabs)))).toBe(sum(r.caches.map((c) => c.slabs)));
      expect(sum(tree.dirs.map((d) => first(d.files.objects)))).toBe(sum(r.caches.map((c) => c.objects)));
      // buddyinfo: the free blocks add up to the free pages of the JSON
      const free = procBuddyinfo(r)
        .trim()
        .split('\n')
        .reduce(
          (acc, line) =>
            acc +
            line
              .trim()
              .split(/\s+/)
              .slice(4)
              .reduce((s, n, k) => s + Number(n) * 2 ** k, 0),
          0,
        );
      expect(free).toBe(r.pages.free);
    }
  });
});
