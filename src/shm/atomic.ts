// Shared-memory primitives, scheduled form. Every access a two-way module makes to
// shared words goes through one of these, so every access is a named schedule point:
// the CPU yields *before* the access, and the access happens when it is resumed.
// The free-running twin is atomic.fast.ts (hand-written, same signatures, no yields).
// Ordering: plain loads are READ_ONCE (may be stale, never torn within 32 bits);
// CAS is cmpxchg; a CAS on a 64-bit pair is cmpxchg_double.
//
// Memory modes (docs/memory-models.md): under sc (the default) every access is applied
// to memory when its CPU moves, and the ordered forms (loadAcquire32, cas32Relaxed, ...)
// are their plain forms. Under tso, arm and js the scheduler sets schedBus.weak, and each
// primitive hands its access to it (src/sched/weak.ts: store buffers, stale reads); sc
// pays one null check per access for that.
//
// Under the scheduler one thread runs every CPU of a machine (a race, `run --scheduled`,
// the viewer's steps: each on a machine of its own), so an sc access is made with plain
// reads and writes of the typed arrays: the result of the Atomics call it models (the
// same values, the same conversions), without the builtin call (10-20 ns each) and the
// BigInts of a 64-bit CAS. The free-running twin, whose CPUs are threads, keeps Atomics.

import { EV, FENCE, LOAD, OP, ORDER } from '../sched/event.js';
import { BLOCK, RELAX, type Step, site as siteId } from '../sched/step.js';
import { thisCpu } from '../sched/this_cpu.js';
import type { WeakMemory, WeakNote } from '../sched/weak.js';
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
  /** a write's overwritten value (CAS2: the low half); a failed cas32: the value it found (cmpxchg's return) */
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
  /** optional per-access trace sink (note: what a weaker memory mode adds, e.g. a buffered store) */
  trace: null as null | ((kind: string, site: number, word: number, value: number, ok?: boolean, note?: WeakNote) => void),
  /** the run's store buffers and histories in a weaker memory mode; null under sc */
  weak: null as WeakMemory | null,
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

/**
 * READ_ONCE of one 32-bit word. Kernel: `READ_ONCE()` (arm64 `LDR`); JavaScript: a plain
 * typed-array read. Under arm and js it may return an older value than memory holds.
 */
export const load32 = (m: Machine, word: number, site: number): Step<number> => loadAs(m, word, LOAD.PLAIN, site);

/** A load of `kind` (LOAD): load32 and its ordered forms. */
function* loadAs(m: Machine, word: number, kind: number, site: number): Step<number> {
  pendLoad(word, kind);
  yield site;
  return loadAccess(m, word, kind, site);
}

/** Publish a pending load of `kind` (LOAD). */
export function pendLoad(word: number, kind: number): void {
  schedBus.op = OP.LOAD;
  schedBus.word = word;
  schedBus.arg = kind;
}

/** The access of a load of `kind`, after its schedule point. */
export function loadAccess(m: Machine, word: number, kind: number, site: number): number {
  const wm = schedBus.weak;
  if (wm !== null) return wm.load(word, kind, site);
  const v = m.u32[word];
  schedBus.read = word;
  schedBus.ev = EV.READ;
  schedBus.trace?.('load', site, word, v);
  return v;
}

/**
 * An acquire load: no later load or store of this CPU is ordered before it. Kernel:
 * `smp_load_acquire()` (arm64 `LDAPR`, modelled RCpc: a release store before it is not
 * ordered with it). JavaScript has none (refused under js; `atomicLoad32` is stronger).
 */
export const loadAcquire32 = (m: Machine, word: number, site: number): Step<number> => loadAs(m, word, LOAD.ACQUIRE, site);

/**
 * A load whose address came from this CPU's previous load (following a pointer just
 * read): ordered after that load, as hardware and the kernel's memory model order
 * address dependencies. Kernel: `READ_ONCE()` of a pointer's target, `rcu_dereference()`;
 * JavaScript: a plain read (the JS memory model orders no dependency: under js this is
 * load32).
 */
