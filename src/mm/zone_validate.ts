import { type Machine, nodeOff, pageOff, pcpOff } from '../shm/machine.js';
import { MAX_ORDER, NIL, NODE, NR_PCP_LISTS, PAGE, PCP, PG } from '../shm/structs.js';
import { pindexToOrder } from './pcp_setup.js';

/**
 * Check every zone against the invariants written beside NODE and PCP in structs.ts,
 * then that every page of the zone is in exactly one place: one free block in the buddy
 * allocator, on one CPU's pcp list, or one allocated block. Call it only when no CPU is
 * running. Returns one message per broken invariant.
 */
export function validateZones(m: Machine): string[] {
  const errors: string[] = [];
  const u = m.u32;
  for (let node = 0; node < m.cfg.nodes; node++) {
    const z = nodeOff(m, node);
    const start = u[z + NODE.startPfn];
    const nr = u[z + NODE.nrPages];
    /** per page of the zone: the places that claim it (blocks starting there are counted at their head) */
    const claims = new Uint8Array(nr);
    const claim = (pfn: number, order: number): void => {
      for (let i = 0; i < 1 << order && pfn - start + i < nr; i++) claims[pfn - start + i]++;
    };
    const walk = (
      where: string,
      first: number,
      flag: number,
      order: number,
      limit: number,
      prevOk: (pfn: number, prev: number) => boolean,
    ): number => {
      let len = 0;
      let prev = NIL;
      for (let pfn = first; pfn !== NIL; pfn = u[pageOff(m, pfn) + PAGE.lruNext]) {
        const p = pageOff(m, pfn);
        if (pfn < start || pfn + (1 << order) > start + nr) {
          errors.push(`${where}: block at pfn ${pfn} outside the zone`);
          break;
        }
        if (u[p + PAGE.flags] !== flag || u[p + PAGE.private] !== order) {
          errors.push(`${where}: pfn ${pfn} on the list is not a free block of order ${order} (flags ${u[p + PAGE.flags]})`);
        }
        if (!prevOk(pfn, prev)) errors.push(`${where}: broken back link at pfn ${pfn}`);
        if (++len > limit) {
          errors.push(`${where}: list does not end (cycle)`);
          break;
        }
        claim(pfn, order);
        prev = pfn;
      }
      return len;
    };
    const backLink = (pfn: number, prev: number): boolean => u[pageOff(m, pfn) + PAGE.lruPrev] === prev;

    let buddyPages = 0;
    for (let k = 0; k < MAX_ORDER; k++) {
      const len = walk(`node ${node} order ${k}`, u[z + NODE.freeHead + k], PG.buddy, k, nr, backLink);
      if (len !== u[z + NODE.nrFree + k]) {
        errors.push(`node ${node} order ${k}: nr_free == ${u[z + NODE.nrFree + k]} but the list holds ${len}`);
      }
      buddyPages += len << k;
    }
    if (buddyPages !== u[z + NODE.freePages]) {
      errors.push(`node ${node}: freePages == ${u[z + NODE.freePages]} but Σ nr_free[k] << k == ${buddyPages}`);
    }

    for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
      const pcp = pcpOff(m, node, cpu);
      let pages = 0;
      for (let pindex = 0; pindex < NR_PCP_LISTS[m.cfg.profile]; pindex++) {
        const where = `node ${node} cpu ${cpu} pcp list ${pindex}`;
        const order = pindexToOrder(m, pindex);
        let last = NIL;
        const len = walk(where, u[pcp + PCP.head + pindex], PG.pcp, order, nr, (pfn, prev) => {
          last = pfn;
          return backLink(pfn, prev);
        });
        if (u[pcp + PCP.tail + pindex] !== last)
          errors.push(`${where}: tail == ${u[pcp + PCP.tail + pindex]} but the list ends at ${last}`);
        pages += len << order;
      }
      if (pages !== u[pcp + PCP.count]) {
        errors.push(`node ${node} cpu ${cpu}: pcp count == ${u[pcp + PCP.count]} but Σ len(lists[pindex]) << order == ${pages}`);
      }
    }

    // Allocated blocks: a PG_head page and its tails pointing back at it.
    for (let idx = 0; idx < nr; idx++) {
      const pfn = start + idx;
      const p = pageOff(m, pfn);
      if (!(u[p + PAGE.flags] & PG.head)) continue;
      const order = u[p + PAGE.private];
      if (order >= MAX_ORDER || idx + (1 << order) > nr) {
        errors.push(`node ${node}: allocated block at pfn ${pfn} has order ${order}, past the zone`);
        continue;
      }
      for (let i = 1; i < 1 << order; i++) {
        const t = pageOff(m, pfn + i);
        if (!(u[t + PAGE.flags] & PG.tail) || u[t + PAGE.compoundHead] !== pfn) {
          errors.push(`node ${node}: pfn ${pfn + i} is not a tail of the allocated block at pfn ${pfn}`);
          break;
        }
      }
      claim(pfn, order);
    }
    let lost = 0;
    let twice = 0;
    for (let idx = 0; idx < nr; idx++) {
      if (claims[idx] === 0) lost++;
      else if (claims[idx] > 1) twice++;
    }
    if (lost) errors.push(`node ${node}: ${lost} pages are neither free (buddy or pcp) nor in an allocated block`);
    if (twice) errors.push(`node ${node}: ${twice} pages are in two places at once`);
  }
  return errors;
}
