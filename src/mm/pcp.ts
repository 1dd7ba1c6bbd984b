/* @two-way */
// Per-CPU page lists in front of the buddy allocator (struct per_cpu_pages, PCP in
// structs.ts): mm/page_alloc.c rmqueue_pcplist(), rmqueue_bulk(), free_unref_page(),
// free_pcppages_bulk(), drain_pages_zone(), drain_all_pages(). One pageset per zone
// (node) per CPU; which orders have lists: pcpAllowedOrder().
//
// Who touches a pageset, by profile:
//  5.4  only its own CPU, with interrupts off (local_irq_save()): one schedule point per
//       operation, then plain accesses. drain_all_pages() on another CPU queues a work
//       item on every CPU with pages (CPU.pcpDrain) and waits for it (flush_work()); the
//       owner drains at its next safe point (drainLocalPagesWork()). The lists of a CPU
//       whose program has ended are drained by the requester, as page_alloc_cpu_dead()
//       drains a dead CPU's from another.
//  6.6  its own CPU under pcp->lock, taken with spin_trylock(): a failure (a drain holds
//       it) sends the operation to the zone. drain_all_pages() drains any CPU's lists
//       itself, under that lock.
// Lock order: pcp->lock -> zone->lock. The callers in page_alloc.ts fall back to the
// zone when these return NIL/false; a page on a list is PG_pcp with private == order.
import { InvariantError } from '../errors.js';
import { type Step, site } from '../sched/step.js';
import {
  add32,
  cas32,
  cas32Acquire,
  load32,
  loadAcquire32,
  peek32,
  spinLock,
  spinTrylock,
  spinUnlock,
  store32,
  storeRelease32,
  waitWhile,
} from '../shm/atomic.js';
import { cpuOff, cpuOnlineWord, cpuWorkWord, type Machine, nodeOff, pageOff, pcpOff } from '../shm/machine.js';
import {
  CPU,
  GLOBAL,
  MIGRATE_PCPTYPES,
  MIGRATE_UNMOVABLE,
  NIL,
  NODE,
  NR_PCP_LISTS,
  PAGE,
  PAGE_ALLOC_COSTLY_ORDER,
  PCP,
  PG,
  PS,
} from '../shm/structs.js';
import { freeOnePage, rmqueueSmallest } from './free_area.js';
import { orderToPindex, pindexToOrder } from './pcp_setup.js';

const S_IRQ_ALLOC = site('rmqueue_pcplist');
const S_IRQ_FREE = site('free_unref_page');
const S_IRQ_DRAIN = site('drain_pages_zone');
const S_PCP_LOCK = site('pcp_spin_trylock');
const S_PCP_UNLOCK = site('pcp_spin_unlock');
const S_DRAIN_LOCK = site('drain_pages_zone:pcp->lock');
const S_BULK_LOCK = site('rmqueue_bulk:zone->lock');
const S_BULK = site('rmqueue_bulk');
const S_FREE_BULK_LOCK = site('free_pcppages_bulk:zone->lock');
const S_FREE_BULK = site('free_pcppages_bulk');
const S_DRAIN_ALL = site('drain_all_pages');
const S_DRAIN_WORK = site('drain_local_pages_wq');

/**
 * A deliberately broken variant, as mm/slub/mutants.ts has for SLUB: 6.6 drains another
 * CPU's lists without taking its pcp->lock. Off in every normal run; the race test turns
 * it on to show that the explorer finds what the lock is for.
 */
export const pcpMutant = { unlockedDrain: false };

// ---- the lists: plain, the caller holds the pageset (irq-off or pcp->lock) ----

/** list_add_tail(): rmqueue_bulk() appends, so a refill is handed out in address order. */
function listAddTail(m: Machine, pcp: number, pindex: number, pfn: number, order: number): void {
  const u = m.u32;
  const p = pageOff(m, pfn);
  const tail = u[pcp + PCP.tail + pindex];
  u[p + PAGE.flags] = PG.pcp;
  u[p + PAGE.private] = order;
  u[p + PAGE.lruNext] = NIL;
  u[p + PAGE.lruPrev] = tail;
  if (tail === NIL) u[pcp + PCP.head + pindex] = pfn;
  else u[pageOff(m, tail) + PAGE.lruNext] = pfn;
  u[pcp + PCP.tail + pindex] = pfn;
}