export const loadDep32 = (m: Machine, word: number, site: number): Step<number> => loadAs(m, word, LOAD.DEP, site);

/**
 * A sequentially consistent load. JavaScript: `Atomics.load()`; kernel: none (about
 * `smp_mb(); READ_ONCE(); smp_mb()`). Under sc, tso and arm: a full fence, the newest
 * value, a full fence.
 */
export const atomicLoad32 = (m: Machine, word: number, site: number): Step<number> => loadAs(m, word, LOAD.SC, site);

/**
 * WRITE_ONCE of one 32-bit word. Kernel: `WRITE_ONCE()` (arm64 `STR`); JavaScript: a plain
 * typed-array write. Under tso, arm and js it waits in the CPU's store buffer.
 */
export const store32 = (m: Machine, word: number, value: number, site: number): Step =>
  storeAs(m, word, value, ORDER.RELAXED, site);

function* storeAs(m: Machine, word: number, value: number, order: number, site: number): Step {
  pendStore(word, order);
  yield site;
  storeAccess(m, word, value, order, site);
}

/** Publish a pending store of ORDER `order`. */
export function pendStore(word: number, order: number): void {
  schedBus.op = OP.STORE;
  schedBus.word = word;
  schedBus.arg = order;
}

/** The access of a store, after its schedule point. */
export function storeAccess(m: Machine, word: number, value: number, order: number, site: number): void {
  const wm = schedBus.weak;
  if (wm !== null) return wm.store(word, value, order, site);
  const old = m.u32[word];
  m.u32[word] = value;
  wrote(old);
  accessed(word, old !== m.u32[word]);
  schedBus.trace?.('store', site, word, value >>> 0);
}

/**
 * A release store: every earlier load and store of this CPU is visible before it.
 * Kernel: `smp_store_release()` (arm64 `STLR`); JavaScript has none (refused under js;
 * `atomicStore32` is stronger).
 */
export const storeRelease32 = (m: Machine, word: number, value: number, site: number): Step =>
  storeAs(m, word, value, ORDER.RELEASE, site);

/**
 * A sequentially consistent store. JavaScript: `Atomics.store()`; kernel: none (about
 * `smp_mb(); WRITE_ONCE(); smp_mb()`, x86 `XCHG`).
 */
export const atomicStore32 = (m: Machine, word: number, value: number, site: number): Step =>
  storeAs(m, word, value, ORDER.FULL, site);

/** cmpxchg on one 32-bit word with the given ORDER. */
function* casAs(m: Machine, word: number, expect: number, value: number, order: number, site: number): Step<boolean> {
  pendCas(word, expect);
  yield site;
  return casAccess(m, word, expect, value, order, site);
}

/** Publish a pending cmpxchg on one word (cas32, cmpxchg32 and their ordered forms). */
export function pendCas(word: number, expect: number): void {
  schedBus.op = OP.CAS;
  schedBus.word = word;
  schedBus.arg = expect | 0;
}

/** The access of a cas32, after its schedule point. */
export function casAccess(m: Machine, word: number, expect: number, value: number, order: number, site: number): boolean {
  const wm = schedBus.weak;
  if (wm !== null) return wm.cas(word, expect, value, order, site, 'cas32') === expect >>> 0;
  const i32 = m.i32;
  const found = i32[word];
  const ok = found === (expect | 0);
  if (ok) {
    i32[word] = value | 0;
    wrote(expect >>> 0);
  } else {
    schedBus.ev = EV.READ;
    schedBus.old = found >>> 0;
  }
  accessed(word, ok && (expect | 0) !== (value | 0));
  schedBus.trace?.('cas', site, word, value >>> 0, ok);
  return ok;
}

/**
 * cmpxchg on one 32-bit word; true when it took. Fully ordered when it takes, unordered
 * (a plain load) when it fails. Kernel: `cmpxchg()`, `atomic_cmpxchg()`,
 * `try_cmpxchg()`; JavaScript: `Atomics.compareExchange()` (sequentially consistent either way).
 */
