// Shared-memory primitives, free-running form: the twin of atomic.ts with the same
// signatures and no schedule points. Hand-written because locks differ by mode: here
// a waiter spins a little, then sleeps in Atomics.wait; there it blocks in the scheduler.
//
// Orderings on a real machine: JavaScript has plain typed-array accesses and Atomics
// (sequentially consistent) only, so an ordered form is its plain form when that is
// already as strong (a relaxed RMW is an Atomics RMW), else the Atomics form (an acquire
// load is Atomics.load, a release store Atomics.store), and a fence is an Atomics
// read-modify-write of a word of this thread's own (a full barrier on x86 and arm64 as V8
// compiles it; the JS memory model itself promises nothing of it).
import type { Machine } from './machine.js';

/**
 * Contention seen by this thread's CPU, for reports: CASes that failed (the caller
 * retries) and lock acquisitions that had to wait, counted on the failure path only;
 * and every CAS made (compare's CAS operations per operation).
 */
export const contention = { casFails: 0, lockWaits: 0, casOps: 0 };

/** A racy look at a word between schedule points: a plain read. */
export const peek32 = (m: Machine, word: number): number => m.u32[word];

/** READ_ONCE: a plain read. */
export const load32 = (m: Machine, word: number, _site: number): number => m.u32[word];

/** smp_load_acquire: Atomics.load (stronger: sequentially consistent). */
export const loadAcquire32 = (m: Machine, word: number, _site: number): number => Atomics.load(m.u32, word);

/** An address-dependent load: a plain read (hardware keeps the dependency). */
export const loadDep32 = (m: Machine, word: number, _site: number): number => m.u32[word];

/** Atomics.load. */
export const atomicLoad32 = (m: Machine, word: number, _site: number): number => Atomics.load(m.u32, word);

/** WRITE_ONCE: a plain write. */
export function store32(m: Machine, word: number, value: number, _site: number): void {
  m.u32[word] = value;
}

/** smp_store_release: Atomics.store (stronger: sequentially consistent). */
export function storeRelease32(m: Machine, word: number, value: number, _site: number): void {
  Atomics.store(m.u32, word, value);
}

/** Atomics.store. */
export function atomicStore32(m: Machine, word: number, value: number, _site: number): void {
  Atomics.store(m.u32, word, value);
}

export function cas32(m: Machine, word: number, expect: number, value: number, _site: number): boolean {
  contention.casOps++;
  if (Atomics.compareExchange(m.i32, word, expect | 0, value | 0) === (expect | 0)) return true;
  contention.casFails++;
  return false;
}

/** cmpxchg returning the value found: Atomics.compareExchange. */
export function cmpxchg32(m: Machine, word: number, expect: number, value: number, _site: number): number {
  contention.casOps++;
  const old = Atomics.compareExchange(m.u32, word, expect >>> 0, value >>> 0);
  if (old !== expect >>> 0) contention.casFails++;
  return old;
}
/** cmpxchg_relaxed returning the value found: Atomics.compareExchange (stronger). */
export const cmpxchg32Relaxed = cmpxchg32;
/** cmpxchg_acquire returning the value found: Atomics.compareExchange (stronger). */
export const cmpxchg32Acquire = cmpxchg32;
/** cmpxchg_release returning the value found: Atomics.compareExchange (stronger). */
export const cmpxchg32Release = cmpxchg32;

/** cmpxchg_relaxed: Atomics.compareExchange (stronger). */
export const cas32Relaxed = cas32;
/** cmpxchg_acquire: Atomics.compareExchange (stronger). */
export const cas32Acquire = cas32;
/** cmpxchg_release: Atomics.compareExchange (stronger). */
export const cas32Release = cas32;

/** atomic_fetch_add: Atomics.add. */
export const add32 = (m: Machine, word: number, delta: number, _site: number): number => Atomics.add(m.u32, word, delta);
/** atomic_add, atomic_fetch_add_relaxed: Atomics.add (stronger). */
export const add32Relaxed = add32;
/** atomic_fetch_add_acquire: Atomics.add (stronger). */
export const add32Acquire = add32;
/** atomic_fetch_add_release: Atomics.add (stronger). */
export const add32Release = add32;