/** Unlink `pfn` from lists[pindex]; its links are cleared, its PG_pcp is left for the caller. */
function listDel(m: Machine, pcp: number, pindex: number, pfn: number): void {
  const u = m.u32;
  const p = pageOff(m, pfn);
  const next = u[p + PAGE.lruNext];
  const prev = u[p + PAGE.lruPrev];
  if (prev === NIL) u[pcp + PCP.head + pindex] = next;
  else u[pageOff(m, prev) + PAGE.lruNext] = next;
  if (next === NIL) u[pcp + PCP.tail + pindex] = prev;
  else u[pageOff(m, next) + PAGE.lruPrev] = prev;
  u[p + PAGE.lruNext] = NIL;
  u[p + PAGE.lruPrev] = NIL;
}

// ---- allocation ----

/**
 * rmqueue_pcplist(): a block of `order` from CPU `me`'s lists for `node`, refilled from
 * the zone when empty; NIL when the zone has none either, or (6.6) when a drain holds
 * pcp->lock. The block is not yet prepared (prep_new_page() is the caller's). The
 * kernel's __rmqueue_pcplist() is written inline, so that V8 inlines the whole hit path.
 */
export function* rmqueuePcplist(m: Machine, node: number, order: number, me: number): Step<number> {
  const u = m.u32;
  const pcp = pcpOff(m, node, me);
  const v54 = m.cfg.profile === '5.4';
  // 5.4 local_irq_save(): from here to the return nothing else touches the pageset.
  if (v54) {
    yield S_IRQ_ALLOC;
  } else {
    if (!(yield* spinTrylock(m, pcp + PCP.lock, S_PCP_LOCK))) return pcpLockFailed(m, pcp);
    // "On allocation, reduce the number of pages that are batch freed" (see nrPcpFree()).
    u[pcp + PCP.freeFactor] >>= 1;
  }
  // __rmqueue_pcplist(): the head of the list, after a refill if it was empty.
  const pindex = order === 0 ? MIGRATE_UNMOVABLE : orderToPindex(m, order);
  let pfn = u[pcp + PCP.head + pindex];
  if (pfn === NIL) pfn = yield* pcpRefill(m, node, order, pcp, pindex);
  if (pfn !== NIL) {
    // list_first_entry() and list_del()
    const p = pageOff(m, pfn);
    if (u[p + PAGE.flags] !== PG.pcp) throw notOnPcp(m, pfn);
    const next = u[p + PAGE.lruNext];
    u[pcp + PCP.head + pindex] = next;
    if (next === NIL) u[pcp + PCP.tail + pindex] = NIL;
    else u[pageOff(m, next) + PAGE.lruPrev] = NIL;
    u[p + PAGE.lruNext] = NIL;
    u[pcp + PCP.count] -= 1 << order;
    u[pcp + PCP.stat + PS.alloc]++;
  }
  if (!v54) yield* spinUnlock(m, pcp + PCP.lock, S_PCP_UNLOCK);
  return pfn;
}

/** 6.6: pcp_spin_trylock() failed (a drain on another CPU holds the lock). */
function pcpLockFailed(m: Machine, pcp: number): number {
  m.u32[pcp + PCP.stat + PS.lock_fail]++;
  return NIL;
}

const notOnPcp = (m: Machine, pfn: number): InvariantError =>
  new InvariantError('every page on a pcp list has PG_pcp', `pfn ${pfn} has flags ${m.u32[pageOff(m, pfn) + PAGE.flags]}`);

/** The empty-list branch of __rmqueue_pcplist(): refill, and the new head (NIL if the zone had nothing). */
function* pcpRefill(m: Machine, node: number, order: number, pcp: number, pindex: number): Step<number> {
  const u = m.u32;
  let batch = u[pcp + PCP.batch];
  // 6.6: "Scale batch relative to order if batch implies free pages can be stored on the
  // PCP": a list of order-3 blocks refills batch >> 3 of them, but at least 2.
  if (order > 0 && batch > 1) batch = Math.max(batch >> order, 2);
  u[pcp + PCP.count] += (yield* rmqueueBulk(m, node, order, batch, pcp, pindex)) << order;
  return u[pcp + PCP.head + pindex];
}

