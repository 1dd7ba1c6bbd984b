// Per-cache numbers with the kernel's meanings (sysfs /sys/kernel/slab/<cache>/ and
// /proc/slabinfo, spec section 11), computed from the machine after a run.
import { cacheNames, liveCacheIds, sysfsName } from '../mm/slub/cache.js';
import { SLAB_FLAGS } from '../mm/slub/geometry.js';
import { type KmemCache, cacheById, cpuPartial, minPartial, remoteNodeDefragRatio } from '../mm/slub/kmem_cache.js';
import type { Machine } from '../shm/machine.js';
import { pageOff, pfnNode } from '../shm/machine.js';
import { listPfns } from '../mm/slub/walk.js';
import {
  CACHE_CPU,
  CACHE_NODE,
  type CommonStatItem,
  KMEM_CACHE,
  NIL,
  PAGE,
  PROFILE_STAT_ITEMS,
  SLAB_COUNTERS,
  STAT_ITEMS,
  type StatItem,
} from '../shm/structs.js';
import { sheafSize } from '../mm/slub/sheaf.js';
import { inuseOf, objectsOf } from '../shm/word.js';

export interface StatValue {
  total: number;
  per_cpu: number[];
}

/** A cache's stat items: those of its profile (PROFILE_STAT_ITEMS), the common ones always. */
export type CacheStats = Record<CommonStatItem, StatValue> & Partial<Record<StatItem, StatValue>>;

/** One node's share of a cache (the ` N<node>=` parts of the sysfs files). */
export interface NodeReport {
  node: number;
  slabs: number;
  partial: number;
  total_objects: number;
  /** total_objects less the free objects of this node's partial slabs */
  objects: number;
  /** Σ inuse over this node's partial slabs */
  objects_partial: number;
  /** cpu_slabs counted on this node (by the node of each cpu slab and cpu-partial head) */
  cpu_slabs: number;
  /** 6.18, 7.0: the node's barn (nr_full, nr_empty); 0 for a cache without sheaves */
  barn_full: number;
  barn_empty: number;
}

/** One CPU's slabs of a cache: what show_slab_objects(SO_CPU) and slabs_cpu_partial read. */
export interface CpuSlabsReport {
  cpu: number;
  /** node of c->page / c->slab, null if the CPU has no cpu slab */
  cpu_slab_node: number | null;
  /** node of the head of c->partial, null if the list is empty */
  partial_node: number | null;
  /** the head's page->pages (5.4) / slab->slabs (6.6): slabs on the list */
  partial_slabs: number;
  /** the head's page->pobjects (5.4 only; 0 on 6.6, where sysfs estimates half-full slabs) */
  partial_objects: number;
  /** 6.18, 7.0: objects in the main sheaf and the spare (-1: no spare) */
  main_sheaf: number;
  spare_sheaf: number;
}

export interface CacheReport {
  name: string;
  /** the /sys/kernel/slab directory: the name, or ":0000064" for a mergeable cache */
  sysfs_name: string;
  aliases: string[];
  /** s->flags: SLAB_* bits (mm/slub/geometry.ts SLAB_FLAGS) */
  flags: number;
  /** the names of the SLAB_FLAGS bits set in `flags` */
  flag_names: string[];
  object_size: number;
  slab_size: number;
  align: number;
  order: number;
  objs_per_slab: number;
  min_partial: number;
  cpu_partial: number;
  /** s->sheaf_capacity (6.18, 7.0; 0 for none) */
  sheaf_capacity: number;
  /** s->remote_node_defrag_ratio (sysfs shows it divided by 10) */
  remote_node_defrag_ratio: number;
  slabs: number;
  partial: number;
  /**
   * sysfs cpu_slabs: CPUs with a cpu slab, plus the head's slab count of the cpu-partial
   * list of each of those CPUs (show_slab_objects skips a CPU without a cpu slab, partial
   * list included)
   */
  cpu_slabs: number;
  /** total_objects less the free objects of node partial slabs (cpu-held free objects count as used) */
  objects: number;
  total_objects: number;
  objects_partial: number;
  per_node: NodeReport[];
  per_cpu: CpuSlabsReport[];
  /** the stat items of the run's profile, in its kernel order */
  stats: CacheStats;
}

export function statsOf(s: KmemCache): CacheStats {
  const out: Partial<Record<StatItem, StatValue>> = {};
  for (const name of PROFILE_STAT_ITEMS[s.profile]) {
    const i = STAT_ITEMS.indexOf(name);
    const per = Array.from({ length: s.m.cfg.cpus }, (_, cpu) => s.m.u32[s.cpu0 + cpu * CACHE_CPU.STRIDE + CACHE_CPU.stat + i]);
    out[name] = { total: per.reduce((a, b) => a + b, 0), per_cpu: per };
  }
  return out as CacheStats;
}

