/* @two-way */
// Object workloads after mimalloc-bench: threadtest, xmalloc, larson. One program per
// CPU, the same code on worker threads and under the scheduler. Every object is
// stamped in the ledger on receipt and checked on free.
import { controlPoint, type Cpu } from '../mm/cpu.js';
import { flushAllFrom, serviceWork } from '../mm/slub/flush.js';
import { cacheById } from '../mm/slub/kmem_cache.js';
import { virtToHeadPfn } from '../mm/slub/objects.js';
import type { Rng } from '../rng.js';
import { type Step, site } from '../sched/step.js';
import { add32, cas32, load32, store32, waitWhile } from '../shm/atomic.js';
import { addrWord, cpuWorkWord, pageOff, publishOps, stopRequested } from '../shm/machine.js';
import { PAGE } from '../shm/structs.js';
import { stamp, unstamp } from './ledger.js';
import type { CpuCounts } from './pages.js';
import { type BoundTarget, drawSize, objAlloc, objFree } from './slab_ops.js';
import { BARRIER, RING, RING_SLOTS } from './structs.js';

const S_RING = site('xmalloc:ring');
const S_BARRIER = site('larson:barrier');
/** larson in a timed run: rounds per slot in each epoch. */
const TIMED_EPOCH_ROUNDS = 8;

/** The pages workload's counts and what object workloads add. */
export interface ObjCounts extends CpuCounts {
  badFree: number;
  /** allocation attempts and frees made by interrupts on this CPU (not in ops) */
  irqAllocs: number;
  irqFrees: number;
  /** cache-thrash/scratch: allocations whose 64-byte line holds another CPU's live object */
  sharedLines: number;
  /** mstress: objects whose cookie was wrong when freed */
  corrupt: number;
}

/** What one CPU's program works with. */
export interface ObjCtx {
  cpu: Cpu;
  rng: Rng;
  ledger: Uint8Array;
  target: BoundTarget;
  counts: ObjCounts;
  /** CPU 0 runs flush_all on the cache of its latest object every this many operations (0: never) */
  flushEvery: number;
}

export const newCounts = (cpu: number): ObjCounts => ({
  cpu,
  ops: 0,
  allocs: 0,
  frees: 0,
  failed: 0,
  doubleIssue: 0,
  badFree: 0,
  irqAllocs: 0,
  irqFrees: 0,
  sharedLines: 0,
  corrupt: 0,
});

export function* take(x: ObjCtx): Step<number> {
  const cpu = x.cpu;
  yield* serviceWork(cpu);
  const obj = yield* objAlloc(cpu, x.target, drawSize(x.target, x.rng));
  const c = x.counts;
  if (obj === 0) {
    c.failed++;
    return 0;
  }
  if (stamp(x.ledger, obj, cpu.id)) c.doubleIssue++;
  c.allocs++;
  countOp(cpu, c);
  if (x.flushEvery > 0) yield* flushCacheOf(x, obj);
  return obj;
}

/** Every flushEvery operations, CPU 0 runs flush_all on the cache `obj` came from (kmalloc's large objects have none). */
function* flushCacheOf(x: ObjCtx, obj: number): Step {
  if (x.cpu.id !== 0 || x.counts.ops % x.flushEvery !== 0) return;
  const m = x.cpu.m;
  const cacheId = m.u32[pageOff(m, virtToHeadPfn(m, obj)) + PAGE.slabCache] - 1;
  if (cacheId >= 0) yield* flushAllFrom(cacheById(m, cacheId), x.cpu);
}

/** Wait for a neighbour's progress, carrying out flush requests meanwhile. */
export function* waitFor(x: ObjCtx, word: number, seen: number, where: number): Step {
  yield* serviceWork(x.cpu);
  yield* waitWhile(x.cpu.m, word, seen, where, cpuWorkWord(x.cpu.m, x.cpu.id));
}