/** rmqueue_bulk(): up to `count` blocks of `order` from the zone onto the list's tail, in one zone->lock hold. */
function* rmqueueBulk(m: Machine, node: number, order: number, count: number, pcp: number, pindex: number): Step<number> {
  const zone = nodeOff(m, node);
  yield* spinLock(m, zone + NODE.lock, S_BULK_LOCK);
  yield S_BULK;
  let i = 0;
  for (; i < count; i++) {
    const pfn = rmqueueSmallest(m, zone, order);
    if (pfn === NIL) break;
    listAddTail(m, pcp, pindex, pfn, order);
  }
  yield* spinUnlock(m, zone + NODE.lock, S_BULK_LOCK);
  m.u32[pcp + PCP.stat + PS.refill]++;
  m.u32[pcp + PCP.stat + PS.refill_pages] += i << order;
  return i;
}

// ---- free ----

/**
 * free_unref_page() after free_pages_prepare(): the block onto CPU `me`'s list for its
 * zone, and a bulk free to the zone once count reaches high (free_unref_page_commit(),
 * written inline). False (6.6) when a drain holds pcp->lock: the caller then frees to
 * the zone (free_one_page()).
 */
export function* freeUnrefPage(m: Machine, node: number, pfn: number, order: number, me: number): Step<boolean> {
  const u = m.u32;
  const pcp = pcpOff(m, node, me);
  const v54 = m.cfg.profile === '5.4';
  // 5.4 local_irq_save(); 6.6 pcp_spin_trylock().
  if (v54) {
    yield S_IRQ_FREE;
  } else if (!(yield* spinTrylock(m, pcp + PCP.lock, S_PCP_LOCK))) {
    pcpLockFailed(m, pcp);
    return false;
  }
  // free_unref_page_commit(): list_add() at the head, the page marked as on a pcp list
  const pindex = order === 0 ? MIGRATE_UNMOVABLE : orderToPindex(m, order);
  const p = pageOff(m, pfn);
  const head = u[pcp + PCP.head + pindex];
  u[p + PAGE.flags] = PG.pcp;
  u[p + PAGE.private] = order;
  u[p + PAGE.lruNext] = head;
  u[p + PAGE.lruPrev] = NIL;
  if (head === NIL) u[pcp + PCP.tail + pindex] = pfn;
  else u[pageOff(m, head) + PAGE.lruPrev] = pfn;
  u[pcp + PCP.head + pindex] = pfn;
  const count = (u[pcp + PCP.count] += 1 << order);
  u[pcp + PCP.stat + PS.free]++;
  if (v54) {
    if (count >= u[pcp + PCP.high]) yield* freeHigh54(m, node, pcp);
    return true;
  }
  // "As high-order pages other than THP's stored on PCP can contribute to fragmentation,
  // limit the number stored when PCP is heavily freeing without allocation": then high is
  // 0 and everything on the lists goes back.
  const freeHigh = u[pcp + PCP.freeFactor] !== 0 && order !== 0 && order <= PAGE_ALLOC_COSTLY_ORDER;
  const high = nrPcpHigh(u[pcp + PCP.high], freeHigh);
  if (count >= high) yield* freeHigh66(m, node, pcp, pindex, high, freeHigh);
  yield* spinUnlock(m, pcp + PCP.lock, S_PCP_UNLOCK);
  return true;
}

/** 5.4: count reached high: a batch back to the zone. */
function* freeHigh54(m: Machine, node: number, pcp: number): Step {
  m.u32[pcp + PCP.stat + PS.free_high]++;
  yield* freePcppagesBulk(m, node, m.u32[pcp + PCP.batch], pcp, 0);
}

/** 6.6: count reached high: nr_pcp_free() pages back to the zone, this list's first. */
function* freeHigh66(m: Machine, node: number, pcp: number, pindex: number, high: number, freeHigh: boolean): Step {
  m.u32[pcp + PCP.stat + PS.free_high]++;
  yield* freePcppagesBulk(m, node, nrPcpFree(m, pcp, high, m.u32[pcp + PCP.batch], freeHigh), pcp, pindex);
}

/** nr_pcp_high() (6.6): no reclaim is modelled, so ZONE_RECLAIM_ACTIVE never lowers it. */
const nrPcpHigh = (high: number, freeHigh: boolean): number => (high === 0 || freeHigh ? 0 : high);

/**
 * nr_pcp_free() (6.6): how many pages a bulk free returns. It starts at batch and doubles
 * with each bulk free that follows without an allocation in between (free_factor), but
 * leaves at least batch pages on the lists; with high < batch (a boot pageset) one page.
 */
function nrPcpFree(m: Machine, pcp: number, high: number, batch: number, freeHigh: boolean): number {
  const u = m.u32;
  if (freeHigh) return u[pcp + PCP.count];
  if (high < batch) return 1;
  const minNrFree = batch;
  const maxNrFree = high - batch;
  const b = batch << u[pcp + PCP.freeFactor];
  if (b < maxNrFree) u[pcp + PCP.freeFactor]++;
  return Math.min(Math.max(b, minNrFree), maxNrFree); // clamp(), whose max wins when max < min
}

