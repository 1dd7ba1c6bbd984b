/* @two-way */
// mstress (after mimalloc-bench's mstressN): uneven load per CPU, long-lived objects, a
// shared transfer array whose slots CPUs swap objects into atomically (taking what was
// there: an object another CPU allocated), and object contents filled with a cookie on
// allocation and verified on free.
import type { Step } from '../sched/step.js';
import { add32, load32, xchg32 } from '../shm/atomic.js';
import { addrWord, publishOps, stopRequested } from '../shm/machine.js';
import { GRANULE_SHIFT } from './ledger.js';
import { type ObjCounts, type ObjCtx, give, take, waitFor } from './objects.js';
import { site } from '../sched/step.js';
import { store32 } from '../shm/atomic.js';
import { BARRIER } from './structs.js';

const S_TRANSFER = site('mstress:transfer');
const S_COOKIE = site('mstress:cookie');

/** The cookie of an object: derived from its address, so a double issue shows as a mismatch later. */
const cookie = (obj: number): number => (obj ^ 0x5ab1ab1e) >>> 0;

function* takeFilled(x: ObjCtx): Step<number> {
  const obj = yield* take(x);
  if (obj !== 0) yield* store32(x.cpu.m, addrWord(x.cpu.m, obj), cookie(obj), S_COOKIE);
  return obj;
}

function* giveChecked(x: ObjCtx, obj: number): Step {
  if ((yield* load32(x.cpu.m, addrWord(x.cpu.m, obj), S_COOKIE)) !== cookie(obj)) x.counts.corrupt++;
  yield* give(x, obj);
}

/**
 * `rounds` operations (this CPU's share, uneven by design), then a barrier, then every
 * CPU frees what it holds and its share of the transfer array. `transfer` is the array's
 * address, `tslots` slots long.
 */
export function* mstress(
  x: ObjCtx,
  rounds: number,
  maxLive: number,
  transfer: number,
  tslots: number,
  barrier: number,
): Step<ObjCounts> {
  const m = x.cpu.m;
  const n = m.cfg.cpus;
  const live: number[] = [];
  const tw = addrWord(m, transfer);
  for (let r = 0; r < rounds && !stopRequested(m); r++) {
    const dice = x.rng.below(8);
    if (dice === 0 && live.length > 0) {
      // Swap one of ours into a random slot; whatever was there is ours now.
      const i = x.rng.below(live.length);
      const old = yield* xchg32(m, tw + x.rng.below(tslots), live[i], S_TRANSFER);
      if (old === 0) live.splice(i, 1);
      else {
        live[i] = old;
        x.ledger[old >>> GRANULE_SHIFT] = x.cpu.id + 1;
      }
    } else if (live.length < maxLive && (live.length === 0 || dice < 5)) {
      const obj = yield* takeFilled(x);
      if (obj !== 0) live.push(obj);
    } else if (live.length > 0) {
      const i = x.rng.below(live.length);
      const obj = live[i];
      live[i] = live[live.length - 1];
      live.pop();
      yield* giveChecked(x, obj);
    }
  }
  // Everyone stops touching the transfer array before anyone empties it.
  const bw = addrWord(m, barrier) + BARRIER.arrived;
  yield* add32(m, bw, 1, S_TRANSFER);
  for (let arrived = yield* load32(m, bw, S_TRANSFER); arrived < n; arrived = yield* load32(m, bw, S_TRANSFER)) {
    yield* waitFor(x, bw, arrived, S_TRANSFER);
  }
  while (live.length > 0) yield* giveChecked(x, live.pop() as number);
  for (let k = x.cpu.id; k < tslots; k += n) {
    const old = yield* xchg32(m, tw + k, 0, S_TRANSFER);
    if (old !== 0) {
      x.ledger[old >>> GRANULE_SHIFT] = x.cpu.id + 1;
      yield* giveChecked(x, old);
    }
  }
  publishOps(m, x.cpu.id, x.counts.ops);
  return x.counts;
}