export const cas32 = (m: Machine, word: number, expect: number, value: number, site: number): Step<boolean> =>
  casAs(m, word, expect, value, ORDER.FULL, site);
/** cas32 without ordering. Kernel: `cmpxchg_relaxed()`; JavaScript has none (refused under js). */
export const cas32Relaxed = (m: Machine, word: number, expect: number, value: number, site: number): Step<boolean> =>
  casAs(m, word, expect, value, ORDER.RELAXED, site);
/** cas32 with acquire ordering when it takes. Kernel: `cmpxchg_acquire()`; JavaScript has none (refused under js). */
export const cas32Acquire = (m: Machine, word: number, expect: number, value: number, site: number): Step<boolean> =>
  casAs(m, word, expect, value, ORDER.ACQUIRE, site);
/** cas32 with release ordering when it takes. Kernel: `cmpxchg_release()`; JavaScript has none (refused under js). */
export const cas32Release = (m: Machine, word: number, expect: number, value: number, site: number): Step<boolean> =>
  casAs(m, word, expect, value, ORDER.RELEASE, site);

/** cmpxchg on one 32-bit word with the given ORDER: the value found. */
function* cmpxchgAs(m: Machine, word: number, expect: number, value: number, order: number, site: number): Step<number> {
  pendCas(word, expect);
  yield site;
  return cmpxchgAccess(m, word, expect, value, order, site);
}

/** The access of a cmpxchg32, after its schedule point. */
export function cmpxchgAccess(m: Machine, word: number, expect: number, value: number, order: number, site: number): number {
  const wm = schedBus.weak;
  if (wm !== null) return wm.cas(word, expect, value, order, site, 'cmpxchg32');
  const u32 = m.u32;
  const old = u32[word];
  const ok = old === expect >>> 0;
  if (ok) {
    u32[word] = value >>> 0;
    wrote(old);
  } else schedBus.ev = EV.READ;
  accessed(word, ok && old !== value >>> 0);
  schedBus.trace?.('cas', site, word, value >>> 0, ok);
  return old;
}

/**
 * cmpxchg on one 32-bit word returning the value it found (`expect` when it took), as
 * the kernel's does. Fully ordered when it takes, a plain load when it fails. Kernel:
 * `cmpxchg()`, `atomic_cmpxchg()`; JavaScript: `Atomics.compareExchange()`.
 */
export const cmpxchg32 = (m: Machine, word: number, expect: number, value: number, site: number): Step<number> =>
  cmpxchgAs(m, word, expect, value, ORDER.FULL, site);
/** cmpxchg32 without ordering. Kernel: `cmpxchg_relaxed()`, `atomic_cmpxchg_relaxed()`; JavaScript has none (refused under js). */
export const cmpxchg32Relaxed = (m: Machine, word: number, expect: number, value: number, site: number): Step<number> =>
  cmpxchgAs(m, word, expect, value, ORDER.RELAXED, site);
/** cmpxchg32 with acquire ordering when it takes. Kernel: `cmpxchg_acquire()`; JavaScript has none (refused under js). */
export const cmpxchg32Acquire = (m: Machine, word: number, expect: number, value: number, site: number): Step<number> =>
  cmpxchgAs(m, word, expect, value, ORDER.ACQUIRE, site);
/** cmpxchg32 with release ordering when it takes. Kernel: `cmpxchg_release()`; JavaScript has none (refused under js). */
export const cmpxchg32Release = (m: Machine, word: number, expect: number, value: number, site: number): Step<number> =>
  cmpxchgAs(m, word, expect, value, ORDER.RELEASE, site);

/** atomic add with the given ORDER. */
function* addAs(m: Machine, word: number, delta: number, order: number, site: number): Step<number> {
  pendAdd(word);
  yield site;
  return addAccess(m, word, delta, order, site);
}

