// The ownership ledger for objects: one byte per 8-byte granule of simulated memory,
// in a SharedArrayBuffer of its own (harness state, not part of the simulated machine).
// A CPU stamps an object when it receives it and clears the stamp when it frees it:
//   stamp found on receipt  -> the allocator handed out an object someone holds (double_issue)
//   no stamp found on free  -> the object was not held (a double free by the harness: bad_free)
//
// Only the stamp needs an atomic exchange: two CPUs handed the same object at once both
// exchange, so exactly one of them finds the other's stamp. The clear is a plain read and
// write by the one holder, ordered before anyone's next stamp of that granule by the
// atomic operation that frees the object (the allocator's CAS or lock, which the next
// receiver's allocation synchronises with). Were the object held twice, the second
// stamp's exchange has already counted it. One Atomics call per alloc+free pair, not two.
import type { Machine } from '../shm/machine.js';

export const GRANULE_SHIFT = 3;

export const createLedger = (m: Machine): SharedArrayBuffer =>
  new SharedArrayBuffer(Math.ceil((m.totalPfns * m.cfg.pageSize) >>> GRANULE_SHIFT));

/** Stamp `addr` for `cpu`; returns true when it was already held (a double issue). */
export function stamp(ledger: Uint8Array, addr: number, cpu: number): boolean {
  return Atomics.exchange(ledger, addr >>> GRANULE_SHIFT, cpu + 1) !== 0;
}

/** Clear `addr`'s stamp (its holder only); returns true when it was not held. */
export function unstamp(ledger: Uint8Array, addr: number): boolean {
  const g = addr >>> GRANULE_SHIFT;
  if (ledger[g] === 0) return true;
  ledger[g] = 0;
  return false;
}

/** Objects stamped right now (call when no CPU runs). */
export function heldCount(ledger: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < ledger.length; i++) if (ledger[i] !== 0) n++;
  return n;
}
