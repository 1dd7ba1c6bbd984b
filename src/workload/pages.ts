/* @two-way */
// Workload `pages`: random allocations and frees of mixed orders straight from the
// page allocator, with an ownership ledger in the pages themselves. One program per
// CPU; the same code runs on a worker thread and under the scheduler.
import { allocPages, freePages } from '../mm/page_alloc.js';
import type { Rng } from '../rng.js';
import { type Step, site } from '../sched/step.js';
import { xchg32 } from '../shm/atomic.js';
import { type Machine, addrWord, cpuNode, cpuOff, pfnToAddr } from '../shm/machine.js';
import { CPU } from '../shm/structs.js';

const S_STAMP = site('ledger:stamp');
const S_CHECK = site('ledger:check');

export interface PagesParams {
  /** operations for this CPU: an allocation and a free are two */
  ops: number;
  /** largest order asked for; orders are drawn with probability halving per order */
  maxOrder: number;
  /** most blocks one CPU holds at once */
  maxHeld: number;
}

export interface CpuCounts {
  cpu: number;
  ops: number;
  allocs: number;
  frees: number;
  /** allocations refused for lack of memory (allocPages returned 0) */
  failed: number;
  /** blocks found stamped by another CPU: a block handed out twice */
  doubleIssue: number;
}

/**
 * Run `p.ops` operations on `cpu`, ending with every block it took freed again. The
 * last operations are forced frees, so the count is exact and nothing stays held.
 */
export function* pagesWorkload(m: Machine, cpu: number, p: PagesParams, rng: Rng): Step<CpuCounts> {
  const counts: CpuCounts = { cpu, ops: 0, allocs: 0, frees: 0, failed: 0, doubleIssue: 0 };
  const heldPfn: number[] = [];
  const heldOrder: number[] = [];
  const node = cpuNode(m, cpu);
  const stamp = cpu + 1;
  while (counts.ops < p.ops) {
    const remaining = p.ops - counts.ops;
    const mustFree = heldPfn.length > 0 && (remaining <= heldPfn.length || heldPfn.length >= p.maxHeld);
    if (mustFree || (heldPfn.length > 0 && rng.below(2) === 0)) {
      const i = rng.below(heldPfn.length);
      const pfn = heldPfn[i];
      const order = heldOrder[i];
      heldPfn[i] = heldPfn[heldPfn.length - 1];
      heldOrder[i] = heldOrder[heldOrder.length - 1];
      heldPfn.pop();
      heldOrder.pop();
      counts.doubleIssue += yield* unstampBlock(m, pfn, order, stamp);
      yield* freePages(m, pfn, order);
      counts.frees++;
    } else {
      const order = drawOrder(rng, p.maxOrder);
      const pfn = yield* allocPages(m, node, order, cpu);
      if (pfn === 0) {
        counts.failed++;
      } else {
        counts.doubleIssue += yield* stampBlock(m, pfn, order, stamp);
        heldPfn.push(pfn);
        heldOrder.push(order);
        counts.allocs++;
      }
    }
    counts.ops++;
    if ((counts.ops & 4095) === 0) m.u32[cpuOff(m, cpu) + CPU.opsDone] = counts.ops;
  }
  m.u32[cpuOff(m, cpu) + CPU.opsDone] = counts.ops;
  return counts;
}

/** P(order = k) halves with k, capped at maxOrder. */
function drawOrder(rng: Rng, maxOrder: number): number {
  let k = 0;
  while (k < maxOrder && rng.below(2) === 0) k++;
  return k;
}

/** Write our stamp into the first word of every page; count pages someone else holds. */
function* stampBlock(m: Machine, pfn: number, order: number, stamp: number): Step<number> {
  let clashes = 0;
  for (let i = 0; i < 1 << order; i++) {
    const old = yield* xchg32(m, addrWord(m, pfnToAddr(m, pfn + i)), stamp, S_STAMP);
    if (old !== 0) clashes++;
  }
  return clashes > 0 ? 1 : 0;
}

/** Clear our stamp before freeing; a page that lost it was handed to someone else too. */
function* unstampBlock(m: Machine, pfn: number, order: number, stamp: number): Step<number> {
  let clashes = 0;
  for (let i = 0; i < 1 << order; i++) {
    const old = yield* xchg32(m, addrWord(m, pfnToAddr(m, pfn + i)), 0, S_CHECK);
    if (old !== stamp) clashes++;
  }
  return clashes > 0 ? 1 : 0;
}