export function* give(x: ObjCtx, obj: number): Step {
  const cpu = x.cpu;
  const c = x.counts;
  yield* serviceWork(cpu);
  if (unstamp(x.ledger, obj)) c.badFree++;
  yield* objFree(cpu, x.target, obj);
  c.frees++;
  countOp(cpu, c);
}

/**
 * One more operation; progress is published every 1024 (whichever kind of operation lands
 * there): often enough for a steady rate over a fraction of a second to be exact to 1%.
 * That is also where a controller (the viewer's live mode) can pause the CPU or change its
 * interrupt rate.
 */
function countOp(cpu: Cpu, c: ObjCounts): void {
  if ((++c.ops & 1023) === 0) {
    publishOps(cpu.m, cpu.id, c.ops);
    controlPoint(cpu);
  }
}

/** threadtest: allocate a batch, free it, repeat; `ops` (even) operations in all. */
export function* threadtest(x: ObjCtx, ops: number, batch: number): Step<ObjCounts> {
  const held = new Int32Array(batch);
  while (x.counts.ops < ops && !stopRequested(x.cpu.m)) {
    const n = Math.min(batch, (ops - x.counts.ops) >> 1);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const obj = yield* take(x);
      if (obj !== 0) held[k++] = obj;
    }
    while (k > 0) yield* give(x, held[--k]);
    if (n === 0) break;
  }
  publishOps(x.cpu.m, x.cpu.id, x.counts.ops);
  return x.counts;
}

/**
 * xmalloc: CPU i allocates `produce` objects (fewer if a timed run ends first: it then
 * closes its ring with the count it reached) in batches and pushes them into the ring of
 * CPU i+1; it pops and frees the `consume` objects CPU i-1 pushes into its own ring.
 * Every free is remote (unless there is one CPU).
 */
export function* xmalloc(
  x: ObjCtx,
  inbox: number,
  outbox: number,
  produce: number,
  consume: number,
  batch: number,
): Step<ObjCounts> {
  const m = x.cpu.m;
  const inW = addrWord(m, inbox);
  const outW = addrWord(m, outbox);
  let produced = 0;
  let consumed = 0;
  for (;;) {
    // A timed run: stop producing, and tell the consumer the final count (closed = count + 1).
    if (produced < produce && stopRequested(m)) {
      produce = produced;
      yield* store32(m, outW + RING.closed, produced + 1, S_RING);
    }
    const closed = yield* load32(m, inW + RING.closed, S_RING);
    if (closed !== 0) consume = closed - 1;
    if (produced >= produce && consumed >= consume) break;
    const outTail = yield* load32(m, outW + RING.tail, S_RING);
    const outHead = yield* load32(m, outW + RING.head, S_RING);
    const inHead = yield* load32(m, inW + RING.head, S_RING);
    const inTail = yield* load32(m, inW + RING.tail, S_RING);
    const room = RING_SLOTS - ((outTail - outHead) >>> 0);
    const waiting = (inTail - inHead) >>> 0;
    const canProduce = produced < produce && room > 0;
    if (canProduce && (waiting === 0 || consumed >= consume || x.rng.below(2) === 0)) {
      let tail = outTail;
      for (let i = 0; i < Math.min(batch, room, produce - produced); i++) {
        const obj = yield* take(x);
        if (obj === 0) break;
        yield* store32(m, outW + RING.slots + (tail & (RING_SLOTS - 1)), obj, S_RING);
        tail = (tail + 1) >>> 0;
        produced++;
      }
      yield* store32(m, outW + RING.tail, tail, S_RING); // publish the batch
      if (tail !== outTail) continue;
    }
    if (waiting > 0 && consumed < consume) {
      const obj = yield* load32(m, inW + RING.slots + (inHead & (RING_SLOTS - 1)), S_RING);
      yield* store32(m, inW + RING.head, (inHead + 1) >>> 0, S_RING);
      yield* give(x, obj);
      consumed++;
      continue;
    }
    // Nothing to do until a neighbour moves: our producer pushes, or our consumer pops.
    if (consumed < consume) yield* waitFor(x, inW + RING.tail, inTail, S_RING);
    else yield* waitFor(x, outW + RING.head, outHead, S_RING);
  }
  publishOps(m, x.cpu.id, x.counts.ops);
  return x.counts;
}