/** Publish a pending atomic add. */
export function pendAdd(word: number): void {
  schedBus.op = OP.ADD;
  schedBus.word = word;
}

/** The access of an atomic add, after its schedule point. */
export function addAccess(m: Machine, word: number, delta: number, order: number, site: number): number {
  const wm = schedBus.weak;
  if (wm !== null) return wm.add(word, delta, order, site);
  const u32 = m.u32;
  const old = u32[word];
  u32[word] = old + (delta | 0); // Atomics.add: the integer part of delta, modulo 2^32
  wrote(old);
  accessed(word, (delta | 0) !== 0);
  schedBus.trace?.('add', site, word, old);
  return old;
}

/**
 * atomic add on one 32-bit word; returns the old value. Fully ordered. Kernel:
 * `atomic_fetch_add()`, `atomic_add_return()`; JavaScript: `Atomics.add()`.
 */
export const add32 = (m: Machine, word: number, delta: number, site: number): Step<number> =>
  addAs(m, word, delta, ORDER.FULL, site);
/**
 * add32 without ordering. Kernel: `atomic_add()`, `atomic_inc()` (no return value: unordered),
 * `atomic_fetch_add_relaxed()`; JavaScript has none (refused under js).
 */
export const add32Relaxed = (m: Machine, word: number, delta: number, site: number): Step<number> =>
  addAs(m, word, delta, ORDER.RELAXED, site);
/** add32 with acquire ordering. Kernel: `atomic_fetch_add_acquire()`; JavaScript has none (refused under js). */
export const add32Acquire = (m: Machine, word: number, delta: number, site: number): Step<number> =>
  addAs(m, word, delta, ORDER.ACQUIRE, site);
/** add32 with release ordering. Kernel: `atomic_fetch_add_release()`; JavaScript has none (refused under js). */
export const add32Release = (m: Machine, word: number, delta: number, site: number): Step<number> =>
  addAs(m, word, delta, ORDER.RELEASE, site);

/** atomic exchange with the given ORDER. */
function* xchgAs(m: Machine, word: number, value: number, order: number, site: number): Step<number> {
  pendXchg(word);
  yield site;
  return xchgAccess(m, word, value, order, site);
}

/** Publish a pending atomic exchange. */
export function pendXchg(word: number): void {
  schedBus.op = OP.XCHG;
  schedBus.word = word;
}

/** The access of an atomic exchange, after its schedule point. */
export function xchgAccess(m: Machine, word: number, value: number, order: number, site: number): number {
  const wm = schedBus.weak;
  if (wm !== null) return wm.xchg(word, value, order, site);
  const u32 = m.u32;
  const old = u32[word];
  u32[word] = value;
  wrote(old);
  accessed(word, old !== value >>> 0);
  schedBus.trace?.('xchg', site, word, old);
  return old;
}

/** atomic exchange on one 32-bit word; returns the old value. Fully ordered. Kernel: `xchg()`; JavaScript: `Atomics.exchange()`. */
export const xchg32 = (m: Machine, word: number, value: number, site: number): Step<number> =>
  xchgAs(m, word, value, ORDER.FULL, site);
/** xchg32 without ordering. Kernel: `xchg_relaxed()`; JavaScript has none (refused under js). */
export const xchg32Relaxed = (m: Machine, word: number, value: number, site: number): Step<number> =>
  xchgAs(m, word, value, ORDER.RELAXED, site);
/** xchg32 with acquire ordering. Kernel: `xchg_acquire()`; JavaScript has none (refused under js). */
export const xchg32Acquire = (m: Machine, word: number, value: number, site: number): Step<number> =>
  xchgAs(m, word, value, ORDER.ACQUIRE, site);
/** xchg32 with release ordering. Kernel: `xchg_release()`; JavaScript has none (refused under js). */
export const xchg32Release = (m: Machine, word: number, value: number, site: number): Step<number> =>
  xchgAs(m, word, value, ORDER.RELEASE, site);

