// Shared-memory primitives, scheduled form. Every access a two-way module makes to
// shared words goes through one of these, so every access is a named schedule point:
// the CPU yields *before* the access, and the access happens when it is resumed.
// The free-running twin is atomic.fast.ts (hand-written, same signatures, no yields).
// Ordering: plain loads are READ_ONCE (may be stale, never torn within 32 bits);
// CAS is cmpxchg; a CAS on a 64-bit pair is cmpxchg_double.

import { EV, OP } from '../sched/event.js';
import { BLOCK, RELAX, type Step, site as siteId } from '../sched/step.js';
import type { Machine } from './machine.js';

/** What the scheduler needs to know about the step that just ran (single-threaded). */
export const schedBus = {
  /**
   * The access the CPU is about to make, published before its yield (src/sched/event.ts):
   * an OP code, its word, and a CAS's expected value (arg; arg2 the high half for CAS2)
   * or the value a waitWhile waits on. Reset to OP.NONE by the scheduler before each step.
   */
  op: OP.NONE as number,
  word: -1,
  arg: 0,
  arg2: 0,
  /** the event the step made (EV.READ or EV.WRITE of `word`), reset by the scheduler */
  ev: EV.NONE as number,
  /** a write's overwritten value (CAS2: the low half) */
  old: 0,
  /** word a CPU blocked on (set just before it yields BLOCK) */
  blockedOn: -1,
  /** a second word whose write also wakes it (its pending-work word), or -1 */
  alsoWakeOn: -1,
  /**
   * Words whose value this step changed, for waking blocked and spinning CPUs; reset by
   * the scheduler. A store of the value already there, a failed CAS, an add of 0 change
   * nothing: they count as reads (a busy-wait on xchg(lock, 1) is still a busy-wait).
   */
  written: [] as number[],
  /** the word this step read without changing it, or -1; reset by the scheduler */
  read: -1,
  /** optional per-access trace sink */
  trace: null as null | ((kind: string, site: number, word: number, value: number, ok?: boolean) => void),
};

/** The step wrote its pending word, over `old`. */
const wrote = (old: number): void => {
  schedBus.ev = EV.WRITE;
  schedBus.old = old;
};

/** Report an access: a change of `word` (wakes waiters) or a read of it. */
const accessed = (word: number, changed: boolean): void => {
  if (changed) schedBus.written.push(word);
  else schedBus.read = word;
};

/** READ_ONCE of one 32-bit word. */
export function* load32(m: Machine, word: number, site: number): Step<number> {
  schedBus.op = OP.LOAD;
  schedBus.word = word;
  yield site;
  const v = m.u32[word];
  schedBus.read = word;
  schedBus.ev = EV.READ;
  schedBus.trace?.('load', site, word, v);
  return v;
}

/** WRITE_ONCE of one 32-bit word. */
export function* store32(m: Machine, word: number, value: number, site: number): Step {
  schedBus.op = OP.STORE;
  schedBus.word = word;
  yield site;
  const old = m.u32[word];
  m.u32[word] = value;
  wrote(old);
  accessed(word, old !== m.u32[word]);
  schedBus.trace?.('store', site, word, value >>> 0);
}

/** cmpxchg on one 32-bit word; true when it took. */
export function* cas32(m: Machine, word: number, expect: number, value: number, site: number): Step<boolean> {
  schedBus.op = OP.CAS;
  schedBus.word = word;
  schedBus.arg = expect | 0;
  yield site;
  const ok = Atomics.compareExchange(m.i32, word, expect | 0, value | 0) === (expect | 0);
  if (ok) wrote(expect >>> 0);
  else schedBus.ev = EV.READ;
  accessed(word, ok && (expect | 0) !== (value | 0));
  schedBus.trace?.('cas', site, word, value >>> 0, ok);
  return ok;
}

/** atomic add on one 32-bit word; returns the old value. */
export function* add32(m: Machine, word: number, delta: number, site: number): Step<number> {
  schedBus.op = OP.ADD;
  schedBus.word = word;
  yield site;
  const old = Atomics.add(m.u32, word, delta);
  wrote(old);
  accessed(word, (delta | 0) !== 0);
  schedBus.trace?.('add', site, word, old);
  return old;
}