/**
 * larson: each CPU works on a slot array of objects in simulated memory, freeing a
 * random slot's object and allocating a new one in its place. After each epoch every
 * CPU moves on to the next CPU's array (a barrier separates epochs), so it frees objects
 * it did not allocate. `arrays[k]` is the address of array k, `slots` words each.
 */
export function* larson(
  x: ObjCtx,
  arrays: readonly number[],
  slots: number,
  rounds: number,
  epochs: number,
  barrier: number,
  timed = false,
): Step<ObjCounts> {
  const m = x.cpu.m;
  const n = arrays.length;
  const me = x.cpu.id;
  const bw = addrWord(m, barrier) + BARRIER.arrived;
  const stopW = addrWord(m, barrier) + BARRIER.stopAfter;
  let arr = addrWord(m, arrays[me]);
  for (let i = 0; i < slots; i++) yield* store32(m, arr + i, yield* take(x), S_BARRIER);
  // A timed run has short epochs and as many as fit; the CPUs agree on the last one.
  let e = 0;
  for (; timed || e < epochs; e++) {
    arr = addrWord(m, arrays[(me + e) % n]);
    const perEpoch = timed ? slots * TIMED_EPOCH_ROUNDS : Math.floor(rounds / epochs) + (e < rounds % epochs ? 1 : 0);
    for (let r = 0; r < perEpoch && !stopRequested(m); r++) {
      const i = x.rng.below(slots);
      const old = yield* load32(m, arr + i, S_BARRIER);
      if (old !== 0) yield* give(x, old);
      yield* store32(m, arr + i, yield* take(x), S_BARRIER);
    }
    // Seen the stop word: this epoch is the last. Written before arriving, so every CPU
    // reads it once all have arrived.
    if (stopRequested(m)) yield* cas32(m, stopW, 0, e + 1, S_BARRIER);
    // Generation barrier: the next epoch's array is free only once its owner has arrived.
    yield* add32(m, bw, 1, S_BARRIER);
    for (;;) {
      const arrived = yield* load32(m, bw, S_BARRIER);
      if (arrived >= (e + 1) * n) break;
      yield* waitFor(x, bw, arrived, S_BARRIER);
    }
    const stopAfter = yield* load32(m, stopW, S_BARRIER);
    if (stopAfter !== 0 && stopAfter <= e + 1) {
      e++;
      break;
    }
  }
  arr = addrWord(m, arrays[(me + e) % n]);
  for (let i = 0; i < slots; i++) {
    const old = yield* load32(m, arr + i, S_BARRIER);
    if (old !== 0) yield* give(x, old);
    yield* store32(m, arr + i, 0, S_BARRIER);
  }
  publishOps(m, me, x.counts.ops);
  return x.counts;
}

/** connections: serve short connections, each allocating many small objects and freeing them all at its end. */
export function* connections(x: ObjCtx, ops: number, minObjs: number, maxObjs: number): Step<ObjCounts> {
  const held: number[] = [];
  while (x.counts.ops < ops && !stopRequested(x.cpu.m)) {
    const n = Math.min(minObjs + x.rng.below(maxObjs - minObjs + 1), (ops - x.counts.ops) >> 1);
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      const obj = yield* take(x);
      if (obj !== 0) held.push(obj);
    }
    while (held.length > 0) yield* give(x, held.pop() as number); // the connection closes
  }
  publishOps(x.cpu.m, x.cpu.id, x.counts.ops);
  return x.counts;
}