/** cmpxchg_double with the given ORDER. */
function* cas64As(
  m: Machine,
  word: number,
  expLo: number,
  expHi: number,
  newLo: number,
  newHi: number,
  order: number,
  site: number,
): Step<boolean> {
  pendCas2(word, expLo, expHi);
  yield site;
  return cas64Access(m, word, expLo, expHi, newLo, newHi, order, site);
}

/** Publish a pending cmpxchg_double on the pair at `word`. */
export function pendCas2(word: number, expLo: number, expHi: number): void {
  schedBus.op = OP.CAS2;
  schedBus.word = word;
  schedBus.arg = expLo | 0;
  schedBus.arg2 = expHi | 0;
}

/** The access of a cmpxchg_double, after its schedule point. */
export function cas64Access(
  m: Machine,
  word: number,
  expLo: number,
  expHi: number,
  newLo: number,
  newHi: number,
  order: number,
  site: number,
): boolean {
  const wm = schedBus.weak;
  if (wm !== null) return wm.cas2(word, expLo, expHi, newLo, newHi, order, site);
  const u32 = m.u32;
  const ok = u32[word] === expLo >>> 0 && u32[word + 1] === expHi >>> 0;
  if (ok) {
    u32[word] = newLo;
    u32[word + 1] = newHi;
    wrote(expLo >>> 0);
  } else schedBus.ev = EV.READ;
  if (ok && (expLo >>> 0 !== newLo >>> 0 || expHi >>> 0 !== newHi >>> 0)) schedBus.written.push(word, word + 1);
  else schedBus.read = word;
  schedBus.trace?.('cas2', site, word, newHi >>> 0, ok);
  return ok;
}

/**
 * cmpxchg_double on the 64-bit pair at even word `word` (lo = word, hi = word + 1):
 * (expLo, expHi) -> (newLo, newHi), true when it took. Fully ordered when it takes.
 * Kernel: `cmpxchg_double()`, `try_cmpxchg128()` (SLUB's freelist and counters);
 * JavaScript: `Atomics.compareExchange()` on a BigInt64Array.
 */
export const cas64 = (
  m: Machine,
  word: number,
  expLo: number,
  expHi: number,
  newLo: number,
  newHi: number,
  site: number,
): Step<boolean> => cas64As(m, word, expLo, expHi, newLo, newHi, ORDER.FULL, site);
/** cas64 without ordering. Kernel: `cmpxchg128_local()`-style relaxed forms; JavaScript has none (refused under js). */
export const cas64Relaxed: typeof cas64 = (m, word, expLo, expHi, newLo, newHi, site) =>
  cas64As(m, word, expLo, expHi, newLo, newHi, ORDER.RELAXED, site);
/** cas64 with acquire ordering when it takes. Kernel: `try_cmpxchg128_acquire()`-style; JavaScript has none (refused under js). */
export const cas64Acquire: typeof cas64 = (m, word, expLo, expHi, newLo, newHi, site) =>
  cas64As(m, word, expLo, expHi, newLo, newHi, ORDER.ACQUIRE, site);
/** cas64 with release ordering when it takes. Kernel: `try_cmpxchg128_release()`-style; JavaScript has none (refused under js). */
export const cas64Release: typeof cas64 = (m, word, expLo, expHi, newLo, newHi, site) =>
  cas64As(m, word, expLo, expHi, newLo, newHi, ORDER.RELEASE, site);

/** The kinds of {@link fence}: `'mb'` (smp_mb), `'wmb'` (smp_wmb), `'rmb'` (smp_rmb). */
export type FenceKind = 'mb' | 'wmb' | 'rmb';
const FENCES: Record<FenceKind, number> = { mb: FENCE.MB, wmb: FENCE.WMB, rmb: FENCE.RMB };

/**
 * A memory barrier. `'mb'`: every earlier load and store of this CPU before every later
 * one (kernel `smp_mb()`: arm64 `DMB ISH`, x86 `MFENCE`); `'wmb'`: earlier stores before
 * later stores (`smp_wmb()`: `DMB ISHST`); `'rmb'`: earlier loads before later loads
 * (`smp_rmb()`: `DMB ISHLD`). JavaScript has no fences (refused under js). Under sc, and
 * `wmb`/`rmb` under tso (where x86 needs none), it does nothing and is no schedule point.
 */