/**
 * free_pcppages_bulk(): `count` pages from the lists back to the zone, oldest first (list
 * tails). 5.4 goes round the migrate types taking more from fuller lists, gathers the
 * pages, then frees them under one zone->lock hold; 6.6 goes round the lists from
 * `pindex` under zone->lock, a whole block at a time, so a THP block can take count
 * below zero. Caller holds the pageset.
 */
function* freePcppagesBulk(m: Machine, node: number, count: number, pcp: number, pindex: number): Step {
  const u = m.u32;
  const zone = nodeOff(m, node);
  // "Ensure proper count is passed which otherwise would stuck in the below while (list_empty(list)) loop."
  count = Math.min(u[pcp + PCP.count], count);
  let freed = 0;
  if (m.cfg.profile === '5.4') {
    let mt = 0;
    let batchFree = 0;
    let first = NIL;
    let last = NIL;
    while (count) {
      let tried = 0;
      do {
        batchFree++;
        if (++mt === MIGRATE_PCPTYPES) mt = 0;
        if (++tried > MIGRATE_PCPTYPES) throw brokenCount(m, pcp);
      } while (u[pcp + PCP.head + mt] === NIL);
      // "This is the only non-empty list. Free them all."
      if (batchFree === MIGRATE_PCPTYPES) batchFree = count;
      do {
        const pfn = u[pcp + PCP.tail + mt];
        listDel(m, pcp, mt, pfn);
        u[pcp + PCP.count]--;
        if (last === NIL) first = pfn;
        else u[pageOff(m, last) + PAGE.lruNext] = pfn;
        last = pfn;
      } while (--count && --batchFree && u[pcp + PCP.head + mt] !== NIL);
    }
    yield* spinLock(m, zone + NODE.lock, S_FREE_BULK_LOCK);
    yield S_FREE_BULK;
    for (let pfn = first; pfn !== NIL;) {
      const next = u[pageOff(m, pfn) + PAGE.lruNext];
      freeOnePage(m, zone, pfn, 0);
      freed++;
      pfn = next;
    }
  } else {
    let minPindex = 0;
    let maxPindex = NR_PCP_LISTS['6.6'] - 1;
    pindex = pindex - 1; // "Ensure requested pindex is drained first."
    yield* spinLock(m, zone + NODE.lock, S_FREE_BULK_LOCK);
    yield S_FREE_BULK;
    while (count > 0) {
      for (;;) {
        if (minPindex > maxPindex) throw brokenCount(m, pcp);
        if (++pindex > maxPindex) pindex = minPindex;
        if (u[pcp + PCP.head + pindex] !== NIL) break;
        if (pindex === maxPindex) maxPindex--;
        if (pindex === minPindex) minPindex++;
      }
      const order = pindexToOrder(m, pindex);
      const nrPages = 1 << order;
      do {
        const pfn = u[pcp + PCP.tail + pindex];
        listDel(m, pcp, pindex, pfn);
        count -= nrPages;
        u[pcp + PCP.count] -= nrPages;
        freeOnePage(m, zone, pfn, order);
        freed += nrPages;
      } while (count > 0 && u[pcp + PCP.head + pindex] !== NIL);
    }
  }
  yield* spinUnlock(m, zone + NODE.lock, S_FREE_BULK_LOCK);
  u[pcp + PCP.stat + PS.bulk_free_pages] += freed;
}

const brokenCount = (m: Machine, pcp: number): InvariantError =>
  new InvariantError('pcp.count == Σ len(lists[pindex]) << order', `count ${m.u32[pcp + PCP.count]} but every list is empty`);

// ---- drains ----

/**
 * drain_pages_zone(): everything on `cpu`'s lists for `node` back to the zone. 5.4: `cpu`
 * is the caller's own, or one whose program has ended; 6.6: any, under its pcp->lock.
 */
