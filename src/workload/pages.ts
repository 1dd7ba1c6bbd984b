/* @two-way */
// Workload `pages`: random allocations and frees of mixed orders straight from the
// page allocator, with an ownership ledger in the pages themselves. One program per
// CPU; the same code runs on a worker thread and under the scheduler.
import { allocPages, freePages } from '../mm/page_alloc.js';
import { drainAllPages, drainLocalPagesWork } from '../mm/pcp.js';
import type { Rng } from '../rng.js';
import { type Step, site } from '../sched/step.js';
import { xchg32 } from '../shm/atomic.js';
import { addrWord, cpuNode, type Machine, pfnToAddr, publishOps, stopRequested } from '../shm/machine.js';

const S_STAMP = site('ledger:stamp');
const S_CHECK = site('ledger:check');

export interface PagesParams {
  /** operations for this CPU: an allocation and a free are two */
  ops: number;
  /** largest order asked for; orders are drawn with probability halving per order */
  maxOrder: number;
  /** most blocks one CPU holds at once */
  maxHeld: number;
  /** CPU 0 runs drain_all_pages() every this many operations, as memory hotplug or CMA would (0 or absent: never) */
  drainEvery?: number;
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
 * Run `p.ops` operations on `cpu` (an even number: every allocation is freed again).
 * Only allocations that succeed count as operations; one refused for lack of memory
 * counts in `failed`. Since remaining - held stays even, forcing frees once
 * remaining == held ends the loop with nothing held.
 */
export function* pagesWorkload(m: Machine, cpu: number, p: PagesParams, rng: Rng): Step<CpuCounts> {
  const counts: CpuCounts = { cpu, ops: 0, allocs: 0, frees: 0, failed: 0, doubleIssue: 0 };
  const heldPfn: number[] = [];
  const heldOrder: number[] = [];
  const node = cpuNode(m, cpu);
  const stamp = cpu + 1;
  let ops = p.ops & ~1;
  while (counts.ops < ops) {
    // Time is up: only the frees of what is held remain.
    if (stopRequested(m) && ops > counts.ops + heldPfn.length) ops = counts.ops + heldPfn.length;
    if (counts.ops >= ops) break;
    yield* drainLocalPagesWork(m, cpu); // a 5.4 drain_all_pages() posted to this CPU
    const held = heldPfn.length;
    const mustFree = held > 0 && (ops - counts.ops <= held || held >= p.maxHeld);
    if (mustFree || (held > 0 && rng.below(2) === 0)) {
      const i = rng.below(held);
      const pfn = heldPfn[i];
      const order = heldOrder[i];
      heldPfn[i] = heldPfn[held - 1];
      heldOrder[i] = heldOrder[held - 1];
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
        continue;
      }
      counts.doubleIssue += yield* stampBlock(m, pfn, order, stamp);
      heldPfn.push(pfn);
      heldOrder.push(order);
      counts.allocs++;
    }
    counts.ops++;
    if (p.drainEvery && cpu === 0 && counts.ops % p.drainEvery === 0) yield* drainAllPages(m, cpu);
    if ((counts.ops & 4095) === 0) publishOps(m, cpu, counts.ops);
  }
  publishOps(m, cpu, counts.ops);
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
