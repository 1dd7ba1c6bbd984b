import { type Machine, nodeOff } from '../shm/machine.js';
import { MAX_ORDER, NODE } from '../shm/structs.js';
import { pcpPageCount } from './pcp.js';

/** /proc/buddyinfo (mm/vmstat.c frag_show_print): "Node %d, zone %8s " then "%6lu " per order. */
export function buddyinfoText(m: Machine): string {
  let out = '';
  for (let node = 0; node < m.cfg.nodes; node++) out += `${buddyinfoLine(node, nrFree(m, node))}\n`;
  return out;
}

/** One /proc/buddyinfo line (without the newline) from a node's free counts. */
export const buddyinfoLine = (node: number, free: readonly number[]): string =>
  `Node ${node}, zone ${'Normal'.padStart(8)} ${free.map((n) => `${String(n).padStart(6)} `).join('')}`;

/** free_area[k].nr_free for k = 0..MAX_ORDER-1 (racy snapshot, as /proc reads it). */
export function nrFree(m: Machine, node: number): number[] {
  const z = nodeOff(m, node);
  return Array.from({ length: MAX_ORDER }, (_, k) => m.u32[z + NODE.nrFree + k]);
}

/** Free pages on all nodes: Σ_node Σ_k nr_free[k] << k, and the pages on per-CPU lists (free too). */
export function freePageCount(m: Machine): number {
  let total = pcpPageCount(m);
  for (let node = 0; node < m.cfg.nodes; node++) total += m.u32[nodeOff(m, node) + NODE.freePages];
  return total;
}