export function cacheReport(m: Machine, id: number): CacheReport {
  const s = cacheById(m, id);
  const perCpu = cpuSlabsOf(s);
  const perNode: NodeReport[] = [];
  for (let node = 0; node < m.cfg.nodes; node++) {
    const n = s.node0 + node * CACHE_NODE.STRIDE;
    let partialFree = 0;
    let partialInuse = 0;
    for (const pfn of listPfns(m, m.u32[n + CACHE_NODE.partialHead])) {
      const c = m.u32[pageOff(m, pfn) + SLAB_COUNTERS];
      partialFree += objectsOf(c) - inuseOf(c);
      partialInuse += inuseOf(c);
    }
    const totalObjects = m.u32[n + CACHE_NODE.totalObjects];
    perNode.push({
      node,
      slabs: m.u32[n + CACHE_NODE.nrSlabs],
      partial: m.u32[n + CACHE_NODE.nrPartial],
      total_objects: totalObjects,
      objects: totalObjects - partialFree,
      objects_partial: partialInuse,
      cpu_slabs: 0,
      barn_full: m.u32[n + CACHE_NODE.nrFull],
      barn_empty: m.u32[n + CACHE_NODE.nrEmpty],
    });
  }
  // show_slab_objects(SO_CPU): a CPU without a cpu slab is skipped, cpu-partial list and all.
  for (const c of perCpu) {
    if (c.cpu_slab_node === null) continue;
    perNode[c.cpu_slab_node].cpu_slabs++;
    if (c.partial_node !== null) perNode[c.partial_node].cpu_slabs += c.partial_slabs;
  }
  const sum = (k: keyof NodeReport): number => perNode.reduce((a, n) => a + n[k], 0);
  const names = cacheNames(m, id);
  return {
    name: s.name,
    sysfs_name: sysfsName(m, id),
    aliases: names.slice(1),
    flags: s.flags,
    flag_names: flagNames(s.flags),
    object_size: m.u32[s.base + KMEM_CACHE.objectSize],
    slab_size: s.size,
    align: m.u32[s.base + KMEM_CACHE.align],
    order: s.order,
    objs_per_slab: s.objects,
    min_partial: minPartial(s),
    cpu_partial: cpuPartial(s),
    sheaf_capacity: s.sheafCapacity,
    remote_node_defrag_ratio: remoteNodeDefragRatio(s),
    slabs: sum('slabs'),
    partial: sum('partial'),
    cpu_slabs: sum('cpu_slabs'),
    objects: sum('objects'),
    total_objects: sum('total_objects'),
    objects_partial: sum('objects_partial'),
    per_node: perNode,
    per_cpu: perCpu,
    stats: statsOf(s),
  };
}

/** The names of the SLAB_FLAGS bits set in `flags`, in bit order. */
export const flagNames = (flags: number): string[] =>
  Object.entries(SLAB_FLAGS)
    .filter(([, bit]) => (flags & bit) !== 0)
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => name);

/** Each CPU's cpu slab and cpu-partial head, with their nodes and the head's counters. */
function cpuSlabsOf(s: KmemCache): CpuSlabsReport[] {
  const m = s.m;
  return Array.from({ length: m.cfg.cpus }, (_, cpu) => {
    const c = s.cpu0 + cpu * CACHE_CPU.STRIDE;
    const page = m.u32[c + CACHE_CPU.page];
    const head = m.u32[c + CACHE_CPU.partial];
    const h = head === NIL ? -1 : pageOff(m, head);
    return {
      cpu,
      cpu_slab_node: page === NIL ? null : pfnNode(m, page),
      partial_node: head === NIL ? null : pfnNode(m, head),
      partial_slabs: h < 0 ? 0 : m.u32[h + PAGE.pages],
      partial_objects: h < 0 || s.v66 ? 0 : m.u32[h + PAGE.pobjects],
      main_sheaf: m.u32[c + CACHE_CPU.main] === 0 ? 0 : sheafSize(m, m.u32[c + CACHE_CPU.main]),
      spare_sheaf: m.u32[c + CACHE_CPU.spare] === 0 ? -1 : sheafSize(m, m.u32[c + CACHE_CPU.spare]),
    };
  });
}

export const allCacheReports = (m: Machine): CacheReport[] => liveCacheIds(m).map((id) => cacheReport(m, id));
