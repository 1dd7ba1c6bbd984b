// Per-cache numbers with the kernel's meanings (sysfs /sys/kernel/slab/<cache>/ and
// /proc/slabinfo, spec section 11), computed from the machine after a run.
import { cacheNames, liveCacheIds, sysfsName } from '../mm/slub/cache.js';
import { type KmemCache, cacheById, cpuPartial, minPartial } from '../mm/slub/kmem_cache.js';
import type { Machine } from '../shm/machine.js';
import { pageOff } from '../shm/machine.js';
import { listPfns } from '../mm/slub/walk.js';
import { CACHE_CPU, CACHE_NODE, KMEM_CACHE, NIL, PAGE, SLAB_COUNTERS, STAT_ITEMS, type StatItem } from '../shm/structs.js';
import { inuseOf, objectsOf } from '../shm/word.js';

export interface StatValue {
  total: number;
  per_cpu: number[];
}

export interface CacheReport {
  name: string;
  /** the /sys/kernel/slab directory: the name, or ":0000064" for a mergeable cache */
  sysfs_name: string;
  aliases: string[];
  object_size: number;
  slab_size: number;
  align: number;
  order: number;
  objs_per_slab: number;
  min_partial: number;
  cpu_partial: number;
  slabs: number;
  partial: number;
  cpu_slabs: number;
  /** total_objects less the free objects of node partial slabs (cpu-held free objects count as used) */
  objects: number;
  total_objects: number;
  objects_partial: number;
  per_node: Array<{ node: number; slabs: number; partial: number; total_objects: number }>;
  stats: Record<StatItem, StatValue>;
}

export function statsOf(s: KmemCache): Record<StatItem, StatValue> {
  const out = {} as Record<StatItem, StatValue>;
  STAT_ITEMS.forEach((name, i) => {
    const per = Array.from({ length: s.m.cfg.cpus }, (_, cpu) => s.m.u32[s.cpu0 + cpu * CACHE_CPU.STRIDE + CACHE_CPU.stat + i]);
    out[name] = { total: per.reduce((a, b) => a + b, 0), per_cpu: per };
  });
  return out;
}

export function cacheReport(m: Machine, id: number): CacheReport {
  const s = cacheById(m, id);
  let slabs = 0;
  let partial = 0;
  let totalObjects = 0;
  let partialFree = 0;
  let partialInuse = 0;
  const perNode = [];
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    const ns = m.u32[n + CACHE_NODE.nrSlabs];
    const np = m.u32[n + CACHE_NODE.nrPartial];
    const nt = m.u32[n + CACHE_NODE.totalObjects];
    slabs += ns;
    partial += np;
    totalObjects += nt;
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.partialHead])) {
      const c = m.u32[pageOff(m, pfn) + SLAB_COUNTERS];
      partialFree += objectsOf(c) - inuseOf(c);
      partialInuse += inuseOf(c);
    }
    perNode.push({ node, slabs: ns, partial: np, total_objects: nt });
  }
  const names = cacheNames(m, id);
  return {
    name: s.name,
    sysfs_name: sysfsName(m, id),
    aliases: names.slice(1),
    object_size: m.u32[s.base + KMEM_CACHE.objectSize],
    slab_size: s.size,
    align: m.u32[s.base + KMEM_CACHE.align],
    order: s.order,
    objs_per_slab: s.objects,
    min_partial: minPartial(s),
    cpu_partial: cpuPartial(s),
    slabs,
    partial,
    cpu_slabs: cpuSlabs(s),
    objects: totalObjects - partialFree,
    total_objects: totalObjects,
    objects_partial: partialInuse,
    per_node: perNode,
    stats: statsOf(s),
  };
}

/** sysfs cpu_slabs: CPUs with a cpu slab, plus the head's slab count of each cpu-partial list. */
function cpuSlabs(s: KmemCache): number {
  let n = 0;
  for (let cpu = 0; cpu < s.m.cfg.cpus; cpu++) {
    const c = s.cpu0 + cpu * CACHE_CPU.STRIDE;
    if (s.m.u32[c + CACHE_CPU.page] !== NIL) n++;
    const head = s.m.u32[c + CACHE_CPU.partial];
    if (head !== NIL) n += s.m.u32[pageOff(s.m, head) + PAGE.pages];
  }
  return n;
}

export const allCacheReports = (m: Machine): CacheReport[] => liveCacheIds(m).map((id) => cacheReport(m, id));