export function* fence(m: Machine, kind: FenceKind, site: number): Step {
  if (!pendFence(kind)) return;
  yield site;
  fenceAccess(kind, site);
}

/**
 * Publish a pending fence when it has an effect in this memory mode: true when it does
 * (a schedule point follows), false when it is no step at all.
 */
export function pendFence(kind: FenceKind): boolean {
  const k = FENCES[kind];
  if (k === undefined) throw new TypeError(`fence: kind must be 'mb', 'wmb' or 'rmb', got '${String(kind)}'`);
  const wm = schedBus.weak;
  if (wm === null || !wm.fenceHasEffect(k)) return false;
  schedBus.op = OP.FENCE;
  schedBus.word = -1;
  schedBus.arg = k;
  return true;
}

/** The fence itself, after its schedule point. */
export function fenceAccess(kind: FenceKind, site: number): void {
  schedBus.weak?.fence(FENCES[kind], site);
}

/**
 * spin_lock: word is 0 (free) or 1 (held). A CPU that finds it held blocks until a write
 * to it. An acquire (kernel `spin_lock()`); after this CPU's own `spin_unlock()` it also
 * orders what came before that unlock, as the kernel's memory model does.
 */
export function* spinLock(m: Machine, word: number, site: number): Step {
  pendLock(word);
  yield site;
  if (!lockAccess(m, word, site)) yield* lockWait(m, word, site);
}

/** Publish a pending spin_lock. */
export function pendLock(word: number): void {
  schedBus.op = OP.LOCK;
  schedBus.word = word;
}

/**
 * One attempt of spin_lock, after its schedule point: true when it took the lock; false
 * when the lock is held, with the CPU's block on it published (it yields BLOCK next).
 */
export function lockAccess(m: Machine, word: number, site: number): boolean {
  const wm = schedBus.weak;
  if (wm !== null) {
    if (wm.lock(word, site, false)) return true;
  } else if (m.i32[word] === 0) {
    m.i32[word] = 1;
    wrote(0);
    schedBus.written.push(word);
    schedBus.trace?.('lock', site, word, 1, true);
    return true;
  } else schedBus.trace?.('lock', site, word, 1, false);
  schedBus.blockedOn = word;
  schedBus.op = OP.LOCK;
  schedBus.word = word;
  return false;
}

/** spin_lock after a first attempt found the lock held: block, try again when woken. */
export function* lockWait(m: Machine, word: number, site: number): Step {
  do yield site | BLOCK;
  while (!lockAccess(m, word, site));
}

/** spin_trylock: take the lock if it is free; true when taken (a failed try counts as a read). */
export function* spinTrylock(m: Machine, word: number, site: number): Step<boolean> {
  pendTrylock(word);
  yield site;
  return trylockAccess(m, word, site);
}

/** Publish a pending spin_trylock. */
export function pendTrylock(word: number): void {
  schedBus.op = OP.TRYLOCK;
  schedBus.word = word;
}

/** The access of spin_trylock, after its schedule point. */
export function trylockAccess(m: Machine, word: number, site: number): boolean {
  const wm = schedBus.weak;
  if (wm !== null) return wm.lock(word, site, true);
  const ok = m.i32[word] === 0;
  if (ok) {
    m.i32[word] = 1;
    wrote(0);
  } else schedBus.ev = EV.READ;
  accessed(word, ok);
  schedBus.trace?.('trylock', site, word, 1, ok);
  return ok;
}

/**
 * spin_unlock: store 0, which wakes the CPUs blocked on the lock word. A release (kernel
 * `spin_unlock()`): under tso and arm a buffered store, seen free once it is flushed.
 */