export function* drainPagesZone(m: Machine, node: number, cpu: number): Step {
  const u = m.u32;
  const pcp = pcpOff(m, node, cpu);
  if (m.cfg.profile === '5.4') {
    yield S_IRQ_DRAIN; // local_irq_save()
    if (u[pcp + PCP.count] === 0) return;
    u[pcp + PCP.stat + PS.drain]++;
    yield* freePcppagesBulk(m, node, u[pcp + PCP.count], pcp, 0);
    return;
  }
  if ((yield* load32(m, pcp + PCP.count, S_IRQ_DRAIN)) === 0) return;
  const locked = !pcpMutant.unlockedDrain;
  if (locked) yield* spinLock(m, pcp + PCP.lock, S_DRAIN_LOCK);
  u[pcp + PCP.stat + PS.drain]++;
  yield* freePcppagesBulk(m, node, u[pcp + PCP.count], pcp, 0);
  if (locked) yield* spinUnlock(m, pcp + PCP.lock, S_DRAIN_LOCK);
}

/** drain_pages(): `cpu`'s lists of every zone (same precondition as drainPagesZone()). */
export function* drainPages(m: Machine, cpu: number): Step {
  for (let node = 0; node < m.cfg.nodes; node++) yield* drainPagesZone(m, node, cpu);
}

/**
 * drain_all_pages(NULL) from CPU `me`: every CPU's lists back to the zones. As in the
 * kernel, a drain already under way makes this one return at once (pcpu_drain_mutex is
 * only trylocked when no zone is named), and which CPUs have pages is a racy look at
 * pcp->count: a CPU whose count goes from 0 to 1 meanwhile is missed.
 */
export function* drainAllPages(m: Machine, me: number): Step {
  if (!(yield* cas32Acquire(m, GLOBAL.pcpDrainMutex, 0, 1, S_DRAIN_ALL))) return; // mutex_trylock()
  const withPcps: number[] = [];
  for (let cpu = 0; cpu < m.cfg.cpus; cpu++) {
    for (let node = 0; node < m.cfg.nodes; node++) {
      if ((yield* load32(m, pcpOff(m, node, cpu) + PCP.count, S_DRAIN_ALL)) !== 0) {
        withPcps.push(cpu);
        break;
      }
    }
  }
  if (m.cfg.profile === '5.4') yield* drainAllPagesWq(m, me, withPcps);
  else for (const cpu of withPcps) yield* drainPages(m, cpu);
  yield* storeRelease32(m, GLOBAL.pcpDrainMutex, 0, S_DRAIN_ALL); // mutex_unlock()
}

/**
 * 5.4: queue_work_on() every CPU with pages, then flush_work() each. A work item runs on
 * its own CPU, which carries it out at its next safe point; our own runs first, here.
 */
function* drainAllPagesWq(m: Machine, me: number, cpus: number[]): Step {
  const posted: number[] = [];
  for (const cpu of cpus) {
    if (cpu === me) continue;
    yield* store32(m, cpuOff(m, cpu) + CPU.pcpDrain, 1, S_DRAIN_ALL);
    yield* add32(m, cpuWorkWord(m, cpu), 1, S_DRAIN_ALL);
    posted.push(cpu);
  }
  if (cpus.includes(me)) yield* drainPages(m, me);
  for (const cpu of posted) {
    const req = cpuOff(m, cpu) + CPU.pcpDrain;
    for (;;) {
      // flush_work(): once the item is done, everything it did is visible here.
      const state = yield* loadAcquire32(m, req, S_DRAIN_ALL);
      if (state === 0) break;
      if (state === 1 && (yield* load32(m, cpuOnlineWord(m, cpu), S_DRAIN_ALL)) === 0) {
        // A CPU whose program has ended: drain its lists for it.
        if (yield* cas32(m, req, 1, 2, S_DRAIN_ALL)) {
          yield* add32(m, cpuWorkWord(m, cpu), -1, S_DRAIN_ALL);
          yield* drainPages(m, cpu);
          yield* storeRelease32(m, req, 0, S_DRAIN_ALL);
        }
        continue;
      }
      yield* waitWhile(m, req, state, S_DRAIN_ALL);
    }
  }
}

/**
 * drain_local_pages_wq(): carry out a drain_all_pages() work item posted to CPU `me`.
 * Call at safe points (between operations); one plain load when there is none.
 */
export function* drainLocalPagesWork(m: Machine, me: number): Step {
  const req = cpuOff(m, me) + CPU.pcpDrain;
  if (peek32(m, req) !== 1) return;
  if (!(yield* cas32(m, req, 1, 2, S_DRAIN_WORK))) return;
  yield* add32(m, cpuWorkWord(m, me), -1, S_DRAIN_WORK);
  yield* drainPages(m, me);
  yield* storeRelease32(m, req, 0, S_DRAIN_WORK); // the work is done: flush_work() returns
}
