/* @two-way */
// cache-thrash and cache-scratch (after mimalloc-bench): small objects written in a
// tight loop. What matters is whether the allocator puts objects of different CPUs in
// one 64-byte line (false sharing): the ledger knows every granule's holder, so each
// allocation counts whether its line holds another CPU's live object.
import type { Step } from '../sched/step.js';
import { load32, store32 } from '../shm/atomic.js';
import { addrWord, publishOps, stopRequested } from '../shm/machine.js';
import { GRANULE_SHIFT } from './ledger.js';
import { type ObjCounts, type ObjCtx, give, take, waitFor } from './objects.js';
import { site } from '../sched/step.js';
import { add32 } from '../shm/atomic.js';
import { BARRIER } from './structs.js';

const S_WRITE = site('cache-thrash:write');
const S_HANDOFF = site('cache-scratch:handoff');
const LINE = 64;

/** Does the 64-byte line of `obj` hold a live object of another CPU? (racy, as a sampling profiler is) */
function lineShared(x: ObjCtx, obj: number): boolean {
  const first = (obj & ~(LINE - 1)) >>> GRANULE_SHIFT;
  const mine = x.cpu.id + 1;
  for (let g = first; g < first + (LINE >>> GRANULE_SHIFT); g++) {
    const holder = x.ledger[g];
    if (holder !== 0 && holder !== mine) return true;
  }
  return false;
}

/** One object: allocate, note sharing, write it `writes` times, free. Two operations. */
function* thrashOnce(x: ObjCtx, writes: number): Step {
  const obj = yield* take(x);
  if (obj === 0) return;
  if (lineShared(x, obj)) x.counts.sharedLines++;
  const w = addrWord(x.cpu.m, obj);
  for (let i = 0; i < writes; i++) yield* store32(x.cpu.m, w, (yield* load32(x.cpu.m, w, S_WRITE)) + 1, S_WRITE);
  yield* give(x, obj);
}

/** cache-thrash: every CPU allocates, writes and frees its own small objects. */
export function* cacheThrash(x: ObjCtx, ops: number, writes: number): Step<ObjCounts> {
  while (x.counts.ops < ops && !stopRequested(x.cpu.m)) {
    const before = x.counts.ops;
    yield* thrashOnce(x, writes);
    if (x.counts.ops === before) break; // out of memory: nothing more to do
  }
  publishOps(x.cpu.m, x.cpu.id, x.counts.ops);
  return x.counts;
}

/**
 * cache-scratch: CPU 0 first allocates one object per CPU, all from its own slab, and
 * hands object i to CPU i, which frees it (a remote free) before thrashing. An allocator
 * that hands a freed object to the CPU that freed it would put neighbours on different
 * CPUs; SLUB returns it to CPU 0's slab.
 */
export function* cacheScratch(x: ObjCtx, ops: number, writes: number, slots: number, barrier: number): Step<ObjCounts> {
  const m = x.cpu.m;
  const n = m.cfg.cpus;
  const bw = addrWord(m, barrier) + BARRIER.arrived;
  const slotW = addrWord(m, slots);
  if (x.cpu.id === 0) {
    for (let i = 0; i < n; i++) {
      const obj = yield* take(x);
      yield* store32(m, slotW + i, obj, S_HANDOFF);
    }
  }
  yield* add32(m, bw, 1, S_HANDOFF);
  for (let arrived = yield* load32(m, bw, S_HANDOFF); arrived < n; arrived = yield* load32(m, bw, S_HANDOFF)) {
    yield* waitFor(x, bw, arrived, S_HANDOFF);
  }
  const mine = yield* load32(m, slotW + x.cpu.id, S_HANDOFF);
  if (mine !== 0) {
    x.ledger[mine >>> GRANULE_SHIFT] = x.cpu.id + 1; // the hand-off: it is ours now
    yield* give(x, mine);
  }
  return yield* cacheThrash(x, ops, writes);
}