export function* spinUnlock(m: Machine, word: number, site: number): Step {
  pendUnlock(word);
  yield site;
  unlockAccess(m, word, site);
}

/** Publish a pending spin_unlock. */
export function pendUnlock(word: number): void {
  schedBus.op = OP.UNLOCK;
  schedBus.word = word;
}

/** The access of spin_unlock, after its schedule point. */
export function unlockAccess(m: Machine, word: number, site: number): void {
  const wm = schedBus.weak;
  if (wm !== null) return wm.unlock(word, site);
  const old = m.u32[word];
  m.u32[word] = 0;
  wrote(old);
  accessed(word, old !== 0);
  schedBus.trace?.('unlock', site, word, 0);
}

/**
 * Wait while `word` still holds `seen` (another CPU's progress is needed). The scheduler
 * does not run this CPU again until some CPU writes the word, or `wakeWord` (the CPU's
 * pending-work word, so that a waiting CPU still carries out flush requests; -1: none).
 * Kernel: a `READ_ONCE()` loop, `smp_cond_load_relaxed()`; under the weaker modes it
 * waits for the newest value this CPU can see.
 */
export const waitWhile = (m: Machine, word: number, seen: number, site: number, wakeWord = -1): Step =>
  waitAs(m, word, seen, site, wakeWord, false);

/**
 * waitWhile, then an acquire of the value that ended the wait. Kernel:
 * `smp_cond_load_acquire()`; JavaScript has none (refused under js).
 */
export const waitWhileAcquire = (m: Machine, word: number, seen: number, site: number, wakeWord = -1): Step =>
  waitAs(m, word, seen, site, wakeWord, true);

function* waitAs(m: Machine, word: number, seen: number, site: number, wakeWord: number, acquire: boolean): Step {
  pendWait(word, seen);
  yield site;
  if (!waitAccess(m, word, seen, wakeWord, acquire)) yield site | BLOCK;
}

/** Publish a pending waitWhile. */
export function pendWait(word: number, seen: number): void {
  schedBus.op = OP.WAIT;
  schedBus.word = word;
  schedBus.arg = seen | 0;
}

/**
 * The look of waitWhile, after its schedule point: true when the word no longer holds
 * `seen`; false when it still does, with the CPU's block published (it yields BLOCK next).
 */
export function waitAccess(m: Machine, word: number, seen: number, wakeWord: number, acquire: boolean): boolean {
  schedBus.ev = EV.READ;
  const wm = schedBus.weak;
  if (wm !== null ? wm.waitWhile(word, seen, acquire) : m.u32[word] !== seen >>> 0) return true;
  schedBus.blockedOn = word;
  schedBus.alsoWakeOn = wakeWord;
  return false;
}

/**
 * A racy look at `word` between schedule points: no schedule point, no event. Under tso,
 * arm and js it is what this CPU's next load would read when it picks no older value:
 * its own newest buffered store to the word, else memory (a plain `m.u32[word]` would
 * miss the CPU's own buffered store). For pre-checks that a later primitive repeats or
 * that only refuse misuse (the double-free check of the free fast path, "is there work
 * for me?"); a value the code goes on to act on takes load32. Free-running: a plain read.
 */
export function peek32(m: Machine, word: number): number {
  const wm = schedBus.weak;
  return wm === null ? m.u32[word] : wm.current(thisCpu.id, word);
}

const S_CPU_RELAX = siteId('cpu_relax');

/**
 * cpu_relax(): the pause in a busy-wait loop. Under the scheduler it is a yield: the CPU
 * is run only when no other CPU can move, until another CPU writes a word it has read.
 * Busy-waits without it are found too (a CPU re-reading words nobody wrote), later.
 */
export function* cpuRelax(site = S_CPU_RELAX): Step {
  yield relaxPoint(site);
}

/** The point cpuRelax() yields. */
export const relaxPoint = (site = S_CPU_RELAX): number => site | RELAX;

/** The point a CPU yields when it blocks at `site`. */
export const blockPoint = (site: number): number => site | BLOCK;