/** xchg: Atomics.exchange. */
export const xchg32 = (m: Machine, word: number, value: number, _site: number): number => Atomics.exchange(m.u32, word, value);
/** xchg_relaxed: Atomics.exchange (stronger). */
export const xchg32Relaxed = xchg32;
/** xchg_acquire: Atomics.exchange (stronger). */
export const xchg32Acquire = xchg32;
/** xchg_release: Atomics.exchange (stronger). */
export const xchg32Release = xchg32;

export function cas64(
  m: Machine,
  word: number,
  expLo: number,
  expHi: number,
  newLo: number,
  newHi: number,
  _site: number,
): boolean {
  contention.casOps++;
  const exp = BigInt.asIntN(64, BigInt(expLo >>> 0) | (BigInt(expHi >>> 0) << 32n));
  if (
    Atomics.compareExchange(m.i64, word >> 1, exp, BigInt.asIntN(64, BigInt(newLo >>> 0) | (BigInt(newHi >>> 0) << 32n))) === exp
  ) {
    return true;
  }
  contention.casFails++;
  return false;
}

/** cmpxchg_double relaxed: the fully ordered CAS (stronger). */
export const cas64Relaxed = cas64;
/** cmpxchg_double acquire: the fully ordered CAS (stronger). */
export const cas64Acquire = cas64;
/** cmpxchg_double release: the fully ordered CAS (stronger). */
export const cas64Release = cas64;

/**
 * This thread's own word for fences: an RMW nobody else touches costs no cache-line
 * traffic. Made on the first fence (a page that is not cross-origin isolated has no
 * SharedArrayBuffer, and may load this module all the same).
 */
let fenceWord: Int32Array | null = null;

/** The kinds of fence. */
export type FenceKind = 'mb' | 'wmb' | 'rmb';

/** smp_mb / smp_wmb / smp_rmb: an Atomics read-modify-write, a full barrier as V8 compiles it. */
export function fence(_m: Machine, kind: FenceKind, _site: number): void {
  if (kind !== 'mb' && kind !== 'wmb' && kind !== 'rmb')
    throw new TypeError(`fence: kind must be 'mb', 'wmb' or 'rmb', got '${String(kind)}'`);
  fenceWord ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.add(fenceWord, 0, 0);
}

const SPINS = 100;

/** spin_lock: 0 free, 1 held, 2 held with sleepers (a futex mutex: Drepper's "mutex2"). */
export function spinLock(m: Machine, word: number, _site: number): void {
  const a = m.i32;
  let c = Atomics.compareExchange(a, word, 0, 1);
  if (c === 0) return;
  contention.lockWaits++;
  for (let i = 0; i < SPINS; i++) {
    if (a[word] !== 0) continue;
    c = Atomics.compareExchange(a, word, 0, 1);
    if (c === 0) return;
  }
  if (c !== 2) c = Atomics.exchange(a, word, 2);
  while (c !== 0) {
    Atomics.wait(a, word, 2);
    c = Atomics.exchange(a, word, 2);
  }
}

export const spinTrylock = (m: Machine, word: number, _site: number): boolean => Atomics.compareExchange(m.i32, word, 0, 1) === 0;

export function spinUnlock(m: Machine, word: number, _site: number): void {
  if (Atomics.exchange(m.i32, word, 0) === 2) Atomics.notify(m.i32, word, 1);
}

/** Wait while `word` still holds `seen`: a short sleep (writers do not notify), then return to re-check. */
export function waitWhile(m: Machine, word: number, seen: number, _site: number, _wakeWord = -1): void {
  if (m.u32[word] === seen >>> 0) Atomics.wait(m.i32, word, seen | 0, 0.05);
}

/** smp_cond_load_acquire: wait as waitWhile, then an acquire (Atomics.load) of the word. */
export function waitWhileAcquire(m: Machine, word: number, seen: number, site: number, wakeWord = -1): void {
  waitWhile(m, word, seen, site, wakeWord);
  Atomics.load(m.u32, word);
}

/** cpu_relax(): nothing to do on a simulated CPU that is a real thread (the kernel's is a pause hint). */
export function cpuRelax(_site?: number): void {}
