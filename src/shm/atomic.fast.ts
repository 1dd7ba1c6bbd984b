// Shared-memory primitives, free-running form: the twin of atomic.ts with the same
// signatures and no schedule points. Hand-written because locks differ by mode: here
// a waiter spins a little, then sleeps in Atomics.wait; there it blocks in the scheduler.
import type { Machine } from './machine.js';

/**
 * Contention seen by this thread's CPU, for reports: CASes that failed (the caller
 * retries) and lock acquisitions that had to wait, counted on the failure path only;
 * and every CAS made (compare's CAS operations per operation).
 */
export const contention = { casFails: 0, lockWaits: 0, casOps: 0 };

export const load32 = (m: Machine, word: number, _site: number): number => m.u32[word];

export function store32(m: Machine, word: number, value: number, _site: number): void {
  m.u32[word] = value;
}

export function cas32(m: Machine, word: number, expect: number, value: number, _site: number): boolean {
  contention.casOps++;
  if (Atomics.compareExchange(m.i32, word, expect | 0, value | 0) === (expect | 0)) return true;
  contention.casFails++;
  return false;
}

export const add32 = (m: Machine, word: number, delta: number, _site: number): number => Atomics.add(m.u32, word, delta);

export const xchg32 = (m: Machine, word: number, value: number, _site: number): number => Atomics.exchange(m.u32, word, value);

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

/** cpu_relax(): nothing to do on a simulated CPU that is a real thread (the kernel's is a pause hint). */
export function cpuRelax(_site?: number): void {}
