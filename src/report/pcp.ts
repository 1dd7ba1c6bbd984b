// The per-CPU page lists of a machine as RunReport.pcp: per zone its size, watermarks
// and free pages, per CPU the pageset (count, high, batch) and its counters. A racy
// snapshot while CPUs run, exact once they stopped. /proc/zoneinfo is printed from
// this (procfs.ts).
import { pcpOrders, zoneWatermarks } from '../mm/pcp_setup.js';
import { type Machine, nodeOff, pcpOff } from '../shm/machine.js';
import { NODE, NR_PCP_LISTS, PCP, PCP_STATS, type PcpStat } from '../shm/structs.js';

export interface PagesetReport {
  cpu: number;
  count: number;
  high: number;
  batch: number;
  /** 6.6 pcp->free_factor (always 0 in 5.4) */
  free_factor: number;
  stats: Record<PcpStat, number>;
}

export interface ZonePcpReport {
  node: number;
  start_pfn: number;
  spanned: number;
  present: number;
  managed: number;
  /** NR_FREE_PAGES: free pages in the buddy allocator, the pcp lists not counted */
  free: number;
  min: number;
  low: number;
  high: number;
  pagesets: PagesetReport[];
}

export interface PcpReport {
  /** false with --no-pcp: every order goes straight to the zones */
  enabled: boolean;
  /** the orders that have lists */
  orders: number[];
  /** NR_PCP_LISTS of the profile */
  lists: number;
  /** pages on all lists */
  pages: number;
  /** pages the end-of-run drain returned to the zones (set by finishRun) */
  drained: number;
  zones: ZonePcpReport[];
}

/** Σ pcp->count over every zone and CPU (racy while CPUs run). */
export function pcpPageCount(m: Machine): number {
  let total = 0;
  for (let node = 0; node < m.cfg.nodes; node++)
    for (let cpu = 0; cpu < m.cfg.cpus; cpu++) total += m.u32[pcpOff(m, node, cpu) + PCP.count];
  return total;
}

export function pcpReport(m: Machine): PcpReport {
  const u = m.u32;
  const wm = zoneWatermarks(m.cfg);
  const zones = Array.from({ length: m.cfg.nodes }, (_, node): ZonePcpReport => {
    const z = nodeOff(m, node);
    return {
      node,
      start_pfn: u[z + NODE.startPfn],
      spanned: u[z + NODE.nrPages],
      present: u[z + NODE.nrPages],
      managed: u[z + NODE.nrPages],
      free: u[z + NODE.freePages],
      ...wm,
      pagesets: Array.from({ length: m.cfg.cpus }, (_, cpu) => {
        const p = pcpOff(m, node, cpu);
        return {
          cpu,
          count: u[p + PCP.count],
          high: u[p + PCP.high],
          batch: u[p + PCP.batch],
          free_factor: u[p + PCP.freeFactor],
          stats: Object.fromEntries(PCP_STATS.map((s, i) => [s, u[p + PCP.stat + i]])) as Record<PcpStat, number>,
        };
      }),
    };
  });
  return {
    enabled: m.cfg.pcp,
    orders: m.cfg.pcp ? pcpOrders(m.cfg) : [],
    lists: NR_PCP_LISTS[m.cfg.profile],
    pages: pcpPageCount(m),
    drained: 0,
    zones,
  };
}