/** atomic exchange on one 32-bit word; returns the old value. */
export function* xchg32(m: Machine, word: number, value: number, site: number): Step<number> {
  schedBus.op = OP.XCHG;
  schedBus.word = word;
  yield site;
  const old = Atomics.exchange(m.u32, word, value);
  wrote(old);
  accessed(word, old !== value >>> 0);
  schedBus.trace?.('xchg', site, word, old);
  return old;
}

/**
 * cmpxchg_double on the 64-bit pair at even word `word` (lo = word, hi = word + 1):
 * (expLo, expHi) -> (newLo, newHi), true when it took.
 */
export function* cas64(
  m: Machine,
  word: number,
  expLo: number,
  expHi: number,
  newLo: number,
  newHi: number,
  site: number,
): Step<boolean> {
  schedBus.op = OP.CAS2;
  schedBus.word = word;
  schedBus.arg = expLo | 0;
  schedBus.arg2 = expHi | 0;
  yield site;
  const exp = BigInt.asIntN(64, BigInt(expLo >>> 0) | (BigInt(expHi >>> 0) << 32n));
  const nev = BigInt.asIntN(64, BigInt(newLo >>> 0) | (BigInt(newHi >>> 0) << 32n));
  const ok = Atomics.compareExchange(m.i64, word >> 1, exp, nev) === exp;
  if (ok) wrote(expLo >>> 0);
  else schedBus.ev = EV.READ;
  if (ok && exp !== nev) schedBus.written.push(word, word + 1);
  else schedBus.read = word;
  schedBus.trace?.('cas2', site, word, newHi >>> 0, ok);
  return ok;
}

/** spin_lock: word is 0 (free) or 1 (held). A CPU that finds it held blocks until a write to it. */
export function* spinLock(m: Machine, word: number, site: number): Step {
  schedBus.op = OP.LOCK;
  schedBus.word = word;
  yield site;
  while (Atomics.compareExchange(m.i32, word, 0, 1) !== 0) {
    schedBus.trace?.('lock', site, word, 1, false);
    schedBus.blockedOn = word;
    schedBus.op = OP.LOCK;
    schedBus.word = word;
    yield site | BLOCK;
  }
  wrote(0);
  schedBus.written.push(word);
  schedBus.trace?.('lock', site, word, 1, true);
}

/** spin_trylock: take the lock if it is free; true when taken (a failed try counts as a read). */
export function* spinTrylock(m: Machine, word: number, site: number): Step<boolean> {
  schedBus.op = OP.TRYLOCK;
  schedBus.word = word;
  yield site;
  const ok = Atomics.compareExchange(m.i32, word, 0, 1) === 0;
  if (ok) wrote(0);
  else schedBus.ev = EV.READ;
  accessed(word, ok);
  schedBus.trace?.('trylock', site, word, 1, ok);
  return ok;
}

/** spin_unlock: store 0, which wakes the CPUs blocked on the lock word. */
export function* spinUnlock(m: Machine, word: number, site: number): Step {
  schedBus.op = OP.UNLOCK;
  schedBus.word = word;
  yield site;
  const old = Atomics.exchange(m.u32, word, 0);
  wrote(old);
  accessed(word, old !== 0);
  schedBus.trace?.('unlock', site, word, 0);
}

/**
 * Wait while `word` still holds `seen` (another CPU's progress is needed). The scheduler
 * does not run this CPU again until some CPU writes the word, or `wakeWord` (the CPU's
 * pending-work word, so that a waiting CPU still carries out flush requests; -1: none).
 */
export function* waitWhile(m: Machine, word: number, seen: number, site: number, wakeWord = -1): Step {
  schedBus.op = OP.WAIT;
  schedBus.word = word;
  schedBus.arg = seen | 0;
  yield site;
  schedBus.ev = EV.READ;
  if (m.u32[word] !== seen >>> 0) return;
  schedBus.blockedOn = word;
  schedBus.alsoWakeOn = wakeWord;
  yield site | BLOCK;
}

const S_CPU_RELAX = siteId('cpu_relax');

/**
 * cpu_relax(): the pause in a busy-wait loop. Under the scheduler it is a yield: the CPU
 * is run only when no other CPU can move, until another CPU writes a word it has read.
 * Busy-waits without it are found too (a CPU re-reading words nobody wrote), later.
 */
export function* cpuRelax(site = S_CPU_RELAX): Step {
  yield site | RELAX;
}
