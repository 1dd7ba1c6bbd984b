import { type Machine, nodeOff, pageOff } from '../shm/machine.js';
import { MAX_ORDER, NIL, NODE, PAGE, PG } from '../shm/structs.js';

/**
 * Check every zone against the invariants written beside NODE in structs.ts. Call it
 * only when no CPU is running. Returns one message per broken invariant.
 */
export function validateZones(m: Machine): string[] {
  const errors: string[] = [];
  const u = m.u32;
  for (let node = 0; node < m.cfg.nodes; node++) {
    const z = nodeOff(m, node);
    const start = u[z + NODE.startPfn];
    const end = start + u[z + NODE.nrPages];
    let freePages = 0;
    for (let k = 0; k < MAX_ORDER; k++) {
      let len = 0;
      let prev = NIL;
      for (let pfn = u[z + NODE.freeHead + k]; pfn !== NIL; pfn = u[pageOff(m, pfn) + PAGE.lruNext]) {
        const p = pageOff(m, pfn);
        if (pfn < start || pfn + (1 << k) > end) errors.push(`node ${node} order ${k}: block at pfn ${pfn} outside the zone`);
        if (!(u[p + PAGE.flags] & PG.buddy) || u[p + PAGE.private] !== k) {
          errors.push(`node ${node} order ${k}: pfn ${pfn} on the free list is not a free block of order ${k}`);
        }
        if (u[p + PAGE.lruPrev] !== prev) errors.push(`node ${node} order ${k}: broken back link at pfn ${pfn}`);
        if (++len > u[z + NODE.nrPages]) {
          errors.push(`node ${node} order ${k}: free list does not end (cycle)`);
          break;
        }
        prev = pfn;
      }
      if (len !== u[z + NODE.nrFree + k]) {
        errors.push(`node ${node} order ${k}: nr_free == ${u[z + NODE.nrFree + k]} but the list holds ${len}`);
      }
      freePages += len << k;
    }
    if (freePages !== u[z + NODE.freePages]) {
      errors.push(`node ${node}: freePages == ${u[z + NODE.freePages]} but Σ nr_free[k] << k == ${freePages}`);
    }
  }
  return errors;
}
